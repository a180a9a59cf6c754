//! The installed npm CLI (11.19.1) against the sandbox as npm runs in late 2026: staged
//! publishing from OIDC and from a session (`npm stage publish|list|view|approve|reject`), two
//! trusted publishers on one package (one stage-only), `npm dist-tag`, `npm deprecate`,
//! `npm unpublish` and `npm token create`. Every check reads the registry's state back (the
//! packument, the stage list, `/-/sandbox/info`), not only npm's exit code.

mod ci_env;
mod common;

use ci_env::{Job, assert_trusted, job_env, npm_user, trust, trust_ids};
use common::*;
use serde_json::{Value, json};
use tokenless_sandbox::{SandboxHandle, Scenario};

fn scenario() -> String {
    json!({
        "org": "acme",
        "users": [{"name": "alice", "role": "owner"}, {"name": "bob", "role": "developer"}],
        "packages": [
            // Two trusted publishers for the same CircleCI job: the first may publish, the
            // second only stage (what npm creates by default since 2026-09-03).
            {"name": "@acme/core", "trust": [
                trust(Job::CircleCi, &["createPackage"]),
                trust(Job::CircleCi, &["createStagedPackage"]),
            ]},
            {"name": "@acme/web", "trust": trust(Job::GitHub, &["createPackage", "createStagedPackage"])},
            {"name": "@acme/lab", "trust": trust(Job::GitLab, &["createPackage", "createStagedPackage"])},
            {"name": "@acme/staged", "trust": trust(Job::CircleCi, &["createStagedPackage"])},
        ],
        "circleci": ci_env::circleci_scenario(),
    })
    .to_string()
}

async fn sandbox() -> SandboxHandle {
    start(Scenario::Inline(scenario())).await
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// `npm <cmd> --loglevel=verbose` of a fresh `name@version` from `ci`'s publish job (no npm
/// token configured: only OIDC can authenticate it).
async fn from_ci(
    sb: &SandboxHandle,
    ci: Job,
    cmd: &[&str],
    name: &str,
    version: &str,
) -> std::process::Output {
    let npm = Npm::new(sb, None);
    let dir = npm.package("pkg", name, version);
    let env = job_env(sb, ci).await;
    let mut args = cmd.to_vec();
    args.push("--loglevel=verbose");
    npm.run_in(&dir, &args, &pairs(&env)).await
}

/// The stage id npm prints: `+ <name>@<version> (staged with id <uuid>)`.
#[track_caller]
fn staged_id(o: &std::process::Output) -> String {
    let out = stdout(o);
    let Some(rest) = out.split("staged with id ").nth(1) else {
        panic!("no stage id in:\n{}", text(o));
    };
    let id: String = rest
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == '-')
        .collect();
    assert_eq!(id.len(), 36, "not a UUID: {id:?}\n{}", text(o));
    id
}

async fn packument(sb: &SandboxHandle, name: &str) -> (u16, Value) {
    get_json(&format!("{}{}", sb.url(), name.replace('/', "%2f")), None).await
}

