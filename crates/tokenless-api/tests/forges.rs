//! The GitHub and GitLab clients against the sandbox over loopback (reads, writes,
//! pagination across many pages, the rate budget), and against hostile servers.

use std::time::Duration;

use tokenless_api::github::BranchPolicySettings;
use tokenless_api::gitlab::Protection;
use tokenless_api::{ClientOptions, ErrorKind, GitHubClient, GitLabClient, Secret};
use tokenless_sandbox::{Sandbox, SandboxHandle, SandboxOptions, Scenario};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn scenario(rate_limit: u32) -> String {
    let envs: Vec<String> = (0..150)
        .map(|i| format!(r#"{{"name": "env-{i:03}"}}"#))
        .collect();
    let vars: Vec<String> = (0..130)
        .map(|i| format!(r#"{{"key": "VAR_{i:03}"}}"#))
        .collect();
    format!(
        r#"{{"org": "acme", "users": [{{"name": "alice", "role": "owner"}}],
        "github": {{"org": "acme", "rate_limit": {rate_limit}, "secrets": ["NPM_TOKEN"],
          "variables": {{"NPM_REGISTRY": "https://registry.npmjs.org/"}}, "repos": [
          {{"name": "web", "protected_branches": ["main"], "secrets": ["NPM_TOKEN"], "variables": {{"NODE_VERSION": "22"}},
            "environments": [{{"name": "npm", "branch_policy": "custom", "policies": [{{"name": "v*", "type": "tag"}}]}}, {}],
            "files": {{".github/workflows/publish.yml": "on: push\n"}}}}]}},
        "gitlab": {{"group": "acme", "variables": [{{"key": "NPM_TOKEN", "masked": true}}], "projects": [
          {{"path": "lib", "protected_environments": [{{"name": "npm", "deploy_access_level": "maintainer"}}],
            "variables": [{}], "files": {{".gitlab-ci.yml": "publish:\n  script: npm publish\n"}}}}]}}}}"#,
        envs.join(", "),
        vars.join(", ")
    )
}

async fn start(rate_limit: u32) -> SandboxHandle {
    Sandbox::start(SandboxOptions {
        scenario: Scenario::Inline(scenario(rate_limit)),
        ..SandboxOptions::default()
    })
    .await
    .unwrap_or_else(|e| panic!("sandbox: {e}"))
}

fn fast() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_secs(5),
        min_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_retry_after: Duration::from_millis(50),
        ..ClientOptions::default()
    }
}

fn github(sb: &SandboxHandle) -> GitHubClient {
    let info = sb.info().github.unwrap_or_else(|| panic!("no github"));
    GitHubClient::new(&info.api, Some(Secret::new(info.token)), fast())
        .unwrap_or_else(|e| panic!("{e}"))
}

