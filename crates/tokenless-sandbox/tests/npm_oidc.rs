//! The whole tokenless publish through the real npm CLI: an id token from the sandbox's
//! issuers, `CIRCLECI=true` / `GITHUB_ACTIONS=true` / `GITLAB_CI=true`, no npm token
//! configured; and every refusal the registry must make.

mod common;

use base64::Engine as _;
use common::*;
use serde_json::{Value, json};
use tokenless_sandbox::{SandboxHandle, Scenario};

const SCENARIO: &str = r#"{
  "org": "acme",
  "users": [{"name": "alice", "role": "owner"}],
  "packages": [
    {"name": "@acme/core", "mfa": "publish", "trust": {"provider": "circleci", "project": "monorepo", "contexts": ["npm-publish"]}},
    {"name": "@acme/utils", "mfa": "publish", "trust": {"provider": "circleci", "project": "monorepo", "contexts": ["npm-publish"]}},
    {"name": "@acme/cli", "mfa": "publish", "trust": {"provider": "circleci", "project": "cli", "contexts": ["npm-publish"]}},
    {"name": "@acme/loose", "mfa": "publish", "trust": {"provider": "circleci", "project": "monorepo"}},
    {"name": "@acme/web", "mfa": "publish", "trust": {"provider": "github", "repository": "acme/web", "file": "publish.yml"}},
    {"name": "@acme/lab", "mfa": "publish", "trust": {"provider": "gitlab", "project_path": "acme/lab", "file": ".gitlab-ci.yml"}}
  ],
  "circleci": {
    "projects": [
      {"name": "monorepo", "vcs_origin": "github.com/acme/monorepo"},
      {"name": "cli", "vcs_origin": "github.com/acme/cli"}
    ],
    "contexts": [
      {"name": "npm-publish", "restrictions": [{"type": "expression", "value": "pipeline.git.branch == \"main\" and not job.ssh.enabled"}]},
      {"name": "other"}
    ]
  }
}"#;

async fn sandbox() -> SandboxHandle {
    start(Scenario::Inline(SCENARIO.to_owned())).await
}

/// CircleCI claims of a publish job of the monorepo on main with the npm-publish context.
fn circleci_claims(sb: &SandboxHandle) -> serde_json::Map<String, Value> {
    let info = sb.info();
    let project = &info.circleci.projects[0];
    let ctx = info
        .circleci
        .contexts
        .iter()
        .find(|c| c.name == "npm-publish")
        .map(|c| c.id.clone());
    let claims = json!({
        "aud": sb.audience(),
        "oidc.circleci.com/org-id": info.circleci.org_id,
        "oidc.circleci.com/project-id": project.id,
        "oidc.circleci.com/pipeline-definition-id": project.pipeline_definition_id,
        "oidc.circleci.com/vcs-origin": project.vcs_origin,
        "oidc.circleci.com/vcs-ref": "refs/heads/main",
        "oidc.circleci.com/context-ids": [ctx],
        "oidc.circleci.com/ssh-rerun": false,
    });
    claims.as_object().cloned().unwrap_or_default()
}

async fn mint(
    sb: &SandboxHandle,
    provider: &str,
    claims: &serde_json::Map<String, Value>,
) -> (u16, Value) {
    let url = format!("{}-/sandbox/oidc/{provider}/token", sb.url());
    send_json(
        reqwest::Method::POST,
        &url,
        None,
        None,
        &Value::Object(claims.clone()),
    )
    .await
}

async fn mint_ok(
    sb: &SandboxHandle,
    provider: &str,
    claims: &serde_json::Map<String, Value>,
) -> String {
    let (status, body) = mint(sb, provider, claims).await;
    assert_eq!(status, 200, "mint refused: {body}");
    body["token"].as_str().unwrap_or_default().to_owned()
}

