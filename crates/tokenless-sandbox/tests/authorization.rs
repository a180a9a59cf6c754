//! npm's rules on who may do what, over real HTTP: each test is named after what the sandbox
//! refuses, and asserts the refusal and that nothing changed.

mod common;

use common::{get_json, granular, otp, send_json, session, start};
use reqwest::Method;
use serde_json::{Value, json};
use tokenless_sandbox::{SandboxHandle, Scenario};

fn password(sb: &SandboxHandle, user: &str) -> String {
    sb.info()
        .user(user)
        .unwrap_or_else(|| panic!("no user {user}"))
        .password
        .clone()
}

/// A granular token of `user`, created as `npm token create` does (session, password, OTP).
async fn create_token(sb: &SandboxHandle, user: &str, mut body: Value) -> String {
    if let Some(o) = body.as_object_mut() {
        o.insert("password".into(), json!(password(sb, user)));
    }
    let (status, created) = send_json(
        Method::POST,
        &format!("{}-/npm/v1/tokens", sb.url()),
        Some(&session(sb, user)),
        Some(&otp(sb, user)),
        &body,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    created["token"].as_str().unwrap_or_default().to_owned()
}

fn url(sb: &SandboxHandle, path: &str) -> String {
    format!("{}{path}", sb.url())
}

#[tokio::test]
async fn package_scoped_token_cannot_change_other_packages_or_the_org_or_tokens() {
    let sb = start(Scenario::Legacy).await;
    let core_only = create_token(
        &sb,
        "alice",
        json!({"name": "core-only", "packages": ["@acme/core"], "packages_and_scopes_permission": "read-write", "expires": 7}),
    )
    .await;
    let code = otp(&sb, "alice");
    // Another package's publishing access.
    let (status, body) = send_json(
        Method::POST,
        &url(&sb, "-/package/@acme%2fweb/access"),
        Some(&core_only),
        Some(&code),
        &json!({"publish_requires_tfa": false}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // Org roles (the token lists no org).
    let (status, body) = send_json(
        Method::PUT,
        &url(&sb, "-/org/acme/user"),
        Some(&core_only),
        Some(&code),
        &json!({"user": "bob", "role": "owner"}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // A new all-packages bypass-2FA token.
    let (status, body) = send_json(
        Method::POST,
        &url(&sb, "-/npm/v1/tokens"),
        Some(&core_only),
        Some(&code),
        &json!({"name": "x", "password": password(&sb, "alice"), "packages_all": true, "packages_and_scopes_permission": "read-write", "bypass_2fa": true}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (_, roster) = get_json(&url(&sb, "-/org/acme/user"), Some(&session(&sb, "alice"))).await;
    assert_eq!(roster["bob"], "developer");
    // Its own package is fine.
    let (status, body) = send_json(
        Method::POST,
        &url(&sb, "-/package/@acme%2fcore/access"),
        Some(&core_only),
        Some(&code),
        &json!({"publish_requires_tfa": true, "automation_token_overrides_tfa": false}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn token_creation_without_password_or_otp_is_refused() {
    let sb = start(Scenario::Legacy).await;
    let alice = session(&sb, "alice");
    let body = json!({"name": "t", "packages_and_scopes_permission": "read-only"});
    let (status, resp) = send_json(
        Method::POST,
        &url(&sb, "-/npm/v1/tokens"),
        Some(&alice),
        Some(&otp(&sb, "alice")),
        &body,
    )
    .await;
    assert_eq!(status, 400, "{resp}");
    assert!(
        resp["error"]
            .as_str()
            .unwrap_or_default()
            .contains("password"),
        "{resp}"
    );
    let mut with_pw = body.clone();
    with_pw["password"] = json!(password(&sb, "alice"));
    let (status, resp) = send_json(
        Method::POST,
        &url(&sb, "-/npm/v1/tokens"),
        Some(&alice),
        None,
        &with_pw,
    )
    .await;
    assert_eq!(status, 401, "{resp}");
    with_pw["password"] = json!("wrong");
    let (status, _) = send_json(
        Method::POST,
        &url(&sb, "-/npm/v1/tokens"),
        Some(&alice),
        Some(&otp(&sb, "alice")),
        &with_pw,
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn token_lifetimes_out_of_range_are_400_never_a_wrapped_date() {
    let sb = start(Scenario::Legacy).await;
    let alice = session(&sb, "alice");
    let pw = password(&sb, "alice");
    for (perm, expires) in [
        ("read-write", json!(0)),
        ("read-write", json!(91)),
        ("read-only", json!(18_446_744_073_709_551_615u64)),
        ("read-only", json!(100_000_000)),
        ("read-only", json!(-1)),
        ("read-only", json!(1.5)),
    ] {
        let (status, resp) = send_json(
            Method::POST,
            &url(&sb, "-/npm/v1/tokens"),
            Some(&alice),
            Some(&otp(&sb, "alice")),
            &json!({"name": "t", "password": pw, "packages_and_scopes_permission": perm, "expires": expires}),
        )
        .await;
        assert_eq!(status, 400, "{perm} {expires}: {resp}");
    }
    // Write tokens default to 7 days; read-only tokens may outlive 90 days.
    let (status, resp) = send_json(Method::POST, &url(&sb, "-/npm/v1/tokens"), Some(&alice), Some(&otp(&sb, "alice")),
        &json!({"name": "w", "password": pw, "scopes": ["@acme"], "packages_and_scopes_permission": "read-write"})).await;
    assert_eq!(status, 201, "{resp}");
    let expires = resp["expires"].as_str().unwrap_or_default().to_owned();
    assert!(
        expires.ends_with('Z') && expires.starts_with("20"),
        "an RFC 3339 date: {expires}"
    );
    let (status, resp) = send_json(Method::POST, &url(&sb, "-/npm/v1/tokens"), Some(&alice), Some(&otp(&sb, "alice")),
        &json!({"name": "r", "password": pw, "scopes": ["@acme"], "packages_and_scopes_permission": "read-only", "expires": 365})).await;
    assert_eq!(status, 201, "{resp}");
}

#[tokio::test]
async fn admin_cannot_promote_self_or_demote_owners_and_last_owner_stays() {
    let scenario = r#"{"org": "acme", "users": [{"name": "alice", "role": "owner"}, {"name": "adam", "role": "admin"}, {"name": "dev", "role": "developer"}]}"#;
    let sb = start(Scenario::Inline(scenario.to_owned())).await;
    let alice = session(&sb, "alice");
    let org = url(&sb, "-/org/acme/user");
    for (method, actor, body, what) in [
        (
            Method::PUT,
            "adam",
            json!({"user": "adam", "role": "owner"}),
            "an admin promoting themself",
        ),
        (
            Method::PUT,
            "adam",
            json!({"user": "alice", "role": "developer"}),
            "an admin demoting the owner",
        ),
        (
            Method::PUT,
            "alice",
            json!({"user": "alice", "role": "admin"}),
            "the last owner demoting themself",
        ),
        (
            Method::DELETE,
            "alice",
            json!({"user": "alice"}),
            "the last owner leaving",
        ),
        (
            Method::DELETE,
            "adam",
            json!({"user": "alice"}),
            "an admin removing the owner",
        ),
    ] {
        let (status, _) = send_json(
            method,
            &org,
            Some(&session(&sb, actor)),
            Some(&otp(&sb, actor)),
            &body,
        )
        .await;
        assert_eq!(status, 403, "{what}");
    }
    let adam = session(&sb, "adam");
    // Removal from the org keeps the account: dev can still log in and see who they are.
    let (status, _) = send_json(
        Method::DELETE,
        &org,
        Some(&adam),
        Some(&otp(&sb, "adam")),
        &json!({"user": "dev"}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, who) = get_json(&url(&sb, "-/whoami"), Some(&session(&sb, "dev"))).await;
    assert_eq!((status, who["username"].as_str()), (200, Some("dev")));
    let (_, roster) = get_json(&org, Some(&alice)).await;
    assert_eq!(roster, json!({"alice": "owner", "adam": "admin"}));
}

#[tokio::test]
async fn publishing_into_a_foreign_scope_or_another_users_package_is_refused() {
    let scenario = r#"{"org": "acme", "users": [{"name": "alice", "role": "owner"}, {"name": "bob", "role": "developer"}],
      "packages": [{"name": "bobs-tool", "published_by": "bob"}]}"#;
    let sb = start(Scenario::Inline(scenario.to_owned())).await;
    let tarball = b"x".to_vec();
    for (user, name) in [
        ("bob", "@evil/x"),
        ("alice", "@other/x"),
        ("alice", "bobs-tool"),
    ] {
        let body = common::publish_body(name, "9.9.9", &tarball);
        let (status, resp) = send_json(
            Method::PUT,
            &url(&sb, &name.replace('/', "%2f")),
            Some(&session(&sb, user)),
            Some(&otp(&sb, user)),
            &body,
        )
        .await;
        assert_eq!(status, 403, "{user} → {name}: {resp}");
    }
    let (status, _) = get_json(&url(&sb, "@evil%2fx"), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn web_login_guessing_is_locked_out_with_429() {
    let sb = start(Scenario::Legacy).await;
    let (_, start_resp) = send_json(
        Method::POST,
        &url(&sb, "-/v1/login"),
        None,
        None,
        &json!({}),
    )
    .await;
    let approve = start_resp["loginUrl"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut last = 0;
    for guess in 0..8 {
        let (status, _) = send_json(
            Method::POST,
            &approve,
            None,
            None,
            &json!({"name": "alice", "otp": format!("{guess:06}")}),
        )
        .await;
        last = status;
        if status == 429 {
            break;
        }
        assert_eq!(status, 401);
    }
    assert_eq!(last, 429, "guessing must end in a lockout");
    // Locked: even the right code is refused until the lockout ends.
    let (status, _) = send_json(
        Method::POST,
        &approve,
        None,
        None,
        &json!({"name": "alice", "otp": otp(&sb, "alice")}),
    )
    .await;
    assert_eq!(status, 429);
}

#[tokio::test]
async fn wrong_otps_on_writes_are_locked_out_with_429() {
    let sb = start(Scenario::Legacy).await;
    let alice = session(&sb, "alice");
    let access = url(&sb, "-/package/@acme%2fcore/access");
    let body = json!({"publish_requires_tfa": true, "automation_token_overrides_tfa": false});
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let (status, _) =
            send_json(Method::POST, &access, Some(&alice), Some("000000"), &body).await;
        statuses.push(status);
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
}

#[tokio::test]
async fn sessions_need_a_second_factor_even_on_mfa_none_packages() {
    let scenario = r#"{"org": "acme", "users": [{"name": "alice", "role": "owner"}],
      "packages": [{"name": "@acme/a", "mfa": "none"}]}"#;
    let sb = start(Scenario::Inline(scenario.to_owned())).await;
    let body = common::publish_body("@acme/a", "2.0.0", b"x");
    let target = url(&sb, "@acme%2fa");
    let (status, _) = send_json(
        Method::PUT,
        &target,
        Some(&session(&sb, "alice")),
        None,
        &body,
    )
    .await;
    assert_eq!(
        status, 401,
        "auth-and-writes: a session publish needs the OTP"
    );
    let (status, _) = send_json(
        Method::PUT,
        &target,
        Some(&session(&sb, "alice")),
        Some(&otp(&sb, "alice")),
        &body,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn cidr_ranges_are_validated_and_enforced() {
    let sb = start(Scenario::Legacy).await;
    let alice = session(&sb, "alice");
    let pw = password(&sb, "alice");
    for bad in ["10.0.0.0/33", "300.1.1.1/8", "::1/128", "10.0.0.0"] {
        let (status, resp) = send_json(
            Method::POST,
            &url(&sb, "-/npm/v1/tokens"),
            Some(&alice),
            Some(&otp(&sb, "alice")),
            &json!({"name": "c", "password": pw, "cidr_whitelist": [bad]}),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {resp}");
    }
    let elsewhere = create_token(
        &sb,
        "alice",
        json!({"name": "far", "cidr_whitelist": ["10.9.0.0/16"]}),
    )
    .await;
    let resp = common::client()
        .get(url(&sb, "-/whoami"))
        .bearer_auth(&elsewhere)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(
        resp.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("ipaddress")
    );
    let here = create_token(
        &sb,
        "alice",
        json!({"name": "near", "cidr_whitelist": ["127.0.0.0/8"]}),
    )
    .await;
    let (status, _) = get_json(&url(&sb, "-/whoami"), Some(&here)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn stage_only_token_cannot_publish_directly_but_stages() {
    let sb = start(Scenario::Legacy).await;
    let stage_only = create_token(
        &sb,
        "alice",
        json!({"name": "stager", "scopes": ["@acme"], "packages_and_scopes_permission": "read-write-stage-only"}),
    )
    .await;
    let body = common::publish_body("@acme/core", "9.0.0", b"x");
    let (status, resp) = send_json(
        Method::PUT,
        &url(&sb, "@acme%2fcore"),
        Some(&stage_only),
        Some(&otp(&sb, "alice")),
        &body,
    )
    .await;
    assert_eq!(status, 403, "{resp}");
    assert!(
        resp["error"]
            .as_str()
            .unwrap_or_default()
            .contains("E_STAGE_REQUIRED"),
        "{resp}"
    );
    let (status, resp) = send_json(
        Method::POST,
        &url(&sb, "-/stage/package/@acme%2fcore"),
        Some(&stage_only),
        None,
        &body,
    )
    .await;
    assert_eq!(status, 201, "{resp}");
    let id = resp["stageId"].as_str().unwrap_or_default().to_owned();
    // The token that staged cannot approve its own stage, OTP or not.
    let (status, _) = send_json(
        Method::POST,
        &url(&sb, &format!("-/stage/{id}/approve")),
        Some(&stage_only),
        Some(&otp(&sb, "alice")),
        &json!({}),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn bypass_tokens_lose_direct_publishing_when_the_policy_says_so() {
    let scenario = r#"{"org": "acme", "users": [{"name": "alice", "role": "owner"}],
      "packages": [{"name": "@acme/a"}],
      "tokens": [{"name": "ci", "owner": "alice", "bypass_2fa": true, "scopes": ["@acme"], "permission": "read-write"}],
      "policy": {"bypass_tokens_publish": false}}"#;
    let sb = start(Scenario::Inline(scenario.to_owned())).await;
    let body = common::publish_body("@acme/a", "2.0.0", b"x");
    let (status, resp) = send_json(
        Method::PUT,
        &url(&sb, "@acme%2fa"),
        Some(&granular(&sb, "ci")),
        None,
        &body,
    )
    .await;
    assert_eq!(status, 403, "{resp}");
    assert!(
        resp["error"]
            .as_str()
            .unwrap_or_default()
            .contains("E_STAGE_REQUIRED"),
        "{resp}"
    );
}

#[tokio::test]
async fn staged_publishes_are_listed_only_to_who_can_write_them() {
    let scenario = r#"{"org": "acme", "users": [{"name": "alice", "role": "owner"}, {"name": "rita", "role": "developer"}],
      "packages": [{"name": "@acme/a"}, {"name": "@acme/b"}],
      "teams": [{"name": "readers", "members": ["rita"], "packages": {"*": "read-only"}}]}"#;
    let sb = start(Scenario::Inline(scenario.to_owned())).await;
    let alice = session(&sb, "alice");
    let body = common::publish_body("@acme/a", "2.0.0", b"x");
    let (status, resp) = send_json(
        Method::POST,
        &url(&sb, "-/stage/package/@acme%2fa"),
        Some(&alice),
        None,
        &body,
    )
    .await;
    assert_eq!(status, 201, "staging from a session needs no OTP: {resp}");
    let id = resp["stageId"].as_str().unwrap_or_default().to_owned();
    let (status, list) = get_json(&url(&sb, "-/stage?page=0&perPage=100"), Some(&alice)).await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 1);
    let item = &list["items"][0];
    common::assert_stage_item_fields(item);
    assert_eq!(
        (item["actor"].as_str(), item["actorType"].as_str()),
        (Some("alice"), Some("user"))
    );
    // A read-only member sees nothing, and cannot reject.
    let rita = session(&sb, "rita");
    let (_, list) = get_json(&url(&sb, "-/stage?page=0&perPage=100"), Some(&rita)).await;
    assert_eq!(list, json!({"items": [], "total": 0}));
    let (status, _) = send_json(
        Method::DELETE,
        &url(&sb, &format!("-/stage/{id}")),
        Some(&rita),
        Some(&otp(&sb, "rita")),
        &json!({}),
    )
    .await;
    assert_eq!(status, 404);
    let (_, list) = get_json(&url(&sb, "-/stage?package=@acme/a"), Some(&alice)).await;
    assert_eq!(list["total"], 1, "the stage is still there");
}

#[tokio::test]
async fn invalid_versions_and_names_are_refused_and_build_metadata_is_not_a_new_version() {
    let scenario = r#"{"org": "acme", "users": [{"name": "alice", "role": "owner"}], "packages": [{"name": "@acme/a", "versions": ["1.0.0"]}]}"#;
    let sb = start(Scenario::Inline(scenario.to_owned())).await;
    let alice = session(&sb, "alice");
    for version in ["01.0.0", "1.0.0-", "1.0.0-beta..1", "1.0.0+build"] {
        let body = common::publish_body("@acme/a", version, b"x");
        let (status, resp) = send_json(
            Method::PUT,
            &url(&sb, "@acme%2fa"),
            Some(&alice),
            Some(&otp(&sb, "alice")),
            &body,
        )
        .await;
        assert!(status == 400 || status == 403, "{version}: {status} {resp}");
    }
    for name in ["favicon.ico", "http", "node_modules", "Caps"] {
        let body = common::publish_body(name, "1.0.0", b"x");
        let (status, resp) = send_json(
            Method::PUT,
            &url(&sb, name),
            Some(&alice),
            Some(&otp(&sb, "alice")),
            &body,
        )
        .await;
        assert_eq!(status, 400, "{name}: {resp}");
    }
    let (_, doc) = get_json(&url(&sb, "@acme%2fa"), None).await;
    assert_eq!(
        doc["versions"].as_object().map(|v| v.len()),
        Some(1),
        "{doc}"
    );
}

#[tokio::test]
async fn a_package_has_at_most_the_policy_limit_of_trusted_publishers() {
    let scenario = r#"{"org": "acme", "users": [{"name": "alice", "role": "owner"}], "packages": [{"name": "@acme/a"}], "policy": {"max_trust_configs": 2}}"#;
    let sb = start(Scenario::Inline(scenario.to_owned())).await;
    let alice = session(&sb, "alice");
    let trust = url(&sb, "-/package/@acme%2fa/trust");
    let mut statuses = Vec::new();
    for file in ["a.yml", "b.yml", "c.yml"] {
        let cfg = json!([{"type": "github", "claims": {"repository": "acme/a", "workflow_ref": {"file": file}}, "permissions": ["createStagedPackage"]}]);
        let (status, _) = send_json(
            Method::POST,
            &trust,
            Some(&alice),
            Some(&otp(&sb, "alice")),
            &cfg,
        )
        .await;
        statuses.push(status);
    }
    assert_eq!(statuses, [201, 201, 409]);
    let (_, listed) = get_json(&trust, Some(&alice)).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
}
