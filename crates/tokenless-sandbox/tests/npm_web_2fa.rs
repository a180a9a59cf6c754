//! Web 2FA for writes, as npm answers an OTP challenge for an account with a security key:
//! `401` + `www-authenticate: OTP` with `{authUrl, doneUrl}`. The real npm CLI (11.19.1) only
//! takes that path when stdin and stdout are terminals (`otplease` in `lib/utils/auth.js`), so
//! these tests run it under a pseudo-terminal (`script -qec …` from util-linux) with
//! `--browser=false`: npm prints the authUrl and polls the doneUrl, the test approves the
//! challenge through `POST /-/sandbox/2fa/<id>/approve`, npm retries the write with the code
//! as `npm-otp`, and `GET /-/sandbox/2fa` shows the challenge and its code consumed.
//!
//! npm polls the doneUrl with the options of the write it retries (`dist-tag add` polls with
//! `PUT` and the tag's body): the sandbox answers the poll whatever the method.

mod common;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use tokenless_sandbox::{SandboxHandle, Scenario};

const SCENARIO: &str = r#"{
  "org": "acme",
  "users": [
    {"name": "kim", "role": "owner", "security_key": true},
    {"name": "alice", "role": "owner"}
  ],
  "packages": [{"name": "@acme/core"}]
}"#;

async fn sandbox() -> SandboxHandle {
    start(Scenario::Inline(SCENARIO.to_owned())).await
}

/// Whether `script` (util-linux) is here; `.ci/run` makes sure it is and sets
/// `TOKENLESS_REQUIRE_CLIENTS=1`, which turns a skip into a failure.
fn have_script() -> bool {
    let found = std::process::Command::new("script")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        if std::env::var("TOKENLESS_REQUIRE_CLIENTS").as_deref() == Ok("1") {
            panic!("TOKENLESS_REQUIRE_CLIENTS=1 but `script` (util-linux) is not installed");
        }
        eprintln!(
            "SKIPPED: `script` (util-linux) is not installed; npm's web 2FA needs a terminal"
        );
    }
    found
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Starts `npm args…` under a pseudo-terminal, in `cwd`, with `npm`'s isolated config.
fn spawn_tty(npm: &Npm, sb: &SandboxHandle, cwd: &Path, args: &[&str]) -> tokio::process::Child {
    let home = npm.dir.path();
    let mut line = String::from("npm");
    for a in args {
        line.push(' ');
        line.push_str(&quote(a));
    }
    for a in [
        format!("--userconfig={}", home.join(".npmrc").display()),
        format!("--cache={}", home.join("cache").display()),
        "--browser=false".to_owned(),
        "--color=false".to_owned(),
    ] {
        line.push(' ');
        line.push_str(&quote(&a));
    }
    let mut cmd = tokio::process::Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("SHELL", "/bin/sh")
        .env("TERM", "dumb")
        .env("NO_COLOR", "1")
        .env("npm_config_registry", sb.url())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd.spawn()
        .unwrap_or_else(|e| panic!("cannot run script: {e}"))
}

async fn finish(child: tokio::process::Child) -> Output {
    match tokio::time::timeout(Duration::from_secs(90), child.wait_with_output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => panic!("npm under script: {e}"),
        Err(_) => panic!("npm under script did not finish within 90 s"),
    }
}

