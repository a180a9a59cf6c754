//! Suppressions and `--min-severity` at the CLI level: `# tokenless: ignore[...]`
//! comments, the `[lint]` table of `tokenless.toml` (found in the linted directory or
//! given with `--config`), and errors for unknown rule ids that name file and line.

mod lint_common;

use lint_common::{Output, lint_in, repo};

/// A token-era GitHub publish job: a `static-token-publish` (high) finding on the
/// `NODE_AUTH_TOKEN` line, and an `oidc-token-missing` (medium) one.
const WORKFLOW: &str = "\
name: release
on:
  push:
    tags: ['v*']
jobs:
  publish:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 24
          registry-url: https://registry.npmjs.org
      - run: npm publish
        env:
          NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}
";
const PATH: &str = ".github/workflows/release.yml";

fn rules(out: &Output) -> Vec<String> {
    out.json()["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["rule"].as_str().map(str::to_owned))
        .collect()
}

fn lint_workflow(workflow: &str, extra: &[(&str, &str)], args: &[&str]) -> Output {
    let mut files: Vec<(&str, &[u8])> = vec![(PATH, workflow.as_bytes())];
    files.extend(extra.iter().map(|(p, c)| (*p, c.as_bytes())));
    let dir = repo(&files);
    let mut all = vec![".", "--format", "json"];
    all.extend_from_slice(args);
    lint_in(dir.path(), &all)
}

#[test]
fn the_fixture_has_the_findings_the_tests_suppress() {
    let out = lint_workflow(WORKFLOW, &[], &[]);
    assert_eq!(out.code, Some(1), "{}", out.transcript());
    let found = rules(&out);
    assert!(
        found.contains(&"static-token-publish".to_owned()),
        "{found:?}"
    );
    assert!(
        found.contains(&"oidc-token-missing".to_owned()),
        "{found:?}"
    );
}

#[test]
fn a_comment_on_the_line_above_suppresses() {
    let workflow = WORKFLOW.replace(
        "          NODE_AUTH_TOKEN:",
        "          # tokenless: ignore[static-token-publish]\n          NODE_AUTH_TOKEN:",
    );
    let out = lint_workflow(&workflow, &[], &[]);
    assert!(
        !rules(&out).contains(&"static-token-publish".to_owned()),
        "{}",
        out.transcript()
    );
    assert_eq!(out.json()["suppressed"], 1);
}

#[test]
fn a_comment_on_the_same_line_can_name_several_rules() {
    let workflow = WORKFLOW.replace(
        "NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}",
        "NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}  # tokenless: ignore[token-fallback, static-token-publish]",
    );
    let out = lint_workflow(&workflow, &[], &[]);
    assert!(
        !rules(&out).contains(&"static-token-publish".to_owned()),
        "{}",
        out.transcript()
    );
}

#[test]
fn a_comment_two_lines_above_does_not_suppress() {
    let workflow = WORKFLOW.replace(
        "        env:\n",
        "        # tokenless: ignore[static-token-publish]\n        env:\n",
    );
    let out = lint_workflow(&workflow, &[], &[]);
    assert!(
        rules(&out).contains(&"static-token-publish".to_owned()),
        "{}",
        out.transcript()
    );
}

#[test]
fn an_unknown_id_in_a_comment_is_an_error_naming_file_line_column() {
    let workflow = WORKFLOW.replace(
        "      - run: npm publish\n",
        "      - run: npm publish # tokenless: ignore[static-token-publsh]\n",
    );
    let dir = repo(&[(PATH, workflow.as_bytes())]);
    let out = lint_in(dir.path(), &["."]);
    assert_eq!(out.code, Some(2), "{}", out.transcript());
    assert!(
        out.stderr.contains(&format!(
            "{PATH}:14:46: unknown rule id `static-token-publsh`"
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn tokenless_toml_in_the_linted_directory_disables_rules() {
    let config = "[lint]\ndisable = [\"static-token-publish\", \"oidc-token-missing\"]\n";
    let out = lint_workflow(WORKFLOW, &[("tokenless.toml", config)], &[]);
    assert_eq!(out.code, Some(0), "{}", out.transcript());
    assert_eq!(out.json()["suppressed"], 2);
}

#[test]
fn tokenless_toml_ignores_paths_by_glob() {
    let config = "[lint]\nignore = [\".github/workflows/rel*.yml\"]\n";
    let other = (
        "ci/.gitlab-ci.yml",
        "stages: [test]\ntest:\n  script: [npm test]\n",
    );
    let out = lint_workflow(WORKFLOW, &[("tokenless.toml", config), other], &[]);
    assert_eq!(out.code, Some(0), "{}", out.transcript());
    assert_eq!(out.json()["files_scanned"], 1);
}

#[test]
fn config_flag_wins_and_unknown_ids_name_file_and_line() {
    let dir = repo(&[
        (PATH, WORKFLOW.as_bytes()),
        (
            "tokenless.toml",
            b"[lint]\ndisable = [\"static-token-publish\"]\n",
        ),
        (
            "strict.toml",
            b"[lint]\n\ndisable = [\"static-token-publish\", \"oidc-missing\"]\n",
        ),
    ]);
    let out = lint_in(dir.path(), &[".", "--config", "strict.toml"]);
    assert_eq!(out.code, Some(2), "{}", out.transcript());
    assert!(out.stderr.contains("strict.toml"), "{}", out.stderr);
    assert!(out.stderr.contains("line 3"), "{}", out.stderr);
    assert!(
        out.stderr.contains("unknown rule id `oidc-missing`"),
        "{}",
        out.stderr
    );
    std::fs::write(dir.path().join("strict.toml"), "[lint]\n").expect("write");
    let out = lint_in(
        dir.path(),
        &[".", "--config", "strict.toml", "--format", "json"],
    );
    assert_eq!(
        out.code,
        Some(1),
        "--config replaces tokenless.toml: {}",
        out.transcript()
    );
}

#[test]
fn min_severity_filters_output_and_exit_code() {
    let out = lint_workflow(WORKFLOW, &[], &["--min-severity", "high"]);
    assert_eq!(out.code, Some(1));
    let found = rules(&out);
    assert!(
        !found.is_empty() && !found.contains(&"oidc-token-missing".to_owned()),
        "{found:?}"
    );
    let workflow = WORKFLOW.replace(
        "NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}",
        "NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}  # tokenless: ignore[static-token-publish]",
    );
    let out = lint_workflow(&workflow, &[], &["--min-severity", "high"]);
    assert_eq!(
        out.code,
        Some(0),
        "only medium findings remain: {}",
        out.transcript()
    );
    let dir = repo(&[(PATH, workflow.as_bytes())]);
    let text = lint_in(dir.path(), &[".", "--min-severity", "high"]);
    assert!(
        text.stdout
            .contains("1 suppressed; 1 below --min-severity high"),
        "{}",
        text.stdout
    );
}
