//! `tokenless lint` end to end on the shipped example repositories: snapshots of the real
//! text, JSON and SARIF output, exit codes, and `--help`.

mod lint_common;

use lint_common::{CLEAN_WORKFLOW, lint, lint_in, repo};

#[test]
fn legacy_repo_text() {
    let out = lint(&["examples/legacy-repo"]);
    insta::assert_snapshot!("legacy_repo_text", out.transcript());
}

#[test]
fn legacy_repo_json() {
    let out = lint(&["examples/legacy-repo", "--format", "json"]);
    insta::assert_snapshot!("legacy_repo_json", out.transcript());
}

#[test]
fn legacy_repo_sarif() {
    let out = lint(&["examples/legacy-repo", "--format", "sarif"]);
    insta::assert_snapshot!("legacy_repo_sarif", out.transcript());
}

#[test]
fn migrated_repo_is_clean() {
    let out = lint(&["examples/migrated-repo"]);
    insta::assert_snapshot!("migrated_repo_text", out.transcript());
    assert_eq!(out.code, Some(0), "{}", out.transcript());
}

#[test]
fn files_are_typed_by_path_then_content_then_flag() {
    let dir = repo(&[
        ("ci.yml", CLEAN_WORKFLOW),
        ("gitlab.yml", b"build:\n  script:\n    - make\n"),
    ]);
    let out = lint_in(dir.path(), &["ci.yml", "gitlab.yml", "--format", "json"]);
    assert_eq!(out.code, Some(0), "{}", out.transcript());
    assert_eq!(out.json()["files_scanned"], 2);
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["--format", "xml"][..],
        &["--min-severity", "critical"],
        &["--provider", "travis"],
        &["--no-such-flag"],
    ] {
        let out = lint(args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.transcript());
    }
    let out = lint(&["examples/legacy-repo", "--config", "does-not-exist.toml"]);
    assert_eq!(out.code, Some(2), "{}", out.transcript());
    assert!(out.stderr.contains("does-not-exist.toml"), "{}", out.stderr);
}

#[test]
fn help_teaches_with_examples() {
    let out = lint(&["--help"]);
    assert_eq!(out.code, Some(0));
    for needle in [
        "--format",
        "--min-severity",
        "--provider",
        "--config",
        "# tokenless: ignore[static-token-publish]",
        "[lint]",
        "Examples:",
        "--format sarif",
        "Exit status: 0 no findings, 1 findings, 2 usage error or unreadable input.",
    ] {
        assert!(
            out.stdout.contains(needle),
            "--help lacks {needle}:\n{}",
            out.stdout
        );
    }
}

#[test]
fn no_color_output_has_no_escape_codes() {
    let out = lint(&["examples/legacy-repo"]);
    assert!(!out.stdout.contains('\u{1b}'), "{}", out.stdout);
}

/// A small repository: a GitHub publish with a stored token on a line with non-ASCII text
/// before the span (columns count characters), a clean GitLab file, and a broken one.
fn small_fixture() -> tempfile::TempDir {
    repo(&[
        (
            ".github/workflows/release.yml",
            "name: release — publish\non:\n  push:\n    tags: ['v*']\npermissions:\n  contents: read\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/setup-node@v4\n        with:\n          node-version: 24\n          registry-url: https://registry.npmjs.org\n      - run: npm publish\n        env: {NOTE: \"déjà vu\", NODE_AUTH_TOKEN: \"${{ secrets.NPM_TOKEN }}\"}\n"
                .as_bytes(),
        ),
        (".gitlab-ci.yml", b"stages: [test]\ntest:\n  script: [npm test]\n"),
        (".circleci/config.yml", b"version: 2.1\njobs:\n  build: [\n"),
    ])
}

#[test]
fn small_fixture_text() {
    let dir = small_fixture();
    insta::assert_snapshot!(
        "small_fixture_text",
        lint_in(dir.path(), &["."]).transcript()
    );
}

#[test]
fn small_fixture_json() {
    let dir = small_fixture();
    let out = lint_in(
        dir.path(),
        &[".", "--format", "json", "--min-severity", "info"],
    );
    insta::assert_snapshot!("small_fixture_json", out.transcript());
}

#[test]
fn small_fixture_sarif() {
    let dir = small_fixture();
    let out = lint_in(dir.path(), &[".", "--format", "sarif"]);
    insta::assert_snapshot!("small_fixture_sarif", out.transcript());
}

