//! The sandbox's GitHub REST subset over loopback: every response is validated against
//! GitHub's own OpenAPI description (`@octokit/openapi`, `generated/api.github.com.json`),
//! which `.ci/run` fetches from the npm registry and points `TOKENLESS_GITHUB_OPENAPI` at
//! (never vendored). Without it the schema checks are skipped with a note, unless
//! `TOKENLESS_REQUIRE_OPENAPI=1` makes that a failure; the behaviour is asserted either way.

mod common;

use std::sync::OnceLock;

use base64::Engine as _;
use reqwest::Method;
use serde_json::{Value, json};
use tokenless_sandbox::{SandboxHandle, Scenario};

const SCENARIO: &str = r#"{
  "org": "acme",
  "users": [{"name": "alice", "role": "owner"}],
  "github": {
    "org": "acme",
    "secrets": ["NPM_TOKEN"],
    "variables": {"REGISTRY": "https://registry.npmjs.org"},
    "repos": [
      {"name": "web", "protected_branches": ["main"],
       "secrets": ["NPM_TOKEN", "CODECOV_TOKEN"], "variables": {"NODE_VERSION": "22"},
       "environments": [
         {"name": "npm", "branch_policy": "protected", "reviewers": ["alice"]},
         {"name": "release", "branch_policy": "custom", "policies": [{"name": "v*", "type": "tag"}], "secrets": ["NPM_TOKEN"]},
         {"name": "open"}
       ],
       "files": {".github/workflows/publish.yml": ["on: push", "jobs:", "  publish:", "    runs-on: ubuntu-latest", "    steps:", "      - run: npm publish"]}}
    ]
  }
}"#;

/// GitHub's OpenAPI description with OpenAPI 3.0's `nullable` turned into JSON Schema.
fn spec() -> Option<&'static Value> {
    static SPEC: OnceLock<Option<Value>> = OnceLock::new();
    SPEC.get_or_init(|| {
        let Some(path) = std::env::var_os("TOKENLESS_GITHUB_OPENAPI") else {
            assert!(
                std::env::var_os("TOKENLESS_REQUIRE_OPENAPI").is_none(),
                "TOKENLESS_REQUIRE_OPENAPI is set but TOKENLESS_GITHUB_OPENAPI is not"
            );
            eprintln!("note: skipping GitHub OpenAPI checks: TOKENLESS_GITHUB_OPENAPI is not set (.ci/run sets it)");
            return None;
        };
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("openapi: {e}"));
        let mut doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("openapi: {e}"));
        denullable(&mut doc);
        Some(doc)
    })
    .as_ref()
}

/// `{"type": T, "nullable": true}` → `{"type": [T, "null"]}`; any other nullable schema →
/// `{"anyOf": [schema, {"type": "null"}]}`.
fn denullable(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                denullable(child);
            }
            if map.remove("nullable") == Some(Value::Bool(true)) {
                match map.get("type").cloned() {
                    Some(Value::String(t)) => {
                        map.insert("type".into(), json!([t, "null"]));
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(map));
                        map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                    }
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(denullable),
        _ => {}
    }
}

/// Validates `body` against the response schema GitHub documents for `method template status`.
fn assert_contract(method: &str, template: &str, status: u16, body: &Value) {
    let Some(doc) = spec() else { return };
    let mut response = &doc["paths"][template][method]["responses"][status.to_string()];
    if let Some(reference) = response["$ref"].as_str() {
        // `#/components/responses/not_found` and the like.
        let name = reference.rsplit('/').next().unwrap_or_default();
        response = &doc["components"]["responses"][name];
    }
    let schema = response["content"]["application/json"]["schema"].clone();
    assert!(
        !schema.is_null(),
        "no schema for {method} {template} {status}"
    );
    let root = json!({"allOf": [schema], "components": doc["components"]});
    let validator = jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("schema: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {template}: {errors:#?}\n{body}"
    );
}

async fn sandbox() -> (SandboxHandle, String, String) {
    let sb = common::start(Scenario::Inline(SCENARIO.to_owned())).await;
    let gh = sb
        .info()
        .github
        .unwrap_or_else(|| panic!("no github in info"));
    (sb, gh.api, gh.token)
}

