//! The real npm CLI against the sandbox: identity, publish policy, trust, tokens, orgs.

mod common;

use common::*;
use tokenless_sandbox::Scenario;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_with_a_session_and_with_a_granular_token() {
    let sb = start(Scenario::Legacy).await;
    let npm = Npm::new(&sb, Some(&session(&sb, "alice")));
    let out = npm.run(&["whoami"], &[]).await;
    assert_ok(&out);
    assert_eq!(stdout(&out).trim(), "alice");

    let npm = Npm::new(&sb, Some(&granular(&sb, "circleci-publish")));
    let out = npm.run(&["whoami"], &[]).await;
    assert_ok(&out);
    assert_eq!(stdout(&out).trim(), "acme-ci-bot");

    let npm = Npm::new(&sb, Some("npm_notarealtoken000000000000000000000000"));
    assert_fails_with(&npm.run(&["whoami"], &[]).await, "401");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bypass_token_publishes_until_the_package_disallows_tokens() {
    let sb = start(Scenario::Legacy).await;
    let bot = Npm::new(&sb, Some(&granular(&sb, "circleci-publish")));
    let dir = bot.package("core", "@acme/core", "1.3.0");
    assert_ok(&bot.run_in(&dir, &["publish"], &[]).await);

    // Republishing the same version is refused.
    assert_fails_with(
        &bot.run_in(&dir, &["publish"], &[]).await,
        "cannot publish over",
    );

    // The owner moves the package to "require 2FA and disallow tokens", through the OTP challenge.
    let owner = Npm::new(&sb, Some(&session(&sb, "alice")));
    assert_fails_with(
        &owner
            .run(&["access", "set", "mfa=publish", "@acme/core"], &[])
            .await,
        "EOTP",
    );
    let otp_flag = format!("--otp={}", otp(&sb, "alice"));
    assert_ok(
        &owner
            .run(
                &["access", "set", "mfa=publish", "@acme/core", &otp_flag],
                &[],
            )
            .await,
    );

    let dir = bot.package("core2", "@acme/core", "1.4.0");
    assert_fails_with(
        &bot.run_in(&dir, &["publish"], &[]).await,
        "disallows tokens",
    );

    // A person can still publish interactively with 2FA.
    let dir = owner.package("core3", "@acme/core", "1.4.0");
    assert_fails_with(&owner.run_in(&dir, &["publish"], &[]).await, "EOTP");
    let otp_flag = format!("--otp={}", otp(&sb, "alice"));
    assert_ok(&owner.run_in(&dir, &["publish", &otp_flag], &[]).await);

    // And `npm install` of what was published works.
    let fresh = Npm::new(&sb, None);
    std::fs::write(
        fresh.work().join("package.json"),
        r#"{"name":"consumer","version":"1.0.0"}"#,
    )
    .unwrap_or_default();
    assert_ok(&fresh.run(&["install", "@acme/core@1.4.0"], &[]).await);
    assert!(
        fresh
            .work()
            .join("node_modules/@acme/core/index.js")
            .exists()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_create_list_revoke_through_the_otp_challenge() {
    let sb = start(Scenario::Legacy).await;
    let info = sb.info();
    let project = &info.circleci.projects[0];
    let context = &info.circleci.contexts[0];
    let owner = Npm::new(&sb, Some(&session(&sb, "alice")));
    let org_id = format!("--org-id={}", info.circleci.org_id);
    let project_id = format!("--project-id={}", project.id);
    let def_id = format!(
        "--pipeline-definition-id={}",
        project.pipeline_definition_id
    );
    let origin = format!("--vcs-origin={}", project.vcs_origin);
    let ctx = format!("--context-id={}", context.id);
    let base = [
        "trust",
        "circleci",
        "@acme/utils",
        &org_id,
        &project_id,
        &def_id,
        &origin,
        &ctx,
        "--allow-publish",
        "--yes",
    ];

    assert_fails_with(&owner.run(&base, &[]).await, "EOTP");
    let otp_flag = format!("--otp={}", otp(&sb, "alice"));
    let mut with_otp = base.to_vec();
    with_otp.push(&otp_flag);
    assert_ok(&owner.run(&with_otp, &[]).await);

    // The same publisher twice is refused; a second, stage-only publisher is added beside
    // it (several per package since 2026-09-03).
    assert_fails_with(
        &owner.run(&with_otp, &[]).await,
        "already has this trusted publisher",
    );
    let stage_only: Vec<&str> = with_otp
        .iter()
        .map(|a| {
            if *a == "--allow-publish" {
                "--allow-stage-publish"
            } else {
                *a
            }
        })
        .collect();
    assert_ok(&owner.run(&stage_only, &[]).await);

    let out = owner
        .run(&["trust", "list", "@acme/utils", "--json"], &[])
        .await;
    assert_ok(&out);
    let listed = stdout(&out);
    assert!(listed.contains("circleci"), "{listed}");

    // The id comes from the registry API (the CLI redacts UUIDs in human output).
    let (status, configs) = get_json(
        &format!("{}-/package/@acme%2futils/trust", sb.url()),
        Some(&session(&sb, "alice")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(configs.as_array().map(Vec::len), Some(2), "{configs}");
    assert_eq!(
        configs[0]["permissions"],
        serde_json::json!(["createPackage"])
    );
    assert_eq!(
        configs[1]["permissions"],
        serde_json::json!(["createStagedPackage"])
    );
    let id = configs[0]["id"].as_str().unwrap_or_default().to_owned();
    let stage_id = configs[1]["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        configs[0]["claims"]["oidc.circleci.com/context-ids"][0],
        context.id.as_str()
    );

    let id_flag = format!("--id={id}");
    assert_fails_with(
        &owner
            .run(&["trust", "revoke", "@acme/utils", &id_flag], &[])
            .await,
        "EOTP",
    );
    let otp_flag = format!("--otp={}", otp(&sb, "alice"));
    assert_ok(
        &owner
            .run(
                &["trust", "revoke", "@acme/utils", &id_flag, &otp_flag],
                &[],
            )
            .await,
    );
    // Revoking by id removes that config only.
    let (_, configs) = get_json(
        &format!("{}-/package/@acme%2futils/trust", sb.url()),
        Some(&session(&sb, "alice")),
    )
    .await;
    assert_eq!(configs.as_array().map(Vec::len), Some(1), "{configs}");
    assert_eq!(configs[0]["id"], stage_id.as_str());

    // A bypass-2FA token cannot change trust, even with an OTP (August 2026 policy).
    let temp = Npm::new(&sb, Some(&granular(&sb, "tmp-bulk-hardening")));
    let otp_flag = format!("--otp={}", otp(&sb, "alice"));
    let mut with_otp = base.to_vec();
    with_otp.push(&otp_flag);
    assert_fails_with(&temp.run(&with_otp, &[]).await, "bypass 2FA cannot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_list_and_revoke() {
    let sb = start(Scenario::Legacy).await;
    let bob = Npm::new(&sb, Some(&session(&sb, "bob")));
    let out = bob.run(&["token", "list"], &[]).await;
    assert_ok(&out);
    let key = sb
        .info()
        .token("laptop-read")
        .map(|t| t.key.clone())
        .unwrap_or_default();
    assert!(stdout(&out).contains(&key[..6]), "{}", text(&out));

    assert_fails_with(&bob.run(&["token", "revoke", &key[..8]], &[]).await, "EOTP");
    let otp_flag = format!("--otp={}", otp(&sb, "bob"));
    assert_ok(
        &bob.run(&["token", "revoke", &key[..8], &otp_flag], &[])
            .await,
    );
    assert!(sb.info().token("laptop-read").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn org_team_and_access_listings() {
    let sb = start(Scenario::Legacy).await;
    let owner = Npm::new(&sb, Some(&session(&sb, "alice")));
    let out = owner.run(&["org", "ls", "acme", "--json"], &[]).await;
    assert_ok(&out);
    let roster: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap_or_default();
    assert_eq!(roster["alice"], "owner");
    assert_eq!(roster["acme-ci-bot"], "developer");

    let out = owner.run(&["team", "ls", "@acme"], &[]).await;
    assert_ok(&out);
    assert!(stdout(&out).contains("acme:developers"), "{}", text(&out));

    let out = owner.run(&["team", "ls", "@acme:developers"], &[]).await;
    assert_ok(&out);
    assert!(stdout(&out).contains("bob"), "{}", text(&out));

    let out = owner
        .run(&["access", "list", "packages", "@acme", "--json"], &[])
        .await;
    assert_ok(&out);
    let pkgs: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap_or_default();
    assert_eq!(pkgs["@acme/core"], "read-write");
    assert!(pkgs.as_object().is_some_and(|o| o.len() >= 12));
}
