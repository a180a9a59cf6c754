//! Login sessions that expire: every login is a fresh session (the old ones stay valid), an
//! expired session is refused as such (401 without an OTP challenge), and
//! `POST /-/sandbox/expire` ends every session and every "skip 2FA" window at once, also
//! across a restart from `--state`. Format-2 state files (one everlasting session per user)
//! still load.

mod common;

use axum::http::header::WWW_AUTHENTICATE;
use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use tokenless_sandbox::{SandboxHandle, SandboxOptions, Scenario};

const SCENARIO: &str = r#"{
  "org": "acme",
  "users": [
    {"name": "kim", "role": "owner", "security_key": true},
    {"name": "alice", "role": "owner"},
    {"name": "dev", "role": "developer"}
  ],
  "packages": [{"name": "@acme/core"}]
}"#;

/// `GET /-/whoami` with `token`: status, `www-authenticate` and the body.
async fn whoami(sb: &SandboxHandle, token: &str) -> (u16, Option<String>, Value) {
    let resp = client()
        .get(format!("{}-/whoami", sb.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("whoami: {e}"));
    let status = resp.status().as_u16();
    let auth = resp
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, auth, resp.json().await.unwrap_or(Value::Null))
}

async fn couch_login(sb: &SandboxHandle, user: &str) -> String {
    let info = sb.info();
    let u = info.user(user).unwrap_or_else(|| panic!("no user {user}"));
    let (status, body) = send_json(
        Method::PUT,
        &format!("{}-/user/org.couchdb.user:{user}", sb.url()),
        None,
        Some(&code(&u.totp_secret)),
        &json!({"_id": format!("org.couchdb.user:{user}"), "name": user, "password": u.password, "type": "user", "roles": []}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in {body}"))
        .to_owned()
}

async fn web_login(sb: &SandboxHandle, user: &str) -> String {
    let (status, started) = send_json(
        Method::POST,
        &format!("{}-/v1/login", sb.url()),
        None,
        None,
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{started}");
    let login_url = started["loginUrl"].as_str().unwrap_or_default().to_owned();
    let done_url = started["doneUrl"].as_str().unwrap_or_default().to_owned();
    let (status, approved) = send_json(
        Method::POST,
        &login_url,
        None,
        None,
        &json!({"name": user, "otp": otp(sb, user)}),
    )
    .await;
    assert_eq!(status, 200, "{approved}");
    let (status, done) = get_json(&done_url, None).await;
    assert_eq!(status, 200, "{done}");
    done["token"].as_str().unwrap_or_default().to_owned()
}

async fn expire(sb: &SandboxHandle, body: Value) -> (u16, Value) {
    send_json(
        Method::POST,
        &format!("{}-/sandbox/expire", sb.url()),
        None,
        None,
        &body,
    )
    .await
}

fn assert_expired(answer: &(u16, Option<String>, Value)) {
    assert_eq!(answer.0, 401, "{answer:?}");
    assert_eq!(answer.1, None, "no OTP challenge for an expired session");
    let message = answer.2["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("session expired; log in again"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn each_login_is_a_fresh_session_and_expire_ends_them_all() {
    let sb = start(Scenario::Inline(SCENARIO.to_owned())).await;
    let listed = session(&sb, "alice");
    assert!(
        sb.info()
            .user("alice")
            .and_then(|u| u.session_expires.clone())
            .is_some()
    );
    let web = web_login(&sb, "alice").await;
    let couch = couch_login(&sb, "alice").await;
    let again = couch_login(&sb, "alice").await;
    let tokens = [&listed, &web, &couch, &again];
    for (i, a) in tokens.iter().enumerate() {
        for b in &tokens[i + 1..] {
            assert_ne!(a, b, "every login is a fresh session");
        }
    }
    for t in tokens {
        let (status, _, body) = whoami(&sb, t).await;
        assert_eq!((status, body["username"].as_str()), (200, Some("alice")));
    }
    // The scenario's session stays the listed one while it lasts.
    assert_eq!(session(&sb, "alice"), listed);
    let kim = session(&sb, "kim");

    let (status, body) = expire(&sb, json!({"sessions": true})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["sessions"],
        4 + 2,
        "alice's four and kim's and dev's: {body}"
    );
    for t in tokens.into_iter().chain([&kim]) {
        assert_expired(&whoami(&sb, t).await);
    }
    // Nobody has a usable session to list any more.
    for u in &sb.info().users {
        assert_eq!((u.token.as_str(), u.session_expires.as_deref()), ("", None));
    }
    // A new login works and becomes the listed session.
    let fresh = web_login(&sb, "alice").await;
    assert_eq!(whoami(&sb, &fresh).await.0, 200);
    assert_eq!(session(&sb, "alice"), fresh);
    assert_eq!(session(&sb, "kim"), "");
    // Expiring nothing changes nothing; a typo is refused, naming the fields.
    let (status, body) = expire(&sb, json!({})).await;
    assert_eq!((status, &body["sessions"]), (200, &json!(0)), "{body}");
    let (status, body) = expire(&sb, json!({"session": true})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains(r#"{"sessions": bool, "tfa_windows": bool}"#),
        "{body}"
    );
    assert_eq!(whoami(&sb, &fresh).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_per_user_are_bounded_and_logout_ends_only_its_own() {
    let sb = start(Scenario::Inline(SCENARIO.to_owned())).await;
    let listed = session(&sb, "dev");
    let mut logins = Vec::new();
    for _ in 0..18 {
        logins.push(couch_login(&sb, "dev").await);
    }
    // The newest 16 are kept; the two oldest gave way; the scenario's own is untouched.
    for (i, t) in logins.iter().enumerate() {
        let status = whoami(&sb, t).await.0;
        assert_eq!(status, if i < 2 { 401 } else { 200 }, "login {i}");
    }
    assert_eq!(whoami(&sb, &listed).await.0, 200);
    // Logging out ends that session only.
    let last = logins.last().cloned().unwrap_or_default();
    let resp = client()
        .delete(format!("{}-/user/token/{last}", sb.url()))
        .bearer_auth(&last)
        .send()
        .await
        .unwrap_or_else(|e| panic!("logout: {e}"));
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(whoami(&sb, &last).await.0, 401);
    assert_eq!(whoami(&sb, &logins[2]).await.0, 200);
    assert_eq!(whoami(&sb, &listed).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn expire_closes_the_skip_2fa_windows() {
    let sb = start(Scenario::Inline(SCENARIO.to_owned())).await;
    let kim = session(&sb, "kim");
    let url = format!("{}-/package/@acme%2fcore/access", sb.url());
    let body = json!({"publish_requires_tfa": true, "automation_token_overrides_tfa": false});
    let (status, challenge) = send_json(Method::POST, &url, Some(&kim), None, &body).await;
    assert_eq!(status, 401, "{challenge}");
    let id = challenge["authUrl"]
        .as_str()
        .and_then(|u| u.rsplit('/').next())
        .unwrap_or_else(|| panic!("no authUrl in {challenge}"))
        .to_owned();
    let (status, approved) = send_json(
        Method::POST,
        &format!("{}-/sandbox/2fa/{id}/approve", sb.url()),
        None,
        None,
        &json!({"remember": true}),
    )
    .await;
    assert_eq!(status, 200, "{approved}");
    // Inside the window a write needs no second factor.
    let (status, answer) = send_json(Method::POST, &url, Some(&kim), None, &body).await;
    assert_eq!(status, 200, "{answer}");

    let (status, ended) = expire(&sb, json!({"tfa_windows": true})).await;
    assert_eq!((status, &ended["tfa_windows"]), (200, &json!(1)), "{ended}");
    assert_eq!(ended["sessions"], 0);
    // The session is untouched, the window is not: the write is challenged again.
    let (status, challenge) = send_json(Method::POST, &url, Some(&kim), None, &body).await;
    assert_eq!(status, 401, "{challenge}");
    assert!(challenge["doneUrl"].is_string(), "{challenge}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ended_sessions_stay_ended_across_a_restart_and_format_2_files_load() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = dir.path().join("state.json");
    let options = || SandboxOptions {
        scenario: Scenario::Inline(SCENARIO.to_owned()),
        state: Some(state.clone()),
        ..SandboxOptions::default()
    };
    let sb = start_with(options()).await;
    let listed = session(&sb, "alice");
    let fresh = web_login(&sb, "alice").await;
    sb.shutdown().await;

    // Restarted: the scenario's session and the login's both still work.
    let sb = start_with(options()).await;
    assert_eq!(session(&sb, "alice"), listed);
    assert_eq!(whoami(&sb, &listed).await.0, 200);
    assert_eq!(whoami(&sb, &fresh).await.0, 200);
    let (status, _) = expire(&sb, json!({"sessions": true})).await;
    assert_eq!(status, 200);
    sb.shutdown().await;

    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(saved["format"], 3);

    // Restarted again: ended means ended, the scenario's session included.
    let sb = start_with(options()).await;
    assert_expired(&whoami(&sb, &listed).await);
    assert_expired(&whoami(&sb, &fresh).await);
    assert_eq!(session(&sb, "alice"), "");
    sb.shutdown().await;

    // A format-2 file: one `session_token` per user, which becomes the listed session.
    let mut old = saved.clone();
    old["format"] = json!(2);
    let users = old["world"]["users"]
        .as_object_mut()
        .unwrap_or_else(|| panic!("no users"));
    for (name, u) in users.iter_mut() {
        let obj = u.as_object_mut().unwrap_or_else(|| panic!("user"));
        obj.remove("sessions");
        obj.insert(
            "session_token".into(),
            json!(format!("npm_format2session{name}")),
        );
    }
    std::fs::write(&state, serde_json::to_vec(&old).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let sb = start_with(options()).await;
    assert_eq!(session(&sb, "alice"), "npm_format2sessionalice");
    let (status, _, body) = whoami(&sb, "npm_format2sessionalice").await;
    assert_eq!((status, body["username"].as_str()), (200, Some("alice")));
    sb.shutdown().await;

    // A format this sandbox does not know is refused, naming the formats it reads.
    old["format"] = json!(1);
    std::fs::write(&state, serde_json::to_vec(&old).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    let err = tokenless_sandbox::Sandbox::start(options())
        .await
        .expect_err("format 1");
    assert!(
        err.to_string()
            .contains("has format 1; this sandbox reads formats 2 to 3"),
        "{err}"
    );
}