#[test]
fn sarif_fingerprints_survive_unrelated_edits() {
    let fingerprints = |dir: &std::path::Path| -> Vec<(String, String)> {
        let sarif = lint_in(dir, &[".", "--format", "sarif"]).json();
        sarif["runs"][0]["results"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["ruleId"].as_str().unwrap_or_default().to_owned(),
                    r["partialFingerprints"]["tokenless/v1"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    };
    let src = std::fs::read_to_string(
        lint_common::workspace().join("examples/legacy-repo/.github/workflows/release.yml"),
    )
    .expect("example workflow");
    let before = repo(&[(".github/workflows/release.yml", src.as_bytes())]);
    let edited = format!(
        "# a comment added at the top\n# and another\n{}",
        src.replace("name: release", "name: release-pipeline")
    );
    let after = repo(&[(".github/workflows/release.yml", edited.as_bytes())]);
    let a = fingerprints(before.path());
    assert!(!a.is_empty(), "the example has findings");
    assert_eq!(a, fingerprints(after.path()));
}

#[test]
fn a_file_named_twice_is_linted_once() {
    let out = lint(&[
        "examples/legacy-repo",
        "examples/legacy-repo/.gitlab-ci.yml",
        "--format",
        "json",
    ]);
    assert_eq!(out.json()["files_scanned"], 3, "{}", out.transcript());
}

/// A repository whose publish goes through three hops: the step runs `yarn release`,
/// package.json runs semantic-release, .releaserc.json enables @semantic-release/npm.
const CHAIN_REPO: &str = "crates/tokenless-ci/tests/fixtures/repos/semantic-release-chain";

#[test]
fn three_hop_chain_text() {
    let out = lint(&[CHAIN_REPO]);
    insta::assert_snapshot!("three_hop_chain_text", out.transcript());
}

#[test]
fn three_hop_chain_json() {
    let out = lint(&[CHAIN_REPO, "--format", "json"]);
    insta::assert_snapshot!("three_hop_chain_json", out.transcript());
}

#[test]
fn three_hop_chain_sarif() {
    let out = lint(&[CHAIN_REPO, "--format", "sarif"]);
    insta::assert_snapshot!("three_hop_chain_sarif", out.transcript());
}

#[test]
fn no_follow_judges_the_config_alone_by_names() {
    // Without the repository, the job named `release` that wires NPM_TOKEN is taken to
    // publish, with medium confidence and no chain.
    let out = lint(&[CHAIN_REPO, "--no-follow", "--format", "json"]);
    assert_eq!(out.code, Some(1), "{}", out.transcript());
    let json = out.json();
    assert_eq!(json["publishes"][0]["client"], "named-job");
    assert_eq!(json["publishes"][0]["confidence"], "medium");
    assert_eq!(json["findings"][0]["confidence"], "medium");
    assert!(json["findings"][0].get("chain").is_none());
}

#[test]
fn repo_flag_follows_a_single_file_into_another_root() {
    let file = format!("{CHAIN_REPO}/.github/workflows/release.yml");
    let out = lint(&[&file, "--repo", CHAIN_REPO, "--format", "json"]);
    let json = out.json();
    let chain = &json["findings"][0]["chain"];
    assert_eq!(
        chain.as_array().map(Vec::len),
        Some(3),
        "{}",
        out.transcript()
    );
}

#[test]
fn a_token_in_the_source_is_masked_in_every_format() {
    let token = "npm_abcdefghijklmnopqrstuvwxyz0123456789";
    let workflow = format!(
        "on: push\njobs:\n  p:\n    runs-on: ubuntu-latest\n    steps:\n      - run: npm publish\n        env:\n          NODE_AUTH_TOKEN: {token}\n"
    );
    let dir = repo(&[(".github/workflows/release.yml", workflow.as_bytes())]);
    for format in ["text", "json", "sarif"] {
        let out = lint_in(dir.path(), &["--format", format]);
        assert_eq!(out.code, Some(1), "{}", out.transcript());
        assert!(
            !out.transcript().contains(&token[4..16]),
            "{format}: {}",
            out.transcript()
        );
    }
    // The caret still sits under the masked value.
    let text = lint_in(dir.path(), &[]).stdout;
    assert!(
        text.contains("NODE_AUTH_TOKEN: npm_********************************6789"),
        "{text}"
    );
}
