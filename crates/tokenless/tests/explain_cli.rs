//! `tokenless explain` end to end: snapshots of the text and JSON reports, exit codes
//! (0 accepted, 1 refused, 2 unusable input), stdin, the sandbox key source over real
//! loopback HTTP, and that the token is never printed.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::sync::OnceLock;

use assert_cmd::Command;
use serde_json::{Value, json};
use tokenless_trust::signer::{SigningKey, jwks_document};

const NOW: u64 = 1_790_000_000;
const ORG: &str = "1f0e8a5b-7c1d-4e2f-9a3b-5c6d7e8f9a0b";
const CONTEXT: &str = "1f0c0d1e-0000-4000-8000-000000000003";

fn key() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate_rs256("k1").expect("key"))
}

fn circleci_claims(iss: &str, aud: &str) -> Value {
    json!({
        "iss": iss, "aud": aud, "iat": NOW - 30, "exp": NOW + 3570,
        "sub": format!("org/{ORG}/project/p/user/u"),
        "jti": "c7d8e9f0-0000-4000-8000-000000000006",
        "oidc.circleci.com/org-id": ORG,
        "oidc.circleci.com/project-id": "2a1b3c4d-0000-4000-8000-000000000001",
        "oidc.circleci.com/pipeline-definition-id": "3b2c4d5e-0000-4000-8000-000000000002",
        "oidc.circleci.com/vcs-origin": "github.com/acme/widgets",
        "oidc.circleci.com/vcs-ref": "refs/heads/main",
        "oidc.circleci.com/context-ids": [CONTEXT],
        "oidc.circleci.com/ssh-rerun": false,
    })
}

fn production_circleci_claims() -> Value {
    circleci_claims(
        &format!("https://oidc.circleci.com/org/{ORG}"),
        "npm:registry.npmjs.org",
    )
}

fn circleci_trust() -> Value {
    json!([{"id": "tc-circle", "type": "circleci", "claims": {
        "oidc.circleci.com/org-id": ORG,
        "oidc.circleci.com/project-id": "2a1b3c4d-0000-4000-8000-000000000001",
        "oidc.circleci.com/pipeline-definition-id": "3b2c4d5e-0000-4000-8000-000000000002",
        "oidc.circleci.com/vcs-origin": "github.com/acme/widgets",
        "oidc.circleci.com/context-ids": [CONTEXT],
    }, "permissions": ["createPackage"]}])
}

struct Files {
    dir: tempfile::TempDir,
    token: String,
}

fn files(claims: &Value, trust: &Value) -> Files {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = key().sign_jwt(claims).expect("sign");
    std::fs::write(dir.path().join("token.jwt"), format!("{token}\n")).expect("write");
    std::fs::write(dir.path().join("trust.json"), trust.to_string()).expect("write");
    std::fs::write(
        dir.path().join("jwks.json"),
        jwks_document([key()]).to_string(),
    )
    .expect("write");
    Files { dir, token }
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn explain(dir: &Path, args: &[&str], stdin: Option<String>) -> Out {
    let mut cmd = Command::cargo_bin("tokenless").expect("binary");
    cmd.current_dir(dir)
        .arg("explain")
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("CI")
        .env_remove("CIRCLECI")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITLAB_CI")
        .env_remove("NPM_ID_TOKEN");
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    let output = cmd.output().expect("run");
    Out {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

const BASE: &[&str] = &[
    "--id-token",
    "token.jwt",
    "--trust",
    "trust.json",
    "--package",
    "@acme/widgets",
    "--jwks",
    "jwks.json",
    "--now",
    "1790000000",
];

fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    BASE.iter().copied().chain(extra.iter().copied()).collect()
}

#[test]
fn accepted_circleci_text_and_json() {
    let f = files(&production_circleci_claims(), &circleci_trust());
    let out = explain(f.dir.path(), &args(&[]), None);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains(&f.token));
    insta::assert_snapshot!("accepted_circleci_text", out.stdout);
    let out = explain(f.dir.path(), &args(&["--format", "json"]), None);
    assert_eq!(out.code, Some(0));
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["accepted"], true);
    assert_eq!(v["provider"], "circleci");
    insta::assert_snapshot!("accepted_circleci_json", out.stdout);
}

