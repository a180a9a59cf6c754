//! `tokenless sandbox` as a process: prints its URLs, serves, refuses bad options, and keeps
//! its state across a restart with `--state`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

fn spawn(args: &[&str]) -> (Child, Vec<String>) {
    let bin = assert_cmd::cargo::cargo_bin("tokenless");
    let mut child = Command::new(bin)
        .arg("sandbox")
        .args(args)
        .env_remove("CI")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap_or_default();
        let done = line.starts_with("Press Ctrl-C");
        lines.push(line);
        if done {
            break;
        }
    }
    (child, lines)
}

fn stop(mut child: Child) {
    // Only the child this test started, by its id.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let status = child.wait().unwrap_or_else(|e| panic!("wait: {e}"));
    assert!(
        status.success() || status.code().is_none(),
        "sandbox exited with {status}"
    );
}

fn registry_of(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| {
            l.trim()
                .strip_prefix("registry")
                .map(|r| r.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no registry line in {lines:?}"))
}

fn get(url: &str) -> String {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "10", url])
        .output()
        .unwrap_or_else(|e| panic!("curl: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn prints_its_urls_and_serves_until_terminated() {
    let (child, lines) = spawn(&["--listen", "127.0.0.1:0", "--scenario", "migrated"]);
    let registry = registry_of(&lines);
    assert!(
        registry.starts_with("http://127.0.0.1:") && registry.ends_with('/'),
        "{registry}"
    );
    assert!(lines.iter().any(|l| l.contains("/api/v2")));
    assert!(
        lines
            .iter()
            .any(|l| l.contains("/-/sandbox/oidc/circleci/org/"))
    );
    assert!(
        !lines.iter().any(|l| l.contains("npm_")),
        "no secrets printed: {lines:?}"
    );
    let info = get(&format!("{registry}-/sandbox/info"));
    assert!(info.contains("\"scope\":\"@acme\""), "{info}");
    stop(child);
}

#[test]
fn state_file_survives_a_restart() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap_or_else(|e| panic!("{e}"));
    let state = dir.path().join("state.json");
    let state_arg = state.display().to_string();
    let (child, lines) = spawn(&["--state", &state_arg]);
    let first = get(&format!("{}-/sandbox/info", registry_of(&lines)));
    stop(child);
    assert!(state.exists());
    let (child, lines) = spawn(&["--state", &state_arg]);
    let second = get(&format!("{}-/sandbox/info", registry_of(&lines)));
    stop(child);
    // Everything of the users survives; a scenario session's 2 hours count again from the
    // load, so its expiry may move by the seconds the restart took.
    let users = |s: &str| {
        let mut users = serde_json::from_str::<serde_json::Value>(s)
            .map(|v| v["users"].clone())
            .unwrap_or_default();
        for u in users.as_array_mut().into_iter().flatten() {
            if let Some(o) = u.as_object_mut() {
                assert!(o.remove("session_expires").is_some_and(|e| e.is_string()));
            }
        }
        users
    };
    assert_eq!(users(&first), users(&second));
    assert!(users(&first).as_array().is_some_and(|a| !a.is_empty()));
}

#[test]
fn bad_options_are_usage_errors() {
    let bin = assert_cmd::cargo::cargo_bin("tokenless");
    let out = Command::new(&bin)
        .args(["sandbox", "--fail-rate", "2"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fail-rate"));
    let out = Command::new(&bin)
        .args(["sandbox", "--scenario", "/nonexistent/scenario.json"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/scenario.json"));
}

/// `--accept-audience` adds an audience the exchange accepts (listed at start and in
/// `/-/sandbox/info`); without it the public registry's audience is not listed; a value that
/// is not `npm:<host>` is a usage error.
#[test]
fn accept_audience_is_listed_only_when_given() {
    let listed = |lines: &[String]| {
        lines.iter().any(|l| {
            l.trim_start().starts_with("audiences") && l.contains("npm:registry.npmjs.org")
        })
    };
    let (child, lines) = spawn(&["--accept-audience", "npm:registry.npmjs.org"]);
    assert!(listed(&lines), "{lines:?}");
    let info = get(&format!("{}-/sandbox/info", registry_of(&lines)));
    assert!(info.contains("\"npm:registry.npmjs.org\""), "{info}");
    stop(child);
    let (child, lines) = spawn(&[]);
    assert!(!listed(&lines), "{lines:?}");
    stop(child);
    let out = Command::new(assert_cmd::cargo::cargo_bin("tokenless"))
        .args(["sandbox", "--accept-audience", "registry.npmjs.org"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("npm:<registry host>"));
}

/// Runs `tokenless ARGS` under a 1 GiB address-space limit and a 10 s timeout.
fn bounded(args: &[&str]) -> std::process::Output {
    let bin = assert_cmd::cargo::cargo_bin("tokenless");
    let mut script = String::from("ulimit -v 1048576; exec timeout 10 \"$0\"");
    for i in 1..=args.len() {
        script.push_str(&format!(" \"${i}\""));
    }
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("sh: {e}"))
}

#[test]
fn scenario_and_state_files_that_never_end_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fifo = dir.path().join("fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap_or_else(|e| panic!("mkfifo: {e}"));
    assert!(made.success());
    let sparse = dir.path().join("sparse.json");
    std::fs::File::create(&sparse)
        .and_then(|f| f.set_len(10 * 1024 * 1024 * 1024))
        .unwrap_or_else(|e| panic!("{e}"));
    let fifo = fifo.display().to_string();
    let sparse = sparse.display().to_string();
    for (flag, path) in [
        ("--scenario", "/dev/zero"),
        ("--scenario", fifo.as_str()),
        ("--scenario", sparse.as_str()),
        ("--state", "/dev/zero"),
        ("--state", fifo.as_str()),
        ("--state", sparse.as_str()),
    ] {
        let started = std::time::Instant::now();
        let out = bounded(&["sandbox", flag, path]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag} {path}: {stderr}");
        assert!(
            stderr.contains(path),
            "{flag} {path}: the error names the file: {stderr}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{flag} {path} took {:?}",
            started.elapsed()
        );
    }
}

fn ci(args: &[&str]) -> std::process::Output {
    Command::new(assert_cmd::cargo::cargo_bin("tokenless"))
        .args(["sandbox", "ci"])
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("sandbox ci: {e}"))
}

/// `sandbox ci`: a release through the own client from main, then each refusal with its
/// reason and exit 1 (a branch the context does not admit, an unknown package, no sandbox),
/// and a usage error with exit 2.
#[test]
fn sandbox_ci_releases_from_main_and_says_why_it_cannot() {
    let (child, lines) = spawn(&["--scenario", "migrated"]);
    let url = registry_of(&lines);
    let stderr = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();

    let out = ci(&["push", "--url", &url]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ci(&[
        "release",
        "--url",
        &url,
        "@acme/core",
        "7.0.0",
        "--client",
        "tokenless",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(
            "@acme/core@7.0.0 published by its circleci job through trusted publishing (tokenless's own client)"
        ),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(get(&format!("{url}@acme%2fcore")).contains("\"7.0.0\""));

    let out = ci(&[
        "release",
        "--url",
        &url,
        "@acme/core",
        "7.0.1",
        "--branch",
        "feature/x",
        "--client",
        "tokenless",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the circleci job on feature/x got no id token")
            && stderr(&out).contains("pipeline.git.branch"),
        "{}",
        stderr(&out)
    );
    let out = ci(&["release", "--url", &url, "@acme/nope", "1.0.0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("@acme/nope: the registry has no such package"));
    stop(child);

    let out = ci(&[
        "release",
        "--url",
        "http://127.0.0.1:1/",
        "@acme/core",
        "1.0.0",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot read the sandbox at http://127.0.0.1:1/"));
    let out = ci(&["release", "--url", &url]);
    assert_eq!(out.status.code(), Some(2));
}
