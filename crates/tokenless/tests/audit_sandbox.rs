//! `tokenless audit` against the real sandbox over loopback HTTP, as a real org's owner runs
//! it: her own npm session, a CircleCI personal token, GitHub and GitLab tokens, nothing
//! more. `legacy` fails every box npm lets her see; `migrated` is unknown exactly where npm
//! shows an owner nothing (publishing access, other members' tokens) until `apply` has
//! written its record and each member has run `tokens attest`; then all nine pass, and
//! breaking one thing at a time through the providers' APIs (as a user would) fails
//! exactly the box it should. The record and the attestations come from running the
//! commands, never from fixture files.

mod sarif_schema;

use std::{collections::BTreeMap, future::Future, path::PathBuf, pin::Pin};

use serde_json::Value;
use tokenless_api::{
    CircleCiClient, ClientOptions, GitHubClient, NpmClient, Secret,
    npm::{Challenge, NewToken, OtpSource, TrustConfig},
};
use tokenless_sandbox::{Sandbox, SandboxHandle, SandboxInfo, SandboxOptions, Scenario};

const ALL: [&str; 9] = [
    "trusted-publisher",
    "context-bound",
    "oidc-publish-job",
    "release-verified",
    "no-static-tokens",
    "no-service-accounts",
    "disallow-tokens",
    "read-only-teams",
    "temp-token-deleted",
];

fn config_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/sandbox/tokenless.toml")
}

async fn start(scenario: Scenario) -> SandboxHandle {
    Sandbox::start(SandboxOptions {
        scenario,
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox starts")
}

/// Run the audit binary in one format; returns (exit code, stdout).
async fn audit_as(sandbox: &SandboxHandle, format: &str) -> (i32, String) {
    audit_with(sandbox, format, &[], None).await
}

/// `tokenless ARGS`; (exit code, stdout, stderr).
async fn tokenless(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = assert_cmd::Command::cargo_bin("tokenless")
            .expect("binary")
            .args(&args)
            .env("NO_COLOR", "1")
            .output()
            .expect("runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("joins")
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// A migrated org after its owner ran `apply` (which writes the record beside the config)
/// and every other member ran `tokens attest` into one directory.
struct Org {
    sandbox: SandboxHandle,
    dir: tempfile::TempDir,
}

impl Org {
    fn config(&self) -> PathBuf {
        self.dir.path().join("tokenless.toml")
    }

    fn attestations(&self) -> PathBuf {
        self.dir.path().join("attestations")
    }

    /// `tokens attest` as `user`, into the attestations directory.
    async fn attest(&self, user: &str) {
        let out = self.attestations().join(format!("{user}.json"));
        let (code, _, stderr) = tokenless(vec![
            "tokens".into(),
            "attest".into(),
            "--sandbox".into(),
            self.sandbox.url().to_string(),
            "--as".into(),
            user.into(),
            "--out".into(),
            out.display().to_string(),
            "--force".into(),
        ])
        .await;
        assert_eq!(code, 0, "attest as {user}: {stderr}");
    }

    /// The owner's audit with the record and the attestations; (exit code, stdout).
    async fn audit(&self, format: &str, extra: &[&str]) -> (i32, String) {
        let mut args = strings(&["audit", "--sandbox", self.sandbox.url(), "--format", format]);
        args.extend(["--config".into(), self.config().display().to_string()]);
        args.extend([
            "--attestations".into(),
            self.attestations().display().to_string(),
        ]);
        args.extend(strings(extra));
        let (code, stdout, stderr) = tokenless(args).await;
        assert!(code != 2, "{stderr}");
        (code, stdout)
    }

    async fn report(&self) -> (i32, Value) {
        let (code, stdout) = self.audit("json", &[]).await;
        let report = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
        (code, report)
    }
}

/// The `migrated` org, taken through `init`, `apply` and the members' attestations.
async fn passing_org() -> Org {
    let sandbox = start(Scenario::Migrated).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let org = Org { sandbox, dir };
    let url = org.sandbox.url().to_string();
    let (code, _, stderr) = tokenless(vec![
        "init".into(),
        "--sandbox".into(),
        url.clone(),
        "-o".into(),
        org.config().display().to_string(),
    ])
    .await;
    assert_eq!(code, 0, "init: {stderr}");
    let otp = format!(
        "'{}' sandbox otp --url {url} alice",
        env!("CARGO_BIN_EXE_tokenless")
    );
    let (code, _, stderr) = tokenless(vec![
        "apply".into(),
        "-c".into(),
        org.config().display().to_string(),
        "--sandbox".into(),
        url,
        "--yes".into(),
        "--otp-command".into(),
        otp,
    ])
    .await;
    assert_eq!(code, 0, "apply: {stderr}");
    assert!(org.dir.path().join(".tokenless/record.json").is_file());
    std::fs::create_dir_all(org.attestations()).expect("dir");
    org.attest("bob").await;
    org
}

/// … with extra arguments and one extra environment variable.
async fn audit_with(
    sandbox: &SandboxHandle,
    format: &str,
    extra: &[&str],
    env: Option<(&str, &str)>,
) -> (i32, String) {
    let url = sandbox.url().to_string();
    let format = format.to_string();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let env = env.map(|(k, v)| (k.to_string(), v.to_string()));
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = assert_cmd::Command::cargo_bin("tokenless").expect("binary");
        cmd.args(["audit", "--sandbox", &url, "--format", &format, "--config"])
            .arg(config_path())
            .args(&extra)
            .env_remove("NO_COLOR");
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        cmd.output().expect("runs")
    })
    .await
    .expect("joins");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.stderr.is_empty() || out.status.code() != Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), stdout)
}