async fn call(
    method: Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    common::call_with(
        method,
        url,
        ("authorization", &format!("Bearer {token}")),
        body,
    )
    .await
}

#[tokio::test]
async fn requests_without_the_token_are_refused_as_github_does() {
    let (_sb, api, _) = sandbox().await;
    let (status, _, body) = call(
        Method::GET,
        &format!("{api}/repos/acme/web"),
        "ghp_wrong",
        None,
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["message"], "Bad credentials");
    assert_contract("get", "/repos/{owner}/{repo}", 404, &body);
}

#[tokio::test]
async fn repository_environments_and_branch_policies() {
    let (_sb, api, token) = sandbox().await;
    let (status, headers, repo) =
        call(Method::GET, &format!("{api}/repos/acme/web"), &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(repo["full_name"], "acme/web");
    assert_eq!(
        headers
            .get("x-ratelimit-limit")
            .and_then(|v| v.to_str().ok()),
        Some("5000")
    );
    assert_contract("get", "/repos/{owner}/{repo}", 200, &repo);

    let (status, headers, envs) = call(
        Method::GET,
        &format!("{api}/repos/acme/web/environments?per_page=2"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(envs["total_count"], 3);
    assert_eq!(envs["environments"].as_array().map(Vec::len), Some(2));
    let link = headers
        .get("link")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(link.contains("page=2>; rel=\"next\""), "{link}");
    assert_contract("get", "/repos/{owner}/{repo}/environments", 200, &envs);
    let npm = &envs["environments"][0];
    assert_eq!(npm["name"], "npm");
    assert_eq!(
        npm["deployment_branch_policy"],
        json!({"protected_branches": true, "custom_branch_policies": false})
    );

    let (status, _, release) = call(
        Method::GET,
        &format!("{api}/repos/acme/web/environments/release/deployment-branch-policies"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(release["branch_policies"][0]["name"], "v*");
    assert_eq!(release["branch_policies"][0]["type"], "tag");
    assert_contract(
        "get",
        "/repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies",
        200,
        &release,
    );

    // Open → restricted to custom policies, then a release-branch policy added and removed.
    let (status, _, env) = call(Method::PUT, &format!("{api}/repos/acme/web/environments/open"), &token,
        Some(json!({"deployment_branch_policy": {"protected_branches": false, "custom_branch_policies": true}}))).await;
    assert_eq!(status, 200, "{env}");
    assert_contract(
        "put",
        "/repos/{owner}/{repo}/environments/{environment_name}",
        200,
        &env,
    );
    let (status, _, policy) = call(
        Method::POST,
        &format!("{api}/repos/acme/web/environments/open/deployment-branch-policies"),
        &token,
        Some(json!({"name": "release/*", "type": "branch"})),
    )
    .await;
    assert_eq!(status, 200, "{policy}");
    assert_contract(
        "post",
        "/repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies",
        200,
        &policy,
    );
    let id = policy["id"].as_u64().unwrap_or_default();
    let (status, _, _) = call(
        Method::DELETE,
        &format!("{api}/repos/acme/web/environments/open/deployment-branch-policies/{id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 204);
    // Both settings true (or both false) is refused as GitHub refuses it.
    let (status, _, _) = call(Method::PUT, &format!("{api}/repos/acme/web/environments/open"), &token,
        Some(json!({"deployment_branch_policy": {"protected_branches": true, "custom_branch_policies": true}}))).await;
    assert_eq!(status, 422);
    let (status, _, missing) = call(
        Method::GET,
        &format!("{api}/repos/acme/nope/environments"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(missing["message"], "Not Found");
}

#[tokio::test]
async fn secrets_are_listed_by_name_only_and_deleted() {
    let (_sb, api, token) = sandbox().await;
    let (status, _, secrets) = call(
        Method::GET,
        &format!("{api}/repos/acme/web/actions/secrets"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_contract(
        "get",
        "/repos/{owner}/{repo}/actions/secrets",
        200,
        &secrets,
    );
    let names: Vec<&str> = secrets["secrets"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["NPM_TOKEN", "CODECOV_TOKEN"]);
    assert!(
        secrets["secrets"]
            .as_array()
            .is_some_and(|a| a.iter().all(|s| s.get("value").is_none()))
    );
    let (status, _, env_secrets) = call(
        Method::GET,
        &format!("{api}/repos/acme/web/environments/release/secrets"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_contract(
        "get",
        "/repos/{owner}/{repo}/environments/{environment_name}/secrets",
        200,
        &env_secrets,
    );
    let (status, _, org) = call(
        Method::GET,
        &format!("{api}/orgs/acme/actions/secrets"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_contract("get", "/orgs/{org}/actions/secrets", 200, &org);
    let (status, _, vars) = call(
        Method::GET,
        &format!("{api}/repos/acme/web/actions/variables"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_contract("get", "/repos/{owner}/{repo}/actions/variables", 200, &vars);
    let (status, _, org_vars) = call(
        Method::GET,
        &format!("{api}/orgs/acme/actions/variables"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_contract("get", "/orgs/{org}/actions/variables", 200, &org_vars);
    for path in [
        "repos/acme/web/actions/secrets/NPM_TOKEN",
        "repos/acme/web/environments/release/secrets/NPM_TOKEN",
        "orgs/acme/actions/secrets/NPM_TOKEN",
    ] {
        let (status, _, _) = call(Method::DELETE, &format!("{api}/{path}"), &token, None).await;
        assert_eq!(status, 204, "{path}");
        let (status, _, _) = call(Method::DELETE, &format!("{api}/{path}"), &token, None).await;
        assert_eq!(status, 404, "{path} again");
    }
}

#[tokio::test]
async fn oidc_subject_and_workflow_contents() {
    let (_sb, api, token) = sandbox().await;
    let (status, _, sub) = call(
        Method::GET,
        &format!("{api}/repos/acme/web/actions/oidc/customization/sub"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_contract(
        "get",
        "/repos/{owner}/{repo}/actions/oidc/customization/sub",
        200,
        &sub,
    );
    let (status, _, file) = call(
        Method::GET,
        &format!("{api}/repos/acme/web/contents/.github/workflows/publish.yml"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_contract("get", "/repos/{owner}/{repo}/contents/{path}", 200, &file);
    let text = base64::engine::general_purpose::STANDARD
        .decode(file["content"].as_str().unwrap_or_default())
        .unwrap_or_default();
    assert!(String::from_utf8_lossy(&text).contains("npm publish"));
}

#[tokio::test]
async fn the_hourly_budget_ends_in_403_with_rate_limit_headers() {
    let scenario = SCENARIO.replace(
        "\"org\": \"acme\",\n    \"secrets\"",
        "\"org\": \"acme\", \"rate_limit\": 3,\n    \"secrets\"",
    );
    let sb = common::start(Scenario::Inline(scenario)).await;
    let gh = sb.info().github.unwrap_or_else(|| panic!("no github"));
    let mut last = (0, None);
    for _ in 0..4 {
        let (status, headers, _) = call(
            Method::GET,
            &format!("{}/repos/acme/web", gh.api),
            &gh.token,
            None,
        )
        .await;
        last = (
            status,
            headers
                .get("x-ratelimit-remaining")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        );
    }
    assert_eq!(last, (403, Some("0".to_owned())));
}

#[tokio::test]
async fn the_github_issuer_refuses_jobs_their_environment_would_not_run() {
    let (sb, _, _) = sandbox().await;
    let mint = format!("{}-/sandbox/oidc/github/token", sb.url());
    let claims = |env: &str, git_ref: &str| {
        json!({"repository": "acme/web", "environment": env, "ref": git_ref,
        "workflow_ref": format!("acme/web/.github/workflows/publish.yml@{git_ref}"), "event_name": "push"})
    };
    for (env, git_ref, allowed) in [
        ("npm", "refs/heads/main", true),
        ("npm", "refs/heads/feature", false),
        ("release", "refs/tags/v1.2.0", true),
        ("release", "refs/heads/main", false),
        ("open", "refs/heads/anything", true),
        ("not-configured", "refs/heads/anything", true),
    ] {
        let (status, body) =
            common::send_json(Method::POST, &mint, None, None, &claims(env, git_ref)).await;
        assert_eq!(status == 200, allowed, "{env} {git_ref}: {status} {body}");
        if !allowed {
            assert!(
                body["error"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("environment protection rules"),
                "{body}"
            );
        }
    }
}
