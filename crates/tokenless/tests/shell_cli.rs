//! `tokenless completions SHELL` and `tokenless man`, generated from the CLI definition.

use assert_cmd::Command;

fn tokenless() -> Command {
    Command::cargo_bin("tokenless").expect("binary")
}

#[test]
fn completions_cover_every_command_in_every_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = tokenless()
            .args(["completions", shell])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        for word in ["audit", "lint", "fix", "tokens", "scan", "--verify"] {
            assert!(script.contains(word), "{shell}: {word}");
        }
    }
    let out = tokenless()
        .args(["completions", "tcsh"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_writes_a_page_per_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tokenless()
        .args(["man", "--out"])
        .arg(dir.path())
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for page in [
        "tokenless.1",
        "tokenless-audit.1",
        "tokenless-tokens-scan.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).expect(page);
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page}: not roff"
        );
    }
    let scan = std::fs::read_to_string(dir.path().join("tokenless-tokens-scan.1")).expect("scan");
    assert!(
        scan.contains("tokenless\\-tokens\\-scan"),
        "the page names the whole command"
    );
    let stdout = tokenless().arg("man").output().expect("runs");
    assert!(String::from_utf8_lossy(&stdout.stdout).contains(".TH"));
}
