//! Hostile and broken inputs at the CLI level: every one is refused with a message that
//! names the file (and line/column where there is one), exits 2, never crashes, and does
//! not stop the other files from being checked.

mod lint_common;

use lint_common::{CLEAN_WORKFLOW, lint_in, repo};

/// Lint `dir` as JSON; the clean workflow must still have been scanned.
fn assert_refused_but_others_checked(dir: &std::path::Path, path: &str, needle: &str) {
    let out = lint_in(dir, &[".", "--format", "json"]);
    assert_eq!(out.code, Some(2), "{}", out.transcript());
    let json = out.json();
    assert_eq!(json["files_scanned"], 1, "{}", out.transcript());
    let errors = json["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 1, "{}", out.transcript());
    assert_eq!(errors[0]["path"], path);
    let message = errors[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(needle), "{message}");
}

#[test]
fn a_50_mb_file_is_refused_without_being_read() {
    let dir = repo(&[(".github/workflows/ci.yml", CLEAN_WORKFLOW)]);
    let big = dir.path().join(".gitlab-ci.yml");
    let file = std::fs::File::create(&big).expect("create");
    file.set_len(50 * 1024 * 1024).expect("sparse 50 MB file");
    assert_refused_but_others_checked(
        dir.path(),
        ".gitlab-ci.yml",
        "file is 50.0 MiB; tokenless lint refuses CI configs larger than 8 MiB",
    );
}

#[test]
fn a_binary_file_is_refused() {
    let dir = repo(&[
        (".github/workflows/ci.yml", CLEAN_WORKFLOW),
        (
            ".circleci/config.yml",
            b"\x7fELF\x02\x01\x01\x00\x00\x00jobs:",
        ),
    ]);
    assert_refused_but_others_checked(
        dir.path(),
        ".circleci/config.yml",
        "binary file (NUL byte at byte offset 7)",
    );
}

#[test]
fn non_utf8_names_line_column_and_offset() {
    let dir = repo(&[
        (".github/workflows/ci.yml", CLEAN_WORKFLOW),
        (".gitlab-ci.yml", b"stages: [a]\nname: caf\xe9\n"),
    ]);
    assert_refused_but_others_checked(
        dir.path(),
        ".gitlab-ci.yml",
        "not valid UTF-8: byte 0xE9 at byte offset 21",
    );
    let out = lint_in(dir.path(), &["."]);
    assert!(
        out.stderr.contains(".gitlab-ci.yml:2:10: not valid UTF-8"),
        "{}",
        out.transcript()
    );
}

#[cfg(unix)]
#[test]
fn a_file_that_vanished_after_discovery_is_reported() {
    // A dangling symlink is found by the walk and gone when read: the same path a file
    // deleted between discovery and read takes, deterministically.
    let dir = repo(&[(".github/workflows/ci.yml", CLEAN_WORKFLOW)]);
    std::os::unix::fs::symlink(
        dir.path().join("deleted.yml"),
        dir.path().join(".github/workflows/gone.yml"),
    )
    .expect("symlink");
    assert_refused_but_others_checked(
        dir.path(),
        ".github/workflows/gone.yml",
        "cannot read: No such file or directory",
    );
}

#[cfg(unix)]
#[test]
fn symlink_loops_in_the_walk_end() {
    let dir = repo(&[(".github/workflows/ci.yml", CLEAN_WORKFLOW)]);
    std::os::unix::fs::symlink(dir.path(), dir.path().join("self")).expect("symlink");
    std::os::unix::fs::symlink(
        dir.path().join(".github"),
        dir.path().join(".github/workflows/up"),
    )
    .expect("symlink");
    let out = lint_in(dir.path(), &[".", "--format", "json"]);
    assert_eq!(out.code, Some(0), "{}", out.transcript());
    assert_eq!(out.json()["files_scanned"], 1);
}

#[cfg(unix)]
#[test]
fn unreadable_permissions_are_reported() {
    use std::os::unix::fs::PermissionsExt;
    let dir = repo(&[
        (".github/workflows/ci.yml", CLEAN_WORKFLOW),
        (".gitlab-ci.yml", b"stages: [a]\n"),
    ]);
    let locked = dir.path().join(".gitlab-ci.yml");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    if std::fs::read(&locked).is_ok() {
        eprintln!(
            "note: skipping unreadable_permissions_are_reported: running as root, mode 000 is still readable"
        );
        return;
    }
    assert_refused_but_others_checked(dir.path(), ".gitlab-ci.yml", "Permission denied");
}

#[test]
fn ten_thousand_deep_nesting_does_not_crash() {
    let depth = 10_000;
    let mut text = String::from("stages: [a]\njob:\n  script:\n    - ");
    text.push_str(&"[".repeat(depth));
    text.push_str(&"]".repeat(depth));
    text.push('\n');
    let dir = repo(&[(".gitlab-ci.yml", text.as_bytes())]);
    let out = lint_in(dir.path(), &["."]);
    assert!(
        matches!(out.code, Some(0..=2)),
        "crashed: {}",
        out.transcript()
    );
}

#[test]
fn a_directory_without_configs_is_a_usage_error() {
    let dir = repo(&[("README.md", b"# nothing here\n")]);
    let out = lint_in(dir.path(), &["."]);
    assert_eq!(out.code, Some(2), "{}", out.transcript());
    assert!(
        out.stderr.contains("no CI configuration found"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_missing_path_is_reported_and_the_others_are_checked() {
    let dir = repo(&[(".github/workflows/ci.yml", CLEAN_WORKFLOW)]);
    let out = lint_in(dir.path(), &["missing", ".", "--format", "json"]);
    assert_eq!(out.code, Some(2), "{}", out.transcript());
    let json = out.json();
    assert_eq!(json["files_scanned"], 1);
    assert_eq!(json["errors"][0]["path"], "missing");
}

#[test]
fn a_file_of_no_known_provider_asks_for_provider() {
    let dir = repo(&[("pipeline.yml", b"name: x\nvalue: 1\n")]);
    let out = lint_in(dir.path(), &["pipeline.yml"]);
    assert_eq!(out.code, Some(2), "{}", out.transcript());
    assert!(out.stderr.contains("pass --provider"), "{}", out.stderr);
    let out = lint_in(dir.path(), &["pipeline.yml", "--provider", "gitlab"]);
    assert_eq!(out.code, Some(0), "{}", out.transcript());
}

#[test]
fn malformed_yaml_names_file_line_and_column() {
    let dir = repo(&[
        (".github/workflows/ci.yml", CLEAN_WORKFLOW),
        (
            ".gitlab-ci.yml",
            b"stages: [test]\ntest:\n  script: [npm test\n  image: node\n",
        ),
    ]);
    let out = lint_in(dir.path(), &["."]);
    assert_eq!(out.code, Some(2), "{}", out.transcript());
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains(".gitlab-ci.yml"))
        .unwrap_or_default()
        .to_owned();
    // `error: .gitlab-ci.yml:LINE:COLUMN: message`
    let mut parts = line.trim_start_matches("error: ").splitn(4, ':');
    assert_eq!(parts.next(), Some(".gitlab-ci.yml"), "{line}");
    assert!(
        parts
            .next()
            .and_then(|l| l.parse::<usize>().ok())
            .is_some_and(|l| l >= 3),
        "{line}"
    );
    assert!(
        parts
            .next()
            .and_then(|c| c.parse::<usize>().ok())
            .is_some_and(|c| c >= 1),
        "{line}"
    );
    assert!(out.stdout.contains("1 file scanned"), "{}", out.stdout);
}

#[test]
fn a_billion_laughs_document_is_refused_quickly() {
    let mut text = String::from(
        "a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n",
    );
    for i in 1..10 {
        let prev = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    text.push_str("stages: [test]\ntest:\n  script: *a9\n");
    let dir = repo(&[
        (".github/workflows/ci.yml", CLEAN_WORKFLOW),
        (".gitlab-ci.yml", text.as_bytes()),
    ]);
    let out = lint_in(dir.path(), &[".", "--format", "json"]);
    assert_eq!(out.code, Some(2), "{}", out.transcript());
    let json = out.json();
    assert_eq!(
        json["files_scanned"], 1,
        "the other file was still analysed"
    );
    let message = json["errors"][0]["message"].as_str().unwrap_or_default();
    assert_eq!(json["errors"][0]["path"], ".gitlab-ci.yml");
    assert!(message.contains("alias"), "{message}");
}
