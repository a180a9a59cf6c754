//! The sandbox's OIDC issuers (CircleCI for the org, GitHub Actions, GitLab): one RSA key per
//! issuer, discovery documents, JWKS, and RS256 signing of the tokens the mint endpoint hands out.

use std::sync::Arc;

use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use aws_lc_rs::{encoding::AsDer as _, rand::SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The CI providers the sandbox issues tokens for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Circleci,
    Github,
    Gitlab,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Circleci, Provider::Github, Provider::Gitlab];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Circleci => "circleci",
            Provider::Github => "github",
            Provider::Gitlab => "gitlab",
        }
    }

    pub fn parse(s: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Where the JWKS lives below the issuer URL (each provider's real layout).
    pub fn jwks_path(self) -> &'static str {
        match self {
            Provider::Circleci => "/.well-known/jwks-pub.json",
            Provider::Github => "/.well-known/jwks",
            Provider::Gitlab => "/oauth/discovery/keys",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("RSA key generation failed")]
    Generate,
    #[error("stored issuer key for {0} is not a valid PKCS#8 RSA key")]
    Stored(&'static str),
    #[error("signing failed")]
    Sign,
}

/// One issuer's signing key.
pub struct SigningKey {
    pub kid: String,
    pair: RsaKeyPair,
    pkcs8: Vec<u8>,
    jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    pub fn generate() -> Result<SigningKey, KeyError> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generate)?;
        let pkcs8 = pair
            .as_der()
            .map_err(|_| KeyError::Generate)?
            .as_ref()
            .to_vec();
        SigningKey::from_pkcs8(&pkcs8).map_err(|_| KeyError::Generate)
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<SigningKey, KeyError> {
        let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| KeyError::Stored("issuer"))?;
        let public = pair.public_key();
        let parsed = aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(public);
        let n = B64URL.encode(strip_zeros(&parsed.n));
        let e = B64URL.encode(strip_zeros(&parsed.e));
        let thumb = aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#).as_bytes(),
        );
        let kid = B64URL.encode(&thumb.as_ref()[..16]);
        let jwk = json!({"kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": n, "e": e});
        Ok(SigningKey {
            kid,
            pair,
            pkcs8: pkcs8.to_vec(),
            jwk,
        })
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// Signs `claims` as an RS256 JWT with this key's `kid`.
    pub fn sign(&self, claims: &Value) -> Result<String, KeyError> {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        let mut input = B64URL.encode(header.to_string());
        input.push('.');
        input.push_str(&B64URL.encode(claims.to_string()));
        let mut sig = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| KeyError::Sign)?;
        input.push('.');
        input.push_str(&B64URL.encode(sig));
        Ok(input)
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b
        .iter()
        .position(|&x| x != 0)
        .unwrap_or(b.len().saturating_sub(1));
    &b[first..]
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
            circleci: Arc::new(SigningKey::generate()?),
            github: Arc::new(SigningKey::generate()?),
            gitlab: Arc::new(SigningKey::generate()?),
        })
    }

    pub fn key(&self, p: Provider) -> &Arc<SigningKey> {
        match p {
            Provider::Circleci => &self.circleci,
            Provider::Github => &self.github,
            Provider::Gitlab => &self.gitlab,
        }
    }

    pub fn to_stored(&self) -> StoredKeys {
        let enc = |k: &SigningKey| base64::engine::general_purpose::STANDARD.encode(k.pkcs8());
        StoredKeys {
            circleci: enc(&self.circleci),
            github: enc(&self.github),
            gitlab: enc(&self.gitlab),
        }
    }

    pub fn from_stored(s: &StoredKeys) -> Result<Issuers, KeyError> {
        let dec = |v: &str, which: &'static str| -> Result<Arc<SigningKey>, KeyError> {
            let der = base64::engine::general_purpose::STANDARD
                .decode(v)
                .map_err(|_| KeyError::Stored(which))?;
            SigningKey::from_pkcs8(&der)
                .map(Arc::new)
                .map_err(|_| KeyError::Stored(which))
        };
        Ok(Issuers {
            circleci: dec(&s.circleci, "circleci")?,
            github: dec(&s.github, "github")?,
            gitlab: dec(&s.gitlab, "gitlab")?,
        })
    }
}

/// The issuer URL (`iss`) of a provider on a sandbox at `base` (`http://127.0.0.1:PORT`, no
/// trailing slash). CircleCI issuers are per org.
pub fn issuer_url(base: &str, provider: Provider, circleci_org_id: &str) -> String {
    match provider {
        Provider::Circleci => format!("{base}/-/sandbox/oidc/circleci/org/{circleci_org_id}"),
        Provider::Github => format!("{base}/-/sandbox/oidc/github"),
        Provider::Gitlab => format!("{base}/-/sandbox/oidc/gitlab"),
    }
}

/// `/.well-known/openid-configuration` for an issuer.
pub fn discovery(issuer: &str, provider: Provider) -> Value {
    let claims: Vec<&str> = match provider {
        Provider::Circleci => vec![
            "sub",
            "aud",
            "exp",
            "iat",
            "iss",
            "jti",
            "oidc.circleci.com/project-id",
            "oidc.circleci.com/context-ids",
        ],
        Provider::Github => vec![
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
        Provider::Gitlab => vec![
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
        "jwks_uri": format!("{issuer}{}", provider.jwks_path()),
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
    fn signs_verifiable_rs256() {
        let key = SigningKey::generate().unwrap_or_else(|e| panic!("{e}"));
        let jwt = key
            .sign(&json!({"sub": "x"}))
            .unwrap_or_else(|e| panic!("{e}"));
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let pk = aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            key.pair.public_key().as_ref().to_vec(),
        );
        let sig = B64URL.decode(parts[2]).unwrap_or_default();
        assert!(
            pk.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
                .is_ok()
        );
        let again = SigningKey::from_pkcs8(key.pkcs8()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.kid, key.kid);
        assert_eq!(key.jwk()["e"], "AQAB");
    }
}