/// `GET /-/sandbox/2fa`.
async fn pending(sb: &SandboxHandle) -> Value {
    let (status, body) = get_json(&format!("{}-/sandbox/2fa", sb.url()), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Waits for `user`'s unapproved challenge (npm made the write and got the 401), approves it
/// as the person with the security key would, and returns its id.
async fn approve_next(sb: &SandboxHandle, user: &str, remember: bool) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let id = loop {
        let p = pending(sb).await;
        let found = p["challenges"].as_array().and_then(|cs| {
            cs.iter()
                .find(|c| c["user"] == user && c["approved"] == false)
                .and_then(|c| c["id"].as_str().map(str::to_owned))
        });
        if let Some(id) = found {
            break id;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no 2FA challenge for {user} within 60 s: {p}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (status, body) = send_json(
        reqwest::Method::POST,
        &format!("{}-/sandbox/2fa/{id}/approve", sb.url()),
        None,
        None,
        &json!({"remember": remember}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"], user);
    id
}

/// `text(o)` with npm tokens cut to their prefix (`npm token create` prints the new token).
fn shown(o: &Output) -> String {
    let t = text(o);
    let mut out = String::with_capacity(t.len());
    let mut rest = t.as_str();
    while let Some(i) = rest.find("npm_") {
        out.push_str(&rest[..i + 4]);
        rest = &rest[i + 4..];
        let secret = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        if secret > 0 {
            out.push('…');
        }
        rest = &rest[secret..];
    }
    out.push_str(rest);
    out
}

/// npm printed the challenge's authUrl, succeeded, and the retried write carried the code:
/// no challenge is pending and no approved code is left unspent.
#[track_caller]
fn assert_web_2fa_done(out: &Output, sb: &SandboxHandle, id: &str, after: &Value) {
    assert!(out.status.success(), "npm failed:\n{}", shown(out));
    let printed = stdout(out);
    assert!(
        printed.contains("Authenticate your account at"),
        "{}",
        shown(out)
    );
    let auth_url = format!("{}-/v1/2fa/approve/{id}", sb.url());
    assert!(
        printed.contains(&auth_url),
        "{auth_url} not printed:\n{}",
        shown(out)
    );
    assert_eq!(
        *after,
        json!({"challenges": [], "unspent": {}}),
        "challenge or code left over"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_challenge_over_http_and_npm_without_a_terminal() {
    let sb = sandbox().await;
    let kim = session(&sb, "kim");
    let tag_url = format!("{}-/package/@acme%2fcore/dist-tags/beta", sb.url());
    let resp = client()
        .put(&tag_url)
        .bearer_auth(&kim)
        .json(&json!("1.0.0"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PUT: {e}"));
    assert_eq!(resp.status().as_u16(), 401);
    let www = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(www.eq_ignore_ascii_case("otp"), "www-authenticate: {www:?}");
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let auth_url = body["authUrl"].as_str().unwrap_or_default().to_owned();
    let done_url = body["doneUrl"].as_str().unwrap_or_default().to_owned();
    let prefix = format!("{}-/v1/2fa/", sb.url());
    assert!(auth_url.starts_with(&format!("{prefix}approve/")), "{body}");
    assert!(done_url.starts_with(&format!("{prefix}done/")), "{body}");
    let id = done_url.rsplit('/').next().unwrap_or_default().to_owned();

    // Pending: the doneUrl says 202 + retry-after, for a GET and for npm's PUT alike.
    for method in [reqwest::Method::GET, reqwest::Method::PUT] {
        let resp = client()
            .request(method.clone(), &done_url)
            .json(&json!("1.0.0"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} doneUrl: {e}"));
        assert_eq!(resp.status().as_u16(), 202, "{method}");
        assert_eq!(
            resp.headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
    }
    assert_eq!(pending(&sb).await["challenges"][0]["id"], id.as_str());

    // Approved: the doneUrl hands out a one-use code, the write goes through with it.
    let (status, _) = send_json(
        reqwest::Method::POST,
        &format!("{}-/sandbox/2fa/{id}/approve", sb.url()),
        None,
        None,
        &json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, done) = get_json(&done_url, None).await;
    assert_eq!(status, 200);
    let code = done["token"].as_str().unwrap_or_default().to_owned();
    assert!(!code.is_empty());
    assert_eq!(pending(&sb).await["unspent"]["kim"], 1);
    let (status, _) = send_json(
        reqwest::Method::PUT,
        &tag_url,
        Some(&kim),
        Some(&code),
        &json!("1.0.0"),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(pending(&sb).await, json!({"challenges": [], "unspent": {}}));
    // Spent: the same code does not authorize a second write.
    let (status, again) = send_json(
        reqwest::Method::DELETE,
        &tag_url,
        Some(&kim),
        Some(&code),
        &json!(null),
    )
    .await;
    assert_eq!(status, 401, "{again}");
    assert!(again["authUrl"].is_string(), "{again}");

    // The real npm without a terminal: otplease rethrows EOTP instead of opening the URL.
    let npm = Npm::new(&sb, Some(&kim));
    let out = npm
        .run(
            &[
                "dist-tag",
                "add",
                "@acme/core@1.0.0",
                "rc",
                "--browser=false",
            ],
            &[],
        )
        .await;
    assert_fails_with(&out, "EOTP");
    assert!(
        !text(&out).contains("Authenticate your account at"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_under_a_terminal_completes_web_2fa_for_dist_tag_and_publish() {
    if !have_script() {
        return;
    }
    let sb = sandbox().await;
    let npm = Npm::new(&sb, Some(&session(&sb, "kim")));

    // dist-tag add: npm polls the doneUrl with PUT.
    let child = spawn_tty(
        &npm,
        &sb,
        &npm.work(),
        &["dist-tag", "add", "@acme/core@1.0.0", "beta"],
    );
    let id = approve_next(&sb, "kim", false).await;
    let out = finish(child).await;
    assert_web_2fa_done(&out, &sb, &id, &pending(&sb).await);
    let (_, tags) = get_json(
        &format!("{}-/package/@acme%2fcore/dist-tags", sb.url()),
        None,
    )
    .await;
    assert_eq!(tags, json!({"latest": "1.0.0", "beta": "1.0.0"}));

    // dist-tag rm: polled with DELETE.
    let child = spawn_tty(
        &npm,
        &sb,
        &npm.work(),
        &["dist-tag", "rm", "@acme/core", "beta"],
    );
    let id = approve_next(&sb, "kim", false).await;
    let out = finish(child).await;
    assert_web_2fa_done(&out, &sb, &id, &pending(&sb).await);
    let (_, tags) = get_json(
        &format!("{}-/package/@acme%2fcore/dist-tags", sb.url()),
        None,
    )
    .await;
    assert_eq!(tags, json!({"latest": "1.0.0"}));

    // publish from the session: the same challenge, then the version is kim's.
    let dir = npm.package("core", "@acme/core", "1.1.0");
    let child = spawn_tty(&npm, &sb, &dir, &["publish"]);
    let id = approve_next(&sb, "kim", false).await;
    let out = finish(child).await;
    assert_web_2fa_done(&out, &sb, &id, &pending(&sb).await);
    let (_, doc) = get_json(&format!("{}@acme%2fcore", sb.url()), None).await;
    assert_eq!(doc["versions"]["1.1.0"]["_npmUser"]["name"], "kim", "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remember_skips_2fa_for_the_next_writes() {
    if !have_script() {
        return;
    }
    let sb = sandbox().await;
    let npm = Npm::new(&sb, Some(&session(&sb, "kim")));

    // Approved with "skip 2FA for the next 5 minutes".
    let child = spawn_tty(
        &npm,
        &sb,
        &npm.work(),
        &["deprecate", "@acme/core@1.0.0", "use 2.x"],
    );
    let id = approve_next(&sb, "kim", true).await;
    let out = finish(child).await;
    assert_web_2fa_done(&out, &sb, &id, &pending(&sb).await);
    let (_, doc) = get_json(&format!("{}@acme%2fcore", sb.url()), None).await;
    assert_eq!(doc["versions"]["1.0.0"]["deprecated"], "use 2.x");

    // Within the window a write needs no approval: not even a terminal, and no challenge
    // is created.
    let out = npm
        .run(&["dist-tag", "add", "@acme/core@1.0.0", "beta"], &[])
        .await;
    assert_ok(&out);
    assert!(!stdout(&out).contains("Authenticate"), "{}", text(&out));
    let dir = npm.package("core", "@acme/core", "1.1.0");
    assert_ok(&npm.run_in(&dir, &["publish"], &[]).await);
    assert_eq!(pending(&sb).await, json!({"challenges": [], "unspent": {}}));
    let (_, doc) = get_json(&format!("{}@acme%2fcore", sb.url()), None).await;
    assert_eq!(doc["dist-tags"]["beta"], "1.0.0", "{doc}");
    assert_eq!(doc["versions"]["1.1.0"]["_npmUser"]["name"], "kim", "{doc}");

    // The window is kim's: alice (TOTP, no security key) still needs her code.
    let alice = Npm::new(&sb, Some(&session(&sb, "alice")));
    assert_fails_with(
        &alice
            .run(&["dist-tag", "add", "@acme/core@1.1.0", "next"], &[])
            .await,
        "EOTP",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_approve_token_create_trust_and_org_writes_through_web_2fa() {
    if !have_script() {
        return;
    }
    let sb = sandbox().await;
    let npm = Npm::new(&sb, Some(&session(&sb, "kim")));

    // Staging defers 2FA: no challenge, even for a security-key account.
    let dir = npm.package("core", "@acme/core", "1.2.0");
    let out = npm.run_in(&dir, &["stage", "publish"], &[]).await;
    assert_ok(&out);
    assert_eq!(pending(&sb).await, json!({"challenges": [], "unspent": {}}));
    let stage: String = stdout(&out)
        .split("staged with id ")
        .nth(1)
        .unwrap_or_default()
        .chars()
        .take(36)
        .collect();

    // Approval (npm builds the POST inside its retry, so this doneUrl poll is a GET).
    let child = spawn_tty(&npm, &sb, &npm.work(), &["stage", "approve", &stage]);
    let id = approve_next(&sb, "kim", false).await;
    let out = finish(child).await;
    assert_web_2fa_done(&out, &sb, &id, &pending(&sb).await);
    let (_, doc) = get_json(&format!("{}@acme%2fcore", sb.url()), None).await;
    assert_eq!(
        doc["versions"]["1.2.0"]["_npmUser"]["approvedBy"], "kim",
        "{doc}"
    );

    // Token creation: password and web 2FA.
    let password = sb
        .info()
        .user("kim")
        .map(|u| u.password.clone())
        .unwrap_or_default();
    let password = format!("--password={password}");
    let child = spawn_tty(
        &npm,
        &sb,
        &npm.work(),
        &[
            "token",
            "create",
            &password,
            "--name=release",
            "--packages=@acme/core",
            "--packages-and-scopes-permission=read-write",
        ],
    );
    let id = approve_next(&sb, "kim", false).await;
    let out = finish(child).await;
    assert_web_2fa_done(&out, &sb, &id, &pending(&sb).await);
    assert_eq!(
        sb.info()
            .token("release")
            .map(|t| t.owner.clone())
            .as_deref(),
        Some("kim")
    );

    // A trusted publisher.
    let child = spawn_tty(
        &npm,
        &sb,
        &npm.work(),
        &[
            "trust",
            "github",
            "@acme/core",
            "--repo=acme/web",
            "--file=publish.yml",
            "--allow-publish",
            "--yes",
        ],
    );
    let id = approve_next(&sb, "kim", false).await;
    let out = finish(child).await;
    assert_web_2fa_done(&out, &sb, &id, &pending(&sb).await);
    let (_, configs) = get_json(
        &format!("{}-/package/@acme%2fcore/trust", sb.url()),
        Some(&session(&sb, "kim")),
    )
    .await;
    assert_eq!(configs[0]["type"], "github", "{configs}");

    // An org role.
    let child = spawn_tty(
        &npm,
        &sb,
        &npm.work(),
        &["org", "set", "acme", "alice", "admin"],
    );
    let id = approve_next(&sb, "kim", false).await;
    let out = finish(child).await;
    assert_web_2fa_done(&out, &sb, &id, &pending(&sb).await);
    assert!(
        stdout(&out).contains("Added alice as admin to acme"),
        "{}",
        text(&out)
    );
}
