//! `tokenless fix` on hostile input, through the binary: YAML anchors and merge keys,
//! flow style, CRLF, a byte-order mark, tabs in scalars, a 10,000-line config under a
//! memory limit, inputs that are not CI configs at all, empty option values, and a
//! hard-coded npm token that must never be printed.
//!
//! Every run must end (no hang), exit 0, 1 or 2 and never panic. A run either patches the
//! file correctly (it still parses, the edit is where it belongs, every byte outside the
//! edit is kept, and a second run finds nothing left) or says the job needs a human and
//! why, leaving the file byte for byte as it was.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tokenless");

/// A token of npm's shape (`npm_` + 36 alphanumerics); it must never be printed.
const TOKEN: &str = "npm_abcdefghijklmnopqrstuvwxyz0123456789";

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn transcript(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Run `program args` in `dir`, killed (and the test failed) if it is still running after
/// 60 s; output goes to files so a full pipe cannot stall it.
fn spawn(dir: &Path, mut cmd: Command) -> Out {
    let logs = tempfile::tempdir().expect("tempdir");
    let out_path = logs.path().join("stdout");
    let err_path = logs.path().join("stderr");
    let mut child = cmd
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("NPM_ID_TOKEN")
        .env_remove("NPM_TOKEN")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        match child.try_wait().expect("wait") {
            Some(status) => break status,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{cmd:?} still running after 60 s");
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let read = |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into();
    let out = Out {
        code: status.code(),
        stdout: read(&out_path),
        stderr: read(&err_path),
    };
    assert!(
        matches!(out.code, Some(0..=2)),
        "exit code must be 0, 1 or 2: {}",
        out.transcript()
    );
    assert!(
        !out.stderr.contains("panicked"),
        "tokenless panicked: {}",
        out.transcript()
    );
    out
}

fn tokenless(dir: &Path, args: &[&str]) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    spawn(dir, cmd)
}

/// A repository with these files (parents created).
fn repo(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, bytes) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        std::fs::write(full, bytes).expect("write");
    }
    dir
}

fn read(dir: &Path, path: &str) -> Vec<u8> {
    std::fs::read(dir.join(path)).expect("read back")
}

fn text(dir: &Path, path: &str) -> String {
    String::from_utf8(read(dir, path)).expect("UTF-8")
}

/// The rewritten file still parses: `lint` reports findings or none, not an error.
fn assert_still_parses(dir: &Path) {
    let lint = tokenless(dir, &["lint", "."]);
    assert_ne!(
        lint.code,
        Some(2),
        "the rewrite broke the file: {}",
        lint.transcript()
    );
}

/// A second run has nothing left to change.
fn assert_idempotent(dir: &Path) {
    let again = tokenless(dir, &["fix", "."]);
    assert!(
        again.stdout.contains("0 file(s) to change"),
        "a second run still changes something: {}",
        again.transcript()
    );
}

/// The lines of `old` replaced in `new`, as a 0-based range of `old`'s lines: everything
/// before it and after it is byte for byte the same in both.
fn edited_lines(old: &str, new: &str) -> std::ops::Range<usize> {
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..]
        .iter()
        .rev()
        .zip(b[prefix..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    prefix..a.len() - suffix
}

/// The 0-based index of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.split_inclusive('\n')
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{text}"))
}

/// `old` became `new` only between the lines holding `from` and `to` (both of `old`,
/// `to` exclusive; `None`: to the end).
fn assert_edited_within(old: &str, new: &str, from: &str, to: Option<&str>) {
    assert_ne!(old, new, "nothing was changed");
    let edited = edited_lines(old, new);
    let lo = line_of(old, from);
    let hi = to.map_or(old.split_inclusive('\n').count(), |t| line_of(old, t));
    assert!(
        edited.start >= lo && edited.end <= hi,
        "lines {edited:?} changed, expected only within {lo}..{hi}:\n--- old\n{old}\n--- new\n{new}"
    );
}