#[test]
fn missing_context_is_refused_with_the_fix() {
    let mut claims = production_circleci_claims();
    claims["oidc.circleci.com/context-ids"] = json!([]);
    let f = files(&claims, &circleci_trust());
    let out = explain(f.dir.path(), &args(&[]), None);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stdout
            .contains(&format!("did not attach context {CONTEXT}")),
        "{}",
        out.stdout
    );
    insta::assert_snapshot!("refused_missing_context_text", out.stdout);
}

#[test]
fn pull_request_target_is_tokenless_policy_in_json() {
    let claims = json!({
        "iss": "https://token.actions.githubusercontent.com", "aud": "npm:registry.npmjs.org",
        "iat": NOW - 5, "exp": NOW + 295, "jti": "gh-1", "repository": "acme/widgets",
        "workflow_ref": "acme/widgets/.github/workflows/publish.yml@refs/heads/main",
        "event_name": "pull_request_target",
    });
    let trust = json!({"id": "tc-gh", "type": "github", "claims": {"repository": "acme/widgets", "workflow_ref": {"file": "publish.yml"}}, "permissions": ["createPackage"]});
    let f = files(&claims, &trust);
    let out = explain(f.dir.path(), &args(&["--format", "json"]), None);
    assert_eq!(out.code, Some(1));
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["npm_would_accept"], true);
    insta::assert_snapshot!("refused_pull_request_target_json", out.stdout);
    let text = explain(f.dir.path(), &args(&[]), None);
    assert!(
        text.stdout
            .contains("registry.npmjs.org itself would accept"),
        "{}",
        text.stdout
    );
}

#[test]
fn stage_action_and_stdin_token() {
    let f = files(&production_circleci_claims(), &circleci_trust());
    let mut a = args(&["--action", "stage"]);
    a[1] = "-";
    let out = explain(f.dir.path(), &a, Some(format!("{}\n", f.token)));
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("stage needs createStagedPackage"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("--allow-stage-publish"),
        "{}",
        out.stdout
    );
}

#[test]
fn hostile_tokens_are_refusals_not_errors() {
    let f = files(&production_circleci_claims(), &circleci_trust());
    for garbage in [
        "",
        "not-a-jwt",
        "a.b.c",
        "eyJhbGciOiJub25lIn0.e30.",
        &"x".repeat(40_000),
    ] {
        std::fs::write(f.dir.path().join("token.jwt"), garbage).expect("write");
        let out = explain(f.dir.path(), &args(&[]), None);
        assert_eq!(
            out.code,
            Some(1),
            "{garbage:.20}: {}{}",
            out.stdout,
            out.stderr
        );
        assert!(out.stdout.contains("REFUSED"));
    }
}

#[test]
fn unusable_input_exits_2_naming_the_problem() {
    let f = files(&production_circleci_claims(), &circleci_trust());
    let dir = f.dir.path();
    let out = explain(
        dir,
        &[
            "--id-token",
            "missing.jwt",
            "--trust",
            "trust.json",
            "--package",
            "p",
            "--jwks",
            "jwks.json",
        ],
        None,
    );
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("missing.jwt"), "{}", out.stderr);

    std::fs::write(
        dir.join("bad-trust.json"),
        r#"{"type":"circleci","claims":{},"permissions":["createPackage"]}"#,
    )
    .expect("write");
    let out = explain(
        dir,
        &[
            "--id-token",
            "token.jwt",
            "--trust",
            "bad-trust.json",
            "--package",
            "p",
            "--jwks",
            "jwks.json",
        ],
        None,
    );
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr
            .contains("claims.oidc.circleci.com/org-id: missing required field"),
        "{}",
        out.stderr
    );

    let out = explain(
        dir,
        &[
            "--id-token",
            "token.jwt",
            "--trust",
            "trust.json",
            "--package",
            "p",
        ],
        None,
    );
    assert_eq!(out.code, Some(2), "no key source");
    let out = explain(
        dir,
        &[
            "--id-token",
            "token.jwt",
            "--trust",
            "trust.json",
            "--package",
            "p",
            "--jwks",
            "jwks.json",
            "--online",
        ],
        None,
    );
    assert_eq!(out.code, Some(2), "two key sources");
    std::fs::write(
        dir.join("empty.json"),
        r#"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}"#,
    )
    .expect("write");
    let out = explain(
        dir,
        &[
            "--id-token",
            "token.jwt",
            "--trust",
            "trust.json",
            "--package",
            "p",
            "--jwks",
            "empty.json",
        ],
        None,
    );
    assert_eq!(out.code, Some(2));
    assert!(
        out.stderr.contains("no usable RS256/ES256 key"),
        "{}",
        out.stderr
    );
    let out = explain(dir, &args(&["--action", "delete"]), None);
    assert_eq!(out.code, Some(2));
    assert!(!out.stderr.contains(&f.token) && !out.stdout.contains(&f.token));
}