/// Run the audit binary; returns (exit code, JSON report).
async fn audit(sandbox: &SandboxHandle) -> (i32, Value) {
    let (code, stdout) = audit_as(sandbox, "json").await;
    let report: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    (code, report)
}

fn statuses(report: &Value) -> BTreeMap<String, String> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or("").to_string(),
                c["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn not_passing(report: &Value) -> Vec<String> {
    statuses(report)
        .into_iter()
        .filter(|(_, s)| s != "pass")
        .map(|(id, s)| format!("{id}={s}"))
        .collect()
}

fn evidence(report: &Value, id: &str) -> String {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["id"] == id)
        .flat_map(|c| c["evidence"].as_array().cloned().unwrap_or_default())
        .map(|e| {
            format!(
                "{} | {}\n",
                e["source"].as_str().unwrap_or(""),
                e["detail"].as_str().unwrap_or("")
            )
        })
        .collect()
}

/// Codes from a sandbox user's authenticator secret.
struct Totp(String);

impl OtpSource for Totp {
    fn code<'a>(
        &'a self,
        _challenge: &'a Challenge,
    ) -> Pin<Box<dyn Future<Output = Option<String>> + Send + 'a>> {
        let code = tokenless_sandbox::totp::current_code(&self.0).ok();
        Box::pin(async move { code })
    }
}

struct Actor {
    npm: NpmClient,
    otp: Totp,
    password: String,
}

fn actor(info: &SandboxInfo, name: &str) -> Actor {
    let user = info.users.iter().find(|u| u.name == name).expect("user");
    Actor {
        npm: NpmClient::new(
            &info.registry,
            Some(Secret::new(user.token.as_str())),
            ClientOptions::default(),
        )
        .expect("client"),
        otp: Totp(user.totp_secret.clone()),
        password: user.password.clone(),
    }
}

fn circleci(info: &SandboxInfo) -> CircleCiClient {
    CircleCiClient::new(
        &info.circleci_api,
        Some(Secret::new(info.circleci.token.as_str())),
        ClientOptions::default(),
    )
    .expect("client")
}

fn github(info: &SandboxInfo) -> GitHubClient {
    let gh = info.github.as_ref().expect("the scenario has GitHub");
    GitHubClient::new(
        &gh.api,
        Some(Secret::new(gh.token.as_str())),
        ClientOptions::default(),
    )
    .expect("client")
}

fn gitlab_token(info: &SandboxInfo) -> (String, String) {
    let gl = info.gitlab.as_ref().expect("the scenario has GitLab");
    (gl.api.clone(), gl.token.clone())
}

/// `tokenless sandbox ci release --url URL PACKAGE VERSION --client npm`: the package's CI
/// job, publishing through trusted publishing with the real npm CLI.
async fn ci_release(url: &str, package: &str, version: &str) -> std::process::Output {
    let list = strings(&[
        "sandbox", "ci", "release", "--url", url, package, version, "--client", "npm",
    ]);
    tokio::task::spawn_blocking(move || {
        assert_cmd::Command::cargo_bin("tokenless")
            .expect("binary")
            .args(&list)
            .output()
            .expect("runs")
    })
    .await
    .expect("joins")
}

