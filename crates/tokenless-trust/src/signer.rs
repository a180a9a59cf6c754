//! Issuer signing keys: generate an RS256 or ES256 key, publish its JWK, sign id tokens.
//!
//! This is the issuer's side. The sandbox's OIDC issuers, the tests and the benchmark use it
//! to mint tokens that [`crate::Verifier`] then checks; production verification never signs.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::keys::{Algorithm, VerifyingKey};

/// Key generation or signing failed inside the crypto library.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SignerError(String);

enum Inner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A private key that signs JWTs as one issuer key (`kid`).
pub struct SigningKey {
    kid: String,
    inner: Inner,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh 2048-bit RSA key for RS256.
    pub fn generate_rs256(kid: impl Into<String>) -> Result<SigningKey, SignerError> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|e| SignerError(format!("RSA key generation: {e}")))?;
        Ok(SigningKey {
            kid: kid.into(),
            inner: Inner::Rsa(pair),
        })
    }

    /// A fresh P-256 key for ES256.
    pub fn generate_es256(kid: impl Into<String>) -> Result<SigningKey, SignerError> {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map_err(|e| SignerError(format!("EC key generation: {e}")))?;
        Ok(SigningKey {
            kid: kid.into(),
            inner: Inner::Ec(pair),
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// RS256 or ES256.
    pub fn algorithm(&self) -> Algorithm {
        match self.inner {
            Inner::Rsa(_) => Algorithm::Rs256,
            Inner::Ec(_) => Algorithm::Es256,
        }
    }

    /// The public half as a JWK (`kty`, `kid`, `use: sig`, `alg`, and `n`/`e` or `crv`/`x`/`y`).
    pub fn public_jwk(&self) -> Value {
        match &self.inner {
            Inner::Rsa(pair) => {
                let public = pair.public_key();
                json!({
                    "kty": "RSA", "kid": self.kid, "use": "sig", "alg": "RS256",
                    "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                    "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
                })
            }
            Inner::Ec(pair) => {
                let point = pair.public_key().as_ref();
                let x = point.get(1..33).unwrap_or_default();
                let y = point.get(33..65).unwrap_or_default();
                json!({
                    "kty": "EC", "kid": self.kid, "use": "sig", "alg": "ES256", "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
                })
            }
        }
    }

    /// The public half, parsed for verification.
    pub fn verifying_key(&self) -> Result<VerifyingKey, SignerError> {
        VerifyingKey::from_jwk(&self.public_jwk()).map_err(|e| SignerError(e.to_string()))
    }

    /// Signs `message` with this key's algorithm (raw JWS signature bytes).
    pub fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        let rng = SystemRandom::new();
        match &self.inner {
            Inner::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|e| SignerError(format!("RSA signing: {e}")))?;
                Ok(sig)
            }
            Inner::Ec(pair) => pair
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|e| SignerError(format!("ECDSA signing: {e}"))),
        }
    }

    /// A compact JWT with header `{"alg", "kid", "typ": "JWT"}` and `claims` as payload.
    pub fn sign_jwt(&self, claims: &Value) -> Result<String, SignerError> {
        let header = json!({"alg": self.algorithm().as_str(), "kid": self.kid, "typ": "JWT"});
        self.sign_jwt_raw(header.to_string().as_bytes(), claims.to_string().as_bytes())
    }

    /// A compact JWT over exactly these header and payload bytes (tests use it to build
    /// hostile tokens: duplicate keys, injected headers, non-JSON payloads).
    pub fn sign_jwt_raw(&self, header: &[u8], payload: &[u8]) -> Result<String, SignerError> {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let sig = self.sign_bytes(signing_input.as_bytes())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// `{"keys": [...]}` for these keys: what an issuer serves at its `jwks_uri`.
pub fn jwks_document<'a>(keys: impl IntoIterator<Item = &'a SigningKey>) -> Value {
    json!({"keys": keys.into_iter().map(SigningKey::public_jwk).collect::<Vec<_>>()})
}