#[test]
fn help_teaches_key_sources_and_exit_codes() {
    let out = explain(Path::new("."), &["--help"], None);
    assert_eq!(out.code, Some(0));
    for needle in [
        "--jwks",
        "--online",
        "--sandbox",
        "Exit status: 0 accepted, 1 refused, 2",
        "never consumes",
    ] {
        assert!(out.stdout.contains(needle), "help lacks {needle:?}");
    }
}

/// A minimal loopback HTTP server on `listener`: path → JSON body, 404 otherwise.
fn serve(listener: TcpListener, routes: Vec<(String, String)>) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
                }
            }
            let text = String::from_utf8_lossy(&buf);
            let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let (status, body) = routes
                .iter()
                .find(|(p, _)| *p == path)
                .map_or((404, "{}".to_owned()), |(_, b)| (200, b.clone()));
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
}

#[test]
fn sandbox_issuers_over_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let circle_iss = format!("{base}/-/sandbox/oidc/circleci/org/{ORG}");
    let info = json!({"registry": format!("{base}/"), "issuers": {
        "circleci": circle_iss, "github": format!("{base}/-/sandbox/oidc/github"), "gitlab": format!("{base}/-/sandbox/oidc/gitlab")}});
    serve(listener, vec![
        ("/-/sandbox/info".to_owned(), info.to_string()),
        (format!("/-/sandbox/oidc/circleci/org/{ORG}/.well-known/openid-configuration"),
            json!({"issuer": circle_iss, "jwks_uri": format!("{circle_iss}/.well-known/jwks-pub.json")}).to_string()),
        (format!("/-/sandbox/oidc/circleci/org/{ORG}/.well-known/jwks-pub.json"), jwks_document([key()]).to_string()),
    ]);
    let f = files(
        &circleci_claims(&circle_iss, "npm:127.0.0.1"),
        &circleci_trust(),
    );
    let out = explain(
        f.dir.path(),
        &[
            "--id-token",
            "token.jwt",
            "--trust",
            "trust.json",
            "--package",
            "@acme/widgets",
            "--sandbox",
            &base,
            "--now",
            "1790000000",
        ],
        None,
    );
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("npm:127.0.0.1"), "{}", out.stdout);
    // The same token against the production issuers is refused by issuer.
    let out = explain(f.dir.path(), &args(&[]), None);
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.contains("FAIL  issuer"), "{}", out.stdout);
}

fn circleci_config(id: &str, project: &str, permissions: &[&str]) -> Value {
    let mut config = circleci_trust()[0].clone();
    config["id"] = json!(id);
    config["claims"]["oidc.circleci.com/project-id"] = json!(project);
    config["permissions"] = json!(permissions);
    config
}

#[test]
fn two_configs_one_stage_only_publish_is_granted_by_the_other() {
    let project = "2a1b3c4d-0000-4000-8000-000000000001";
    let trust = json!([
        circleci_config("tc-stage", project, &["createStagedPackage"]),
        circleci_config("tc-publish", project, &["createPackage"]),
    ]);
    let f = files(&production_circleci_claims(), &trust);
    let out = explain(f.dir.path(), &args(&[]), None);
    assert_eq!(out.code, Some(0), "{}{}", out.stdout, out.stderr);
    insta::assert_snapshot!("two_configs_publish_text", out.stdout);
    assert!(
        out.stdout
            .contains("ACCEPTED: the registry would mint a token for @acme/widgets (publish) (trust config tc-publish)"),
        "{}",
        out.stdout
    );

    let out = explain(f.dir.path(), &args(&["--format", "json"]), None);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(
        v["grants"],
        json!([{"action": "publish", "trust_config_id": "tc-publish"}])
    );
    let configs = v["configs"].as_array().expect("configs");
    assert_eq!(configs.len(), 2);
    assert_eq!(configs[0]["id"], "tc-stage");
    assert_eq!(configs[0]["matches"], true);
    assert_eq!(configs[0]["used"], false);
    assert_eq!(configs[0]["permissions"], json!(["createStagedPackage"]));
    assert_eq!(configs[1]["used"], true);

    // Staging is granted by the stage-only config.
    let out = explain(
        f.dir.path(),
        &args(&["--action", "stage", "--format", "json"]),
        None,
    );
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(
        v["grants"],
        json!([{"action": "stage", "trust_config_id": "tc-stage"}])
    );
    assert_eq!(v["trust_config_id"], "tc-stage");
}

