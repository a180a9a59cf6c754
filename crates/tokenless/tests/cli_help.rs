//! The top-level CLI: every command is listed and `--help` works.

use assert_cmd::Command;

#[test]
fn help_lists_every_command() {
    let out = Command::cargo_bin("tokenless")
        .expect("binary")
        .arg("--help")
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "lint", "fix", "explain", "audit", "init", "plan", "apply", "tokens", "schema", "sandbox",
    ] {
        assert!(text.contains(cmd), "--help does not list {cmd}:\n{text}");
    }
}
