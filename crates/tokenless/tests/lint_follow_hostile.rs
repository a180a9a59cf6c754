//! Hostile repositories for the publish-path follower: whatever the repository holds,
//! `tokenless lint` ends with a report (exit 0 or 1), never a panic, a hang or exit 2,
//! and never reads outside the repository root.

mod lint_common;

use lint_common::{lint_in, repo};

const WORKFLOW: &[u8] = b"on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    permissions:\n      id-token: write\n    steps:\n      - uses: actions/setup-node@v4\n        with:\n          node-version: 24\n      - run: npm run a\n";

fn publishes(dir: &std::path::Path) -> serde_json::Value {
    let out = lint_in(dir, &[".", "--format", "json"]);
    assert!(
        matches!(out.code, Some(0 | 1)),
        "exit {:?}: {}",
        out.code,
        out.transcript()
    );
    out.json()["publishes"].clone()
}

#[test]
fn script_cycles_end_cleanly() {
    let dir = repo(&[
        (".github/workflows/ci.yml", WORKFLOW),
        (
            "package.json",
            br#"{"scripts": {"a": "npm run b", "b": "sh scripts/c.sh", "prea": "npm run a", "posta": "make a"}}"#,
        ),
        ("scripts/c.sh", b"#!/bin/sh\nnpm run a\nbash scripts/c.sh\n"),
        ("Makefile", b"a: a\n\t$(MAKE) a\n\tnpm run a\n"),
    ]);
    assert_eq!(publishes(dir.path()), serde_json::json!([]));
}

#[test]
fn ten_thousand_scripts_are_bounded() {
    // A chain s0 -> s1 -> ... -> s9999 -> npm publish, and every script also fans out to
    // two others: the depth limit ends the chain, the memo keeps the fan-out linear.
    let mut scripts = serde_json::Map::new();
    for i in 0..10_000 {
        let body = if i == 9_999 {
            "npm publish".to_owned()
        } else {
            format!(
                "npm run s{} && npm run s{} && npm run s{}",
                i + 1,
                (i * 7 + 3) % 10_000,
                (i * 13 + 5) % 10_000
            )
        };
        scripts.insert(format!("s{i}"), body.into());
    }
    let pkg = serde_json::json!({"name": "many", "scripts": scripts}).to_string();
    let workflow = String::from_utf8_lossy(WORKFLOW).replace("npm run a", "npm run s0");
    let dir = repo(&[
        (".github/workflows/ci.yml", workflow.as_bytes()),
        ("package.json", pkg.as_bytes()),
    ]);
    let started = std::time::Instant::now();
    let _ = publishes(dir.path());
    eprintln!("10,000 scripts: {:?}", started.elapsed());
}

#[test]
fn a_50_mb_package_json_is_not_read() {
    let mut pkg = String::from(r#"{"scripts": {"a": "npm publish"}, "description": ""#);
    pkg.push_str(&"x".repeat(50 * 1024 * 1024));
    pkg.push_str("\"}");
    let dir = repo(&[
        (".github/workflows/ci.yml", WORKFLOW),
        ("package.json", pkg.as_bytes()),
    ]);
    // Too large to read: the step is judged by its name (`a` says nothing).
    assert_eq!(publishes(dir.path()), serde_json::json!([]));
}

#[test]
fn binary_script_files_are_not_followed() {
    let dir = repo(&[
        (
            ".github/workflows/ci.yml",
            &String::from_utf8_lossy(WORKFLOW)
                .replace("npm run a", "./scripts/publish.sh")
                .into_bytes(),
        ),
        ("scripts/publish.sh", b"\x7fELF\x00\x00npm publish\x00"),
    ]);
    assert_eq!(publishes(dir.path()), serde_json::json!([]));
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_root_are_not_followed() {
    let outside = repo(&[
        ("publish.sh", b"#!/bin/sh\nnpm publish\n"),
        ("package.json", br#"{"scripts": {"a": "npm publish"}}"#),
    ]);
    let dir = repo(&[(
        ".github/workflows/ci.yml",
        &String::from_utf8_lossy(WORKFLOW)
            .replace("npm run a", "bash scripts/out.sh && npm run a")
            .into_bytes(),
    )]);
    std::fs::create_dir_all(dir.path().join("scripts")).expect("mkdir");
    std::os::unix::fs::symlink(
        outside.path().join("publish.sh"),
        dir.path().join("scripts/out.sh"),
    )
    .expect("symlink");
    std::os::unix::fs::symlink(
        outside.path().join("package.json"),
        dir.path().join("package.json"),
    )
    .expect("symlink");
    assert_eq!(publishes(dir.path()), serde_json::json!([]));
}
