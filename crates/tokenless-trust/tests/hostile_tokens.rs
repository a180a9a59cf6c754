//! The table of hostile and broken tokens: each must be refused, by the expected check, and
//! the checks that must run before any key lookup must not look a key up.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use serde_json::{Value, json};
use tokenless_trust::{
    Action, CheckId, CheckStatus, InMemoryJtiStore, IssuerTable, Policy, TrustConfig, Verifier,
};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with this exact header (JSON text) and claims, signed by the test RSA key.
fn with_header(header: &str, claims: &Value) -> String {
    keys()
        .rsa
        .sign_jwt_raw(header.as_bytes(), claims.to_string().as_bytes())
        .expect("sign")
}

/// A token with this header and claims and a given signature (no real signing).
fn unsigned(header: &str, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(signature)
    )
}

fn hmac_with_public_key(claims: &Value) -> String {
    use aws_lc_rs::hmac;
    let header = r#"{"alg":"HS256","kid":"k1","typ":"JWT"}"#;
    let input = format!(
        "{}.{}",
        b64(header.as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let public = keys().rsa.public_jwk().to_string();
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, public.as_bytes()),
        input.as_bytes(),
    );
    format!("{input}.{}", b64(tag.as_ref()))
}

struct Case {
    name: &'static str,
    token: String,
    configs: Vec<TrustConfig>,
    action: Action,
    expect: CheckId,
    /// Refused before any key lookup.
    no_lookup: bool,
}

fn case(name: &'static str, token: String, expect: CheckId) -> Case {
    Case {
        name,
        token,
        configs: circleci_configs(),
        action: Action::Publish,
        expect,
        no_lookup: false,
    }
}

impl Case {
    fn configs(mut self, configs: Vec<TrustConfig>) -> Case {
        self.configs = configs;
        self
    }
    fn action(mut self, action: Action) -> Case {
        self.action = action;
        self
    }
    fn before_lookup(mut self) -> Case {
        self.no_lookup = true;
        self
    }
}