fn gitlab(sb: &SandboxHandle) -> GitLabClient {
    let info = sb.info().gitlab.unwrap_or_else(|| panic!("no gitlab"));
    GitLabClient::new(&info.api, Some(Secret::new(info.token)), fast())
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn github_reads_follow_every_page_and_writes_take_effect() {
    let sb = start(5000).await;
    let gh = github(&sb);
    let repo = gh
        .repository("acme/web")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(repo.default_branch, "main");
    let envs = gh
        .environments("acme/web")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(envs.len(), 151, "two pages of 100 followed through Link");
    assert_eq!(gh.stats().attempts, 3, "repository + two pages");
    let npm = gh
        .environment("acme/web", "npm")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        npm.deployment_branch_policy,
        Some(BranchPolicySettings {
            protected_branches: false,
            custom_branch_policies: true
        })
    );
    let policies = gh
        .branch_policies("acme/web", "npm")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (policies[0].name.as_str(), policies[0].kind.as_str()),
        ("v*", "tag")
    );
    assert_eq!(
        gh.repository_secret_names("acme/web")
            .await
            .unwrap_or_default(),
        ["NPM_TOKEN"]
    );
    assert_eq!(
        gh.organization_secret_names("acme")
            .await
            .unwrap_or_default(),
        ["NPM_TOKEN"]
    );
    assert_eq!(
        gh.repository_variables("acme/web")
            .await
            .unwrap_or_default()[0]
            .value,
        "22"
    );
    assert!(
        gh.oidc_subject("acme/web")
            .await
            .unwrap_or_default()
            .use_default
    );
    let file = gh
        .file("acme/web", ".github/workflows/publish.yml")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file.as_deref(), Some("on: push\n"));
    assert_eq!(
        gh.file("acme/web", "missing.yml")
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        None
    );

    // Harden an open environment: protected branches only, then a tag policy elsewhere.
    let env = gh
        .put_environment(
            "acme/web",
            "env-000",
            Some(BranchPolicySettings {
                protected_branches: true,
                custom_branch_policies: false,
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        env.protection_rules
            .iter()
            .any(|r| r.kind == "branch_policy")
    );
    let p = gh
        .create_branch_policy("acme/web", "npm", "release/*", "branch")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    gh.delete_branch_policy("acme/web", "npm", p.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    gh.delete_repository_secret("acme/web", "NPM_TOKEN")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    gh.delete_organization_secret("acme", "NPM_TOKEN")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        gh.repository_secret_names("acme/web")
            .await
            .unwrap_or_default()
            .is_empty()
    );
    let gone = gh.delete_repository_secret("acme/web", "NPM_TOKEN").await;
    assert!(gone.is_err_and(|e| e.is_not_found()));

    // Variables go the same way: repository and organisation level.
    gh.delete_repository_variable("acme/web", "NODE_VERSION")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        gh.repository_variables("acme/web")
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    let names = |vars: Vec<tokenless_api::github::Variable>| -> Vec<String> {
        vars.into_iter().map(|v| v.name).collect()
    };
    assert_eq!(
        names(
            gh.organization_variables("acme")
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        ),
        ["NPM_REGISTRY"]
    );
    gh.delete_organization_variable("acme", "NPM_REGISTRY")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        gh.organization_variables("acme")
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .is_empty()
    );
    let gone = gh
        .delete_organization_variable("acme", "NPM_REGISTRY")
        .await;
    assert!(gone.is_err_and(|e| e.is_not_found()));
    let gone = gh
        .delete_repository_variable("acme/web", "NODE_VERSION")
        .await;
    assert!(gone.is_err_and(|e| e.is_not_found()));
    assert!(
        gh.repository("not-a-repo")
            .await
            .is_err_and(|e| matches!(e.kind, ErrorKind::Invalid(_)))
    );
}

#[tokio::test]
async fn github_spent_budget_waits_for_the_reset_then_reports_rate_limited() {
    let sb = start(2).await;
    let gh = github(&sb);
    assert!(gh.repository("acme/web").await.is_ok());
    assert!(gh.repository("acme/web").await.is_ok());
    let third = gh.repository("acme/web").await;
    assert!(
        third
            .as_ref()
            .is_err_and(|e| matches!(e.kind, ErrorKind::RateLimited(_))),
        "{third:?}"
    );
}

#[tokio::test]
async fn gitlab_reads_follow_every_page_and_writes_take_effect() {
    let sb = start(5000).await;
    let gl = gitlab(&sb);
    let project = gl
        .project("acme/lib")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(project.path_with_namespace, "acme/lib");
    let vars = gl
        .project_variables("acme/lib")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        vars.len(),
        130,
        "two pages of 100 followed through x-next-page"
    );
    assert_eq!(
        gl.group_variables("acme").await.unwrap_or_default()[0].key,
        "NPM_TOKEN"
    );
    match gl
        .protected_environments(&project.id.to_string())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
    {
        Protection::Listed(list) => {
            assert_eq!(list[0].deploy_access_levels[0].access_level, Some(40))
        }
        Protection::NotOnThisTier => panic!("the scenario is Premium"),
    }
    gl.protect_environment("acme/lib", "staging", 40)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    gl.unprotect_environment("acme/lib", "staging")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    gl.delete_group_variable("acme", "NPM_TOKEN")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        gl.group_variables("acme")
            .await
            .unwrap_or_default()
            .is_empty()
    );
    let file = gl
        .file("acme/lib", ".gitlab-ci.yml", "main")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(file.is_some_and(|t| t.contains("npm publish")));
}

