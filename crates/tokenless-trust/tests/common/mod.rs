//! Shared fixtures: keys, trust configs, valid claims per provider.
#![allow(dead_code)] // each test binary uses a different subset

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use serde_json::{Value, json};
use tokenless_trust::signer::{SigningKey, jwks_document};
use tokenless_trust::{
    IssuerTable, JwksSource, KeyLookupError, KeySet, StaticJwks, TrustConfig, VerifyingKey,
    parse_trust_configs,
};

pub const NOW: u64 = 1_790_000_000;
pub const ORG: &str = "1f0e8a5b-7c1d-4e2f-9a3b-5c6d7e8f9a0b";
pub const OTHER_ORG: &str = "99999999-7c1d-4e2f-9a3b-5c6d7e8f9a0b";
pub const PROJECT: &str = "2a1b3c4d-0000-4000-8000-000000000001";
pub const PIPELINE: &str = "3b2c4d5e-0000-4000-8000-000000000002";
pub const CONTEXT: &str = "1f0c0d1e-0000-4000-8000-000000000003";
pub const OTHER_CONTEXT: &str = "4c3d5e6f-0000-4000-8000-000000000004";
pub const VCS: &str = "github.com/acme/widgets";
pub const PKG: &str = "@acme/widgets";
pub const HOST: &str = "registry.npmjs.org";

pub struct Keys {
    pub rsa: SigningKey,
    pub rsa_other: SigningKey,
    pub ec: SigningKey,
}

/// Keys are generated once per test binary (RSA keygen is slow in debug builds).
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        rsa: SigningKey::generate_rs256("k1").expect("rsa"),
        // Same kid, different key: a forgery attempt.
        rsa_other: SigningKey::generate_rs256("k1").expect("rsa"),
        ec: SigningKey::generate_es256("e1").expect("ec"),
    })
}

pub fn key_set() -> KeySet {
    let k = keys();
    KeySet::from_jwks_json(jwks_document([&k.rsa, &k.ec]).to_string().as_bytes()).expect("jwks")
}

/// Counts lookups, to prove that refusals happen before any key is looked up.
pub struct CountingJwks {
    pub inner: StaticJwks,
    pub lookups: AtomicUsize,
}

impl JwksSource for CountingJwks {
    fn key(&self, issuer: &str, kid: &str, now: u64) -> Result<Arc<VerifyingKey>, KeyLookupError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.key(issuer, kid, now)
    }
}

pub fn counting() -> Arc<CountingJwks> {
    Arc::new(CountingJwks {
        inner: StaticJwks::new(key_set()),
        lookups: AtomicUsize::new(0),
    })
}

pub fn production() -> IssuerTable {
    IssuerTable::production(Arc::new(StaticJwks::new(key_set())))
}

pub fn circleci_config_json() -> Value {
    json!({"id": "tc-circle", "type": "circleci", "claims": {
        "oidc.circleci.com/org-id": ORG,
        "oidc.circleci.com/project-id": PROJECT,
        "oidc.circleci.com/pipeline-definition-id": PIPELINE,
        "oidc.circleci.com/vcs-origin": VCS,
        "oidc.circleci.com/context-ids": [CONTEXT],
    }, "permissions": ["createPackage"]})
}

pub fn configs(value: &Value) -> Vec<TrustConfig> {
    parse_trust_configs(&value.to_string()).expect("valid trust config")
}

pub fn circleci_configs() -> Vec<TrustConfig> {
    configs(&circleci_config_json())
}

pub fn github_configs(environment: Option<&str>) -> Vec<TrustConfig> {
    let mut claims = json!({"repository": "acme/widgets", "workflow_ref": {"file": "publish.yml"}});
    if let Some(env) = environment {
        claims["environment"] = json!(env);
    }
    configs(
        &json!({"id": "tc-gh", "type": "github", "claims": claims, "permissions": ["createPackage", "createStagedPackage"]}),
    )
}

pub fn gitlab_configs(environment: Option<&str>) -> Vec<TrustConfig> {
    let mut claims = json!({"project_path": "acme/sub/widgets", "ci_config_ref_uri": {"file": ".gitlab-ci.yml"}});
    if let Some(env) = environment {
        claims["environment"] = json!(env);
    }
    configs(
        &json!({"id": "tc-gl", "type": "gitlab", "claims": claims, "permissions": ["createPackage"]}),
    )
}

pub fn circleci_claims() -> Value {
    json!({
        "iss": format!("https://oidc.circleci.com/org/{ORG}"),
        "sub": format!("org/{ORG}/project/{PROJECT}/user/5e6f7a8b-0000-4000-8000-000000000005"),
        "aud": "npm:registry.npmjs.org",
        "iat": NOW - 30,
        "exp": NOW + 3570,
        "jti": "c7d8e9f0-0000-4000-8000-000000000006",
        "oidc.circleci.com/org-id": ORG,
        "oidc.circleci.com/project-id": PROJECT,
        "oidc.circleci.com/pipeline-definition-id": PIPELINE,
        "oidc.circleci.com/pipeline-id": "6a7b8c9d-0000-4000-8000-000000000007",
        "oidc.circleci.com/workflow-id": "7b8c9d0e-0000-4000-8000-000000000008",
        "oidc.circleci.com/job-id": "8c9d0e1f-0000-4000-8000-000000000009",
        "oidc.circleci.com/vcs-origin": VCS,
        "oidc.circleci.com/vcs-ref": "refs/heads/main",
        "oidc.circleci.com/context-ids": [CONTEXT],
        "oidc.circleci.com/ssh-rerun": false,
    })
}

pub fn github_claims() -> Value {
    json!({
        "iss": "https://token.actions.githubusercontent.com",
        "sub": "repo:acme/widgets:ref:refs/heads/main",
        "aud": "npm:registry.npmjs.org",
        "iat": NOW - 5, "nbf": NOW - 65, "exp": NOW + 295,
        "jti": "gh-jti-1",
        "repository": "acme/widgets",
        "repository_owner": "acme",
        "workflow_ref": "acme/widgets/.github/workflows/publish.yml@refs/heads/main",
        "job_workflow_ref": "acme/widgets/.github/workflows/publish.yml@refs/heads/main",
        "event_name": "push",
        "ref": "refs/heads/main",
        "runner_environment": "github-hosted",
    })
}

pub fn gitlab_claims() -> Value {
    json!({
        "iss": "https://gitlab.com",
        "sub": "project_path:acme/sub/widgets:ref_type:branch:ref:main",
        "aud": "npm:registry.npmjs.org",
        "iat": NOW - 5, "nbf": NOW - 5, "exp": NOW + 295,
        "jti": "gl-jti-1",
        "project_path": "acme/sub/widgets",
        "namespace_path": "acme/sub",
        "ci_config_ref_uri": "gitlab.com/acme/sub/widgets//.gitlab-ci.yml@refs/heads/main",
        "ref": "main",
        "pipeline_source": "push",
    })
}

pub fn sign(claims: &Value) -> String {
    keys().rsa.sign_jwt(claims).expect("sign")
}

pub fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

pub fn without(mut claims: Value, key: &str) -> Value {
    if let Some(map) = claims.as_object_mut() {
        map.remove(key);
    }
    claims
}