fn cases() -> Vec<Case> {
    let cc = circleci_claims();
    let gh = github_claims();
    let gl = gitlab_claims();
    let good_header = r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#;
    let valid = sign(&cc);
    let mut parts = valid.split('.');
    let (h, p, s) = (
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
        parts.next().unwrap_or_default().to_owned(),
    );
    let mut corrupt = s.clone().into_bytes();
    if let Some(c) = corrupt.get_mut(10) {
        *c = if *c == b'A' { b'B' } else { b'A' };
    }
    let corrupt = String::from_utf8(corrupt).unwrap_or_default();
    let circle_iss = |org: &str| json!(format!("https://oidc.circleci.com/org/{org}"));

    vec![
        // Algorithms.
        case(
            "alg none, empty signature",
            unsigned(r#"{"alg":"none","kid":"k1"}"#, &cc, b""),
            CheckId::Alg,
        )
        .before_lookup(),
        case(
            "alg none with a signature",
            unsigned(r#"{"alg":"none","kid":"k1"}"#, &cc, b"xyz"),
            CheckId::Alg,
        )
        .before_lookup(),
        case(
            "alg None (case)",
            unsigned(r#"{"alg":"None","kid":"k1"}"#, &cc, b""),
            CheckId::Alg,
        )
        .before_lookup(),
        case(
            "HS256 keyed with the public key",
            hmac_with_public_key(&cc),
            CheckId::Alg,
        )
        .before_lookup(),
        case(
            "unlisted alg RS512",
            with_header(r#"{"alg":"RS512","kid":"k1"}"#, &cc),
            CheckId::Alg,
        )
        .before_lookup(),
        case(
            "unlisted alg PS256",
            with_header(r#"{"alg":"PS256","kid":"k1"}"#, &cc),
            CheckId::Alg,
        )
        .before_lookup(),
        case(
            "unlisted alg EdDSA",
            with_header(r#"{"alg":"EdDSA","kid":"k1"}"#, &cc),
            CheckId::Alg,
        )
        .before_lookup(),
        case(
            "alg missing",
            with_header(r#"{"kid":"k1"}"#, &cc),
            CheckId::Alg,
        )
        .before_lookup(),
        case(
            "alg not a string",
            with_header(r#"{"alg":["RS256"],"kid":"k1"}"#, &cc),
            CheckId::Alg,
        )
        .before_lookup(),
        case(
            "ES256 from an RS256-only issuer",
            keys().ec.sign_jwt(&cc).expect("sign"),
            CheckId::IssuerAlg,
        )
        .before_lookup(),
        // Signatures.
        case(
            "stripped signature",
            format!("{h}.{p}."),
            CheckId::Signature,
        ),
        case(
            "corrupt signature",
            format!("{h}.{p}.{corrupt}"),
            CheckId::Signature,
        ),
        case(
            "signature from another key with the same kid",
            keys().rsa_other.sign_jwt(&cc).expect("sign"),
            CheckId::Signature,
        ),
        case(
            "payload swapped under a valid signature",
            format!(
                "{h}.{}.{s}",
                b64(with(cc.clone(), "oidc.circleci.com/project-id", json!("x"))
                    .to_string()
                    .as_bytes())
            ),
            CheckId::Signature,
        ),
        // Keys.
        case(
            "unknown kid",
            with_header(r#"{"alg":"RS256","kid":"k9"}"#, &cc),
            CheckId::SigningKey,
        ),
        case(
            "kid with path traversal",
            with_header(r#"{"alg":"RS256","kid":"../../etc/passwd"}"#, &cc),
            CheckId::Kid,
        )
        .before_lookup(),
        case(
            "kid with a slash",
            with_header(r#"{"alg":"RS256","kid":"keys/k1"}"#, &cc),
            CheckId::Kid,
        )
        .before_lookup(),
        case(
            "kid missing",
            with_header(r#"{"alg":"RS256"}"#, &cc),
            CheckId::Kid,
        )
        .before_lookup(),
        case(
            "kid not a string",
            with_header(r#"{"alg":"RS256","kid":1}"#, &cc),
            CheckId::Kid,
        )
        .before_lookup(),
        case(
            "jku injection",
            with_header(
                r#"{"alg":"RS256","kid":"k1","jku":"https://evil.example/jwks"}"#,
                &cc,
            ),
            CheckId::KeyInjection,
        )
        .before_lookup(),
        case(
            "x5u injection",
            with_header(
                r#"{"alg":"RS256","kid":"k1","x5u":"https://evil.example/cert"}"#,
                &cc,
            ),
            CheckId::KeyInjection,
        )
        .before_lookup(),
        case(
            "jwk injection",
            with_header(
                &format!(
                    r#"{{"alg":"RS256","kid":"k1","jwk":{}}}"#,
                    keys().rsa_other.public_jwk()
                ),
                &cc,
            ),
            CheckId::KeyInjection,
        )
        .before_lookup(),
        case(
            "x5c injection",
            with_header(r#"{"alg":"RS256","kid":"k1","x5c":["MIIB"]}"#, &cc),
            CheckId::KeyInjection,
        )
        .before_lookup(),
        case(
            "unknown crit",
            with_header(r#"{"alg":"RS256","kid":"k1","crit":["exp"]}"#, &cc),
            CheckId::Crit,
        )
        .before_lookup(),
        case(
            "empty crit",
            with_header(r#"{"alg":"RS256","kid":"k1","crit":[]}"#, &cc),
            CheckId::Crit,
        )
        .before_lookup(),
        // Encoding and JSON.
        case(
            "malformed base64",
            format!("{h}.{p}!!.{s}"),
            CheckId::TokenFormat,
        )
        .before_lookup(),
        case(
            "padded base64",
            format!("{h}.{p}==.{s}"),
            CheckId::TokenFormat,
        )
        .before_lookup(),
        case("two segments", format!("{h}.{p}"), CheckId::TokenFormat).before_lookup(),
        case(
            "JWE-shaped (five segments)",
            format!("{h}.{p}.{s}.x.y"),
            CheckId::TokenFormat,
        )
        .before_lookup(),
        case("empty token", String::new(), CheckId::TokenFormat).before_lookup(),
        case(
            "non-JSON header",
            keys()
                .rsa
                .sign_jwt_raw(b"not json", cc.to_string().as_bytes())
                .expect("sign"),
            CheckId::Header,
        )
        .before_lookup(),
        case(
            "non-JSON payload",
            keys()
                .rsa
                .sign_jwt_raw(good_header.as_bytes(), b"hello")
                .expect("sign"),
            CheckId::Claims,
        )
        .before_lookup(),
        case(
            "payload is an array",
            keys()
                .rsa
                .sign_jwt_raw(good_header.as_bytes(), b"[1,2]")
                .expect("sign"),
            CheckId::Claims,
        )
        .before_lookup(),
        case(
            "duplicate key in header",
            with_header(r#"{"alg":"RS256","kid":"k1","alg":"none"}"#, &cc),
            CheckId::Header,
        )
        .before_lookup(),
        case(
            "duplicate aud in payload",
            keys()
                .rsa
                .sign_jwt_raw(
                    good_header.as_bytes(),
                    cc.to_string()
                        .replacen('{', r#"{"aud":"npm:evil.example","#, 1)
                        .as_bytes(),
                )
                .expect("sign"),
            CheckId::Claims,
        )
        .before_lookup(),
        case(
            "oversize garbage",
            "a".repeat(20 * 1024),
            CheckId::TokenSize,
        )
        .before_lookup(),
        case(
            "token over 16 KiB",
            sign(&with(cc.clone(), "pad", json!(vec!["a".repeat(4000); 4]))),
            CheckId::TokenSize,
        )
        .before_lookup(),
        case(
            "claim over 4 KiB",
            sign(&with(cc.clone(), "pad", json!("a".repeat(5000)))),
            CheckId::Claims,
        )
        .before_lookup(),
        // Time.
        case(
            "expired",
            sign(&with(
                with(cc.clone(), "exp", json!(NOW - 61)),
                "iat",
                json!(NOW - 3700),
            )),
            CheckId::Exp,
        ),
        case(
            "exp missing",
            sign(&without(cc.clone(), "exp")),
            CheckId::Exp,
        ),
        case(
            "exp a string",
            sign(&with(cc.clone(), "exp", json!("tomorrow"))),
            CheckId::Exp,
        ),
        case(
            "not yet valid",
            sign(&with(cc.clone(), "nbf", json!(NOW + 61))),
            CheckId::Nbf,
        ),
        case(
            "iat in the future",
            sign(&with(cc.clone(), "iat", json!(NOW + 61))),
            CheckId::Iat,
        ),
        case(
            "iat missing",
            sign(&without(cc.clone(), "iat")),
            CheckId::Iat,
        ),
        // Lifetime: no token outlives what its issuer issues.
        case(
            "circleci token living a day",
            sign(&with(cc.clone(), "exp", json!(NOW - 30 + 86_400))),
            CheckId::Lifetime,
        ),
        case(
            "circleci token living 3601 s",
            sign(&with(cc.clone(), "exp", json!(NOW - 30 + 3601))),
            CheckId::Lifetime,
        ),
        case(
            "github token living an hour",
            sign(&with(github_claims(), "exp", json!(NOW - 5 + 3600))),
            CheckId::Lifetime,
        )
        .configs(github_configs(None)),
        case(
            "gitlab token living a year",
            sign(&with(gitlab_claims(), "exp", json!(NOW + 31_536_000))),
            CheckId::Lifetime,
        )
        .configs(gitlab_configs(None)),
        case(
            "exp before iat",
            sign(&with(cc.clone(), "exp", json!(NOW - 40))),
            CheckId::Lifetime,
        ),
        // Audience.
        case(
            "wrong audience",
            sign(&with(cc.clone(), "aud", json!("npm:registry.npmjs.com"))),
            CheckId::Audience,
        ),
        case(
            "audience is the org id (CIRCLE_OIDC_TOKEN)",
            sign(&with(cc.clone(), "aud", json!(ORG))),
            CheckId::Audience,
        ),
        case(
            "extra audience",
            sign(&with(
                cc.clone(),
                "aud",
                json!(["npm:registry.npmjs.org", "sigstore"]),
            )),
            CheckId::Audience,
        ),
        case(
            "audience with scheme",
            sign(&with(
                cc.clone(),
                "aud",
                json!("npm:https://registry.npmjs.org"),
            )),
            CheckId::Audience,
        ),
        case(
            "audience missing",
            sign(&without(cc.clone(), "aud")),
            CheckId::Audience,
        ),
        // Issuers.
        case(
            "issuer of another org",
            sign(&with(
                with(cc.clone(), "iss", circle_iss(OTHER_ORG)),
                "oidc.circleci.com/org-id",
                json!(OTHER_ORG),
            )),
            CheckId::Issuer,
        )
        .before_lookup(),
        case(
            "issuer org differs from the org-id claim",
            sign(&with(
                cc.clone(),
                "oidc.circleci.com/org-id",
                json!(OTHER_ORG),
            )),
            CheckId::Issuer,
        )
        .before_lookup(),
        case(
            "CircleCI root issuer",
            sign(&with(cc.clone(), "iss", json!("https://oidc.circleci.com"))),
            CheckId::Issuer,
        )
        .before_lookup(),
        case(
            "issuer with http://",
            sign(&with(
                cc.clone(),
                "iss",
                json!(format!("http://oidc.circleci.com/org/{ORG}")),
            )),
            CheckId::Issuer,
        )
        .before_lookup(),
        case(
            "issuer with a trailing slash",
            sign(&with(
                cc.clone(),
                "iss",
                json!(format!("https://oidc.circleci.com/org/{ORG}/")),
            )),
            CheckId::Issuer,
        )
        .before_lookup(),
        case(
            "issuer of another provider",
            // A GitHub-length lifetime, so that only the provider differs.
            sign(&with(
                with(cc.clone(), "exp", json!(NOW + 270)),
                "iss",
                json!("https://token.actions.githubusercontent.com"),
            )),
            CheckId::TrustConfig,
        ),
        case(
            "unknown issuer",
            sign(&with(cc.clone(), "iss", json!("https://evil.example"))),
            CheckId::Issuer,
        )
        .before_lookup(),
        case(
            "issuer missing",
            sign(&without(cc.clone(), "iss")),
            CheckId::Issuer,
        )
        .before_lookup(),
        case(
            "issuer not a string",
            sign(&with(cc.clone(), "iss", json!(["https://gitlab.com"]))),
            CheckId::Issuer,
        )
        .before_lookup(),
        // CircleCI claims.
        case(
            "project mismatch",
            sign(&with(
                cc.clone(),
                "oidc.circleci.com/project-id",
                json!("2a1b3c4d-0000-4000-8000-0000000000ff"),
            )),
            CheckId::CircleciProjectId,
        ),
        case(
            "project id upper-case",
            sign(&with(
                cc.clone(),
                "oidc.circleci.com/project-id",
                json!(PROJECT.to_uppercase()),
            )),
            CheckId::CircleciProjectId,
        ),
        case(
            "pipeline definition mismatch",
            sign(&with(
                cc.clone(),
                "oidc.circleci.com/pipeline-definition-id",
                json!(PROJECT),
            )),
            CheckId::CircleciPipelineDefinitionId,
        ),
        case(
            "vcs-origin of a fork",
            sign(&with(
                cc.clone(),
                "oidc.circleci.com/vcs-origin",
                json!("github.com/mallory/widgets"),
            )),
            CheckId::CircleciVcsOrigin,
        ),
        case(
            "vcs-origin case variant",
            sign(&with(
                cc.clone(),
                "oidc.circleci.com/vcs-origin",
                json!("github.com/Acme/widgets"),
            )),
            CheckId::CircleciVcsOrigin,
        ),
        case(
            "vcs-origin trailing slash",
            sign(&with(
                cc.clone(),
                "oidc.circleci.com/vcs-origin",
                json!("github.com/acme/widgets/"),
            )),
            CheckId::CircleciVcsOrigin,
        ),
        case(
            "vcs-origin with scheme",
            sign(&with(
                cc.clone(),
                "oidc.circleci.com/vcs-origin",
                json!("https://github.com/acme/widgets"),
            )),
            CheckId::CircleciVcsOrigin,
        ),
        case(
            "vcs-origin missing (custom webhook)",
            sign(&without(cc.clone(), "oidc.circleci.com/vcs-origin")),
            CheckId::CircleciVcsOrigin,
        ),
        case(
            "project id a number",
            sign(&with(cc.clone(), "oidc.circleci.com/project-id", json!(7))),
            CheckId::CircleciProjectId,
        ),
        case(
            "context not attached",
            sign(&with(
                cc.clone(),
                "oidc.circleci.com/context-ids",
                json!([]),
            )),
            CheckId::CircleciContextIds,
        ),
        case(
            "context claim absent",
            sign(&without(cc.clone(), "oidc.circleci.com/context-ids")),
            CheckId::CircleciContextIds,
        ),
        case(
            "another context attached",
            sign(&with(
                cc.clone(),
                "oidc.circleci.com/context-ids",
                json!([OTHER_CONTEXT]),
            )),
            CheckId::CircleciContextIds,
        ),
        case(
            "context-ids as a string",
            sign(&with(
                cc.clone(),
                "oidc.circleci.com/context-ids",
                json!(CONTEXT),
            )),
            CheckId::CircleciContextIds,
        ),
        case(
            "context-ids holding a number",
            sign(&with(
                cc.clone(),
                "oidc.circleci.com/context-ids",
                json!([CONTEXT, 1]),
            )),
            CheckId::CircleciContextIds,
        ),
        case(
            "ssh rerun",
            sign(&with(
                cc.clone(),
                "oidc.circleci.com/ssh-rerun",
                json!(true),
            )),
            CheckId::CircleciSshRerun,
        ),
        case(
            "ssh-rerun as a string",
            sign(&with(
                cc.clone(),
                "oidc.circleci.com/ssh-rerun",
                json!("false"),
            )),
            CheckId::CircleciSshRerun,
        ),
        case(
            "jti missing",
            sign(&without(cc.clone(), "jti")),
            CheckId::Jti,
        ),
        case(
            "jti a number",
            sign(&with(cc.clone(), "jti", json!(5))),
            CheckId::Jti,
        ),
        // Actions and configs.
        case("stage publish not allowed", valid.clone(), CheckId::Action).action(Action::Stage),
        case(
            "package without trust config",
            valid.clone(),
            CheckId::TrustConfig,
        )
        .configs(Vec::new()),
        case(
            "package trusts GitHub only",
            valid.clone(),
            CheckId::TrustConfig,
        )
        .configs(github_configs(None)),
        // GitHub.
        case(
            "GitHub repository mismatch",
            sign(&with(gh.clone(), "repository", json!("mallory/widgets"))),
            CheckId::GithubRepository,
        )
        .configs(github_configs(None)),
        case(
            "GitHub repository case variant",
            sign(&with(gh.clone(), "repository", json!("Acme/widgets"))),
            CheckId::GithubRepository,
        )
        .configs(github_configs(None)),
        case(
            "GitHub other workflow file",
            sign(&with(
                gh.clone(),
                "workflow_ref",
                json!("acme/widgets/.github/workflows/ci.yml@refs/heads/main"),
            )),
            CheckId::GithubWorkflowRef,
        )
        .configs(github_configs(None)),
        case(
            "GitHub workflow of another repo",
            sign(&with(
                gh.clone(),
                "workflow_ref",
                json!("mallory/x/.github/workflows/publish.yml@refs/heads/main"),
            )),
            CheckId::GithubWorkflowRef,
        )
        .configs(github_configs(None)),
        case(
            "GitHub environment missing",
            sign(&gh),
            CheckId::GithubEnvironment,
        )
        .configs(github_configs(Some("npm"))),
        case(
            "GitHub environment mismatch",
            sign(&with(gh.clone(), "environment", json!("staging"))),
            CheckId::GithubEnvironment,
        )
        .configs(github_configs(Some("npm"))),
        case(
            "GitHub pull_request_target",
            sign(&with(
                gh.clone(),
                "event_name",
                json!("pull_request_target"),
            )),
            CheckId::GithubEventName,
        )
        .configs(github_configs(None)),
        case(
            "GitHub event_name Pull_Request_Target",
            sign(&with(
                gh.clone(),
                "event_name",
                json!("Pull_Request_Target"),
            )),
            CheckId::GithubEventName,
        )
        .configs(github_configs(None)),
        case(
            "GitHub event_name PULL_REQUEST_TARGET",
            sign(&with(
                gh.clone(),
                "event_name",
                json!("PULL_REQUEST_TARGET"),
            )),
            CheckId::GithubEventName,
        )
        .configs(github_configs(None)),
        case(
            "GitHub event_name pull_request_Target",
            sign(&with(
                gh.clone(),
                "event_name",
                json!("pull_request_Target"),
            )),
            CheckId::GithubEventName,
        )
        .configs(github_configs(None)),
        case(
            "GitHub event_name  pull_request_target",
            sign(&with(
                gh.clone(),
                "event_name",
                json!(" pull_request_target"),
            )),
            CheckId::GithubEventName,
        )
        .configs(github_configs(None)),
        case(
            "GitHub event_name Push",
            sign(&with(gh.clone(), "event_name", json!("Push"))),
            CheckId::GithubEventName,
        )
        .configs(github_configs(None)),
        case(
            "GitHub event_name ",
            sign(&with(gh.clone(), "event_name", json!(""))),
            CheckId::GithubEventName,
        )
        .configs(github_configs(None)),
        case(
            "GitHub audience of another registry",
            sign(&with(gh.clone(), "aud", json!("npm:npm.pkg.github.com"))),
            CheckId::Audience,
        )
        .configs(github_configs(None)),
        // GitLab.
        case(
            "GitLab fork project",
            sign(&with(gl.clone(), "project_path", json!("mallory/widgets"))),
            CheckId::GitlabProjectPath,
        )
        .configs(gitlab_configs(None)),
        case(
            "GitLab other CI file",
            sign(&with(
                gl.clone(),
                "ci_config_ref_uri",
                json!("gitlab.com/acme/sub/widgets//ci/other.yml@refs/heads/main"),
            )),
            CheckId::GitlabCiConfigRefUri,
        )
        .configs(gitlab_configs(None)),
        case(
            "GitLab CI file of another project",
            sign(&with(
                gl.clone(),
                "ci_config_ref_uri",
                json!("gitlab.com/mallory/widgets//.gitlab-ci.yml@refs/heads/main"),
            )),
            CheckId::GitlabCiConfigRefUri,
        )
        .configs(gitlab_configs(None)),
        case(
            "GitLab CI file from another host",
            sign(&with(
                gl.clone(),
                "ci_config_ref_uri",
                json!("evil.example/acme/sub/widgets//.gitlab-ci.yml@refs/heads/main"),
            )),
            CheckId::GitlabCiConfigRefUri,
        )
        .configs(gitlab_configs(None)),
        case(
            "GitLab CI file from a host extending gitlab.com",
            sign(&with(
                gl.clone(),
                "ci_config_ref_uri",
                json!("gitlab.com.evil.example/acme/sub/widgets//.gitlab-ci.yml@refs/heads/main"),
            )),
            CheckId::GitlabCiConfigRefUri,
        )
        .configs(gitlab_configs(None)),
        case(
            "GitLab CI file from the host in another case",
            sign(&with(
                gl.clone(),
                "ci_config_ref_uri",
                json!("GitLab.com/acme/sub/widgets//.gitlab-ci.yml@refs/heads/main"),
            )),
            CheckId::GitlabCiConfigRefUri,
        )
        .configs(gitlab_configs(None)),
        case(
            "GitLab CI file from the host with a port",
            sign(&with(
                gl.clone(),
                "ci_config_ref_uri",
                json!("gitlab.com:443/acme/sub/widgets//.gitlab-ci.yml@refs/heads/main"),
            )),
            CheckId::GitlabCiConfigRefUri,
        )
        .configs(gitlab_configs(None)),
        case(
            "GitLab environment mismatch",
            sign(&with(gl.clone(), "environment", json!("review"))),
            CheckId::GitlabEnvironment,
        )
        .configs(gitlab_configs(Some("production"))),
        case(
            "GitLab self-managed issuer",
            sign(&with(
                gl.clone(),
                "iss",
                json!("https://gitlab.example.com"),
            )),
            CheckId::Issuer,
        )
        .configs(gitlab_configs(None))
        .before_lookup(),
    ]
}

#[test]
fn every_hostile_token_is_refused_by_the_expected_check() {
    let cases = cases();
    assert!(
        cases.len() >= 40,
        "the table must hold at least 40 cases, has {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for c in &cases {
        let jwks = counting();
        let verifier = Verifier::new(IssuerTable::production(jwks.clone()));
        let d = verifier.verify_exchange(&c.token, &c.configs, PKG, c.action, HOST, NOW);
        let first = d.first_failure().map(|f| f.id);
        if d.accepted || first != Some(c.expect) {
            failures.push(format!(
                "{}: expected refusal by {}, got accepted={} first failure {:?} ({})",
                c.name,
                c.expect,
                d.accepted,
                first,
                d.summary()
            ));
        }
        if c.no_lookup && jwks.lookups.load(Ordering::SeqCst) != 0 {
            failures.push(format!(
                "{}: a key was looked up before the refusal",
                c.name
            ));
        }
        // Every check names what it compared, and no detail echoes the token.
        for check in &d.checks {
            if c.token.len() > 40 && check.detail.contains(&c.token) {
                failures.push(format!("{}: check {} prints the token", c.name, check.id));
            }
            if check.detail.is_empty() {
                failures.push(format!("{}: check {} has no detail", c.name, check.id));
            }
        }
        if d.checks.last().map(|c| c.id) != Some(CheckId::Jti) {
            failures.push(format!("{}: the check list does not run to jti", c.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn valid_tokens_of_every_provider_are_accepted() {
    let v = Verifier::new(production());
    let accepted = [
        ("circleci", sign(&circleci_claims()), circleci_configs()),
        (
            "circleci, extra contexts attached",
            sign(&with(
                circleci_claims(),
                "oidc.circleci.com/context-ids",
                json!([OTHER_CONTEXT, CONTEXT]),
            )),
            circleci_configs(),
        ),
        (
            "circleci, aud as a one-element list",
            sign(&with(
                circleci_claims(),
                "aud",
                json!(["npm:registry.npmjs.org"]),
            )),
            circleci_configs(),
        ),
        (
            "circleci, ssh-rerun absent",
            sign(&without(circleci_claims(), "oidc.circleci.com/ssh-rerun")),
            circleci_configs(),
        ),
        (
            "circleci, exp within the leeway",
            sign(&with(
                with(circleci_claims(), "iat", json!(NOW - 3000)),
                "exp",
                json!(NOW - 59),
            )),
            circleci_configs(),
        ),
        ("github", sign(&github_claims()), github_configs(None)),
        (
            "github with environment",
            sign(&with(github_claims(), "environment", json!("npm"))),
            github_configs(Some("npm")),
        ),
        (
            "github, workflow_dispatch on a tag",
            sign(&with(
                with(github_claims(), "event_name", json!("workflow_dispatch")),
                "workflow_ref",
                json!("acme/widgets/.github/workflows/publish.yml@refs/tags/v1.2.3"),
            )),
            github_configs(None),
        ),
        ("gitlab", sign(&gitlab_claims()), gitlab_configs(None)),
        (
            "gitlab with environment",
            sign(&with(gitlab_claims(), "environment", json!("production"))),
            gitlab_configs(Some("production")),
        ),
    ];
    for (name, token, configs) in accepted {
        let d = v.verify_exchange(&token, &configs, PKG, Action::Publish, HOST, NOW);
        assert!(d.accepted, "{name}: {}", d.summary());
        assert!(
            d.checks.iter().all(|c| c.status != CheckStatus::Fail),
            "{name}"
        );
        assert!(d.trust_config_id.is_some(), "{name}");
        assert!(d.fix().is_none(), "{name}");
    }
}

#[test]
fn sandbox_table_accepts_es256_from_its_own_issuer_and_refuses_production_issuers() {
    let table = IssuerTable::sandbox(
        "http://127.0.0.1:4873",
        Arc::new(tokenless_trust::StaticJwks::new(key_set())),
    );
    let v = Verifier::new(table);
    let claims = with(
        circleci_claims(),
        "iss",
        json!(format!(
            "http://127.0.0.1:4873/-/sandbox/oidc/circleci/org/{ORG}"
        )),
    );
    let claims = with(claims, "aud", json!("npm:127.0.0.1"));
    let d = v.verify_exchange(
        &keys().ec.sign_jwt(&claims).expect("sign"),
        &circleci_configs(),
        PKG,
        Action::Publish,
        "127.0.0.1",
        NOW,
    );
    assert!(d.accepted, "{}", d.summary());
    let d = v.verify_exchange(
        &sign(&circleci_claims()),
        &circleci_configs(),
        PKG,
        Action::Publish,
        "registry.npmjs.org",
        NOW,
    );
    assert_eq!(d.first_failure().map(|c| c.id), Some(CheckId::Issuer));
}

#[test]
fn replayed_jti_is_refused_for_the_same_package_and_accepted_for_another() {
    let v = Verifier::new(production()).with_jti_store(Arc::new(InMemoryJtiStore::default()));
    let token = sign(&circleci_claims());
    let configs = circleci_configs();
    assert!(
        v.verify_exchange(&token, &configs, PKG, Action::Publish, HOST, NOW)
            .accepted
    );
    let again = v.verify_exchange(&token, &configs, PKG, Action::Publish, HOST, NOW + 1);
    assert!(!again.accepted);
    assert_eq!(again.first_failure().map(|c| c.id), Some(CheckId::Jti));
    assert!(
        v.verify_exchange(
            &token,
            &configs,
            "@acme/other",
            Action::Publish,
            HOST,
            NOW + 2
        )
        .accepted
    );
    // A refused exchange does not burn the jti.
    let fresh = sign(&with(circleci_claims(), "jti", json!("fresh")));
    assert!(
        !v.verify_exchange(&fresh, &configs, PKG, Action::Stage, HOST, NOW)
            .accepted
    );
    assert!(
        v.verify_exchange(&fresh, &configs, PKG, Action::Publish, HOST, NOW)
            .accepted
    );
}

#[test]
fn pull_request_target_is_tokenless_policy_and_says_npm_would_accept() {
    let d = Verifier::new(production()).verify_exchange(
        &sign(&with(
            github_claims(),
            "event_name",
            json!("pull_request_target"),
        )),
        &github_configs(None),
        PKG,
        Action::Publish,
        HOST,
        NOW,
    );
    let failed: Vec<_> = d
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].policy, Policy::Tokenless);
    assert!(failed[0].detail.contains("npm itself would accept"));
}

#[test]
fn missing_context_fix_names_the_context() {
    let d = Verifier::new(production()).verify_exchange(
        &sign(&with(
            circleci_claims(),
            "oidc.circleci.com/context-ids",
            json!([]),
        )),
        &circleci_configs(),
        PKG,
        Action::Publish,
        HOST,
        NOW,
    );
    let fix = d.fix().unwrap_or_default();
    assert!(
        fix.contains(&format!("did not attach context {CONTEXT}")),
        "{fix}"
    );
    assert!(fix.contains("context: ["), "{fix}");
}

#[test]
fn several_mismatches_are_all_reported() {
    let claims = with(
        with(
            circleci_claims(),
            "oidc.circleci.com/project-id",
            json!("p2"),
        ),
        "oidc.circleci.com/ssh-rerun",
        json!(true),
    );
    let d = Verifier::new(production()).verify_exchange(
        &sign(&claims),
        &circleci_configs(),
        PKG,
        Action::Publish,
        HOST,
        NOW,
    );
    let failed: Vec<CheckId> = d
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .map(|c| c.id)
        .collect();
    assert_eq!(
        failed,
        vec![CheckId::CircleciProjectId, CheckId::CircleciSshRerun]
    );
}

#[test]
fn the_longest_lifetime_is_a_per_issuer_setting() {
    use tokenless_trust::IssuerEntry;
    let keys: Arc<dyn tokenless_trust::JwksSource> =
        Arc::new(tokenless_trust::StaticJwks::new(key_set()));
    let hour_long = sign(&with(github_claims(), "exp", json!(NOW - 5 + 3600)));
    let default = Verifier::new(IssuerTable::new(vec![IssuerEntry::github(
        "https://token.actions.githubusercontent.com",
        keys.clone(),
    )]));
    let d = default.verify_exchange(
        &hour_long,
        &github_configs(None),
        PKG,
        Action::Publish,
        HOST,
        NOW,
    );
    let lifetime = d.check(CheckId::Lifetime).expect("lifetime check");
    assert_eq!(lifetime.status, CheckStatus::Fail);
    assert!(
        lifetime.detail.contains("lives 3600s") && lifetime.detail.contains("at most 300s"),
        "{}",
        lifetime.detail
    );
    let longer = Verifier::new(IssuerTable::new(vec![
        IssuerEntry::github("https://token.actions.githubusercontent.com", keys)
            .with_max_lifetime(3600),
    ]));
    let d = longer.verify_exchange(
        &hour_long,
        &github_configs(None),
        PKG,
        Action::Publish,
        HOST,
        NOW,
    );
    assert!(d.accepted, "{}", d.summary());
}

#[test]
fn the_replay_store_keys_by_issuer_and_refuses_when_full() {
    let store = Arc::new(InMemoryJtiStore::with_capacity(1));
    let v = Verifier::new(production()).with_jti_store(store);
    // The same jti from two issuers: two tokens.
    let gh = sign(&with(github_claims(), "jti", json!("shared")));
    let gl = sign(&with(gitlab_claims(), "jti", json!("shared")));
    assert!(
        v.verify_exchange(&gh, &github_configs(None), PKG, Action::Publish, HOST, NOW)
            .accepted
    );
    let full = v.verify_exchange(&gl, &gitlab_configs(None), PKG, Action::Publish, HOST, NOW);
    assert!(!full.accepted);
    let jti = full.check(CheckId::Jti).expect("jti");
    assert!(
        jti.detail.contains("replay store is full"),
        "{}",
        jti.detail
    );
    assert!(full.fix().is_some());
    // After the GitHub token's exp + leeway, its entry is gone and the GitLab one fits.
    let later = NOW + 295 + 61;
    let gl_later = sign(&with(
        with(
            with(gitlab_claims(), "jti", json!("shared")),
            "iat",
            json!(later - 10),
        ),
        "exp",
        json!(later + 600),
    ));
    let d = v.verify_exchange(
        &gl_later,
        &gitlab_configs(None),
        PKG,
        Action::Publish,
        HOST,
        later,
    );
    assert!(d.accepted, "{}", d.summary());
}

#[test]
fn policy_refusals_of_case_variants_and_foreign_hosts_name_the_values() {
    let v = Verifier::new(production());
    let d = v.verify_exchange(
        &sign(&with(
            github_claims(),
            "event_name",
            json!("Pull_Request_Target"),
        )),
        &github_configs(None),
        PKG,
        Action::Publish,
        HOST,
        NOW,
    );
    let c = d.check(CheckId::GithubEventName).expect("event check");
    assert_eq!((c.status, c.policy), (CheckStatus::Fail, Policy::Tokenless));
    assert!(c.detail.contains("case variant"), "{}", c.detail);
    let d = v.verify_exchange(
        &sign(&with(
            gitlab_claims(),
            "ci_config_ref_uri",
            json!("evil.example/acme/sub/widgets//.gitlab-ci.yml@refs/heads/main"),
        )),
        &gitlab_configs(None),
        PKG,
        Action::Publish,
        HOST,
        NOW,
    );
    let c = d
        .check(CheckId::GitlabCiConfigRefUri)
        .expect("ci config check");
    assert_eq!(c.status, CheckStatus::Fail);
    assert!(
        c.detail.contains("\"evil.example\"") && c.detail.contains("\"gitlab.com\""),
        "{}",
        c.detail
    );
}
