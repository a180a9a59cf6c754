//! `tokenless audit` usage errors and hostile input: exit 2 with a message that names the
//! problem, never a panic.

use assert_cmd::Command;
use predicates::str::contains;

fn audit() -> Command {
    let mut cmd = Command::cargo_bin("tokenless").expect("binary");
    cmd.arg("audit")
        .env_remove("NPM_TOKEN")
        .env_remove("NO_COLOR");
    cmd
}

#[test]
fn no_credential_is_a_usage_error() {
    audit()
        .args(["--scope", "@acme"])
        .assert()
        .code(2)
        .stderr(contains("no npm credential"));
}

#[test]
fn a_malformed_scope_is_refused() {
    audit()
        .args(["--scope", "acme/x", "--npm-token-env", "PATH"])
        .assert()
        .code(2)
        .stderr(contains("expected an npm scope"));
}

#[test]
fn an_unset_token_variable_is_named() {
    audit()
        .args([
            "--scope",
            "@acme",
            "--npm-token-env",
            "TOKENLESS_TEST_UNSET_VARIABLE",
        ])
        .assert()
        .code(2)
        .stderr(contains(
            "TOKENLESS_TEST_UNSET_VARIABLE: the variable is not set",
        ));
}

#[test]
fn an_unknown_config_key_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("tokenless.toml");
    std::fs::write(&cfg, "[members]\nrobots = [\"x\"]\n").expect("write");
    audit()
        .args(["--scope", "@acme", "--npm-token-env", "PATH", "--config"])
        .arg(&cfg)
        .assert()
        .code(2)
        .stderr(contains("robots"));
}

#[test]
fn a_corrupt_record_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = dir.path().join("record.json");
    std::fs::write(&record, "{\"version\": 1, \"mfa\": [{\"package\": 3}]}").expect("write");
    audit()
        .args(["--scope", "@acme", "--npm-token-env", "PATH", "--record"])
        .arg(&record)
        .assert()
        .code(2)
        .stderr(contains("invalid record"));
}

#[test]
fn an_unreachable_registry_names_the_request_and_not_the_token() {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused.
    audit()
        .args([
            "--scope",
            "@acme",
            "--registry",
            "http://127.0.0.1:9/",
            "--npm-token-env",
            "TOKENLESS_TEST_TOKEN",
        ])
        .env(
            "TOKENLESS_TEST_TOKEN",
            "npm_0123456789abcdefghijklmnopqrstuvwxyz",
        )
        .assert()
        .code(2)
        .stderr(contains("GET /-/whoami"))
        .stderr(predicates::prelude::PredicateBooleanExt::not(contains(
            "0123456789abcdef",
        )));
}

#[test]
fn help_documents_exit_codes_and_credentials() {
    audit()
        .arg("--help")
        .assert()
        .success()
        .stdout(contains("a clean real"))
        .stdout(contains("--login"))
        .stdout(contains("--sandbox"));
}