/// `npm publish --loglevel verbose` of `name@version` with only an id token.
async fn publish(
    sb: &SandboxHandle,
    ci: &str,
    id_token: &str,
    name: &str,
    version: &str,
) -> std::process::Output {
    let npm = Npm::new(sb, None);
    let dir = npm.package("pkg", name, version);
    npm.run_in(
        &dir,
        &["publish", "--loglevel=verbose"],
        &[(ci, "true"), ("NPM_ID_TOKEN", id_token)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circleci_tokenless_publish_then_install_and_one_token_for_two_packages() {
    let sb = sandbox().await;
    let token = mint_ok(&sb, "circleci", &circleci_claims(&sb)).await;

    let out = publish(&sb, "CIRCLECI", &token, "@acme/core", "2.0.0").await;
    assert_ok(&out);
    assert!(
        text(&out).contains("Successfully retrieved and set token"),
        "{}",
        text(&out)
    );
    // The same id token publishes a second package of the monorepo.
    assert_ok(&publish(&sb, "CIRCLECI", &token, "@acme/utils", "2.0.0").await);
    // But not the same package twice: (jti, package) is spent.
    assert_fails_with(
        &publish(&sb, "CIRCLECI", &token, "@acme/core", "2.0.1").await,
        "ENEEDAUTH",
    );

    let (_, doc) = get_json(&format!("{}@acme%2fcore", sb.url()), None).await;
    let trust_id = doc["versions"]["2.0.0"]["_npmUser"]["trustedPublisher"].clone();
    assert_eq!(trust_id["id"], "circleci");
    let (_, configs) = get_json(
        &format!("{}-/package/@acme%2fcore/trust", sb.url()),
        Some(&session(&sb, "alice")),
    )
    .await;
    assert_eq!(trust_id["oidcConfigId"], configs[0]["id"]);

    let consumer = Npm::new(&sb, None);
    std::fs::write(
        consumer.work().join("package.json"),
        r#"{"name":"consumer","version":"1.0.0"}"#,
    )
    .unwrap_or_default();
    assert_ok(&consumer.run(&["install", "@acme/core@2.0.0"], &[]).await);
    assert!(
        consumer
            .work()
            .join("node_modules/@acme/core/package.json")
            .exists()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circleci_refusals_through_the_real_cli() {
    let sb = sandbox().await;
    let base = circleci_claims(&sb);

    // Without the bound context: the job can get a token, the exchange refuses it.
    let mut no_ctx = base.clone();
    no_ctx.remove("oidc.circleci.com/context-ids");
    let token = mint_ok(&sb, "circleci", &no_ctx).await;
    let out = publish(&sb, "CIRCLECI", &token, "@acme/core", "2.0.0").await;
    assert_fails_with(&out, "ENEEDAUTH");
    assert!(text(&out).contains("Failed token exchange request with body message: OIDC token exchange refused: circleci-context-ids"), "{}", text(&out));

    // Wrong audience (what registry.npmjs.org expects, not this registry).
    let mut wrong_aud = base.clone();
    wrong_aud.insert("aud".into(), json!("npm:registry.npmjs.org"));
    let token = mint_ok(&sb, "circleci", &wrong_aud).await;
    assert_fails_with(
        &publish(&sb, "CIRCLECI", &token, "@acme/core", "2.0.0").await,
        "refused: audience",
    );

    // For another package: the cli package trusts another project.
    let token = mint_ok(&sb, "circleci", &base).await;
    assert_fails_with(
        &publish(&sb, "CIRCLECI", &token, "@acme/cli", "2.0.0").await,
        "refused: circleci-project-id",
    );

    // Expired.
    let mut expired = base.clone();
    expired.insert("iat".into(), json!(1_000_000_000));
    expired.insert("exp".into(), json!(1_000_003_600));
    let token = mint_ok(&sb, "circleci", &expired).await;
    assert_fails_with(
        &publish(&sb, "CIRCLECI", &token, "@acme/core", "2.0.0").await,
        "refused: exp",
    );

    // SSH rerun: the context's restriction stops the job (no token is minted) ...
    let mut ssh = base.clone();
    ssh.insert("oidc.circleci.com/ssh-rerun".into(), json!(true));
    let (status, body) = mint(&sb, "circleci", &ssh).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("not job.ssh.enabled")),
        "{body}"
    );
    // ... and a package whose trust binds no context still refuses the SSH-rerun token.
    ssh.remove("oidc.circleci.com/context-ids");
    let token = mint_ok(&sb, "circleci", &ssh).await;
    assert_fails_with(
        &publish(&sb, "CIRCLECI", &token, "@acme/loose", "2.0.0").await,
        "refused: circleci-ssh-rerun",
    );

    // A branch other than main cannot use the context.
    let mut branch = base.clone();
    branch.insert(
        "oidc.circleci.com/vcs-ref".into(),
        json!("refs/heads/feature/x"),
    );
    let (status, _) = mint(&sb, "circleci", &branch).await;
    assert_eq!(status, 403);

    // Nothing was published.
    let (_, doc) = get_json(&format!("{}@acme%2fcore", sb.url()), None).await;
    assert!(doc["versions"]["2.0.0"].is_null());
}

fn github_claims(sb: &SandboxHandle) -> serde_json::Map<String, Value> {
    json!({
        "aud": sb.audience(),
        "repository": "acme/web",
        "repository_owner": "acme",
        "repository_visibility": "private",
        "workflow_ref": "acme/web/.github/workflows/publish.yml@refs/heads/main",
        "job_workflow_ref": "acme/web/.github/workflows/publish.yml@refs/heads/main",
        "ref": "refs/heads/main",
        "ref_type": "branch",
        "event_name": "push",
        "runner_environment": "github-hosted",
        "sub": "repo:acme/web:ref:refs/heads/main",
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_actions_publish_with_npm_id_token_and_with_the_request_flow() {
    let sb = sandbox().await;
    let token = mint_ok(&sb, "github", &github_claims(&sb)).await;
    assert_ok(&publish(&sb, "GITHUB_ACTIONS", &token, "@acme/web", "2.0.0").await);

    // npm's own flow: it asks ACTIONS_ID_TOKEN_REQUEST_URL for a token with audience npm:<host>.
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        Value::Object({
            let mut c = github_claims(&sb);
            c.remove("aud");
            c
        })
        .to_string(),
    );
    let request_url = format!(
        "{}-/sandbox/oidc/github/actions-token?claims={claims}",
        sb.url()
    );
    let npm = Npm::new(&sb, None);
    let dir = npm.package("pkg", "@acme/web", "2.0.1");
    let out = npm
        .run_in(
            &dir,
            &["publish", "--loglevel=verbose"],
            &[
                ("GITHUB_ACTIONS", "true"),
                ("ACTIONS_ID_TOKEN_REQUEST_URL", &request_url),
                ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "anything"),
            ],
        )
        .await;
    assert_ok(&out);

    // Refusals: another workflow file, wrong audience, another package, expired.
    let mut other = github_claims(&sb);
    other.insert(
        "workflow_ref".into(),
        json!("acme/web/.github/workflows/ci.yml@refs/heads/main"),
    );
    let token = mint_ok(&sb, "github", &other).await;
    assert_fails_with(
        &publish(&sb, "GITHUB_ACTIONS", &token, "@acme/web", "2.0.2").await,
        "refused: github-workflow-ref",
    );
    let mut aud = github_claims(&sb);
    aud.insert("aud".into(), json!("npm:registry.npmjs.org"));
    let token = mint_ok(&sb, "github", &aud).await;
    assert_fails_with(
        &publish(&sb, "GITHUB_ACTIONS", &token, "@acme/web", "2.0.2").await,
        "refused: audience",
    );
    let token = mint_ok(&sb, "github", &github_claims(&sb)).await;
    assert_fails_with(
        &publish(&sb, "GITHUB_ACTIONS", &token, "@acme/lab", "2.0.0").await,
        "refused: trust-config",
    );
    let mut expired = github_claims(&sb);
    expired.insert("exp".into(), json!(1_000_000_000));
    expired.insert("iat".into(), json!(999_999_000));
    let token = mint_ok(&sb, "github", &expired).await;
    assert_fails_with(
        &publish(&sb, "GITHUB_ACTIONS", &token, "@acme/web", "2.0.2").await,
        "refused: exp",
    );
}

fn gitlab_claims(sb: &SandboxHandle) -> serde_json::Map<String, Value> {
    json!({
        "aud": sb.audience(),
        "project_path": "acme/lab",
        "namespace_path": "acme",
        "project_visibility": "private",
        "ci_config_ref_uri": "gitlab.com/acme/lab//.gitlab-ci.yml@refs/heads/main",
        "ref": "main",
        "ref_type": "branch",
        "ref_protected": "true",
        "pipeline_source": "push",
        "runner_environment": "gitlab-hosted",
        "sub": "project_path:acme/lab:ref_type:branch:ref:main",
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_publish_and_refusals() {
    let sb = sandbox().await;
    let token = mint_ok(&sb, "gitlab", &gitlab_claims(&sb)).await;
    assert_ok(&publish(&sb, "GITLAB_CI", &token, "@acme/lab", "2.0.0").await);

    let mut other = gitlab_claims(&sb);
    other.insert("project_path".into(), json!("acme/fork"));
    let token = mint_ok(&sb, "gitlab", &other).await;
    assert_fails_with(
        &publish(&sb, "GITLAB_CI", &token, "@acme/lab", "2.0.1").await,
        "refused: gitlab-project-path",
    );
    let mut aud = gitlab_claims(&sb);
    aud.insert("aud".into(), json!("npm:registry.npmjs.org"));
    let token = mint_ok(&sb, "gitlab", &aud).await;
    assert_fails_with(
        &publish(&sb, "GITLAB_CI", &token, "@acme/lab", "2.0.1").await,
        "refused: audience",
    );
    let token = mint_ok(&sb, "gitlab", &gitlab_claims(&sb)).await;
    assert_fails_with(
        &publish(&sb, "GITLAB_CI", &token, "@acme/web", "2.0.1").await,
        "refused: trust-config",
    );
    let mut expired = gitlab_claims(&sb);
    expired.insert("exp".into(), json!(1_000_000_000));
    expired.insert("iat".into(), json!(999_999_000));
    let token = mint_ok(&sb, "gitlab", &expired).await;
    assert_fails_with(
        &publish(&sb, "GITLAB_CI", &token, "@acme/lab", "2.0.1").await,
        "refused: exp",
    );
    // A GitLab token signed by the GitLab issuer but claiming the GitHub issuer is refused.
    let mut forged = gitlab_claims(&sb);
    forged.insert("iss".into(), json!(sb.info().issuers.github));
    let token = mint_ok(&sb, "gitlab", &forged).await;
    assert_fails_with(
        &publish(&sb, "GITHUB_ACTIONS", &token, "@acme/web", "2.0.1").await,
        "refused: signing-key",
    );
}

/// In the built-in `migrated` scenario, the real npm CLI publishes through OIDC from each
/// provider, through the bound context or protected environment; a job from another branch
/// never gets an id token (the provider refuses to run it), and npm without one has no way in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrated_scenario_publishes_from_every_provider_only_from_main() {
    let sb = start(Scenario::Migrated).await;
    let info = sb.info();
    let project = info
        .circleci
        .projects
        .iter()
        .find(|p| p.slug.ends_with("/monorepo"))
        .unwrap_or_else(|| panic!("no monorepo project"));
    let ctx = info
        .circleci
        .contexts
        .iter()
        .find(|c| c.name == "npm-publish")
        .map(|c| c.id.clone());
    let circleci = json!({
        "aud": sb.audience(),
        "oidc.circleci.com/project-id": project.id,
        "oidc.circleci.com/pipeline-definition-id": project.pipeline_definition_id,
        "oidc.circleci.com/vcs-origin": project.vcs_origin,
        "oidc.circleci.com/vcs-ref": "refs/heads/main",
        "oidc.circleci.com/context-ids": [ctx],
        "oidc.circleci.com/ssh-rerun": false,
    });
    let github = |git_ref: &str| {
        json!({"aud": sb.audience(), "repository": "acme/site", "environment": "npm", "ref": git_ref,
            "workflow_ref": format!("acme/site/.github/workflows/publish.yml@{git_ref}"), "event_name": "push"})
    };
    let gitlab = |protected: &str| {
        json!({"aud": sb.audience(), "project_path": "acme/lab", "environment": "npm", "ref_protected": protected,
            "user_access_level": "maintainer", "ci_config_ref_uri": "gitlab.com/acme/lab//.gitlab-ci.yml@refs/heads/main"})
    };
    let obj = |v: Value| v.as_object().cloned().unwrap_or_default();
    for (provider, ci, claims, package) in [
        ("circleci", "CIRCLECI", obj(circleci.clone()), "@acme/core"),
        (
            "github",
            "GITHUB_ACTIONS",
            obj(github("refs/heads/main")),
            "@acme/site",
        ),
        ("gitlab", "GITLAB_CI", obj(gitlab("true")), "@acme/lab"),
    ] {
        let token = mint_ok(&sb, provider, &claims).await;
        assert_ok(&publish(&sb, ci, &token, package, "9.0.0").await);
        let (_, doc) = get_json(
            &format!("{}{}", sb.url(), package.replace('/', "%2f")),
            None,
        )
        .await;
        assert_eq!(
            doc["versions"]["9.0.0"]["_npmUser"]["trustedPublisher"]["id"], provider,
            "{package}: {doc}"
        );
    }
    // Another branch: GitHub and GitLab refuse to run the job, CircleCI refuses the context.
    let mut feature = obj(circleci);
    feature.insert(
        "oidc.circleci.com/vcs-ref".into(),
        json!("refs/heads/feature"),
    );
    for (provider, claims) in [
        ("circleci", feature),
        ("github", obj(github("refs/heads/feature"))),
        ("gitlab", obj(gitlab("false"))),
    ] {
        let (status, body) = mint(&sb, provider, &claims).await;
        assert_eq!(status, 403, "{provider}: {body}");
    }
}
