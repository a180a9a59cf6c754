//! The sandbox's OIDC issuers (CircleCI for the org, GitHub Actions, GitLab): one RSA key per
//! issuer, discovery documents, JWKS, and RS256 signing of the tokens the mint endpoint hands out.

use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
pub use tokenless_trust::Provider;
use tokenless_trust::keys::Algorithm;
use tokenless_trust::signer::SignerError;
pub use tokenless_trust::signer::SigningKey;

/// Where the JWKS lives below a provider's issuer URL (each provider's real layout).
pub fn jwks_path(provider: Provider) -> &'static str {
    match provider {
        Provider::CircleCi => "/.well-known/jwks-pub.json",
        Provider::GitHub => "/.well-known/jwks",
        Provider::GitLab => "/oauth/discovery/keys",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("RSA key generation failed: {0}")]
    Generate(SignerError),
    #[error("stored issuer key for {0} is not a valid PKCS#8 RSA key")]
    Stored(&'static str),
}

/// A fresh RS256 issuer key whose `kid` is its RFC 7638 thumbprint.
fn generate_key() -> Result<SigningKey, KeyError> {
    let key = SigningKey::generate_rs256("").map_err(KeyError::Generate)?;
    let kid = key.thumbprint();
    Ok(key.with_kid(kid))
}

/// An issuer key from a `--state` file (base64 PKCS#8), with the same thumbprint `kid`.
fn stored_key(b64: &str, which: &'static str) -> Result<SigningKey, KeyError> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| KeyError::Stored(which))?;
    let key = SigningKey::from_pkcs8("", &der).map_err(|_| KeyError::Stored(which))?;
    if key.algorithm() != Algorithm::Rs256 {
        return Err(KeyError::Stored(which));
    }
    let kid = key.thumbprint();
    Ok(key.with_kid(kid))
}

/// The three issuers, their keys and URLs.
#[derive(Debug, Clone)]
pub struct Issuers {
    pub circleci: Arc<SigningKey>,
    pub github: Arc<SigningKey>,
    pub gitlab: Arc<SigningKey>,
}

/// Issuer keys as stored in a `--state` file (base64 PKCS#8).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredKeys {
    pub circleci: String,
    pub github: String,
    pub gitlab: String,
}

impl Issuers {
    pub fn generate() -> Result<Issuers, KeyError> {
        Ok(Issuers {
            circleci: Arc::new(generate_key()?),
            github: Arc::new(generate_key()?),
            gitlab: Arc::new(generate_key()?),
        })
    }

    pub fn key(&self, p: Provider) -> &Arc<SigningKey> {
        match p {
            Provider::CircleCi => &self.circleci,
            Provider::GitHub => &self.github,
            Provider::GitLab => &self.gitlab,
        }
    }

    pub fn to_stored(&self) -> Result<StoredKeys, KeyError> {
        let enc = |k: &SigningKey| -> Result<String, KeyError> {
            let der = k.to_pkcs8().map_err(KeyError::Generate)?;
            Ok(base64::engine::general_purpose::STANDARD.encode(der))
        };
        Ok(StoredKeys {
            circleci: enc(&self.circleci)?,
            github: enc(&self.github)?,
            gitlab: enc(&self.gitlab)?,
        })
    }

    pub fn from_stored(s: &StoredKeys) -> Result<Issuers, KeyError> {
        Ok(Issuers {
            circleci: Arc::new(stored_key(&s.circleci, "circleci")?),
            github: Arc::new(stored_key(&s.github, "github")?),
            gitlab: Arc::new(stored_key(&s.gitlab, "gitlab")?),
        })
    }
}

/// The issuer URL (`iss`) of a provider on a sandbox at `base` (`http://127.0.0.1:PORT`, no
/// trailing slash). CircleCI issuers are per org.
pub fn issuer_url(base: &str, provider: Provider, circleci_org_id: &str) -> String {
    match provider {
        Provider::CircleCi => format!("{base}/-/sandbox/oidc/circleci/org/{circleci_org_id}"),
        Provider::GitHub => format!("{base}/-/sandbox/oidc/github"),
        Provider::GitLab => format!("{base}/-/sandbox/oidc/gitlab"),
    }
}

/// `/.well-known/openid-configuration` for an issuer.
pub fn discovery(issuer: &str, provider: Provider) -> Value {
    let claims: Vec<&str> = match provider {
        Provider::CircleCi => vec![
            "sub",
            "aud",
            "exp",
            "iat",
            "iss",
            "jti",
            "oidc.circleci.com/project-id",
            "oidc.circleci.com/context-ids",
        ],
        Provider::GitHub => vec![
            "sub",
            "aud",
            "exp",
            "iat",
            "iss",
            "jti",
            "nbf",
            "ref",
            "repository",
            "workflow_ref",
            "environment",
        ],
        Provider::GitLab => vec![
            "sub",
            "aud",
            "exp",
            "iat",
            "iss",
            "jti",
            "nbf",
            "project_path",
            "ci_config_ref_uri",
            "environment",
        ],
    };
    json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}{}", jwks_path(provider)),
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["id_token"],
        "scopes_supported": ["openid"],
        "subject_types_supported": ["public", "pairwise"],
        "claims_supported": claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_keys_round_trip_with_the_same_kids() {
        let issuers = Issuers::generate().unwrap_or_else(|e| panic!("{e}"));
        let stored = issuers.to_stored().unwrap_or_else(|e| panic!("{e}"));
        let again = Issuers::from_stored(&stored).unwrap_or_else(|e| panic!("{e}"));
        for p in Provider::ALL {
            assert_eq!(again.key(p).kid(), issuers.key(p).kid());
            assert_eq!(again.key(p).public_jwk(), issuers.key(p).public_jwk());
        }
        assert_ne!(
            issuers.circleci.kid(),
            issuers.github.kid(),
            "one key per issuer"
        );
    }

    #[test]
    fn a_stored_key_that_is_not_rsa_pkcs8_is_refused_by_issuer() {
        let mut stored = Issuers::generate()
            .and_then(|i| i.to_stored())
            .unwrap_or_else(|e| panic!("{e}"));
        stored.github = "bm90IGEga2V5".into();
        let err = Issuers::from_stored(&stored).expect_err("refused");
        assert!(err.to_string().contains("github"), "{err}");
    }
}
