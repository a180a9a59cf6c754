//! The sandbox over real loopback HTTP: info, CircleCI API, settings, tokens, login, state,
//! fault injection, and hostile input (nothing crashes the server).

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use tokenless_sandbox::{SandboxOptions, Scenario};

#[tokio::test]
async fn info_describes_the_legacy_org() {
    let sb = start(Scenario::Legacy).await;
    let (status, info) = get_json(&format!("{}-/sandbox/info", sb.url()), None).await;
    assert_eq!(status, 200);
    assert_eq!(info["registry"], sb.url());
    assert_eq!(info["scope"], "@acme");
    assert!(
        info["circleci_api"]
            .as_str()
            .is_some_and(|u| u.ends_with("/api/v2"))
    );
    let typed: tokenless_sandbox::SandboxInfo =
        serde_json::from_value(info.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(typed, sb.info());
    let temp = typed
        .token("tmp-bulk-hardening")
        .unwrap_or_else(|| panic!("no temp token"));
    assert!(temp.bypass_2fa && temp.expires.is_some());
    assert!(
        format!("{temp:?}").contains("npm_…"),
        "Debug redacts secrets"
    );
    assert!(!format!("{temp:?}").contains(&temp.token));
    for u in &typed.users {
        assert_eq!(code(&u.totp_secret).len(), 6);
    }
    // Issuer discovery and JWKS.
    let (status, disc) = get_json(
        &format!(
            "{}/.well-known/openid-configuration",
            typed.issuers.circleci
        ),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(disc["issuer"], typed.issuers.circleci.as_str());
    assert_eq!(
        disc["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    let (status, jwks) = get_json(disc["jwks_uri"].as_str().unwrap_or_default(), None).await;
    assert_eq!(status, 200);
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    for issuer in [&typed.issuers.github, &typed.issuers.gitlab] {
        let (_, disc) = get_json(&format!("{issuer}/.well-known/openid-configuration"), None).await;
        let (status, _) = get_json(disc["jwks_uri"].as_str().unwrap_or_default(), None).await;
        assert_eq!(status, 200);
    }
}

#[tokio::test]
async fn circleci_api_reads_and_writes() {
    let sb = start(Scenario::Legacy).await;
    let info = sb.info();
    let api = info.circleci_api.clone();
    let circle = info.circleci.token.clone();
    // Without a personal API token CircleCI answers 401.
    let (status, _) = get_json(&format!("{api}/project/gh/acme/web"), None).await;
    assert_eq!(status, 401);
    let (status, _) = get_json(
        &format!("{api}/project/gh/acme/web"),
        Some(&session(&sb, "alice")),
    )
    .await;
    assert_eq!(status, 401, "an npm session is no CircleCI credential");
    let (status, ctxs) = get_json(
        &format!("{api}/context?owner-id={}", info.circleci.org_id),
        Some(&circle),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ctxs["items"].as_array().map(Vec::len), Some(2));
    let release = ctxs["items"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["name"] == "npm-release"))
        .cloned()
        .unwrap_or_default();
    let id = release["id"].as_str().unwrap_or_default();
    let (_, vars) = get_json(
        &format!("{api}/context/{id}/environment-variable"),
        Some(&circle),
    )
    .await;
    assert_eq!(vars["items"][0]["variable"], "NPM_TOKEN");
    assert!(
        vars["items"][0].get("value").is_none(),
        "values are never returned"
    );

    // Restrictions: a bad expression is refused, a good one is listed in the context.
    let url = format!("{api}/context/{id}/restrictions");
    let (status, _) = send_json(
        Method::POST,
        &url,
        Some(&circle),
        None,
        &json!({"restriction_type": "expression", "restriction_value": "pipeline.git.branch == "}),
    )
    .await;
    assert_eq!(status, 400);
    let expr = "pipeline.git.branch == \"main\" and not job.ssh.enabled";
    let (status, r) = send_json(
        Method::POST,
        &url,
        Some(&circle),
        None,
        &json!({"restriction_type": "expression", "restriction_value": expr}),
    )
    .await;
    assert_eq!(status, 201);
    let (_, ctx) = get_json(&format!("{api}/context/{id}"), Some(&circle)).await;
    assert_eq!(ctx["restrictions"][0]["restriction_value"], expr);
    let (status, _) = send_json(
        Method::DELETE,
        &format!("{url}/{}", r["id"].as_str().unwrap_or_default()),
        Some(&circle),
        None,
        &json!({}),
    )
    .await;
    assert_eq!(status, 200);

    let slug = &info.circleci.projects[0].slug;
    let (status, project) = get_json(&format!("{api}/project/{slug}"), Some(&circle)).await;
    assert_eq!(status, 200);
    assert_eq!(project["id"], info.circleci.projects[0].id.as_str());
    let (_, envs) = get_json(&format!("{api}/project/{slug}/envvar"), Some(&circle)).await;
    assert!(envs["items"].as_array().is_some_and(|a| {
        a.iter().any(|e| {
            e["name"] == "NPM_TOKEN" && e["value"].as_str().is_some_and(|v| v.starts_with("xxxx"))
        })
    }));
    let (_, pipelines) = get_json(&format!("{api}/project/{slug}/pipeline"), Some(&circle)).await;
    let latest = &pipelines["items"][0];
    assert_eq!(latest["vcs"]["branch"], "main");
    let (status, config) = get_json(
        &format!(
            "{api}/pipeline/{}/config",
            latest["id"].as_str().unwrap_or_default()
        ),
        Some(&circle),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        config["source"]
            .as_str()
            .is_some_and(|s| s.contains("NPM_TOKEN"))
    );
    for key in ["compiled", "setup-config", "compiled-setup-config"] {
        assert!(config.get(key).is_some(), "{key}");
    }
    let (_, defs) = get_json(
        &format!(
            "{api}/projects/{}/pipeline-definitions",
            info.circleci.projects[0].id
        ),
        Some(&circle),
    )
    .await;
    assert_eq!(
        defs["items"][0]["id"],
        info.circleci.projects[0].pipeline_definition_id.as_str()
    );
    let (status, _) = get_json(&format!("{api}/nope"), Some(&circle)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn access_read_extension_and_policy() {
    let sb = start(Scenario::Legacy).await;
    let alice = session(&sb, "alice");
    // npm has no read of publishing access: the sandbox's is an inspection endpoint.
    let url = format!("{}-/package/@acme%2Fcore/access", sb.url());
    let (status, _) = get_json(&url, Some(&alice)).await;
    assert_eq!(status, 404, "no read where npm has none");
    let read = format!("{}-/sandbox/package/@acme%2Fcore/access", sb.url());
    let (status, access) = get_json(&read, Some(&alice)).await;
    assert_eq!(status, 200, "%2F is accepted");
    assert_eq!(
        access,
        json!({"publish_requires_tfa": true, "automation_token_overrides_tfa": true})
    );
    let (_, old) = get_json(
        &format!("{}-/sandbox/package/@acme%2flegacy-sdk/access", sb.url()),
        Some(&alice),
    )
    .await;
    assert_eq!(old["publish_requires_tfa"], false);

    let body = json!({"publish_requires_tfa": true, "automation_token_overrides_tfa": false});
    let (status, _) = send_json(Method::POST, &url, Some(&alice), None, &body).await;
    assert_eq!(status, 401);
    let (status, _) = send_json(Method::POST, &url, Some(&alice), Some("000000"), &body).await;
    assert_eq!(status, 401, "a wrong OTP is another challenge");
    let bypass = granular(&sb, "tmp-bulk-hardening");
    let (status, err) = send_json(
        Method::POST,
        &url,
        Some(&bypass),
        Some(&otp(&sb, "alice")),
        &body,
    )
    .await;
    assert_eq!(status, 403, "{err}");
    let (status, _) = send_json(
        Method::POST,
        &url,
        Some(&alice),
        Some(&otp(&sb, "alice")),
        &body,
    )
    .await;
    assert_eq!(status, 200);
    let (_, access) = get_json(&read, Some(&alice)).await;
    assert_eq!(access, body);

    // Bypass-2FA tokens cannot manage tokens either.
    let (status, _) = send_json(
        Method::POST,
        &format!("{}-/npm/v1/tokens", sb.url()),
        Some(&bypass),
        Some(&otp(&sb, "alice")),
        &json!({"name": "x"}),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn web_login_with_name_and_totp() {
    let sb = start(Scenario::Legacy).await;
    let (status, urls) = send_json(
        Method::POST,
        &format!("{}-/v1/login", sb.url()),
        None,
        None,
        &json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let done = urls["doneUrl"].as_str().unwrap_or_default().to_owned();
    let login = urls["loginUrl"].as_str().unwrap_or_default().to_owned();
    let resp = client()
        .get(&done)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status().as_u16(), 202);
    assert!(resp.headers().get("retry-after").is_some());
    let page = client()
        .get(&login)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_default();
    assert!(page.contains("<form"));
    let (status, _) = send_json(
        Method::POST,
        &login,
        None,
        None,
        &json!({"name": "bob", "otp": "123"}),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = send_json(
        Method::POST,
        &login,
        None,
        None,
        &json!({"name": "bob", "otp": otp(&sb, "bob")}),
    )
    .await;
    assert_eq!(status, 200);
    let (status, token) = get_json(&done, None).await;
    assert_eq!(status, 200);
    let token = token["token"].as_str().unwrap_or_default().to_owned();
    let (_, who) = get_json(&format!("{}-/whoami", sb.url()), Some(&token)).await;
    assert_eq!(who["username"], "bob");
    // Logout ends the session.
    let resp = client()
        .delete(format!("{}-/user/token/{token}", sb.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status().as_u16(), 200);
    let (status, _) = get_json(&format!("{}-/whoami", sb.url()), Some(&token)).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn state_file_survives_a_restart() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap_or_else(|e| panic!("{e}"));
    let state = dir.path().join("state.json");
    let opts = || SandboxOptions {
        scenario: Scenario::Legacy,
        state: Some(state.clone()),
        ..SandboxOptions::default()
    };
    let sb = start_with(opts()).await;
    let before = sb.info();
    let alice = session(&sb, "alice");
    let url = format!("{}-/package/@acme%2fcore/access", sb.url());
    let body = json!({"publish_requires_tfa": true, "automation_token_overrides_tfa": false});
    let (status, _) = send_json(
        Method::POST,
        &url,
        Some(&alice),
        Some(&otp(&sb, "alice")),
        &body,
    )
    .await;
    assert_eq!(status, 200);
    let jwks_before = get_json(
        &format!("{}-/sandbox/oidc/github/.well-known/jwks", sb.url()),
        None,
    )
    .await
    .1;
    sb.shutdown().await;

    let sb = start_with(opts()).await;
    let after = sb.info();
    // Same secrets and sessions; the scenario sessions' two hours start again at the load.
    let secrets = |info: &tokenless_sandbox::SandboxInfo| {
        let mut users = info.users.clone();
        for u in &mut users {
            assert!(u.session_expires.is_some(), "{u:?}");
            u.session_expires = None;
        }
        users
    };
    assert_eq!(secrets(&after), secrets(&before), "same secrets");
    assert_eq!(after.tokens, before.tokens);
    let (_, access) = get_json(
        &format!("{}-/sandbox/package/@acme%2fcore/access", sb.url()),
        Some(&alice),
    )
    .await;
    assert_eq!(access, body);
    let jwks_after = get_json(
        &format!("{}-/sandbox/oidc/github/.well-known/jwks", sb.url()),
        None,
    )
    .await
    .1;
    assert_eq!(jwks_before, jwks_after, "issuer keys persist");
}

#[tokio::test]
async fn fault_injection_latency_rate_limit_and_failures() {
    let sb = start_with(SandboxOptions {
        latency: Duration::from_millis(80),
        ..SandboxOptions::default()
    })
    .await;
    let t = Instant::now();
    let (status, _) = get_json(&format!("{}-/ping", sb.url()), None).await;
    assert_eq!(status, 200);
    assert!(t.elapsed() >= Duration::from_millis(80));
    drop(sb);

    let sb = start_with(SandboxOptions {
        rate_limit: Some(3),
        ..SandboxOptions::default()
    })
    .await;
    // The registry answers as registry.npmjs.org does: no Retry-After, a plain-text body.
    // The CircleCI, GitHub and GitLab APIs keep `Retry-After`.
    let first_429 = |path: String| async move {
        for _ in 0..10 {
            let resp = client()
                .get(&path)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            if resp.status().as_u16() == 429 {
                let retry = resp
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap_or_default().to_owned());
                return Some((retry, resp.text().await.unwrap_or_default()));
            }
        }
        None
    };
    for path in ["-/ping", "@acme%2fcore", "-/v1/login/done/x"] {
        let limited = first_429(format!("{}{path}", sb.url())).await;
        assert_eq!(
            limited,
            Some((None, "rate limited exceeded".to_owned())),
            "{path}"
        );
    }
    for path in [
        "api/v2/context?owner-id=x",
        "api/v3/repos/a/b",
        "api/v4/projects/1",
    ] {
        let limited = first_429(format!("{}{path}", sb.url())).await;
        assert_eq!(
            limited.and_then(|(retry, _)| retry).as_deref(),
            Some("1"),
            "{path}"
        );
    }
    drop(sb);

    let sb = start_with(SandboxOptions {
        fail_rate: 1.0,
        ..SandboxOptions::default()
    })
    .await;
    let (mut errors, mut dropped) = (0, 0);
    for _ in 0..20 {
        match client().get(format!("{}-/ping", sb.url())).send().await {
            Ok(r) if r.status().as_u16() == 500 => errors += 1,
            Ok(r) => {
                if r.bytes().await.is_err() {
                    dropped += 1;
                }
            }
            Err(_) => dropped += 1,
        }
    }
    assert!(
        errors > 0 && dropped > 0,
        "500s {errors}, dropped {dropped}"
    );
    assert!(
        tokenless_sandbox::Sandbox::start(SandboxOptions {
            fail_rate: 1.5,
            ..SandboxOptions::default()
        })
        .await
        .is_err()
    );
}

#[tokio::test]
async fn hostile_input_never_crashes_the_server() {
    let sb = start_with(SandboxOptions {
        max_body_bytes: 64 * 1024,
        ..SandboxOptions::default()
    })
    .await;
    let bot = granular(&sb, "circleci-publish");
    let circle = sb.info().circleci.token.clone();
    let base = sb.url().to_owned();

    // Malformed JSON bodies.
    for (method, path) in [
        ("PUT", "@acme%2fcore"),
        ("POST", "-/npm/v1/tokens"),
        ("POST", "-/package/@acme%2fcore/trust"),
        ("POST", "-/sandbox/oidc/circleci/token"),
        ("POST", "api/v2/context"),
    ] {
        let resp = client()
            .request(
                method.parse().unwrap_or(Method::GET),
                format!("{base}{path}"),
            )
            .bearer_auth(&bot)
            .header("circle-token", &circle)
            .body("{\"name\": ")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(resp.status().as_u16(), 400 | 403),
            "{method} {path}: {}",
            resp.status()
        );
    }
    // Oversize publish.
    let big = vec![7u8; 100 * 1024];
    let (status, _) = send_json(
        Method::PUT,
        &format!("{base}@acme%2fcore"),
        Some(&bot),
        None,
        &publish_body("@acme/core", "9.0.0", &big),
    )
    .await;
    assert_eq!(status, 413);
    // Path traversal and invalid names.
    for path in [
        "..%2f..%2fetc%2fpasswd",
        "@acme%2f..%2f..%2fx",
        "%2e%2e",
        "@ACME%2fcore",
        "@acme%2fcore/-/..%2f..%2fstate.json",
        "@acme/core/-/../../x.tgz",
    ] {
        let (status, body) = get_json(&format!("{base}{path}"), None).await;
        assert!(matches!(status, 400 | 404), "{path}: {status} {body}");
        assert!(body.get("error").is_some(), "{path}: npm-style error body");
    }
    let (status, _) = send_json(
        Method::PUT,
        &format!("{base}..%2fevil"),
        Some(&bot),
        None,
        &publish_body("../evil", "1.0.0", b"x"),
    )
    .await;
    assert_eq!(status, 400);
    // Body and URL disagree, versions that are not semver, digests that lie.
    let (status, _) = send_json(
        Method::PUT,
        &format!("{base}@acme%2fcore"),
        Some(&bot),
        None,
        &publish_body("@acme/utils", "9.0.0", b"x"),
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = send_json(
        Method::PUT,
        &format!("{base}@acme%2fcore"),
        Some(&bot),
        None,
        &publish_body("@acme/core", "../../9", b"x"),
    )
    .await;
    assert_eq!(status, 400);
    let mut lying = publish_body("@acme/core", "9.0.0", b"x");
    lying["versions"]["9.0.0"]["dist"] =
        json!({"shasum": "0000000000000000000000000000000000000000"});
    let (status, _) = send_json(
        Method::PUT,
        &format!("{base}@acme%2fcore"),
        Some(&bot),
        None,
        &lying,
    )
    .await;
    assert_eq!(status, 400);
    // Unknown endpoints.
    for path in ["-/nope", "-/npm/v1/whatever", "a/b/c/d/e"] {
        let (status, body) = get_json(&format!("{base}{path}"), None).await;
        assert_eq!(status, 404, "{path}");
        assert!(body["error"].is_string());
    }
    // A garbage bearer token and a JWT-shaped garbage id token.
    let (status, _) = get_json(&format!("{base}-/whoami"), Some("garbage")).await;
    assert_eq!(status, 401);
    let resp = client()
        .post(format!(
            "{base}-/npm/v1/oidc/token/exchange/package/@acme%2fcore"
        ))
        .bearer_auth("a.b.c")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status().as_u16(), 404);
    let body: Value = resp.json().await.unwrap_or_default();
    assert!(body["message"].is_string());

    // Concurrent publishes of the same version: exactly one wins.
    let body = publish_body("@acme/core", "7.7.7", b"tarball bytes");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (url, bot, body) = (format!("{base}@acme%2fcore"), bot.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            send_json(Method::PUT, &url, Some(&bot), None, &body)
                .await
                .0
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap_or(0) == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 1);
    // The server is still serving.
    let (status, _) = get_json(&format!("{base}-/ping"), None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn minted_token_for_one_package_cannot_publish_another() {
    let scenario = r#"{"org": "acme", "users": [{"name": "alice", "role": "owner"}],
      "packages": [{"name": "@acme/a", "trust": {"provider": "github", "repository": "acme/a", "file": "publish.yml"}},
                   {"name": "@acme/b"}]}"#;
    let sb = start(Scenario::Inline(scenario.to_owned())).await;
    let claims = json!({"aud": sb.audience(), "repository": "acme/a", "workflow_ref": "acme/a/.github/workflows/publish.yml@refs/heads/main", "event_name": "push", "repository_visibility": "private"});
    let (_, minted) = send_json(
        Method::POST,
        &format!("{}-/sandbox/oidc/github/token", sb.url()),
        None,
        None,
        &claims,
    )
    .await;
    let id_token = minted["token"].as_str().unwrap_or_default();
    let resp = client()
        .post(format!(
            "{}-/npm/v1/oidc/token/exchange/package/@acme%2Fa",
            sb.url()
        ))
        .bearer_auth(id_token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status().as_u16(), 201);
    let token = resp.json::<Value>().await.unwrap_or_default()["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let (status, err) = send_json(
        Method::PUT,
        &format!("{}@acme%2fb", sb.url()),
        Some(&token),
        None,
        &publish_body("@acme/b", "2.0.0", b"x"),
    )
    .await;
    assert_eq!(status, 403, "{err}");
    let (status, _) = send_json(
        Method::PUT,
        &format!("{}@acme%2fa", sb.url()),
        Some(&token),
        None,
        &publish_body("@acme/a", "2.0.0", b"x"),
    )
    .await;
    assert_eq!(status, 200);
    // Exchanged tokens manage nothing.
    let (status, _) = send_json(
        Method::POST,
        &format!("{}-/package/@acme%2fa/access", sb.url()),
        Some(&token),
        None,
        &json!({"publish_requires_tfa": false}),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn scenario_errors_name_the_field() {
    let bad = [
        (r#"{"org": "acme", "users": []}"#, "owner"),
        (
            r#"{"org": "acme", "users": [{"name": "a", "role": "owner"}], "packages": [{"name": "../x"}]}"#,
            "packages[0].name",
        ),
        (
            r#"{"org": "acme", "users": [{"name": "a", "role": "owner"}], "bogus": 1}"#,
            "unknown field",
        ),
        (
            r#"{"org": "acme", "users": [{"name": "a", "role": "owner"}], "packages": [{"name": "@acme/x", "versions": ["1.0.0"], "published_by": "oidc"}]}"#,
            "needs a trust config",
        ),
        ("{\"org\": ", "line 1"),
    ];
    for (text, needle) in bad {
        let err = Scenario::Inline(text.to_owned())
            .load()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(needle), "{needle:?} not in {err:?}");
    }
}

#[tokio::test]
async fn a_thousand_package_scenario_loads_fast() {
    let packages: Vec<Value> = (0..1000)
        .map(|i| json!({"name": format!("@big/pkg-{i}"), "versions": ["1.0.0", "1.1.0"]}))
        .collect();
    let text =
        json!({"org": "big", "users": [{"name": "o", "role": "owner"}], "packages": packages})
            .to_string();
    let t = Instant::now();
    let world = Scenario::Inline(text)
        .load()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(world.packages.len(), 1000);
    eprintln!(
        "1,000 packages (2,000 tarballs) loaded in {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn stage_publish_then_approve_with_2fa() {
    let scenario = r#"{"org": "acme", "users": [{"name": "alice", "role": "owner"}],
      "packages": [{"name": "@acme/a", "mfa": "publish", "trust": {"provider": "gitlab", "project_path": "acme/a", "file": ".gitlab-ci.yml", "permissions": ["createStagedPackage"]}}]}"#;
    let sb = start(Scenario::Inline(scenario.to_owned())).await;
    let claims = json!({"aud": sb.audience(), "project_path": "acme/a", "ci_config_ref_uri": "gitlab.com/acme/a//.gitlab-ci.yml@refs/heads/main", "project_visibility": "private"});
    let (_, minted) = send_json(
        Method::POST,
        &format!("{}-/sandbox/oidc/gitlab/token", sb.url()),
        None,
        None,
        &claims,
    )
    .await;
    let id_token = minted["token"].as_str().unwrap_or_default().to_owned();
    let exchange = format!("{}-/npm/v1/oidc/token/exchange/package/@acme%2fa", sb.url());
    // The exchange does not know what the token is for (and never reads `npm-command`): it
    // is accepted because a config matches, and the token carries only what that config
    // grants: stage publish.
    let resp = client()
        .post(&exchange)
        .bearer_auth(&id_token)
        .header("npm-command", "nostage")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(resp.status().as_u16(), 201);
    let token = resp.json::<Value>().await.unwrap_or_default()["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let body = publish_body("@acme/a", "2.0.0", b"staged");
    let (status, _) = send_json(
        Method::PUT,
        &format!("{}@acme%2fa", sb.url()),
        Some(&token),
        None,
        &body,
    )
    .await;
    assert_eq!(status, 403, "a stage-only grant never publishes directly");
    let (status, staged) = send_json(
        Method::POST,
        &format!("{}-/stage/package/@acme%2fa", sb.url()),
        Some(&token),
        None,
        &body,
    )
    .await;
    assert_eq!(status, 201, "{staged}");
    let id = staged["stageId"].as_str().unwrap_or_default().to_owned();
    let alice = session(&sb, "alice");
    let approve = format!("{}-/stage/{id}/approve", sb.url());
    let (status, _) = send_json(Method::POST, &approve, Some(&alice), None, &json!({})).await;
    assert_eq!(status, 401, "approval needs 2FA");
    let (status, _) = send_json(
        Method::POST,
        &approve,
        Some(&alice),
        Some(&otp(&sb, "alice")),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, doc) = get_json(&format!("{}@acme%2fa", sb.url()), None).await;
    assert_eq!(doc["dist-tags"]["latest"], "2.0.0");
    // Approval keeps the OIDC publisher and records the approver.
    let user = &doc["versions"]["2.0.0"]["_npmUser"];
    assert_eq!(user["name"], "GitLab CI/CD", "{user}");
    assert_eq!(user["trustedPublisher"]["id"], "gitlab", "{user}");
    assert_eq!(user["approvedBy"], "alice", "{user}");
}

#[tokio::test]
async fn github_refusals_npm_users_trip_on_answer_as_npm_does() {
    // acme/a uses immutable subject claims; acme/b does not.
    let scenario = r#"{"org": "acme", "users": [{"name": "alice", "role": "owner"}],
      "packages": [{"name": "@acme/a", "trust": {"provider": "github", "repository": "acme/a", "file": "publish.yml"}},
                   {"name": "@acme/b", "trust": {"provider": "github", "repository": "acme/b", "file": "publish.yml"}}],
      "github": {"org": "acme", "repos": [{"name": "a", "use_immutable_subject": true}, {"name": "b"}]}}"#;
    let sb = start(Scenario::Inline(scenario.to_owned())).await;
    let mint = |repo: &str, iss: Option<String>| {
        let mut claims = json!({"aud": sb.audience(), "repository": repo, "ref": "refs/heads/main",
            "workflow_ref": format!("{repo}/.github/workflows/publish.yml@refs/heads/main"), "event_name": "push"});
        if let Some(iss) = iss {
            claims["iss"] = json!(iss);
        }
        let url = format!("{}-/sandbox/oidc/github/token", sb.url());
        async move {
            let (status, minted) = send_json(Method::POST, &url, None, None, &claims).await;
            assert_eq!(status, 200, "{minted}");
            minted["token"].as_str().unwrap_or_default().to_owned()
        }
    };
    let exchange = |package: &'static str, id_token: String| {
        let url = format!("{}-/npm/v1/oidc/token/exchange/package/{package}", sb.url());
        async move {
            let resp = client()
                .post(url)
                .bearer_auth(id_token)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or_default())
        }
    };
    let sub_of = |jwt: &str| -> String {
        use base64::Engine as _;
        let payload = jwt.split('.').nth(1).unwrap_or_default();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap_or_default();
        let claims: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        claims["sub"].as_str().unwrap_or_default().to_owned()
    };
    // The issuer mints GitHub's default subject, in the immutable form where the repository
    // uses it; npm's exchange then answers 404 although the config matches.
    let classic = mint("acme/b", None).await;
    assert_eq!(sub_of(&classic), "repo:acme/b:ref:refs/heads/main");
    let (status, body) = exchange("@acme%2Fb", classic).await;
    assert_eq!(status, 201, "{body}");
    let immutable = mint("acme/a", None).await;
    let sub = sub_of(&immutable);
    assert!(
        tokenless_trust::policy::is_immutable_subject(&sub)
            && sub.ends_with(":ref:refs/heads/main"),
        "{sub}"
    );
    let (status, body) = exchange("@acme%2Fa", immutable).await;
    assert_eq!(status, 404, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("github-subject") && message.contains("npm/cli#9969"),
        "{body}"
    );
    // An enterprise-scoped issuer: 401, as npm answers it.
    let enterprise = mint(
        "acme/b",
        Some(format!("{}-/sandbox/oidc/github/acme-corp", sb.url())),
    )
    .await;
    let (status, body) = exchange("@acme%2Fb", enterprise).await;
    assert_eq!(status, 401, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("enterprise-scoped") && message.contains("npm/cli#9203"),
        "{body}"
    );
}