fn assert_refused_unchanged(dir: &Path, path: &str, before: &[u8], needle: &str) {
    let out = tokenless(dir, &["fix", "--write", "."]);
    assert_eq!(out.code, Some(1), "{}", out.transcript());
    assert!(
        out.stdout.contains("needs a human") && out.stdout.contains(needle),
        "the output should say the job needs a human because of {needle:?}: {}",
        out.transcript()
    );
    assert_eq!(read(dir, path), before, "a refused file must not change");
    let json = tokenless(dir, &["fix", ".", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let reasons = doc["files"][0]["needs_human"].to_string();
    assert!(reasons.contains(needle), "{}", json.transcript());
}

const CIRCLE: &str = ".circleci/config.yml";
const GITHUB: &str = ".github/workflows/release.yml";
const GITLAB: &str = ".gitlab-ci.yml";

/// A legacy CircleCI publish: an `_authToken` line from `$NPM_TOKEN`, then `npm publish`;
/// the workflow job is already bound to the context and filtered to main.
const LEGACY_CIRCLE: &str = r#"version: 2.1
jobs:
  test:
    docker:
      - image: cimg/node:22.14
    steps:
      - checkout
      - run: npm test
  publish:
    docker:
      - image: cimg/node:22.14
    steps:
      - checkout
      - run: echo "//registry.npmjs.org/:_authToken=$NPM_TOKEN" > ~/.npmrc
      - run: npm publish
workflows:
  release:
    jobs:
      - test
      - publish:
          context: npm-publish
          requires: [test]
          filters:
            branches:
              only: main
"#;

/// A legacy GitHub publish: setup-node with a registry and NODE_AUTH_TOKEN from a secret.
const LEGACY_GITHUB: &str = r#"name: release
on:
  push:
    branches: [main]
jobs:
  publish:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 24
          registry-url: https://registry.npmjs.org
      - run: npm ci
      - run: npm publish
        env:
          NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}
"#;

/// A legacy GitLab publish: an `.npmrc` written from `${NPM_TOKEN}` in the script.
const LEGACY_GITLAB: &str = r#"stages: [test, publish]
test:
  stage: test
  image: node:24
  script:
    - npm test
publish:
  stage: publish
  image: node:24
  script:
    - echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc
    - npm publish
  rules:
    - if: $CI_COMMIT_TAG
"#;

#[test]
fn the_legacy_configs_are_fixed_where_expected() {
    for (path, legacy, from, to) in [
        (CIRCLE, LEGACY_CIRCLE, "  publish:", Some("workflows:")),
        (GITHUB, LEGACY_GITHUB, "  publish:", None),
        (GITLAB, LEGACY_GITLAB, "publish:", None),
    ] {
        let dir = repo(&[(path, legacy.as_bytes())]);
        let out = tokenless(dir.path(), &["fix", "--write", "."]);
        assert_eq!(out.code, Some(0), "{path}: {}", out.transcript());
        let new = text(dir.path(), path);
        assert_edited_within(legacy, &new, from, to);
        assert!(
            !new.contains("_authToken") && !new.contains("NODE_AUTH_TOKEN"),
            "{new}"
        );
        assert_still_parses(dir.path());
        assert_idempotent(dir.path());
    }
}

// --- anchors and merge keys ---------------------------------------------------------

#[test]
fn anchored_steps_reused_by_another_job_are_refused_and_the_file_is_unchanged() {
    let config = r#"version: 2.1
jobs:
  publish:
    docker:
      - image: cimg/node:22.14
    steps: &steps
      - checkout
      - run: echo "//registry.npmjs.org/:_authToken=$NPM_TOKEN" > ~/.npmrc
      - run: npm publish
  publish-again:
    docker:
      - image: cimg/node:22.14
    steps: *steps
workflows:
  release:
    jobs:
      - publish:
          context: npm-publish
          filters: {branches: {only: main}}
      - publish-again:
          context: npm-publish
          filters: {branches: {only: main}}
"#;
    let dir = repo(&[(CIRCLE, config.as_bytes())]);
    assert_refused_unchanged(dir.path(), CIRCLE, config.as_bytes(), "anchor");
}

#[test]
fn an_anchored_job_reused_whole_is_refused_and_the_file_is_unchanged() {
    let config = r#"version: 2.1
jobs:
  publish: &publish
    docker:
      - image: cimg/node:22.14
    steps:
      - checkout
      - run: echo "//registry.npmjs.org/:_authToken=$NPM_TOKEN" > ~/.npmrc
      - run: &cmd npm publish
  publish-b: *publish
  other:
    docker:
      - image: cimg/node:22.14
    steps:
      - run: *cmd
workflows:
  release:
    jobs:
      - publish:
          context: npm-publish
          filters: {branches: {only: main}}
      - publish-b:
          context: npm-publish
          filters: {branches: {only: main}}
"#;
    let dir = repo(&[(CIRCLE, config.as_bytes())]);
    assert_refused_unchanged(dir.path(), CIRCLE, config.as_bytes(), "anchor");
}

#[test]
fn a_token_from_merged_circleci_defaults_is_refused_and_the_steps_are_fixed() {
    let config = r#"version: 2.1
defaults: &defaults
  docker:
    - image: cimg/node:22.14
  environment:
    NPM_TOKEN: $SECRET_NPM_TOKEN
jobs:
  publish:
    <<: *defaults
    steps:
      - checkout
      - run: echo "//registry.npmjs.org/:_authToken=$NPM_TOKEN" > ~/.npmrc
      - run: npm publish
workflows:
  release:
    jobs:
      - publish:
          context: npm-publish
          filters: {branches: {only: main}}
"#;
    let dir = repo(&[(CIRCLE, config.as_bytes())]);
    let out = tokenless(dir.path(), &["fix", "--write", "."]);
    assert_eq!(out.code, Some(1), "{}", out.transcript());
    assert!(
        out.stdout.contains("needs a human")
            && out
                .stdout
                .contains("`NPM_TOKEN` in the job's `environment` is not changed")
            && out.stdout.contains("merge key"),
        "{}",
        out.transcript()
    );
    let new = text(dir.path(), CIRCLE);
    // The defaults (and the merge) are untouched; the steps are rewritten.
    assert_edited_within(config, &new, "      - checkout", Some("workflows:"));
    assert!(new.contains("NPM_TOKEN: $SECRET_NPM_TOKEN"), "{new}");
    assert!(new.contains("circleci run oidc get"), "{new}");
    // The id token's empty-token guard survives the later rounds (they used to strip it
    // as a check of a stored token while the merged NPM_TOKEN was still reported).
    assert!(new.contains("if [ -z \"$NPM_ID_TOKEN\" ]; then"), "{new}");
    assert!(!new.contains("_authToken"), "{new}");
    assert_still_parses(dir.path());
}

#[test]
fn gitlab_variables_from_merged_defaults_are_refused_and_the_script_is_fixed() {
    let config = r#".defaults: &defaults
  image: node:24
  variables:
    NPM_TOKEN: $CI_NPM_TOKEN
publish:
  <<: *defaults
  script:
    - echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc
    - npm publish
  rules:
    - if: $CI_COMMIT_TAG
"#;
    let dir = repo(&[(GITLAB, config.as_bytes())]);
    let out = tokenless(dir.path(), &["fix", "--write", "."]);
    assert_eq!(out.code, Some(1), "{}", out.transcript());
    assert!(
        out.stdout.contains("needs a human") && out.stdout.contains("merge key"),
        "{}",
        out.transcript()
    );
    let new = text(dir.path(), GITLAB);
    assert_edited_within(config, &new, "  script:", None);
    assert!(new.contains("NPM_TOKEN: $CI_NPM_TOKEN"), "{new}");
    assert!(new.contains("NPM_ID_TOKEN"), "{new}");
    assert_still_parses(dir.path());
}

// --- flow style -----------------------------------------------------------------------

#[test]
fn flow_style_circleci_is_fixed_in_place() {
    let config = r#"version: 2.1
jobs:
  publish:
    docker: [{image: cimg/node:22.14}]
    environment: {NPM_TOKEN: $SECRET_NPM_TOKEN, FOO: bar}
    steps: [checkout, {run: 'echo "//registry.npmjs.org/:_authToken=$NPM_TOKEN" > ~/.npmrc'}, {run: npm publish}]
workflows:
  release:
    jobs: [{publish: {context: npm-publish, filters: {branches: {only: main}}}}]
"#;
    let dir = repo(&[(CIRCLE, config.as_bytes())]);
    let out = tokenless(dir.path(), &["fix", "--write", "."]);
    assert_eq!(out.code, Some(0), "{}", out.transcript());
    let new = text(dir.path(), CIRCLE);
    assert_edited_within(config, &new, "    environment:", Some("workflows:"));
    assert!(new.contains("environment: {FOO: bar}"), "{new}");
    assert!(
        new.contains("circleci run oidc get") && !new.contains("_authToken"),
        "{new}"
    );
    assert_still_parses(dir.path());
    assert_idempotent(dir.path());
}

#[test]
fn flow_style_gitlab_script_and_variables_are_fixed_in_place() {
    let config = r#"publish:
  image: node:24
  variables: {NPM_TOKEN: $CI_NPM_TOKEN, X: y}
  script: ['echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc', npm publish]
  rules: [{if: $CI_COMMIT_TAG}]
"#;
    let dir = repo(&[(GITLAB, config.as_bytes())]);
    let out = tokenless(dir.path(), &["fix", "--write", "."]);
    assert_eq!(out.code, Some(0), "{}", out.transcript());
    let new = text(dir.path(), GITLAB);
    assert_edited_within(config, &new, "  variables:", None);
    assert!(new.contains("  variables: {X: y}\n"), "{new}");
    assert!(new.contains("  script: [npm publish]\n"), "{new}");
    assert!(new.contains("  rules: [{if: $CI_COMMIT_TAG}]\n"), "{new}");
    assert_still_parses(dir.path());
    assert_idempotent(dir.path());
}

#[test]
fn flow_style_github_env_is_fixed_in_place() {
    let config = r#"name: release
on: {push: {branches: [main]}}
jobs:
  publish:
    runs-on: ubuntu-latest
    steps:
      - {uses: actions/checkout@v4}
      - {uses: actions/setup-node@v4, with: {node-version: 24, registry-url: 'https://registry.npmjs.org'}}
      - {run: npm publish, env: {NODE_AUTH_TOKEN: '${{ secrets.NPM_TOKEN }}', CI: 'true'}}
"#;
    let dir = repo(&[(GITHUB, config.as_bytes())]);
    let out = tokenless(dir.path(), &["fix", "--write", "."]);
    assert_eq!(out.code, Some(0), "{}", out.transcript());
    let new = text(dir.path(), GITHUB);
    assert_edited_within(config, &new, "    runs-on:", None);
    assert!(!new.contains("NODE_AUTH_TOKEN"), "{new}");
    assert!(new.contains("env: {CI: 'true'}"), "{new}");
    assert!(new.contains("id-token: write"), "{new}");
    assert_still_parses(dir.path());
    assert_idempotent(dir.path());
}

#[test]
fn a_flow_script_that_is_not_valid_yaml_is_an_error_and_left_alone() {
    // `{` ends a plain scalar in a flow sequence: this is not YAML, and GitLab rejects it.
    let config = "publish:\n  script: [echo \"//registry.npmjs.org/:_authToken=${NPM_TOKEN}\" > .npmrc, npm publish]\n";
    let dir = repo(&[(GITLAB, config.as_bytes())]);
    let out = tokenless(dir.path(), &["fix", "--write", "."]);
    assert_eq!(out.code, Some(2), "{}", out.transcript());
    assert!(
        out.stderr.contains(".gitlab-ci.yml:2:"),
        "{}",
        out.transcript()
    );
    assert_eq!(read(dir.path(), GITLAB), config.as_bytes());
}

// --- line endings, BOM, tabs ----------------------------------------------------------

#[test]
fn crlf_line_endings_are_kept_on_every_line() {
    for (path, legacy) in [
        (CIRCLE, LEGACY_CIRCLE),
        (GITHUB, LEGACY_GITHUB),
        (GITLAB, LEGACY_GITLAB),
    ] {
        let crlf = legacy.replace('\n', "\r\n");
        let dir = repo(&[(path, crlf.as_bytes())]);
        let out = tokenless(dir.path(), &["fix", "--write", "."]);
        assert_eq!(out.code, Some(0), "{path}: {}", out.transcript());
        let new = text(dir.path(), path);
        assert_ne!(new, crlf, "{path}: nothing was changed");
        let bare = new
            .match_indices('\n')
            .filter(|(i, _)| !new[..*i].ends_with('\r'));
        assert_eq!(bare.count(), 0, "{path}: a bare \\n in\n{new:?}");
        assert!(new.ends_with("\r\n"), "{path}");
        assert_still_parses(dir.path());
        assert_idempotent(dir.path());
    }
}

#[test]
fn a_byte_order_mark_is_kept() {
    for (path, legacy) in [
        (CIRCLE, LEGACY_CIRCLE),
        (GITHUB, LEGACY_GITHUB),
        (GITLAB, LEGACY_GITLAB),
    ] {
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice(legacy.as_bytes());
        let dir = repo(&[(path, &bytes)]);
        let out = tokenless(dir.path(), &["fix", "--write", "."]);
        assert_eq!(out.code, Some(0), "{path}: {}", out.transcript());
        let new = read(dir.path(), path);
        assert!(
            new.starts_with(&[0xEF, 0xBB, 0xBF]),
            "{path}: the BOM was dropped"
        );
        assert!(
            !new[3..].starts_with(&[0xEF, 0xBB, 0xBF]),
            "{path}: two BOMs"
        );
        let new = String::from_utf8(new[3..].to_vec()).expect("UTF-8");
        assert_ne!(new, legacy, "{path}: nothing was changed");
        assert!(
            new.starts_with(legacy.lines().next().unwrap_or_default()),
            "{path}"
        );
        assert_still_parses(dir.path());
        assert_idempotent(dir.path());
    }
}

#[test]
fn tabs_inside_scalars_are_kept() {
    let github = "name: release\non:\n  push:\n    branches: [main]\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - uses: actions/setup-node@v4\n        with:\n          node-version: 24\n          registry-url: https://registry.npmjs.org\n      - run: \"echo\tx\"\n      - run: |\n          printf 'a\tb\\n'\n      - run: npm publish\n        env:\n          NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}\n";
    let gitlab = "publish:\n  image: node:24\n  variables:\n    NPM_TOKEN: $CI_NPM_TOKEN\n    X: \"a\tb\"\n  script:\n    - \"echo\tx\"\n    - |\n      printf \"a\tb\"\n    - echo \"//registry.npmjs.org/:_authToken=${NPM_TOKEN}\" > .npmrc\n    - npm publish\n  rules:\n    - if: $CI_COMMIT_TAG\n";
    let circle = "version: 2.1\njobs:\n  publish:\n    docker:\n      - image: cimg/node:22.14\n    steps:\n      - run: \"echo\tx\"\n      - run: |\n          printf 'a\tb'\n          echo \"//registry.npmjs.org/:_authToken=$NPM_TOKEN\" > ~/.npmrc\n          npm publish\nworkflows:\n  release:\n    jobs:\n      - publish:\n          context: npm-publish\n          filters: {branches: {only: main}}\n";
    for (path, config) in [(GITHUB, github), (GITLAB, gitlab), (CIRCLE, circle)] {
        let dir = repo(&[(path, config.as_bytes())]);
        let out = tokenless(dir.path(), &["fix", "--write", "."]);
        assert_eq!(out.code, Some(0), "{path}: {}", out.transcript());
        let new = text(dir.path(), path);
        assert_ne!(new, config, "{path}: nothing was changed");
        let tabbed: Vec<&str> = config.lines().filter(|l| l.contains('\t')).collect();
        assert!(tabbed.len() >= 2, "{path}");
        for line in tabbed {
            assert!(
                new.lines().any(|l| l == line),
                "{path}: lost {line:?} in\n{new}"
            );
        }
        assert_still_parses(dir.path());
        assert_idempotent(dir.path());
    }
}

// --- size -----------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn a_ten_thousand_line_config_is_fixed_under_a_memory_limit() {
    let mut lines: Vec<String> = vec!["version: 2.1".into(), "jobs:".into()];
    let mut jobs = 0;
    // 2 lines of header, 6 per job and one more in the workflow, 13 for the publish.
    while 15 + 7 * (jobs + 1) <= 10_000 {
        lines.extend([
            format!("  unit-{jobs}:"),
            "    docker:".into(),
            "      - image: cimg/node:22.14".into(),
            "    steps:".into(),
            "      - checkout".into(),
            format!("      - run: npm test -- --shard={jobs}"),
        ]);
        jobs += 1;
    }
    lines.extend(
        [
            "  publish:",
            "    docker:",
            "      - image: cimg/node:22.14",
            "    steps:",
            "      - checkout",
            "      - run: echo \"//registry.npmjs.org/:_authToken=$NPM_TOKEN\" > ~/.npmrc",
            "      - run: npm publish",
            "workflows:",
            "  release:",
            "    jobs:",
        ]
        .map(String::from),
    );
    lines.extend((0..jobs).map(|i| format!("      - unit-{i}")));
    lines.extend(
        [
            "      - publish:",
            "          context: npm-publish",
            "          filters: {branches: {only: main}}",
        ]
        .map(String::from),
    );
    assert!((9_990..=10_000).contains(&lines.len()), "{}", lines.len());
    let config = lines.join("\n") + "\n";
    let dir = repo(&[(CIRCLE, config.as_bytes())]);

    // About 1 GB of address space; exit 97 if the shell cannot set the limit.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"ulimit -v 1000000 || exit 97; exec "$0" "$@""#)
        .arg(BIN)
        .args(["fix", "--write", "."]);
    let out = spawn(dir.path(), cmd);
    assert_eq!(out.code, Some(0), "{}", out.transcript());
    let new = text(dir.path(), CIRCLE);
    assert_edited_within(&config, &new, "  publish:", Some("workflows:"));
    assert!(new.contains("circleci run oidc get") && !new.contains("_authToken"));
    assert_still_parses(dir.path());
}