#[test]
fn a_token_matching_neither_config_shows_both_failures() {
    let trust = json!([
        circleci_config(
            "tc-a",
            "2a1b3c4d-0000-4000-8000-0000000000aa",
            &["createPackage"]
        ),
        circleci_config(
            "tc-b",
            "2a1b3c4d-0000-4000-8000-0000000000bb",
            &["createStagedPackage", "createPackage"]
        ),
    ]);
    let mut claims = production_circleci_claims();
    claims["oidc.circleci.com/ssh-rerun"] = json!(true);
    let f = files(&claims, &trust);
    let out = explain(f.dir.path(), &args(&[]), None);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    insta::assert_snapshot!("neither_config_text", out.stdout);
    for id in ["tc-a", "tc-b"] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(id))
            .unwrap_or_default();
        assert!(
            line.contains("claims do not match: circleci-project-id, circleci-ssh-rerun failed"),
            "{id}: {line}"
        );
    }
    let out = explain(f.dir.path(), &args(&["--format", "json"]), None);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["grants"], json!([]));
    for config in v["configs"].as_array().expect("configs") {
        let failed: Vec<&str> = config["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .filter(|c| c["status"] == "fail")
            .filter_map(|c| c["id"].as_str())
            .collect();
        assert_eq!(
            failed,
            ["circleci-project-id", "circleci-ssh-rerun"],
            "{config}"
        );
        assert_eq!(config["matches"], false);
    }
}

fn github_claims(iss: &str, sub: &str) -> Value {
    json!({
        "iss": iss, "aud": "npm:registry.npmjs.org", "sub": sub,
        "iat": NOW - 5, "exp": NOW + 295, "jti": "gh-2", "repository": "acme/widgets",
        "workflow_ref": "acme/widgets/.github/workflows/publish.yml@refs/heads/main",
        "event_name": "push", "ref": "refs/heads/main",
    })
}

fn github_trust() -> Value {
    json!({"id": "tc-gh", "type": "github", "claims": {"repository": "acme/widgets", "workflow_ref": {"file": "publish.yml"}}, "permissions": ["createPackage"]})
}

#[test]
fn github_immutable_subject_is_named_with_npms_404_and_the_fix() {
    let claims = github_claims(
        "https://token.actions.githubusercontent.com",
        "repo:acme@1234/widgets@5678:ref:refs/heads/main",
    );
    let f = files(&claims, &github_trust());
    let out = explain(f.dir.path(), &args(&[]), None);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains(&f.token));
    for needle in [
        "FAIL  github-subject",
        "REFUSED: github-subject failed",
        "Cause: github-immutable-subject: npm's OIDC exchange answers 404 \"package not found\" although the trust config matches (npm/cli#9969)",
        "Fix: follow npm/cli#9969",
        "use_immutable_subject",
    ] {
        assert!(out.stdout.contains(needle), "{needle}:\n{}", out.stdout);
    }
    let out = explain(f.dir.path(), &args(&["--format", "json"]), None);
    assert_eq!(out.code, Some(1));
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["npm_status"], 404);
    assert_eq!(v["npm_would_accept"], false);
    assert_eq!(v["causes"][0]["id"], "github-immutable-subject");
    assert_eq!(v["causes"][0]["issue"], "npm/cli#9969");
    let subject = v["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "github-subject"))
        .expect("github-subject check");
    assert_eq!(subject["status"], "fail");
    assert_eq!(subject["cause"]["npm_status"], 404);
    // The classic subject of the same repository passes and names no cause.
    let f = files(
        &github_claims(
            "https://token.actions.githubusercontent.com",
            "repo:acme/widgets:ref:refs/heads/main",
        ),
        &github_trust(),
    );
    let out = explain(f.dir.path(), &args(&["--format", "json"]), None);
    assert_eq!(out.code, Some(0), "{}", out.stdout);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert!(v.get("causes").is_none(), "{v}");
}

