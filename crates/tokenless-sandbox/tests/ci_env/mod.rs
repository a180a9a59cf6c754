//! CI environments for the real clients: id tokens minted by the sandbox's issuers and the
//! variables each provider sets, as the clients read them (CircleCI and GitLab hand over
//! `NPM_ID_TOKEN`; GitHub Actions offers `ACTIONS_ID_TOKEN_REQUEST_URL`, which the client
//! calls with the audience it derives from the registry URL).
#![allow(dead_code)] // each test binary uses a different subset

use base64::Engine as _;
use serde_json::{Map, Value, json};
use tokenless_sandbox::SandboxHandle;

/// A CI provider the sandbox issues id tokens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    CircleCi,
    GitHub,
    GitLab,
}

impl Job {
    pub const ALL: [Job; 3] = [Job::CircleCi, Job::GitHub, Job::GitLab];

    /// The sandbox issuer's name (`/-/sandbox/oidc/<name>/token`) and npm's `trustedPublisher.id`.
    pub fn id(self) -> &'static str {
        match self {
            Job::CircleCi => "circleci",
            Job::GitHub => "github",
            Job::GitLab => "gitlab",
        }
    }

    /// The name npm records as `_npmUser.name` for this provider's publishes.
    pub fn publisher(self) -> &'static str {
        match self {
            Job::CircleCi => "CircleCI",
            Job::GitHub => "GitHub Actions",
            Job::GitLab => "GitLab CI/CD",
        }
    }
}

/// Trust configs for the three providers, as a scenario writes them (with `permissions`
/// spliced in): CircleCI project `monorepo`, GitHub `acme/web` `publish.yml`, GitLab
/// `acme/lab` `.gitlab-ci.yml`; `claims` below matches each of them.
pub fn trust(ci: Job, permissions: &[&str]) -> Value {
    let mut t = match ci {
        Job::CircleCi => json!({"provider": "circleci", "project": "monorepo"}),
        Job::GitHub => {
            json!({"provider": "github", "repository": "acme/web", "file": "publish.yml"})
        }
        Job::GitLab => {
            json!({"provider": "gitlab", "project_path": "acme/lab", "file": ".gitlab-ci.yml"})
        }
    };
    t["permissions"] = json!(permissions);
    t
}

/// The CircleCI project every scenario using [`trust`] needs.
pub fn circleci_scenario() -> Value {
    json!({"projects": [{"name": "monorepo", "vcs_origin": "github.com/acme/monorepo"}]})
}

/// Claims of a publish job on main that the matching [`trust`] config accepts (no `aud`:
/// [`mint`] adds npm's audience, the GitHub request flow the one the client asks for).
pub fn claims(sb: &SandboxHandle, ci: Job) -> Map<String, Value> {
    let v = match ci {
        Job::CircleCi => {
            let info = sb.info();
            let project = info
                .circleci
                .projects
                .iter()
                .find(|p| p.vcs_origin == "github.com/acme/monorepo")
                .unwrap_or_else(|| panic!("no monorepo project in {:?}", info.circleci));
            json!({
                "oidc.circleci.com/org-id": info.circleci.org_id,
                "oidc.circleci.com/project-id": project.id,
                "oidc.circleci.com/pipeline-definition-id": project.pipeline_definition_id,
                "oidc.circleci.com/vcs-origin": project.vcs_origin,
                "oidc.circleci.com/vcs-ref": "refs/heads/main",
                "oidc.circleci.com/ssh-rerun": false,
            })
        }
        Job::GitHub => json!({
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
        }),
        Job::GitLab => json!({
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
        }),
    };
    v.as_object().cloned().unwrap_or_default()
}

/// An id token for `ci`'s publish job with audience `aud`.
pub async fn mint_for(sb: &SandboxHandle, ci: Job, aud: &str) -> String {
    let mut c = claims(sb, ci);
    c.insert("aud".into(), json!(aud));
    let url = format!("{}-/sandbox/oidc/{}/token", sb.url(), ci.id());
    let resp = reqwest::Client::new()
        .post(&url)
        .json(&Value::Object(c))
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "mint refused: {body}");
    body["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token in the mint answer"))
        .to_owned()
}

/// An id token with npm's audience (`npm:<registry hostname>`), as a pipeline exports it.
pub async fn mint(sb: &SandboxHandle, ci: Job) -> String {
    mint_for(sb, ci, sb.audience()).await
}

/// The GitHub Actions id-token request URL (the sandbox's stand-in), with the job's claims;
/// the client appends `&audience=…` itself.
pub fn actions_request_url(sb: &SandboxHandle) -> String {
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Value::Object(claims(sb, Job::GitHub)).to_string());
    format!(
        "{}-/sandbox/oidc/github/actions-token?claims={claims}",
        sb.url()
    )
}

/// The variables a publish job of `ci` has, with a fresh id token where the provider hands
/// one over (every exchange spends its token for that package).
pub async fn job_env(sb: &SandboxHandle, ci: Job) -> Vec<(String, String)> {
    let kv = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    match ci {
        Job::CircleCi => vec![
            kv("CI", "true"),
            kv("CIRCLECI", "true"),
            kv("NPM_ID_TOKEN", &mint(sb, ci).await),
        ],
        Job::GitLab => vec![
            kv("CI", "true"),
            kv("GITLAB_CI", "true"),
            kv("NPM_ID_TOKEN", &mint(sb, ci).await),
        ],
        Job::GitHub => vec![
            kv("CI", "true"),
            kv("GITHUB_ACTIONS", "true"),
            kv("ACTIONS_ID_TOKEN_REQUEST_URL", &actions_request_url(sb)),
            kv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "sandbox-request-token"),
        ],
    }
}

/// `_npmUser` of `name@version` in the public packument.
pub async fn npm_user(sb: &SandboxHandle, name: &str, version: &str) -> Value {
    let url = format!("{}{}", sb.url(), name.replace('/', "%2f"));
    let resp = reqwest::Client::new()
        .get(&url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let doc: Value = resp.json().await.unwrap_or(Value::Null);
    doc["versions"][version]["_npmUser"].clone()
}

/// The trust config ids of `name`, in creation order (read with `user`'s session).
pub async fn trust_ids(sb: &SandboxHandle, name: &str, session: &str) -> Vec<String> {
    let url = format!("{}-/package/{}/trust", sb.url(), name.replace('/', "%2f"));
    let resp = reqwest::Client::new()
        .get(&url)
        .bearer_auth(session)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let configs: Value = resp.json().await.unwrap_or(Value::Null);
    configs
        .as_array()
        .unwrap_or_else(|| panic!("trust list of {name} is not an array: {configs}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Asserts that `name@version` was published by `ci`'s trusted publisher `config_id`.
#[track_caller]
pub fn assert_trusted(user: &Value, ci: Job, config_id: &str) {
    assert_eq!(user["name"], ci.publisher(), "{user}");
    assert_eq!(user["trustedPublisher"]["id"], ci.id(), "{user}");
    assert_eq!(
        user["trustedPublisher"]["oidcConfigId"], config_id,
        "{user}"
    );
}
