//! Issuer public keys: JWKs parsed once into ready-to-verify keys, and key sets by `kid`.
//!
//! A JWK is parsed when a key set is loaded, never per verification: [`VerifyingKey`] holds
//! aws-lc-rs's parsed public key, so a verification costs one signature check.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use crate::strict_json;

/// The JWS algorithms tokenless accepts at all. Everything else (`none`, `HS*`, `PS*`,
/// `ES384`, `EdDSA`, …) is refused before any key is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256, RSA keys of 2048 to 8192 bits.
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA on P-256 with SHA-256, fixed-width (`r || s`) signatures.
    #[serde(rename = "ES256")]
    Es256,
}

impl Algorithm {
    /// The JOSE name: `RS256` or `ES256`.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Es256 => "ES256",
        }
    }

    /// Parses a JOSE `alg` name; `None` for anything tokenless refuses.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "RS256" => Some(Algorithm::Rs256),
            "ES256" => Some(Algorithm::Es256),
            _ => None,
        }
    }
}

/// Why one JWK was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    /// The JWK set is not `{"keys": [...]}` JSON.
    #[error("JWK set: {0}")]
    Set(String),
    /// A field is missing or has the wrong type or encoding.
    #[error("JWK {kid:?}: {message}")]
    Key {
        /// The key's `kid`, or `?` when absent.
        kid: String,
        /// What is wrong.
        message: String,
    },
}

/// A public key, parsed, tied to one algorithm and one `kid`.
pub struct VerifyingKey {
    kid: String,
    algorithm: Algorithm,
    key: ParsedPublicKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

fn key_err(kid: &str, message: impl Into<String>) -> JwkError {
    JwkError::Key {
        kid: kid.to_owned(),
        message: message.into(),
    }
}

fn b64_field(
    jwk: &serde_json::Map<String, Value>,
    kid: &str,
    name: &str,
) -> Result<Vec<u8>, JwkError> {
    let text = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| key_err(kid, format!("missing string field {name:?}")))?;
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|e| key_err(kid, format!("field {name:?} is not base64url: {e}")))
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

impl VerifyingKey {
    /// Parses one JWK (`kty` `RSA` with `n`/`e`, or `EC` on `P-256` with `x`/`y`). A `use`
    /// other than `sig`, or an `alg` other than the one the key type implies, is refused.
    pub fn from_jwk(jwk: &Value) -> Result<VerifyingKey, JwkError> {
        let map = jwk
            .as_object()
            .ok_or_else(|| key_err("?", "a JWK must be an object"))?;
        let kid = match map.get("kid") {
            Some(Value::String(k)) if !k.is_empty() => k.clone(),
            _ => return Err(key_err("?", "missing string field \"kid\"")),
        };
        if let Some(usage) = map.get("use")
            && usage != "sig"
        {
            return Err(key_err(
                &kid,
                format!("\"use\" is {usage}, expected \"sig\""),
            ));
        }
        let kty = map.get("kty").and_then(Value::as_str).unwrap_or_default();
        let (algorithm, key) = match kty {
            "RSA" => {
                let n = b64_field(map, &kid, "n")?;
                let e = b64_field(map, &kid, "e")?;
                let components = RsaPublicKeyComponents {
                    n: strip_leading_zeros(&n),
                    e: strip_leading_zeros(&e),
                };
                let key = components
                    .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
                    .map_err(|e| key_err(&kid, format!("not a valid RSA public key: {e}")))?;
                let bits = strip_leading_zeros(&n).len() * 8;
                if !(2048..=8192).contains(&bits) {
                    return Err(key_err(
                        &kid,
                        format!("RSA modulus of {bits} bits (need 2048 to 8192)"),
                    ));
                }
                (Algorithm::Rs256, key)
            }
            "EC" => {
                let crv = map.get("crv").and_then(Value::as_str).unwrap_or_default();
                if crv != "P-256" {
                    return Err(key_err(
                        &kid,
                        format!("curve {crv:?} is not supported (only P-256)"),
                    ));
                }
                let x = b64_field(map, &kid, "x")?;
                let y = b64_field(map, &kid, "y")?;
                if x.len() != 32 || y.len() != 32 {
                    return Err(key_err(&kid, "P-256 coordinates must be 32 bytes each"));
                }
                let mut point = Vec::with_capacity(65);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                let key = ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .map_err(|e| key_err(&kid, format!("not a valid P-256 point: {e}")))?;
                (Algorithm::Es256, key)
            }
            other => {
                return Err(key_err(
                    &kid,
                    format!("key type {other:?} is not supported (RSA or EC)"),
                ));
            }
        };
        if let Some(alg) = map.get("alg")
            && alg != algorithm.as_str()
        {
            return Err(key_err(
                &kid,
                format!(
                    "\"alg\" is {alg}, but a {kty} key here is only used for {}",
                    algorithm.as_str()
                ),
            ));
        }
        Ok(VerifyingKey {
            kid,
            algorithm,
            key,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Whether `signature` is this key's `algorithm` signature over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(message, signature).is_ok()
    }
}

/// An issuer's keys by `kid`, parsed. Unusable JWKs are left out and listed in `skipped`.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: HashMap<String, Arc<VerifyingKey>>,
    skipped: Vec<JwkError>,
}

/// Most keys a key set may hold; issuers publish a handful.
const MAX_KEYS: usize = 64;

impl KeySet {
    /// Parses a JWK set (`{"keys": [...]}`). Keys of unsupported types are skipped (see
    /// [`KeySet::skipped`]); two keys with the same `kid` are both dropped as ambiguous.
    pub fn from_jwks_json(bytes: &[u8]) -> Result<KeySet, JwkError> {
        let value = strict_json::parse(bytes).map_err(|e| JwkError::Set(e.to_string()))?;
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| JwkError::Set("expected an object with a \"keys\" array".into()))?;
        if keys.len() > MAX_KEYS {
            return Err(JwkError::Set(format!(
                "{} keys (at most {MAX_KEYS})",
                keys.len()
            )));
        }
        let mut set = KeySet::default();
        let mut seen_twice = Vec::new();
        for jwk in keys {
            match VerifyingKey::from_jwk(jwk) {
                Ok(key) => {
                    if set.keys.contains_key(key.kid()) {
                        seen_twice.push(key.kid().to_owned());
                    } else {
                        set.keys.insert(key.kid().to_owned(), Arc::new(key));
                    }
                }
                Err(e) => set.skipped.push(e),
            }
        }
        for kid in seen_twice {
            if set.keys.remove(&kid).is_some() {
                set.skipped.push(key_err(
                    &kid,
                    "more than one key has this kid; both are ignored",
                ));
            }
        }
        Ok(set)
    }

    /// Builds a set from already parsed keys (a later key with the same `kid` replaces an
    /// earlier one).
    pub fn from_keys(keys: impl IntoIterator<Item = VerifyingKey>) -> KeySet {
        KeySet {
            keys: keys
                .into_iter()
                .map(|k| (k.kid().to_owned(), Arc::new(k)))
                .collect(),
            skipped: Vec::new(),
        }
    }

    /// The key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<Arc<VerifyingKey>> {
        self.keys.get(kid).cloned()
    }

    /// All `kid`s, sorted.
    pub fn kids(&self) -> Vec<String> {
        let mut kids: Vec<String> = self.keys.keys().cloned().collect();
        kids.sort();
        kids
    }

    /// Whether the set holds no usable key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// JWKs that were left out, with the reason.
    pub fn skipped(&self) -> &[JwkError] {
        &self.skipped
    }
}
