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
