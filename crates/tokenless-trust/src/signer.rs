//! Issuer signing keys: generate an RS256 or ES256 key, publish its JWK, sign id tokens.
//!
//! This is the issuer's side. The sandbox's OIDC issuers, the tests and the benchmark use it
//! to mint tokens that [`crate::Verifier`] then checks; production verification never signs.

use aws_lc_rs::encoding::AsDer as _;
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

    /// An RSA (RS256) or P-256 (ES256) key from its PKCS#8 DER encoding, as written by
    /// [`SigningKey::to_pkcs8`]: how an issuer keeps its key across restarts.
    pub fn from_pkcs8(kid: impl Into<String>, der: &[u8]) -> Result<SigningKey, SignerError> {
        let inner = match RsaKeyPair::from_pkcs8(der) {
            Ok(pair) => Inner::Rsa(pair),
            Err(_) => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .map(Inner::Ec)
                .map_err(|_| SignerError("not a PKCS#8 RSA or P-256 private key".into()))?,
        };
        Ok(SigningKey {
            kid: kid.into(),
            inner,
        })
    }

    /// The private key as PKCS#8 DER. It is a secret: store it only where the issuer's
    /// own state lives.
    pub fn to_pkcs8(&self) -> Result<Vec<u8>, SignerError> {
        let der = match &self.inner {
            Inner::Rsa(pair) => pair.as_der().map(|d| d.as_ref().to_vec()),
            Inner::Ec(pair) => pair.to_pkcs8v1().map(|d| d.as_ref().to_vec()),
        };
        der.map_err(|e| SignerError(format!("PKCS#8 encoding: {e}")))
    }

    /// The same key under another key id.
    pub fn with_kid(self, kid: impl Into<String>) -> SigningKey {
        SigningKey {
            kid: kid.into(),
            ..self
        }
    }

    /// The RFC 7638 thumbprint of the public key: a key id derived from the key itself,
    /// so it is the same after every restart.
    pub fn thumbprint(&self) -> String {
        jwk_thumbprint(&self.public_jwk()).unwrap_or_default()
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

/// The RFC 7638 JWK thumbprint (SHA-256 over the required members in lexicographic
/// order, base64url), for an RSA or P-256 public JWK; `None` for any other key.
pub fn jwk_thumbprint(jwk: &Value) -> Option<String> {
    let field = |k: &str| jwk.get(k).and_then(Value::as_str);
    let canonical = match field("kty")? {
        "RSA" => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            field("e")?,
            field("n")?
        ),
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            field("crv")?,
            field("x")?,
            field("y")?
        ),
        _ => return None,
    };
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    Some(URL_SAFE_NO_PAD.encode(digest.as_ref()))
}

/// `{"keys": [...]}` for these keys: what an issuer serves at its `jwks_uri`.
pub fn jwks_document<'a>(keys: impl IntoIterator<Item = &'a SigningKey>) -> Value {
    json!({"keys": keys.into_iter().map(SigningKey::public_jwk).collect::<Vec<_>>()})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs8_round_trip_keeps_the_key_for_both_algorithms() {
        for key in [
            SigningKey::generate_rs256("r").expect("rsa"),
            SigningKey::generate_es256("e").expect("ec"),
        ] {
            let der = key.to_pkcs8().expect("encode");
            let again = SigningKey::from_pkcs8(key.kid(), &der).expect("decode");
            assert_eq!(again.public_jwk(), key.public_jwk());
            assert_eq!(again.thumbprint(), key.thumbprint());
            let jwt = again.sign_jwt(&json!({"sub": "x"})).expect("sign");
            let verifying = key.verifying_key().expect("public key");
            let (input, sig) = jwt.rsplit_once('.').expect("three parts");
            let sig = URL_SAFE_NO_PAD.decode(sig).expect("base64url");
            assert!(
                verifying.verify(input.as_bytes(), &sig),
                "signed by the reloaded key"
            );
        }
    }

    #[test]
    fn garbage_is_not_a_key() {
        let err = SigningKey::from_pkcs8("k", b"not a key").expect_err("refused");
        assert!(err.to_string().contains("PKCS#8"), "{err}");
    }

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638 §3.1: the example RSA key's thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let jwk = json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"});
        assert_eq!(
            jwk_thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
        assert_eq!(jwk_thumbprint(&json!({"kty": "oct", "k": "x"})), None);
    }
}