#[tokio::test]
async fn gitlab_free_tier_is_reported_not_guessed() {
    let sb = Sandbox::start(SandboxOptions {
        scenario: Scenario::Inline(
            scenario(5000).replace(r#""group": "acme","#, r#""group": "acme", "tier": "free","#),
        ),
        ..SandboxOptions::default()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let gl = gitlab(&sb);
    assert_eq!(
        gl.protected_environments("acme/lib")
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        Protection::NotOnThisTier
    );
}

#[tokio::test]
async fn hostile_github_answers_are_errors_not_loops() {
    let server = MockServer::start().await;
    let base = server.uri();
    // A Link to another origin: never followed (the token stays home).
    Mock::given(method("GET"))
        .and(path("/repos/a/b/actions/secrets"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("link", "<http://evil.example/steal?page=2>; rel=\"next\"")
                .set_body_json(serde_json::json!({"total_count": 1, "secrets": [{"name": "X"}]})),
        )
        .mount(&server)
        .await;
    // A Link back to itself: a loop.
    Mock::given(method("GET"))
        .and(path("/repos/a/b/environments"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header(
                    "link",
                    format!("<{base}/repos/a/b/environments?per_page=100>; rel=\"next\"").as_str(),
                )
                .set_body_json(
                    serde_json::json!({"total_count": 1, "environments": [{"name": "e"}]}),
                ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/a/b/actions/variables"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>not json</html>"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/a/b/contents/x"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"type": "file", "encoding": "base64", "content": "%%%"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/a/b/contents/dir"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"type": "dir", "encoding": "", "content": ""})),
        )
        .mount(&server)
        .await;
    let gh = GitHubClient::new(&base, Some(Secret::new("ghp_test")), fast())
        .unwrap_or_else(|e| panic!("{e}"));
    let cross = gh.repository_secret_names("a/b").await;
    assert!(
        cross
            .as_ref()
            .is_err_and(|e| e.to_string().contains("another origin")),
        "{cross:?}"
    );
    let looped = gh.environments("a/b").await;
    assert!(
        looped
            .as_ref()
            .is_err_and(|e| e.to_string().contains("loops")),
        "{looped:?}"
    );
    let garbage = gh.repository_variables("a/b").await;
    assert!(garbage.is_err_and(|e| matches!(e.kind, ErrorKind::Decode(_))));
    let bad64 = gh.file("a/b", "x").await;
    assert!(bad64.is_err_and(|e| matches!(e.kind, ErrorKind::Decode(_))));
    let dir = gh.file("a/b", "dir").await;
    assert!(dir.is_err_and(|e| matches!(e.kind, ErrorKind::Decode(_))));
    // The token never appears in an error.
    let shown = format!("{:?} {:?}", cross.err(), looped.err());
    assert!(!shown.contains("ghp_test"), "{shown}");
}

#[tokio::test]
async fn hostile_gitlab_pagination_is_refused() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/projects/g%2Fp/variables"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-next-page", "1")
                .set_body_json(serde_json::json!([{"key": "A"}])),
        )
        .mount(&server)
        .await;
    let gl = GitLabClient::new(&server.uri(), Some(Secret::new("glpat-test")), fast())
        .unwrap_or_else(|e| panic!("{e}"));
    let r = gl.project_variables("g/p").await;
    assert!(
        r.as_ref()
            .is_err_and(|e| e.to_string().contains("does not advance")),
        "{r:?}"
    );
}