// --- inputs that are not CI configs ---------------------------------------------------

/// `fix --write` on `dir` is an error (exit 2) whose message contains `needle`; the file
/// at `path` (if any) is left as it was.
fn assert_error_unchanged(dir: &Path, path: Option<&str>, needle: &str) {
    let before = path.map(|p| read(dir, p));
    let out = tokenless(dir, &["fix", "--write", "."]);
    assert_eq!(out.code, Some(2), "{}", out.transcript());
    assert!(
        out.stderr.contains(needle),
        "expected {needle:?}: {}",
        out.transcript()
    );
    if let (Some(p), Some(before)) = (path, before) {
        assert_eq!(read(dir, p), before, "{p} changed");
    }
    let json = tokenless(dir, &["fix", ".", "--format", "json"]);
    assert_eq!(json.code, Some(2), "{}", json.transcript());
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    let errors = doc["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 1, "{}", json.transcript());
    let shown = format!(
        "{}:{}:{}: {}",
        errors[0]["path"].as_str().unwrap_or_default(),
        errors[0]["line"],
        errors[0]["column"],
        errors[0]["message"].as_str().unwrap_or_default()
    );
    assert!(shown.contains(needle), "{shown}: {}", json.transcript());
}

#[test]
fn five_thousand_open_brackets_are_an_error() {
    let deep = "[".repeat(5_000) + "\n";
    let dir = repo(&[(CIRCLE, deep.as_bytes())]);
    assert_error_unchanged(dir.path(), Some(CIRCLE), "recursion limit");
}

#[test]
fn five_thousand_nested_mappings_are_an_error() {
    let deep = format!(
        "jobs:\n  a: {}x{}\n",
        "{a: ".repeat(5_000),
        "}".repeat(5_000)
    );
    let dir = repo(&[(CIRCLE, deep.as_bytes())]);
    assert_error_unchanged(dir.path(), Some(CIRCLE), "nesting deeper than");
}

#[test]
fn a_file_that_is_not_yaml_is_an_error() {
    let dir = repo(&[(CIRCLE, b"this is not: [yaml\n  {{{ :\n")]);
    assert_error_unchanged(dir.path(), Some(CIRCLE), ".circleci/config.yml:2:");
}

#[test]
fn an_empty_config_has_nothing_to_fix() {
    for path in [CIRCLE, GITHUB, GITLAB] {
        let dir = repo(&[(path, b"")]);
        let out = tokenless(dir.path(), &["fix", "--write", "."]);
        assert_eq!(out.code, Some(0), "{path}: {}", out.transcript());
        assert!(
            out.stdout.contains("0 file(s) changed"),
            "{}",
            out.transcript()
        );
        assert_eq!(read(dir.path(), path), b"");
    }
}

#[test]
fn a_binary_config_is_refused() {
    let dir = repo(&[(CIRCLE, b"version: 2.1\njobs:\x00\n")]);
    assert_error_unchanged(dir.path(), Some(CIRCLE), "binary file (NUL byte");
}

#[test]
fn invalid_utf8_is_refused_with_its_position() {
    let dir = repo(&[(GITLAB, b"publish:\n  script: [caf\xe9]\n")]);
    assert_error_unchanged(dir.path(), Some(GITLAB), ".gitlab-ci.yml:2:");
    assert_error_unchanged(dir.path(), Some(GITLAB), "not valid UTF-8: byte 0xE9");
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_without_blocking() {
    let dir = repo(&[]);
    std::fs::create_dir_all(dir.path().join(".circleci")).expect("mkdir");
    let fifo = dir.path().join(CIRCLE);
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success(), "mkfifo failed");
    // Found by the walk, and named on the command line: neither opens it.
    assert_error_unchanged(dir.path(), None, "a FIFO (named pipe), not a regular file");
    let out = tokenless(dir.path(), &["fix", CIRCLE]);
    assert_eq!(out.code, Some(2), "{}", out.transcript());
    assert!(out.stderr.contains("FIFO"), "{}", out.transcript());
}

#[test]
fn a_directory_without_a_ci_config_is_an_error() {
    let dir = repo(&[("README.md", b"# nothing here\n")]);
    assert_error_unchanged(dir.path(), Some("README.md"), "no CI configuration found");
}

#[test]
fn empty_context_or_environment_is_a_usage_error() {
    let dir = repo(&[(CIRCLE, LEGACY_CIRCLE.as_bytes())]);
    for (args, needle) in [
        (["--context", ""], "--context needs a context name"),
        (["--context", "  "], "--context needs a context name"),
        (
            ["--environment", ""],
            "--environment needs an environment name",
        ),
    ] {
        let mut all = vec!["fix", "--write", "."];
        all.extend(args);
        let out = tokenless(dir.path(), &all);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.transcript());
        assert!(
            out.stderr.contains(needle),
            "{args:?}: {}",
            out.transcript()
        );
        assert_eq!(read(dir.path(), CIRCLE), LEGACY_CIRCLE.as_bytes());
    }
}

