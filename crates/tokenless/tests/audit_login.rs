//! `tokenless audit --login`: the web-login session lives in memory only and is revoked
//! when the audit ends, whether it finishes or is stopped by SIGTERM.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, Command, Stdio},
    time::Duration,
};

use tokenless_api::{ClientOptions, NpmClient, Secret};
use tokenless_sandbox::{Sandbox, SandboxHandle, SandboxOptions, Scenario};

fn spawn_audit(url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tokenless"))
        .args(["audit", "--sandbox", url, "--login", "--format", "json"])
        .env_remove("NO_COLOR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("audit starts")
}

/// Read stderr until the login URL, approve it as alice (name + TOTP, as the page's form
/// does), and return the rest of stderr's reader and the session the login created (the one
/// `/-/sandbox/info` lists, once [`end_sessions`] has ended the scenario's).
async fn approve_login(
    sandbox: &SandboxHandle,
    child: &mut Child,
) -> (BufReader<std::process::ChildStderr>, Secret) {
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let login_url = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        loop {
            line.clear();
            if stderr.read_line(&mut line).expect("stderr readable") == 0 {
                panic!("the audit ended without printing a login URL");
            }
            if let Some(url) = line
                .trim()
                .strip_prefix("tokenless: open this URL to sign in to npm: ")
            {
                return (url.to_string(), stderr);
            }
        }
    })
    .await
    .expect("joins");
    let info = sandbox.info();
    let alice = info
        .users
        .iter()
        .find(|u| u.name == "alice")
        .expect("alice");
    let code = tokenless_sandbox::totp::current_code(&alice.totp_secret).expect("otp");
    let resp = reqwest::Client::new()
        .post(&login_url.0)
        .json(&serde_json::json!({"name": alice.name, "otp": code}))
        .send()
        .await
        .expect("approval sent");
    assert!(resp.status().is_success(), "{}", resp.status());
    let session = alice_session(sandbox);
    assert!(!session.expose().is_empty(), "the login created a session");
    (login_url.1, session)
}

/// alice's live session as `/-/sandbox/info` lists it.
fn alice_session(sandbox: &SandboxHandle) -> Secret {
    let info = sandbox.info();
    let alice = info
        .users
        .iter()
        .find(|u| u.name == "alice")
        .expect("alice");
    Secret::new(alice.token.as_str())
}

/// Ends every session, so the one a web login creates is the only one listed.
async fn end_sessions(sandbox: &SandboxHandle) {
    let resp = reqwest::Client::new()
        .post(format!("{}-/sandbox/expire", sandbox.url()))
        .json(&serde_json::json!({"sessions": true}))
        .send()
        .await
        .expect("expire sent");
    assert!(resp.status().is_success(), "{}", resp.status());
    assert!(alice_session(sandbox).expose().is_empty());
}

async fn is_revoked(sandbox: &SandboxHandle, session: Secret) -> bool {
    let npm =
        NpmClient::new(sandbox.url(), Some(session), ClientOptions::default()).expect("client");
    npm.whoami().await.err().and_then(|e| e.status()) == Some(401)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_session_is_revoked_when_the_audit_finishes() {
    let sandbox = Sandbox::start(SandboxOptions {
        scenario: Scenario::Migrated,
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox");
    end_sessions(&sandbox).await;
    let mut child = spawn_audit(sandbox.url());
    let (mut rest, session) = approve_login(&sandbox, &mut child).await;
    let (status, stderr) = tokio::task::spawn_blocking(move || {
        let status = child.wait().expect("exits");
        let mut s = String::new();
        rest.read_to_string(&mut s).expect("stderr");
        (status, s)
    })
    .await
    .expect("joins");
    assert!(stderr.contains("signed out; the login session"), "{stderr}");
    // bob's tokens cannot be listed with alice's session: unknown, not pass.
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(is_revoked(&sandbox, session).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_session_is_revoked_on_sigterm() {
    let sandbox = Sandbox::start(SandboxOptions {
        scenario: Scenario::Migrated,
        latency: Duration::from_millis(1000),
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox");
    end_sessions(&sandbox).await;
    let mut child = spawn_audit(sandbox.url());
    let (mut rest, session) = approve_login(&sandbox, &mut child).await;
    // Let the audit get going, then stop it the way a supervisor would.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let (status, stderr) = tokio::task::spawn_blocking(move || {
        let status = child.wait().expect("exits");
        let mut s = String::new();
        rest.read_to_string(&mut s).expect("stderr");
        (status, s)
    })
    .await
    .expect("joins");
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    assert!(stderr.contains("signed out; the login session"), "{stderr}");
    assert!(is_revoked(&sandbox, session).await);
}
