//! `tokenless preflight` in simulated CI jobs against the in-process sandbox (`migrated`:
//! @acme/core trusts CircleCI, @acme/site GitHub, @acme/lab GitLab): the real binary with
//! the provider's environment, the sandbox's issuers minting the id tokens, and every
//! refusal the exchange can give. The output never carries a minted or an id token.

use base64::Engine as _;
use serde_json::{Map, Value, json};
use tokenless_sandbox::{Sandbox, SandboxHandle, SandboxOptions, Scenario};

async fn start() -> SandboxHandle {
    Sandbox::start(SandboxOptions {
        scenario: Scenario::Migrated,
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox starts")
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// A CircleCI publish job of the monorepo on main with the npm-publish context.
fn circleci_claims(sb: &SandboxHandle) -> Map<String, Value> {
    let info = sb.info();
    let project = info
        .circleci
        .projects
        .iter()
        .find(|p| p.vcs_origin == "github.com/acme/monorepo")
        .expect("monorepo project");
    let ctx = info
        .circleci
        .contexts
        .iter()
        .find(|c| c.name == "npm-publish")
        .map(|c| c.id.clone());
    obj(json!({
        "aud": sb.audience(),
        "oidc.circleci.com/project-id": project.id,
        "oidc.circleci.com/pipeline-definition-id": project.pipeline_definition_id,
        "oidc.circleci.com/vcs-origin": project.vcs_origin,
        "oidc.circleci.com/vcs-ref": "refs/heads/main",
        "oidc.circleci.com/context-ids": [ctx],
        "oidc.circleci.com/ssh-rerun": false,
    }))
}

/// The publish job of acme/site on main in environment npm (no `aud`: the request URL
/// flow adds it).
fn github_claims() -> Map<String, Value> {
    obj(json!({
        "repository": "acme/site", "repository_owner": "acme", "environment": "npm",
        "ref": "refs/heads/main", "event_name": "push",
        "workflow_ref": "acme/site/.github/workflows/publish.yml@refs/heads/main",
    }))
}

fn gitlab_claims(sb: &SandboxHandle) -> Map<String, Value> {
    obj(json!({
        "aud": sb.audience(), "project_path": "acme/lab", "environment": "npm",
        "ref_protected": "true", "user_access_level": "maintainer",
        "ci_config_ref_uri": "gitlab.com/acme/lab//.gitlab-ci.yml@refs/heads/main",
    }))
}

async fn mint(sb: &SandboxHandle, provider: &str, claims: &Map<String, Value>) -> String {
    let url = format!("{}-/sandbox/oidc/{provider}/token", sb.url());
    let resp = reqwest::Client::new()
        .post(url)
        .json(&Value::Object(claims.clone()))
        .send()
        .await
        .expect("mint request");
    let status = resp.status();
    let body: Value = resp.json().await.expect("mint JSON");
    assert_eq!(status, 200, "mint refused: {body}");
    body["token"].as_str().expect("token").to_owned()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// The binary with only the given CI environment (every CI and token variable cleared).
async fn preflight(sb: &SandboxHandle, env: &[(&str, &str)], args: &[&str]) -> Run {
    let url = sb.url().to_string();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = assert_cmd::Command::cargo_bin("tokenless").expect("binary");
        cmd.args(["preflight", "--registry", &url]).args(&args);
        for k in [
            "CI",
            "CIRCLECI",
            "GITHUB_ACTIONS",
            "GITLAB_CI",
            "NPM_ID_TOKEN",
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "npm_config_registry",
            "NPM_CONFIG_REGISTRY",
        ] {
            cmd.env_remove(k);
        }
        // No circleci CLI on the way.
        cmd.env("PATH", "/nonexistent");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("runs")
    })
    .await
    .expect("joins");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// No minted registry token (`npm_` and 36 characters) and no id token in the output.
fn assert_no_secrets(run: &Run, id_tokens: &[&str]) {
    for text in [&run.stdout, &run.stderr] {
        let bytes = text.as_bytes();
        for (i, _) in text.match_indices("npm_") {
            let tail = &bytes[i + 4..];
            let run_len = tail
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            assert!(run_len < 36, "a minted token leaked: {text}");
        }
        for t in id_tokens {
            assert!(!text.contains(t), "the id token leaked: {text}");
            let sig = t.rsplit('.').next().unwrap_or_default();
            assert!(!text.contains(sig), "the id token's signature leaked");
        }
    }
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circleci_npm_id_token_would_publish_and_says_what_is_spent() {
    let sb = start().await;
    let token = mint(&sb, "circleci", &circleci_claims(&sb)).await;
    let run = preflight(
        &sb,
        &[("CIRCLECI", "true"), ("NPM_ID_TOKEN", &token)],
        &["--package", "@acme/core", "--package", "@acme/utils"],
    )
    .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("✓ @acme/core: the registry would accept a publish")
    );
    assert!(run.stdout.contains("✓ @acme/utils"));
    assert!(run.stdout.contains("single-use per id token and package"));
    assert_no_secrets(&run, &[&token]);

    // The exchange really happened: the same token is spent for @acme/core now.
    let again = preflight(
        &sb,
        &[("CIRCLECI", "true"), ("NPM_ID_TOKEN", &token)],
        &["--package", "@acme/core", "--format", "json"],
    )
    .await;
    assert_eq!(again.code, 1, "{}", again.stdout);
    let doc = json_of(&again);
    assert_eq!(doc["packages"][0]["would_publish"], false);
    assert!(
        doc["packages"][0]["refusal"]
            .as_str()
            .unwrap_or_default()
            .contains("404"),
        "{doc}"
    );
    assert_no_secrets(&again, &[&token]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_request_url_mints_a_fresh_token_per_check() {
    let sb = start().await;
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Value::Object(github_claims()).to_string());
    let request_url = format!(
        "{}-/sandbox/oidc/github/actions-token?claims={claims}",
        sb.url()
    );
    let env = [
        ("GITHUB_ACTIONS", "true"),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", request_url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-secret-xyz"),
    ];
    let run = preflight(&sb, &env, &["--package", "@acme/site"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("✓ @acme/site"), "{}", run.stdout);
    assert!(run.stdout.contains("fresh id token per package"));
    assert!(!run.stdout.contains("request-secret-xyz"));
    assert_no_secrets(&run, &[]);
    // Fresh token each time: a second run still works.
    assert_eq!(
        preflight(&sb, &env, &["--package", "@acme/site"])
            .await
            .code,
        0
    );

    // A package without a GitHub publisher: refused, diagnosed from the claims.
    let run = preflight(&sb, &env, &["--package", "@acme/core"]).await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("✗ @acme/core: refused"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("repository: \"acme/site\""),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("REFUSED"), "{}", run.stdout);
    assert_no_secrets(&run, &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitlab_npm_id_token_would_publish() {
    let sb = start().await;
    let token = mint(&sb, "gitlab", &gitlab_claims(&sb)).await;
    let run = preflight(
        &sb,
        &[("GITLAB_CI", "true"), ("NPM_ID_TOKEN", &token)],
        &["--package", "@acme/lab", "--format", "json"],
    )
    .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let doc = json_of(&run);
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["provider"], "gitlab");
    assert_eq!(doc["id_token_source"], "NPM_ID_TOKEN");
    assert_eq!(doc["packages"][0]["would_publish"], true);
    assert_no_secrets(&run, &[&token]);
}

/// A refusal: exit 1, the registry's answer, the decoded claims, and a failed check naming
/// `check` in explain's diagnosis.
async fn assert_refused(sb: &SandboxHandle, ci: &str, token: &str, package: &str, check: &str) {
    let run = preflight(
        sb,
        &[(ci, "true"), ("NPM_ID_TOKEN", token)],
        &["--package", package],
    )
    .await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains(&format!("✗ {package}: refused: HTTP 404")),
        "{}",
        run.stdout
    );
    let decoded = run.stdout.contains("id token claims (decoded locally")
        || run.stdout.contains("the id token is not a JWT");
    assert!(decoded, "{}", run.stdout);
    assert!(
        run.stdout.contains("diagnosis (tokenless explain)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(check),
        "expected a failed {check}: {}",
        run.stdout
    );
    assert_no_secrets(&run, &[token]);
    let json = preflight(
        sb,
        &[(ci, "true"), ("NPM_ID_TOKEN", token)],
        &["--package", package, "--format", "json"],
    )
    .await;
    assert_eq!(json.code, 1);
    let doc = json_of(&json);
    assert_eq!(doc["packages"][0]["diagnosis"]["accepted"], false, "{doc}");
    assert_no_secrets(&json, &[token]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_diagnosed() {
    let sb = start().await;

    // Wrong audience.
    let mut claims = circleci_claims(&sb);
    claims.insert("aud".into(), json!("npm:registry.npmjs.org"));
    let token = mint(&sb, "circleci", &claims).await;
    assert_refused(&sb, "CIRCLECI", &token, "@acme/core", "FAIL  audience").await;

    // Expired.
    let mut claims = circleci_claims(&sb);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    claims.insert("iat".into(), json!(now - 7200));
    claims.insert("nbf".into(), json!(now - 7200));
    claims.insert("exp".into(), json!(now - 3600));
    let token = mint(&sb, "circleci", &claims).await;
    assert_refused(&sb, "CIRCLECI", &token, "@acme/core", "FAIL  exp").await;

    // Wrong project (the cli project's token for a monorepo package).
    let info = sb.info();
    let cli = info
        .circleci
        .projects
        .iter()
        .find(|p| p.vcs_origin == "github.com/acme/cli")
        .expect("cli project");
    let mut claims = circleci_claims(&sb);
    claims.insert("oidc.circleci.com/project-id".into(), json!(cli.id));
    claims.insert(
        "oidc.circleci.com/pipeline-definition-id".into(),
        json!(cli.pipeline_definition_id),
    );
    claims.insert("oidc.circleci.com/vcs-origin".into(), json!(cli.vcs_origin));
    let token = mint(&sb, "circleci", &claims).await;
    assert_refused(
        &sb,
        "CIRCLECI",
        &token,
        "@acme/core",
        "so the refusal is the trust config",
    )
    .await;

    // Wrong repository on GitHub.
    let mut claims = github_claims();
    claims.insert("aud".into(), json!(sb.audience()));
    claims.insert("repository".into(), json!("acme/other"));
    claims.insert(
        "workflow_ref".into(),
        json!("acme/other/.github/workflows/publish.yml@refs/heads/main"),
    );
    let token = mint(&sb, "github", &claims).await;
    assert_refused(
        &sb,
        "GITHUB_ACTIONS",
        &token,
        "@acme/site",
        "so the refusal is the trust config",
    )
    .await;

    // A package without that publisher (a GitLab token for a CircleCI package).
    let token = mint(&sb, "gitlab", &gitlab_claims(&sb)).await;
    assert_refused(
        &sb,
        "GITLAB_CI",
        &token,
        "@acme/core",
        "so the refusal is the trust config",
    )
    .await;

    // A token from another provider than the job's (a CircleCI token in a GitLab job).
    let token = mint(&sb, "circleci", &circleci_claims(&sb)).await;
    assert_refused(
        &sb,
        "GITLAB_CI",
        &token,
        "@acme/lab",
        "issued by circleci but this job is gitlab",
    )
    .await;

    // Not a JWT at all.
    assert_refused(
        &sb,
        "CIRCLECI",
        "not-a-jwt",
        "@acme/core",
        "FAIL  token-format",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_id_token_is_a_usage_error_with_the_ci_config_to_add() {
    let sb = start().await;
    let run = preflight(
        &sb,
        &[("GITHUB_ACTIONS", "true")],
        &["--package", "@acme/site"],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains("ACTIONS_ID_TOKEN_REQUEST_URL"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("id-token: write"), "{}", run.stderr);

    // GitHub's request endpoint refusing: no id token either.
    let bad_url = format!(
        "{}-/sandbox/oidc/github/actions-token?claims=%21%21",
        sb.url()
    );
    let run = preflight(
        &sb,
        &[
            ("GITHUB_ACTIONS", "true"),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", &bad_url),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-secret-xyz"),
        ],
        &["--package", "@acme/site"],
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains("requesting an id token from GitHub"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("request-secret-xyz"), "{}", run.stderr);

    let run = preflight(&sb, &[("GITLAB_CI", "true")], &["--package", "@acme/lab"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("id_tokens:"), "{}", run.stderr);
    assert!(run.stderr.contains("NPM_ID_TOKEN"), "{}", run.stderr);

    let run = preflight(&sb, &[("CIRCLECI", "true")], &["--package", "@acme/core"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("circleci run oidc get"),
        "{}",
        run.stderr
    );

    // Not in CI at all, or CI=false: npm would not try OIDC.
    let run = preflight(
        &sb,
        &[("NPM_ID_TOKEN", "x.y.z")],
        &["--package", "@acme/core"],
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("GITHUB_ACTIONS"), "{}", run.stderr);
    let run = preflight(
        &sb,
        &[
            ("CI", "false"),
            ("CIRCLECI", "true"),
            ("NPM_ID_TOKEN", "x.y.z"),
        ],
        &["--package", "@acme/core"],
    )
    .await;
    assert_eq!(run.code, 2);
}

/// A `circleci` CLI shim on PATH: `circleci run oidc get --claims JSON` prints the next of
/// the tokens the sandbox minted for the job and logs the claims it was asked for.
#[cfg(unix)]
fn circleci_shim(dir: &std::path::Path, tokens: &[String]) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let pool = dir.join("tokens");
    std::fs::create_dir_all(&pool).expect("token pool");
    for (i, t) in tokens.iter().enumerate() {
        std::fs::write(pool.join(format!("{i:03}")), t).expect("token file");
    }
    let script = format!(
        r#"#!/bin/sh
[ "$1 $2 $3 $4" = "run oidc get --claims" ] || exit 64
printf '%s\n' "$5" >> '{log}'
f=$(ls '{pool}' | head -n 1)
[ -n "$f" ] || {{ echo 'no more tokens' >&2; exit 1; }}
cat '{pool}'/"$f"
rm '{pool}'/"$f"
"#,
        log = dir.join("claims.log").display(),
        pool = pool.display()
    );
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let path = bin.join("circleci");
    std::fs::write(&path, script).expect("shim");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    format!("{}:/usr/bin:/bin", bin.display())
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circleci_cli_mints_a_fresh_token_per_package() {
    let sb = start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let claims = circleci_claims(&sb);
    let tokens = vec![
        mint(&sb, "circleci", &claims).await,
        mint(&sb, "circleci", &claims).await,
    ];
    let path = circleci_shim(dir.path(), &tokens);
    let run = preflight(
        &sb,
        &[("CIRCLECI", "true"), ("PATH", &path)],
        &["--package", "@acme/core", "--package", "@acme/web"],
    )
    .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("circleci run oidc get"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("fresh id token per package"),
        "{}",
        run.stdout
    );
    let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    assert_no_secrets(&run, &refs);
    // One token per package, each asked for with the registry's audience.
    let log = std::fs::read_to_string(dir.path().join("claims.log")).expect("claims log");
    let asked: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("claims JSON"))
        .collect();
    assert_eq!(asked.len(), 2, "{log}");
    for a in &asked {
        assert_eq!(a["aud"], sb.audience(), "{log}");
    }
}