// --- credentials ----------------------------------------------------------------------

#[test]
fn a_hard_coded_npm_token_is_never_printed() {
    let circle = format!(
        r#"version: 2.1
jobs:
  publish:
    docker:
      - image: cimg/node:22.14
    environment:
      NPM_TOKEN: {TOKEN}
      FOO: bar
    steps:
      - checkout
      - run: echo "//registry.npmjs.org/:_authToken={TOKEN}" > ~/.npmrc
      - run: |
          npm config set //registry.npmjs.org/:_authToken {TOKEN}
          npm publish
workflows:
  release:
    jobs:
      - publish:
          context: npm-publish
          filters: {{branches: {{only: main}}}}
"#
    );
    let github = format!(
        r#"on:
  push:
    branches: [main]
jobs:
  publish:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/setup-node@v4
        with:
          node-version: 24
          registry-url: https://registry.npmjs.org
      - run: npm publish
        env:
          NODE_AUTH_TOKEN: {TOKEN}
"#
    );
    let gitlab = format!(
        r#"publish:
  image: node:24
  variables:
    NPM_TOKEN: {TOKEN}
  script:
    - echo "//registry.npmjs.org/:_authToken={TOKEN}" > .npmrc
    - npm publish
  rules:
    - if: $CI_COMMIT_TAG
"#
    );
    let tail = &TOKEN[TOKEN.len() - 4..];
    for (path, config) in [(CIRCLE, &circle), (GITHUB, &github), (GITLAB, &gitlab)] {
        let dir = repo(&[(path, config.as_bytes())]);
        for args in [
            &["fix", "."][..],
            &["fix", ".", "--format", "json"],
            &["fix", ".", "--no-follow"],
        ] {
            let out = tokenless(dir.path(), args);
            assert_eq!(out.code, Some(1), "{path} {args:?}: {}", out.transcript());
            // Not the token, nor a long piece of it (a step name cut mid-token).
            assert!(
                !out.all().contains(&TOKEN[..12]),
                "{path} {args:?} printed the token: {}",
                out.transcript()
            );
            // The removed lines are still shown in the diff, redacted.
            assert!(
                args.contains(&"json") || out.stdout.contains(&format!("npm_…{tail}")),
                "{path} {args:?}: {}",
                out.transcript()
            );
            if args.contains(&"json") {
                serde_json::from_str::<serde_json::Value>(&out.stdout).expect("valid JSON");
            }
        }
        let out = tokenless(dir.path(), &["fix", "--write", "."]);
        assert!(
            !out.all().contains(&TOKEN[..12]),
            "{path}: {}",
            out.transcript()
        );
        let new = text(dir.path(), path);
        assert!(!new.contains(TOKEN), "{path}: the token is still in\n{new}");
        assert_still_parses(dir.path());
    }
}