#[test]
fn github_enterprise_issuer_is_named_with_npms_401_not_unknown_issuer() {
    let claims = github_claims(
        "https://token.actions.githubusercontent.com/acme-corp",
        "repo:acme/widgets:ref:refs/heads/main",
    );
    let f = files(&claims, &github_trust());
    let out = explain(f.dir.path(), &args(&[]), None);
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains(&f.token));
    assert!(
        !out.stdout.contains("not a trusted issuer"),
        "{}",
        out.stdout
    );
    for needle in [
        "Exchange of a github id token",
        "GitHub's enterprise-scoped issuer (enterprise \"acme-corp\"",
        "Cause: github-enterprise-issuer: npm's OIDC exchange answers 401 \"OIDC token exchange error - unauthorized\" (npm/cli#9203)",
        "include_enterprise_slug\": false",
    ] {
        assert!(out.stdout.contains(needle), "{needle}:\n{}", out.stdout);
    }
    let out = explain(f.dir.path(), &args(&["--format", "json"]), None);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["npm_status"], 401);
    assert_eq!(v["provider"], "github");
    assert_eq!(v["causes"][0]["id"], "github-enterprise-issuer");
    assert_eq!(v["causes"][0]["issue"], "npm/cli#9203");
}

/// The sandbox's GitHub issuer mints the immutable `sub` for a repository that uses it, and
/// explain names the cause over real loopback.
#[tokio::test(flavor = "multi_thread")]
async fn sandbox_minted_immutable_subject_is_named() {
    let scenario = r#"{"org": "acme", "users": [{"name": "alice", "role": "owner"}],
      "packages": [{"name": "@acme/widgets", "trust": {"provider": "github", "repository": "acme/widgets", "file": "publish.yml"}}],
      "github": {"org": "acme", "repos": [{"name": "widgets", "use_immutable_subject": true}]}}"#;
    let sb = tokenless_sandbox::Sandbox::start(tokenless_sandbox::SandboxOptions {
        scenario: tokenless_sandbox::Scenario::Inline(scenario.to_owned()),
        ..tokenless_sandbox::SandboxOptions::default()
    })
    .await
    .expect("sandbox starts");
    let minted: Value = reqwest::Client::new()
        .post(format!("{}-/sandbox/oidc/github/token", sb.url()))
        .json(&json!({"aud": sb.audience(), "repository": "acme/widgets", "ref": "refs/heads/main",
            "workflow_ref": "acme/widgets/.github/workflows/publish.yml@refs/heads/main", "event_name": "push"}))
        .send()
        .await
        .expect("mint")
        .json()
        .await
        .expect("json");
    let token = minted["token"].as_str().expect("token").to_owned();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("token.jwt"), &token).expect("write");
    let trust = json!({"id": "tc-gh", "type": "github", "claims": {"repository": "acme/widgets", "workflow_ref": {"file": "publish.yml"}}, "permissions": ["createPackage"]});
    std::fs::write(dir.path().join("trust.json"), trust.to_string()).expect("write");
    let url = sb.url().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        let out = explain(
            dir.path(),
            &[
                "--id-token",
                "token.jwt",
                "--trust",
                "trust.json",
                "--package",
                "@acme/widgets",
                "--sandbox",
                &url,
                "--format",
                "json",
            ],
            None,
        );
        drop(dir);
        out
    })
    .await
    .expect("joins");
    assert_eq!(out.code, Some(1), "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains(&token));
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(v["npm_status"], 404, "{v}");
    assert_eq!(v["causes"][0]["id"], "github-immutable-subject", "{v}");
    let failed: Vec<&str> = v["checks"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter(|c| c["status"] == "fail")
                .filter_map(|c| c["id"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(failed, vec!["github-subject"], "{v}");
}