fn otp_flag(sb: &SandboxHandle, user: &str) -> String {
    format!("--otp={}", otp(sb, user))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_trust_configs_publish_records_the_publishing_one_and_stage_the_stage_only_one() {
    let sb = sandbox().await;
    let alice = session(&sb, "alice");
    let ids = trust_ids(&sb, "@acme/core", &alice).await;
    assert_eq!(ids.len(), 2, "{ids:?}");
    let (publish_id, stage_id) = (&ids[0], &ids[1]);

    // `npm publish` through OIDC: the config that allows createPackage is recorded.
    let out = from_ci(&sb, Job::CircleCi, &["publish"], "@acme/core", "2.0.0").await;
    assert_ok(&out);
    assert!(
        text(&out).contains("Successfully retrieved and set token"),
        "{}",
        text(&out)
    );
    assert_trusted(
        &npm_user(&sb, "@acme/core", "2.0.0").await,
        Job::CircleCi,
        publish_id,
    );

    // `npm stage publish` from the same job: the stage-only config is recorded, and it
    // survives approval by a person.
    let out = from_ci(
        &sb,
        Job::CircleCi,
        &["stage", "publish"],
        "@acme/core",
        "2.1.0",
    )
    .await;
    assert_ok(&out);
    let id = staged_id(&out);
    let (_, doc) = packument(&sb, "@acme/core").await;
    assert!(
        doc["versions"]["2.1.0"].is_null(),
        "staged is not published"
    );
    let owner = Npm::new(&sb, Some(&alice));
    let out = owner
        .run(&["stage", "approve", &id, &otp_flag(&sb, "alice")], &[])
        .await;
    assert_ok(&out);
    let user = npm_user(&sb, "@acme/core", "2.1.0").await;
    assert_trusted(&user, Job::CircleCi, stage_id);
    assert_eq!(user["approvedBy"], "alice", "{user}");

    // A package whose only publisher is stage-only: the exchange succeeds, the direct
    // publish is refused, the stage is accepted.
    let out = from_ci(&sb, Job::CircleCi, &["publish"], "@acme/staged", "2.0.0").await;
    assert_fails_with(&out, "allows createPackage");
    assert!(
        text(&out).contains("Successfully retrieved and set token"),
        "{}",
        text(&out)
    );
    let out = from_ci(
        &sb,
        Job::CircleCi,
        &["stage", "publish"],
        "@acme/staged",
        "2.0.0",
    )
    .await;
    assert_ok(&out);
    staged_id(&out);
    let (_, doc) = packument(&sb, "@acme/staged").await;
    assert!(doc["versions"]["2.0.0"].is_null(), "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_from_github_and_gitlab_then_list_view_approve_and_reject() {
    let sb = sandbox().await;
    let alice = session(&sb, "alice");
    let web_config = trust_ids(&sb, "@acme/web", &alice).await;
    let lab_config = trust_ids(&sb, "@acme/lab", &alice).await;

    // GitHub: npm requests the id token itself through ACTIONS_ID_TOKEN_REQUEST_URL.
    let out = from_ci(
        &sb,
        Job::GitHub,
        &["stage", "publish"],
        "@acme/web",
        "2.0.0",
    )
    .await;
    assert_ok(&out);
    let web = staged_id(&out);
    // GitLab: the pipeline hands over NPM_ID_TOKEN.
    let out = from_ci(
        &sb,
        Job::GitLab,
        &["stage", "publish"],
        "@acme/lab",
        "2.0.0",
    )
    .await;
    assert_ok(&out);
    let lab = staged_id(&out);

    let owner = Npm::new(&sb, Some(&alice));
    // `npm stage list` (human output) pages through `{items, total}`.
    let out = owner.run(&["stage", "list"], &[]).await;
    assert_ok(&out);
    let listed = stdout(&out);
    for want in [
        web.as_str(),
        lab.as_str(),
        "package name: @acme/web",
        "staged by: GitHub Actions (oidc)",
        "staged by: GitLab CI/CD (oidc)",
    ] {
        assert!(listed.contains(want), "{want:?} missing in:\n{listed}");
    }
    // `--json`: exactly the fields npm reads.
    let out = owner.run(&["stage", "list", "--json"], &[]).await;
    assert_ok(&out);
    let items: Value = serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("stage list --json: {e}\n{}", text(&out)));
    let items = items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"));
    assert_eq!(items.len(), 2, "{items:?}");
    let web_item = items
        .iter()
        .find(|i| i["id"] == web.as_str())
        .unwrap_or_else(|| panic!("{web} not listed: {items:?}"));
    common::assert_stage_item_fields(web_item);
    assert_eq!(web_item["packageName"], "@acme/web");
    assert_eq!(web_item["version"], "2.0.0");
    assert_eq!(web_item["tag"], "latest");
    assert_eq!(web_item["actorType"], "oidc");
    // Filtered by package.
    let out = owner
        .run(&["stage", "list", "@acme/lab", "--json"], &[])
        .await;
    assert_ok(&out);
    let only: Value = serde_json::from_str(&stdout(&out)).unwrap_or(Value::Null);
    assert_eq!(only.as_array().map(Vec::len), Some(1), "{only}");
    assert_eq!(only[0]["id"], lab.as_str());

    // `npm stage view <id>`.
    let out = owner.run(&["stage", "view", &lab], &[]).await;
    assert_ok(&out);
    for want in [
        format!("id: {lab}"),
        "package name: @acme/lab".into(),
        "version: 2.0.0".into(),
        "tag: latest".into(),
        "staged by: GitLab CI/CD (oidc)".into(),
    ] {
        assert!(stdout(&out).contains(&want), "{want:?}:\n{}", text(&out));
    }

    // Approval needs the second factor (npm's otplease: EOTP without a terminal).
    assert_fails_with(&owner.run(&["stage", "approve", &lab], &[]).await, "EOTP");
    let out = owner
        .run(&["stage", "approve", &lab, &otp_flag(&sb, "alice")], &[])
        .await;
    assert_ok(&out);
    assert!(
        stdout(&out).contains("approved and published"),
        "{}",
        text(&out)
    );
    let user = npm_user(&sb, "@acme/lab", "2.0.0").await;
    assert_trusted(&user, Job::GitLab, &lab_config[0]);
    assert_eq!(user["approvedBy"], "alice", "{user}");

    // Reject: the stage is gone and nothing was published.
    assert_fails_with(&owner.run(&["stage", "reject", &web], &[]).await, "EOTP");
    assert_ok(
        &owner
            .run(&["stage", "reject", &web, &otp_flag(&sb, "alice")], &[])
            .await,
    );
    let (_, doc) = packument(&sb, "@acme/web").await;
    assert!(doc["versions"]["2.0.0"].is_null(), "{doc}");
    let out = owner.run(&["stage", "list", "--json"], &[]).await;
    assert_ok(&out);
    let rest: Value = serde_json::from_str(&stdout(&out)).unwrap_or(Value::Null);
    assert_eq!(rest, json!([]), "{}", text(&out));
    assert_fails_with(&owner.run(&["stage", "view", &web], &[]).await, "404");

    // The rejected version can be staged again and then published through GitHub's config.
    let out = from_ci(&sb, Job::GitHub, &["publish"], "@acme/web", "2.0.0").await;
    assert_ok(&out);
    assert_trusted(
        &npm_user(&sb, "@acme/web", "2.0.0").await,
        Job::GitHub,
        &web_config[0],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_publish_from_a_session_needs_no_otp_and_approval_does() {
    let sb = sandbox().await;
    let alice = session(&sb, "alice");
    let owner = Npm::new(&sb, Some(&alice));
    let dir = owner.package("core", "@acme/core", "3.0.0");
    // No --otp: npm stage publish skips otplease, the registry defers 2FA to approval.
    let out = owner.run_in(&dir, &["stage", "publish"], &[]).await;
    assert_ok(&out);
    let id = staged_id(&out);

    let out = owner.run(&["stage", "view", &id, "--json"], &[]).await;
    assert_ok(&out);
    let view: Value = serde_json::from_str(&stdout(&out)).unwrap_or(Value::Null);
    assert_eq!(view["actor"], "alice", "{view}");
    assert_eq!(view["actorType"], "user", "{view}");
    assert_eq!(view["packageName"], "@acme/core", "{view}");

    // A developer who cannot write the package sees nothing to approve... (bob is a member
    // without a team grant on @acme/core.)
    let bob = Npm::new(&sb, Some(&session(&sb, "bob")));
    let out = bob.run(&["stage", "list", "--json"], &[]).await;
    assert_ok(&out);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout(&out)).unwrap_or(Value::Null),
        json!([]),
        "{}",
        text(&out)
    );

    let out = owner
        .run(&["stage", "approve", &id, &otp_flag(&sb, "alice")], &[])
        .await;
    assert_ok(&out);
    let user = npm_user(&sb, "@acme/core", "3.0.0").await;
    assert_eq!(user["name"], "alice", "{user}");
    assert_eq!(user["approvedBy"], "alice", "{user}");
    assert!(user["trustedPublisher"].is_null(), "{user}");
    let (_, doc) = packument(&sb, "@acme/core").await;
    assert_eq!(doc["dist-tags"]["latest"], "3.0.0", "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dist_tag_add_ls_rm_and_deprecate_undeprecate() {
    let sb = sandbox().await;
    let owner = Npm::new(&sb, Some(&session(&sb, "alice")));

    // add: 2FA-guarded.
    assert_fails_with(
        &owner
            .run(&["dist-tag", "add", "@acme/core@1.0.0", "beta"], &[])
            .await,
        "EOTP",
    );
    let out = owner
        .run(
            &[
                "dist-tag",
                "add",
                "@acme/core@1.0.0",
                "beta",
                &otp_flag(&sb, "alice"),
            ],
            &[],
        )
        .await;
    assert_ok(&out);
    assert_eq!(stdout(&out).trim(), "+beta: @acme/core@1.0.0");
    let (_, doc) = packument(&sb, "@acme/core").await;
    assert_eq!(
        doc["dist-tags"],
        json!({"latest": "1.0.0", "beta": "1.0.0"})
    );

    // ls (no 2FA for reads).
    let out = owner.run(&["dist-tag", "ls", "@acme/core"], &[]).await;
    assert_ok(&out);
    assert_eq!(
        stdout(&out),
        "beta: 1.0.0\nlatest: 1.0.0\n",
        "{}",
        text(&out)
    );

    // A version that does not exist: npm checks the packument itself.
    assert_fails_with(
        &owner
            .run(
                &[
                    "dist-tag",
                    "add",
                    "@acme/core@9.9.9",
                    "beta",
                    &otp_flag(&sb, "alice"),
                ],
                &[],
            )
            .await,
        "9.9.9",
    );

    // rm.
    let out = owner
        .run(
            &[
                "dist-tag",
                "rm",
                "@acme/core",
                "beta",
                &otp_flag(&sb, "alice"),
            ],
            &[],
        )
        .await;
    assert_ok(&out);
    assert_eq!(stdout(&out).trim(), "-beta: @acme/core@1.0.0");
    let (_, doc) = packument(&sb, "@acme/core").await;
    assert_eq!(doc["dist-tags"], json!({"latest": "1.0.0"}));

    // deprecate, then undeprecate with ''.
    assert_fails_with(
        &owner
            .run(&["deprecate", "@acme/core@1.0.0", "use 2.x"], &[])
            .await,
        "EOTP",
    );
    assert_ok(
        &owner
            .run(
                &[
                    "deprecate",
                    "@acme/core@1.0.0",
                    "use 2.x",
                    &otp_flag(&sb, "alice"),
                ],
                &[],
            )
            .await,
    );
    let (_, doc) = packument(&sb, "@acme/core").await;
    assert_eq!(doc["versions"]["1.0.0"]["deprecated"], "use 2.x");
    let out = owner
        .run(&["view", "@acme/core@1.0.0", "deprecated"], &[])
        .await;
    assert_ok(&out);
    assert_eq!(stdout(&out).trim(), "use 2.x");
    assert_ok(
        &owner
            .run(
                &["deprecate", "@acme/core@1.0.0", "", &otp_flag(&sb, "alice")],
                &[],
            )
            .await,
    );
    let (_, doc) = packument(&sb, "@acme/core").await;
    assert!(doc["versions"]["1.0.0"]["deprecated"].is_null(), "{doc}");
    // Nothing else of the version changed.
    assert_eq!(doc["versions"]["1.0.0"]["version"], "1.0.0");
    assert!(doc["versions"]["1.0.0"]["dist"]["integrity"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpublish_a_version_then_the_whole_package() {
    let sb = sandbox().await;
    let owner = Npm::new(&sb, Some(&session(&sb, "alice")));
    for v in ["1.0.0", "1.1.0"] {
        let dir = owner.package(&format!("tmp-{v}"), "@acme/tmp", v);
        assert_ok(
            &owner
                .run_in(&dir, &["publish", &otp_flag(&sb, "alice")], &[])
                .await,
        );
    }
    let tarball = format!("{}@acme/tmp/-/tmp-1.1.0.tgz", sb.url());
    assert_eq!(
        client()
            .get(&tarball)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0),
        200
    );

    // One version: really removed (packument, tarball, latest moves back).
    assert_fails_with(
        &owner.run(&["unpublish", "@acme/tmp@1.1.0"], &[]).await,
        "EOTP",
    );
    let out = owner
        .run(
            &["unpublish", "@acme/tmp@1.1.0", &otp_flag(&sb, "alice")],
            &[],
        )
        .await;
    assert_ok(&out);
    assert!(stdout(&out).contains("- @acme/tmp@1.1.0"), "{}", text(&out));
    let (_, doc) = packument(&sb, "@acme/tmp").await;
    assert!(doc["versions"]["1.1.0"].is_null(), "{doc}");
    assert!(doc["time"]["1.1.0"].is_null(), "{doc}");
    assert_eq!(doc["dist-tags"], json!({"latest": "1.0.0"}));
    assert_eq!(
        client()
            .get(&tarball)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0),
        404
    );

    // A name@version is never reused.
    let dir = owner.package("again", "@acme/tmp", "1.1.0");
    assert_fails_with(
        &owner
            .run_in(&dir, &["publish", &otp_flag(&sb, "alice")], &[])
            .await,
        "cannot publish over the previously published versions: 1.1.0",
    );

    // The whole package: npm itself wants --force.
    assert_fails_with(
        &owner
            .run(&["unpublish", "@acme/tmp", &otp_flag(&sb, "alice")], &[])
            .await,
        "--force",
    );
    let out = owner
        .run(
            &["unpublish", "@acme/tmp", "--force", &otp_flag(&sb, "alice")],
            &[],
        )
        .await;
    assert_ok(&out);
    let (status, _) = packument(&sb, "@acme/tmp").await;
    assert_eq!(status, 404);

    // Outside the window (the scenario's 1.0.0 is a week old): refused, nothing removed.
    let out = owner
        .run(
            &[
                "unpublish",
                "@acme/core@1.0.0",
                "--force",
                &otp_flag(&sb, "alice"),
            ],
            &[],
        )
        .await;
    assert_fails_with(&out, "72 hours");
    let (_, doc) = packument(&sb, "@acme/core").await;
    assert_eq!(doc["versions"]["1.0.0"]["version"], "1.0.0", "{doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_create_needs_the_password() {
    let sb = sandbox().await;
    let owner = Npm::new(&sb, Some(&session(&sb, "alice")));
    let password = sb
        .info()
        .user("alice")
        .map(|u| u.password.clone())
        .unwrap_or_default();
    let count = || sb.info().tokens.len();
    let before = count();
    let base = [
        "token",
        "create",
        "--name=release",
        "--packages=@acme/core",
        "--packages-and-scopes-permission=read-write",
        "--expires=30",
        "--json",
    ];
    let with = |extra: &[String]| -> Vec<String> {
        base.iter()
            .map(|s| (*s).to_owned())
            .chain(extra.iter().cloned())
            .collect()
    };
    let run = |args: Vec<String>| {
        let owner = &owner;
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            owner.run(&args, &[]).await
        }
    };

    // Without --password npm asks for it on the terminal; without one it cannot, and no
    // request is made.
    let out = run(with(&[otp_flag(&sb, "alice")])).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(count(), before);
    // The registry refuses a body without a password (what any other client could send).
    let (status, body) = send_json(
        reqwest::Method::POST,
        &format!("{}-/npm/v1/tokens", sb.url()),
        Some(&session(&sb, "alice")),
        Some(&otp(&sb, "alice")),
        &json!({"name": "x", "packages": ["@acme/core"], "packages_and_scopes_permission": "read-write"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or_default()
            .contains("password"),
        "{body}"
    );
    // A wrong password is a 401.
    let out = run(with(&[
        "--password=not-her-password".into(),
        otp_flag(&sb, "alice"),
    ]))
    .await;
    assert_fails_with(&out, "Invalid password");
    assert_eq!(count(), before);
    // The password without the second factor: EOTP.
    let out = run(with(&[format!("--password={password}")])).await;
    assert_fails_with(&out, "EOTP");
    assert_eq!(count(), before);

    // Password and OTP: created as asked.
    let out = run(with(&[
        format!("--password={password}"),
        otp_flag(&sb, "alice"),
    ]))
    .await;
    assert!(
        out.status.success(),
        "npm token create failed (status {:?})",
        out.status.code()
    );
    let created: Value = serde_json::from_str(&stdout(&out)).unwrap_or(Value::Null);
    assert_eq!(created["name"], "release");
    assert_eq!(created["packages"], json!(["@acme/core"]));
    assert_eq!(created["packages_and_scopes_permission"], "read-write");
    assert_eq!(created["readonly"], false);
    assert_eq!(count(), before + 1);
    let info = sb.info();
    let token = info
        .token("release")
        .unwrap_or_else(|| panic!("no token named release in {info:?}"));
    assert_eq!(token.owner, "alice");
    assert!(!token.bypass_2fa);
    // It works for what it selects: `npm whoami` through it.
    let bot = Npm::new(&sb, Some(&token.token));
    let out = bot.run(&["whoami"], &[]).await;
    assert_ok(&out);
    assert_eq!(stdout(&out).trim(), "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_list_pages_past_100_and_download_fetches_the_staged_tarball() {
    let sb = sandbox().await;
    let alice = session(&sb, "alice");
    let owner = Npm::new(&sb, Some(&alice));
    let dir = owner.package("core", "@acme/core", "5.1.0");
    let out = owner.run_in(&dir, &["stage", "publish"], &[]).await;
    assert_ok(&out);
    let id = staged_id(&out);
    // 100 more over HTTP: npm asks for perPage=100 and must fetch a second page.
    for i in 0..100 {
        let version = format!("5.0.{i}");
        let (status, body) = send_json(
            reqwest::Method::POST,
            &format!("{}-/stage/package/@acme%2fcore", sb.url()),
            Some(&alice),
            None,
            &publish_body("@acme/core", &version, version.as_bytes()),
        )
        .await;
        assert_eq!(status, 201, "{version}: {body}");
    }
    for args in [
        &["stage", "list", "--json"][..],
        &["stage", "list", "@acme/core", "--json"],
    ] {
        let out = owner.run(args, &[]).await;
        assert_ok(&out);
        let items: Value = serde_json::from_str(&stdout(&out)).unwrap_or(Value::Null);
        let items = items.as_array().cloned().unwrap_or_default();
        assert_eq!(items.len(), 101, "{args:?}");
        let mut ids: Vec<&str> = items.iter().filter_map(|i| i["id"].as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 101, "{args:?}: a stage listed twice");
    }
    let out = owner.run(&["stage", "list"], &[]).await;
    assert_ok(&out);
    assert_eq!(stdout(&out).matches("\nid: ").count() + 1, 101);

    // `npm stage download <id>` writes the staged tarball, byte for byte what was staged.
    let out = owner.run(&["stage", "view", &id, "--json"], &[]).await;
    let view: Value = serde_json::from_str(&stdout(&out)).unwrap_or(Value::Null);
    let out = owner.run(&["stage", "download", &id], &[]).await;
    assert_ok(&out);
    let file = format!("acme-core-5.1.0-{id}.tgz");
    assert!(stdout(&out).contains(&file), "{}", text(&out));
    let bytes = std::fs::read(owner.work().join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let sha1 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, &bytes);
    let hex: String = sha1.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(view["shasum"], hex.as_str(), "{view}");
    assert!(text(&out).contains("package.json"), "{}", text(&out));
}
