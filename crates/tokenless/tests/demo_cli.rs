//! `tokenless demo`: the whole migration on an embedded sandbox ends with every box
//! passing, leaves nothing running, and writes only under --keep (or a temporary
//! directory it removes).

use assert_cmd::Command;

/// With tokenless's own client; the npm CLI's run is the one below (and `auto`'s).
#[test]
fn the_demo_migrates_the_legacy_org_to_nine_passing_boxes() {
    demo("tokenless", "tokenless's own client");
}

#[test]
fn the_demo_releases_with_the_npm_cli_as_ci_runs_it() {
    demo("npm", "publishes with the npm CLI");
}

fn demo(client: &str, says: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let keep = dir.path().join("kept");
    let started = std::time::Instant::now();
    let out = Command::cargo_bin("tokenless")
        .expect("binary")
        .args(["demo", "--client", client, "--keep"])
        .arg(&keep)
        .env("NO_COLOR", "1")
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    eprintln!("the demo took {:.1} s", started.elapsed().as_secs_f64());
    // Every step ran, in the order that never breaks a release.
    let mut at = 0;
    for step in [
        "## 1. The audit before",
        "## 2. lint",
        "## 3. fix",
        "## 4. init and plan",
        "## 5. apply --phase additive",
        "## 6. The fixed configs merged",
        "## 7. apply:",
        "## 8. A laptop",
        "## 9. Members revoke",
        "## 10. The audit after",
        "## Before and after",
    ] {
        let found = stdout[at..]
            .find(step)
            .unwrap_or_else(|| panic!("{step} missing or out of order"));
        at += found;
    }
    assert!(stdout.contains(says), "{stdout}");
    assert!(stdout.contains("published by its circleci job through trusted publishing"));
    assert!(stdout.contains("published by its github job through trusted publishing"));
    assert!(stdout.contains("published by its gitlab job through trusted publishing"));
    let table = &stdout[stdout.find("## Before and after").expect("table")..];
    assert_eq!(table.matches(" pass\n").count(), 9, "{table}");
    assert!(
        table.contains("disallow-tokens        unknown   pass"),
        "{table}"
    );
    // What was kept: the repository (fixed), the config, the record and the statements.
    for kept in [
        "repo/.circleci/config.yml",
        "tokenless.toml",
        ".tokenless/record.json",
        "attestations/bob.json",
        "bob-home/.npmrc",
    ] {
        assert!(keep.join(kept).exists(), "{kept}");
    }
    let laptop = std::fs::read_to_string(keep.join("bob-home/.npmrc")).expect("npmrc");
    assert!(
        !laptop.contains("_authToken"),
        "the revoked token's line is gone: {laptop}"
    );
}