fn first_package(info: &SandboxInfo) -> String {
    format!("{}/core", info.scope)
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_fails_every_box_the_owner_can_see() {
    let sandbox = start(Scenario::Legacy).await;
    let (code, report) = audit(&sandbox).await;
    assert_eq!(code, 1);
    assert_eq!(report["passed"], false);
    let st = statuses(&report);
    for id in ALL {
        // npm shows nobody publishing access: without tokenless's record it is unknown.
        let want = if id == "disallow-tokens" {
            "unknown"
        } else {
            "fail"
        };
        assert_eq!(
            st.get(id).map(String::as_str),
            Some(want),
            "{id}: {}",
            evidence(&report, id)
        );
    }
    assert!(evidence(&report, "trusted-publisher").contains("@acme/core has no trusted publisher"));
    assert!(
        evidence(&report, "context-bound").contains("no package of @acme has a trusted publisher")
    );
    assert!(evidence(&report, "oidc-publish-job").contains("has the variable NPM_TOKEN"));
    let tokens = evidence(&report, "no-static-tokens");
    assert!(
        tokens.contains("alice holds token `tmp-bulk-hardening`"),
        "{tokens}"
    );
    // The other members' tokens are theirs to state.
    for member in ["bob", "acme-ci-bot"] {
        assert!(
            tokens.contains(&format!("{member} runs `tokenless tokens attest")),
            "{tokens}"
        );
    }
    assert!(
        evidence(&report, "no-service-accounts")
            .contains("acme-ci-bot (role developer) is a service account")
    );
    assert!(evidence(&report, "disallow-tokens").contains("tokenless has no record"));
    assert!(evidence(&report, "read-only-teams").contains("team acme:developers has read-write"));
    assert!(evidence(&report, "temp-token-deleted").contains("tmp-bulk-hardening"));
    let text = report.to_string();
    let info = sandbox.info();
    for t in info
        .tokens
        .iter()
        .map(|t| t.token.clone())
        .chain(info.users.iter().map(|u| u.token.clone()))
        .chain([info.circleci.token.clone()])
    {
        assert!(!text.contains(&t), "a secret leaked into the report");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn migrated_audited_as_a_real_owner_is_unknown_only_where_npm_shows_her_nothing() {
    let sandbox = start(Scenario::Migrated).await;
    let (code, report) = audit(&sandbox).await;
    assert_eq!(
        not_passing(&report),
        ["disallow-tokens=unknown", "no-static-tokens=unknown"],
        "{report:#}"
    );
    assert_eq!(code, 3);
    // Each unknown says how to resolve it.
    let access = evidence(&report, "disallow-tokens");
    assert!(access.contains("`tokenless apply` sets it"), "{access}");
    assert!(access.contains("/package/@acme/core/access"), "{access}");
    let tokens = evidence(&report, "no-static-tokens");
    assert!(
        tokens.contains("bob runs `tokenless tokens attest --scope @acme"),
        "{tokens}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn migrated_after_apply_and_attestations_passes_every_box() {
    let org = passing_org().await;
    let (code, report) = org.report().await;
    assert_eq!(not_passing(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!((code, report["passed"].as_bool()), (0, Some(true)));
    assert!(evidence(&report, "context-bound").contains("org admins bypass context restrictions"));
    let access = evidence(&report, "disallow-tokens");
    assert!(
        access.contains("acknowledged by the registry at"),
        "{access}"
    );
    assert!(access.contains("(apply as alice)"), "{access}");
    assert!(access.contains("record.json"), "{access}");
    let tokens = evidence(&report, "no-static-tokens");
    assert!(tokens.contains("bob (by their attestation"), "{tokens}");
}

/// The failing or unknown boxes of a passing org after `change`.
async fn after(change: impl AsyncFnOnce(&Org, &SandboxInfo)) -> Vec<String> {
    let org = passing_org().await;
    let info = org.sandbox.info();
    change(&org, &info).await;
    let (code, report) = org.report().await;
    assert_ne!(code, 0, "{report:#}");
    not_passing(&report)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_members_new_granular_token_fails_no_static_tokens_once_attested() {
    let failing = after(async |org, info| {
        let bob = actor(info, "bob");
        let token = NewToken {
            name: "laptop-publish".into(),
            password: bob.password.clone(),
            scopes: vec![info.scope.clone()],
            packages: vec![],
            packages_and_scopes_permission: "read-write".into(),
            expires: Some(30),
            bypass_2fa: false,
        };
        bob.npm
            .create_token(&token, &bob.otp)
            .await
            .expect("token created");
        org.attest("bob").await;
    })
    .await;
    assert_eq!(failing, ["no-static-tokens=fail"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_context_restriction_fails_context_bound() {
    let failing = after(async |_, info| {
        let circle = circleci(info);
        let ctx = info
            .circleci
            .contexts
            .iter()
            .find(|c| !c.restrictions.is_empty())
            .expect("restricted context");
        let detail = circle.context(&ctx.id).await.expect("context");
        for r in detail
            .restrictions
            .iter()
            .filter(|r| r.restriction_type == "expression")
        {
            circle
                .delete_context_restriction(&ctx.id, &r.id)
                .await
                .expect("deleted");
        }
    })
    .await;
    assert_eq!(failing, ["context-bound=fail"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_unbound_trust_config_fails_context_bound() {
    let failing = after(async |_, info| {
        let alice = actor(info, "alice");
        let pkg = first_package(info);
        let existing = alice.npm.trust_configs(&pkg).await.expect("trust");
        let mut wire = existing.first().expect("one config").to_json();
        if let Some(claims) = wire["claims"].as_object_mut() {
            claims.remove("oidc.circleci.com/context-ids");
        }
        let unbound = TrustConfig::from_json(&wire, &pkg).expect("config");
        alice
            .npm
            .create_trust(&pkg, &unbound, &alice.otp)
            .await
            .expect("created");
        let now = alice.npm.trust_configs(&pkg).await.expect("trust");
        assert_eq!(now.len(), 2, "{now:?}");
    })
    .await;
    assert_eq!(failing, ["context-bound=fail"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_github_environment_open_to_every_branch_fails_context_bound() {
    let failing = after(async |_, info| {
        github(info)
            .put_environment("acme/site", "npm", None)
            .await
            .expect("environment opened");
    })
    .await;
    assert_eq!(failing, ["context-bound=fail"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_trust_config_fails_trusted_publisher() {
    let failing = after(async |_, info| {
        let alice = actor(info, "alice");
        let pkg = first_package(info);
        let configs = alice.npm.trust_configs(&pkg).await.expect("trust");
        for c in configs {
            alice
                .npm
                .revoke_trust(&pkg, c.id.as_deref().unwrap_or_default(), &alice.otp)
                .await
                .expect("revoked");
        }
    })
    .await;
    assert_eq!(failing, ["trusted-publisher=fail"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_npm_token_project_variable_fails_oidc_publish_job() {
    let failing = after(async |_, info| {
        let slug = &info.circleci.projects.first().expect("project").slug;
        circleci(info)
            .set_project_variable(
                slug,
                "NPM_TOKEN",
                &Secret::new("npm_placeholderplaceholderplaceholder00"),
            )
            .await
            .expect("variable set");
    })
    .await;
    assert_eq!(failing, ["oidc-publish-job=fail"]);
}

/// Stores an Actions secret in a sandbox repository as a GitHub client does: the
/// repository's public key first, then the sealed value under its key id.
async fn put_actions_secret(info: &tokenless_sandbox::SandboxInfo, repo: &str, name: &str) {
    let gh = info.github.as_ref().expect("github");
    let base = format!("{}/repos/{repo}/actions/secrets", gh.api);
    let http = reqwest::Client::new();
    let key: Value = http
        .get(format!("{base}/public-key"))
        .bearer_auth(&gh.token)
        .send()
        .await
        .expect("key")
        .json()
        .await
        .expect("json");
    let put = http
        .put(format!("{base}/{name}"))
        .bearer_auth(&gh.token)
        .json(&serde_json::json!({"encrypted_value": "c2VhbGVk", "key_id": key["key_id"]}))
        .send()
        .await
        .expect("secret sent");
    assert_eq!(put.status().as_u16(), 201);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_npm_token_actions_secret_fails_oidc_publish_job() {
    let failing = after(async |_, info| {
        put_actions_secret(info, "acme/site", "NPM_TOKEN").await;
    })
    .await;
    assert_eq!(failing, ["oidc-publish-job=fail"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_npm_token_gitlab_variable_fails_oidc_publish_job() {
    let failing = after(async |_, info| {
        let (api, token) = gitlab_token(info);
        let resp = reqwest::Client::new()
            .post(format!("{api}/projects/acme%2Flab/variables"))
            .header("private-token", &token)
            .json(&serde_json::json!({"key": "NPM_TOKEN", "value": "npm_placeholder", "masked": true}))
            .send()
            .await
            .expect("variable sent");
        assert_eq!(resp.status().as_u16(), 201);
    })
    .await;
    assert_eq!(failing, ["oidc-publish-job=fail"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_write_team_fails_read_only_teams() {
    let failing = after(async |_, info| {
        let alice = actor(info, "alice");
        let teams = alice.npm.teams(&info.scope).await.expect("teams");
        let team = teams.first().expect("a team");
        alice
            .npm
            .set_team_permission(&info.scope, team, &first_package(info), true, &alice.otp)
            .await
            .expect("granted");
    })
    .await;
    assert_eq!(failing, ["read-only-teams=fail"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leftover_bypass_token_fails_two_boxes() {
    let failing = after(async |_, info| {
        let alice = actor(info, "alice");
        let token = NewToken {
            name: "temporary-bulk-hardening-delete-me".into(),
            password: alice.password.clone(),
            scopes: vec![info.scope.clone()],
            packages: vec![],
            packages_and_scopes_permission: "read-write".into(),
            expires: Some(1),
            bypass_2fa: true,
        };
        alice
            .npm
            .create_token(&token, &alice.otp)
            .await
            .expect("token created");
    })
    .await;
    assert_eq!(
        failing,
        ["no-static-tokens=fail", "temp-token-deleted=fail"]
    );
}

/// Publish `pkg@version` as alice with her session and a code from her authenticator.
async fn publish_with_a_token(info: &SandboxInfo, pkg: &str, version: &str) {
    let alice = info
        .users
        .iter()
        .find(|u| u.name == "alice")
        .expect("alice");
    // The same repository as before, so that CI still finds the package.
    let doc: Value = reqwest::get(format!("{}{}", info.registry, pkg.replace('/', "%2f")))
        .await
        .expect("packument")
        .json()
        .await
        .expect("json");
    let manifest =
        serde_json::json!({"name": pkg, "version": version, "repository": doc["repository"]});
    let tgz = tokenless_sandbox::packages::make_tarball(&manifest).expect("tarball");
    let data = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &tgz);
    let mut attachments = serde_json::Map::new();
    attachments.insert(
        format!("{pkg}-{version}.tgz"),
        serde_json::json!({"content_type": "application/octet-stream", "data": data, "length": tgz.len()}),
    );
    let body = serde_json::json!({
        "_id": pkg, "name": pkg,
        "repository": doc["repository"],
        "dist-tags": {"latest": version},
        "versions": {version: manifest},
        "access": null,
        "_attachments": attachments,
    });
    let code = tokenless_sandbox::totp::current_code(&alice.totp_secret).expect("otp");
    let url = format!("{}{}", info.registry, pkg.replace('/', "%2f"));
    let resp = reqwest::Client::new()
        .put(url)
        .bearer_auth(&alice.token)
        .header("npm-otp", code)
        .json(&body)
        .send()
        .await
        .expect("publish sent");
    assert!(
        resp.status().is_success(),
        "publish refused: {}",
        resp.text().await.unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_release_before_the_latest_trusted_one_fails_release_verified() {
    let failing = after(async |_, info| {
        let pkg = first_package(info);
        publish_with_a_token(info, &pkg, "9.9.9").await;
        // The next release goes through CI and the trust config again, as `latest`.
        let out = ci_release(&info.registry, &pkg, "9.9.10").await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    })
    .await;
    assert_eq!(failing, ["release-verified=fail"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_member_list_leaves_the_boxes_that_need_it_unknown() {
    let org = passing_org().await;
    let broken = reqwest::Client::new()
        .post(format!("{}-/sandbox/fail", org.sandbox.url()))
        .json(&serde_json::json!({"paths": ["/-/org/acme/user"]}))
        .send()
        .await
        .expect("fault set");
    assert!(broken.status().is_success());
    let (code, report) = org.report().await;
    // Whose tokens to check, who is a service account, who may write and who made the
    // recorded changes: all come from the member list.
    assert_eq!(
        not_passing(&report),
        [
            "disallow-tokens=unknown",
            "no-service-accounts=unknown",
            "no-static-tokens=unknown",
            "read-only-teams=unknown",
            "temp-token-deleted=unknown"
        ],
        "{report:#}"
    );
    assert_eq!(code, 3);
    assert!(evidence(&report, "no-static-tokens").contains("cannot list the org's members"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_scope_is_unknown_not_a_pass() {
    let sandbox = start(Scenario::Inline(
        r#"{"org": "acme", "users": [{"name": "alice", "role": "owner"}], "packages": []}"#.into(),
    ))
    .await;
    let (code, report) = audit(&sandbox).await;
    assert_eq!(code, 3, "{report:#}");
    // Nothing to judge is never a pass, and never a failure either.
    assert_eq!(
        not_passing(&report),
        [
            "context-bound=unknown",
            "disallow-tokens=unknown",
            "oidc-publish-job=unknown",
            "release-verified=unknown",
            "trusted-publisher=unknown"
        ],
        "{report:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_in_every_format() {
    let sandbox = start(Scenario::Legacy).await;
    let (code, text) = audit_as(&sandbox, "text").await;
    assert_eq!(code, 1);
    assert_eq!(text.matches('✗').count(), 8, "{text}");
    assert!(text.contains("? disallow-tokens"), "{text}");
    assert!(text.contains("next:"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "no colour when stdout is not a terminal"
    );

    let (code, markdown) = audit_as(&sandbox, "markdown").await;
    assert_eq!(code, 1);
    assert_eq!(markdown.matches("- [ ] `").count(), 9, "{markdown}");

    let (code, sarif) = audit_as(&sandbox, "sarif").await;
    assert_eq!(code, 1);
    let sarif: Value = serde_json::from_str(&sarif).expect("sarif is JSON");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    for id in ALL {
        let level = if id == "disallow-tokens" {
            "warning"
        } else {
            "error"
        };
        assert!(
            results
                .iter()
                .any(|r| r["ruleId"] == id && r["level"] == level),
            "{id}"
        );
    }
    sarif_schema::assert_valid(&sarif);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audits_own_token_is_excluded_by_key_and_other_members_need_attestations() {
    let org = passing_org().await;
    let info = org.sandbox.info();
    let alice = actor(&info, "alice");
    let token = NewToken {
        name: "audit-reader".into(),
        password: alice.password.clone(),
        scopes: vec![info.scope.clone()],
        packages: vec![],
        packages_and_scopes_permission: "read-only".into(),
        expires: Some(1),
        bypass_2fa: false,
    };
    let (key, secret) = alice
        .npm
        .create_token(&token, &alice.otp)
        .await
        .expect("token created");
    let url = org.sandbox.url().to_string();
    let run = |attested: bool| {
        let mut args = strings(&["audit", "--sandbox", &url, "--format", "json"]);
        args.extend(["--config".into(), org.config().display().to_string()]);
        args.extend(strings(&["--npm-token-env", "TOKENLESS_AUDIT_TOKEN"]));
        if attested {
            args.extend([
                "--attestations".into(),
                org.attestations().display().to_string(),
            ]);
        }
        let secret = secret.expose().to_owned();
        async move {
            tokio::task::spawn_blocking(move || {
                assert_cmd::Command::cargo_bin("tokenless")
                    .expect("binary")
                    .args(&args)
                    .env("TOKENLESS_AUDIT_TOKEN", &secret)
                    .output()
                    .expect("runs")
            })
            .await
            .expect("joins")
        }
    };
    let out = run(true).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(not_passing(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(out.status.code(), Some(0));
    let ev = evidence(&report, "no-static-tokens");
    assert!(
        ev.contains(&format!(
            "token key {}…, excluded from the findings",
            &key[..8]
        )),
        "{ev}"
    );
    assert!(
        !stdout.contains(secret.expose()),
        "the audit's own token leaked"
    );

    // npm lists only the signed-in account's tokens: bob's are unknown until he attests.
    let out = run(false).await;
    let report: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(not_passing(&report), ["no-static-tokens=unknown"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(evidence(&report, "no-static-tokens").contains("bob runs `tokenless tokens attest"));
}

#[tokio::test(flavor = "multi_thread")]
async fn repo_configs_are_linted_with_file_and_line() {
    let org = passing_org().await;
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let legacy = examples.join("legacy-repo");
    let migrated = examples.join("migrated-repo");
    let (code, stdout) = org
        .audit("json", &["--repo", &migrated.to_string_lossy()])
        .await;
    let report: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!((code, not_passing(&report)), (0, vec![]), "{report:#}");

    let (code, stdout) = org
        .audit("json", &["--repo", &legacy.to_string_lossy()])
        .await;
    let report: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(code, 1);
    assert_eq!(not_passing(&report), ["oidc-publish-job=fail"]);
    let ev = evidence(&report, "oidc-publish-job");
    assert!(ev.contains("legacy-repo/.circleci/config.yml:"), "{ev}");
    assert!(ev.contains("static-token-publish"), "{ev}");
}

/// An org whose packages publish from GitHub and GitLab through environments.
fn forge_scenario(github_env: &str, gitlab_env: &str) -> Scenario {
    Scenario::Inline(format!(
        r#"{{"org": "acme", "users": [{{"name": "alice", "role": "owner"}}],
        "packages": [
          {{"name": "@acme/web", "mfa": "publish", "trust": {{"provider": "github", "repository": "acme/web", "file": "publish.yml", "environment": "{github_env}"}}}},
          {{"name": "@acme/lib", "mfa": "publish", "trust": {{"provider": "gitlab", "project_path": "acme/lib", "file": ".gitlab-ci.yml", "environment": "{gitlab_env}"}}}}
        ],
        "github": {{"org": "acme", "repos": [{{"name": "web", "protected_branches": ["main"], "environments": [
          {{"name": "npm", "branch_policy": "protected", "reviewers": ["alice"]}},
          {{"name": "release", "branch_policy": "custom", "policies": [{{"name": "v*", "type": "tag"}}]}},
          {{"name": "wide", "branch_policy": "custom", "policies": [{{"name": "*", "type": "branch"}}]}},
          {{"name": "open"}}]}}]}},
        "gitlab": {{"group": "acme", "projects": [{{"path": "lib", "environments": ["review"],
          "protected_environments": [{{"name": "npm", "deploy_access_level": "maintainer"}}, {{"name": "dev", "deploy_access_level": "developer"}}]}}]}}}}"#
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn github_and_gitlab_environments_decide_context_bound() {
    for (gh_env, gl_env, status, says) in [
        (
            "npm",
            "npm",
            "pass",
            "admits only protected branches; required reviewers: alice",
        ),
        ("release", "npm", "pass", "admits only tag `v*`"),
        ("open", "npm", "fail", "has no deployment branch policy"),
        ("wide", "npm", "fail", "admits any ref matching `*`"),
        ("missing", "npm", "fail", "GitHub creates it unprotected"),
        ("npm", "review", "fail", "is not protected"),
        ("npm", "dev", "fail", "Developers may deploy"),
    ] {
        let sb = start(forge_scenario(gh_env, gl_env)).await;
        let (_, report) = audit(&sb).await;
        assert_eq!(
            statuses(&report).get("context-bound").map(String::as_str),
            Some(status),
            "{gh_env}/{gl_env}: {}",
            evidence(&report, "context-bound")
        );
        let ev = evidence(&report, "context-bound");
        assert!(ev.contains(says), "{gh_env}/{gl_env}: {ev}");
        let source = if gl_env == "npm" {
            format!("api/v3/repos/acme/web/environments/{gh_env}")
        } else {
            "api/v4/projects/acme/lib/protected_environments".to_owned()
        };
        assert!(ev.contains(&source), "{ev}");
    }
    // A Free-tier GitLab group cannot protect the environment: a failure with that reason.
    let free = match forge_scenario("npm", "npm") {
        Scenario::Inline(s) => {
            s.replace(r#""group": "acme","#, r#""group": "acme", "tier": "free","#)
        }
        _ => unreachable!(),
    };
    let sb = start(Scenario::Inline(free)).await;
    let (_, report) = audit(&sb).await;
    assert_eq!(
        statuses(&report).get("context-bound").map(String::as_str),
        Some("fail")
    );
    assert!(evidence(&report, "context-bound").contains("Premium"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_github_repository_with_immutable_subject_claims_fails_trusted_publisher() {
    // The repository's subject customisation is read through the GitHub API: classic passes.
    let sb = start(forge_scenario("npm", "npm")).await;
    let (_, report) = audit(&sb).await;
    let ev = evidence(&report, "trusted-publisher");
    assert_eq!(
        statuses(&report)
            .get("trusted-publisher")
            .map(String::as_str),
        Some("pass"),
        "{ev}"
    );
    assert!(ev.contains("classic subject claims"), "{ev}");
    // Immutable subject claims: npm's exchange answers 404 for them (npm/cli#9969).
    let immutable = match forge_scenario("npm", "npm") {
        Scenario::Inline(s) => s.replace(
            r#"{"name": "web", "#,
            r#"{"name": "web", "use_immutable_subject": true, "#,
        ),
        _ => unreachable!(),
    };
    let sb = start(Scenario::Inline(immutable)).await;
    let (_, report) = audit(&sb).await;
    let ev = evidence(&report, "trusted-publisher");
    assert_eq!(
        statuses(&report)
            .get("trusted-publisher")
            .map(String::as_str),
        Some("fail"),
        "{ev}"
    );
    for needle in [
        "api/v3/repos/acme/web/actions/oidc/customization/sub",
        "@acme/web: trust config",
        "trusts GitHub repository acme/web, which uses immutable subject claims",
        "github-immutable-subject",
        "npm/cli#9969",
        "switch acme/web back to the classic subject",
    ] {
        assert!(ev.contains(needle), "{needle}: {ev}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn github_and_gitlab_workflows_and_secrets_count_for_oidc_publish_job() {
    // Legacy: the GitHub workflow and the GitLab CI file the packages publish from are fetched
    // through the APIs and linted; the npm token secrets and variables are seen.
    let sb = start(Scenario::Legacy).await;
    let (_, report) = audit(&sb).await;
    let ev = evidence(&report, "oidc-publish-job");
    for needle in [
        "GitHub repository acme/site secrets include NPM_TOKEN",
        "GitHub organisation acme secrets include NPM_TOKEN",
        "GitLab project acme/lab variables include NPM_TOKEN",
        "GitLab group acme variables include NPM_TOKEN",
    ] {
        assert!(ev.contains(needle), "{needle}: {ev}");
    }
    // Migrated: the fetched workflows are linted clean, and the pass counts publish jobs.
    let sb = start(Scenario::Migrated).await;
    let (_, report) = audit(&sb).await;
    assert_eq!(
        statuses(&report)
            .get("oidc-publish-job")
            .map(String::as_str),
        Some("pass")
    );
    let ev = evidence(&report, "oidc-publish-job");
    assert!(
        ev.contains("4 publish job(s) recognised"),
        "two CircleCI pipelines, the GitHub workflow and the GitLab CI file: {ev}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sandbox_whose_sessions_all_ended_is_refused_with_a_way_out() {
    let sandbox = start(Scenario::Migrated).await;
    let ended = reqwest::Client::new()
        .post(format!("{}-/sandbox/expire", sandbox.url()))
        .json(&serde_json::json!({"sessions": true}))
        .send()
        .await
        .expect("expire sent");
    assert!(ended.status().is_success(), "{}", ended.status());
    let url = sandbox.url().to_string();
    let out = tokio::task::spawn_blocking(move || {
        assert_cmd::Command::cargo_bin("tokenless")
            .expect("binary")
            .args(["audit", "--sandbox", &url, "--format", "json", "--config"])
            .arg(config_path())
            .output()
            .expect("runs")
    })
    .await
    .expect("joins");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no owner with a live session"), "{stderr}");
}

/// The same audit of one org in every format, as the CLI prints it: the `migrated` org
/// (CircleCI, GitHub and GitLab publishers) audited by its owner without a record or
/// attestations, and with an `NPM_TOKEN` Actions secret: pass, fail and unknown side by
/// side. Ports, ids, times and redacted credentials are masked.
#[tokio::test(flavor = "multi_thread")]
async fn a_mixed_provider_org_in_every_format() {
    let sandbox = start(Scenario::Migrated).await;
    let info = sandbox.info();
    put_actions_secret(&info, "acme/site", "NPM_TOKEN").await;
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"127\.0\.0\.1:\d+", "[sandbox]");
    settings.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[uuid]",
    );
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", "[time]");
    // Markdown escapes the underscore.
    settings.add_filter(r"npm\\?_…\w{4}", "npm_…[redacted]");
    settings.add_filter(r"/[^\s\x22]*/examples/sandbox/", "[examples]/sandbox/");
    for (format, name) in [
        ("text", "mixed_org_text"),
        ("json", "mixed_org_json"),
        ("sarif", "mixed_org_sarif"),
        ("markdown", "mixed_org_markdown"),
    ] {
        let (code, out) = audit_as(&sandbox, format).await;
        assert_eq!(code, 1, "{out}");
        if format == "sarif" {
            sarif_schema::assert_valid(&serde_json::from_str(&out).expect("sarif is JSON"));
        }
        settings.bind(|| insta::assert_snapshot!(name, out));
    }
}
