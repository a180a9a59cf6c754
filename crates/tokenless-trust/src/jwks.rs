//! Where an issuer's keys come from: the [`JwksSource`] trait and its implementations.
//!
//! - [`StaticJwks`]: a fixed key set (in memory, or read once from a JWKS file).
//! - [`CachingJwks`]: keys fetched through a [`JwksFetcher`] (HTTP discovery with the
//!   `discovery` feature, see [`crate::discovery`]), cached per issuer. An unknown `kid`
//!   triggers a refresh at most once per [`REFRESH_COOLDOWN_SECS`] per issuer; a failed
//!   refresh keeps the keys already held. The clock is the `now` the caller passes, so the
//!   policy is testable without sleeping.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::keys::{JwkError, KeySet, VerifyingKey};

/// Why no key was found for a `kid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyLookupError {
    /// The issuer's key set has no key with this `kid`.
    #[error("no key with kid {kid:?} (known kids: {})", if known.is_empty() { "none".to_owned() } else { known.join(", ") })]
    UnknownKid {
        /// The `kid` asked for.
        kid: String,
        /// The `kid`s the source holds.
        known: Vec<String>,
    },
    /// The keys could not be obtained (fetch failed and nothing cached).
    #[error("issuer keys unavailable: {0}")]
    Unavailable(String),
}

/// A source of issuer public keys.
pub trait JwksSource: Send + Sync {
    /// The key `kid` of `issuer` (the token's `iss`, already matched against the issuer
    /// table). `now` is Unix seconds, for cache policies.
    fn key(&self, issuer: &str, kid: &str, now: u64) -> Result<Arc<VerifyingKey>, KeyLookupError>;
}

/// A fixed key set, whatever the issuer: for `--jwks FILE` and for issuers whose keys are in
/// memory (the sandbox).
#[derive(Debug, Clone)]
pub struct StaticJwks {
    keys: KeySet,
}

/// A JWKS file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JwksFileError {
    /// Reading failed, or the path is not a regular file of at most [`MAX_JWKS_BYTES`]
    /// (the message names the path).
    #[error(transparent)]
    Read(#[from] crate::file::ReadError),
    /// The content is not a usable JWK set.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong.
        source: JwkError,
    },
    /// No key in the file is usable.
    #[error("{path}: no usable RS256/ES256 key{}", skipped_list(.skipped))]
    Empty {
        /// The file.
        path: String,
        /// Why each key was skipped.
        skipped: Vec<JwkError>,
    },
}

fn skipped_list(skipped: &[JwkError]) -> String {
    if skipped.is_empty() {
        String::new()
    } else {
        format!(
            " ({})",
            skipped
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        )
    }
}

/// Largest JWKS document read from a file or the network.
pub const MAX_JWKS_BYTES: usize = 1 << 20;

impl StaticJwks {
    /// Serves exactly these keys.
    pub fn new(keys: KeySet) -> StaticJwks {
        StaticJwks { keys }
    }

    /// Reads a JWK set (`{"keys": [...]}`) from a file.
    pub fn from_file(path: &Path) -> Result<StaticJwks, JwksFileError> {
        let shown = path.display().to_string();
        let bytes = crate::file::read_capped(path, MAX_JWKS_BYTES as u64)?;
        let keys = KeySet::from_jwks_json(&bytes).map_err(|source| JwksFileError::Parse {
            path: shown.clone(),
            source,
        })?;
        if keys.is_empty() {
            return Err(JwksFileError::Empty {
                path: shown,
                skipped: keys.skipped().to_vec(),
            });
        }
        Ok(StaticJwks { keys })
    }

    /// The key set served.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }
}

impl JwksSource for StaticJwks {
    fn key(
        &self,
        _issuer: &str,
        kid: &str,
        _now: u64,
    ) -> Result<Arc<VerifyingKey>, KeyLookupError> {
        self.keys
            .get(kid)
            .ok_or_else(|| KeyLookupError::UnknownKid {
                kid: kid.to_owned(),
                known: self.keys.kids(),
            })
    }
}

/// Fetches an issuer's current key set (e.g. discovery then `jwks_uri`).
pub trait JwksFetcher: Send + Sync {
    /// The key set of `issuer`, or why it could not be fetched.
    fn fetch(&self, issuer: &str) -> Result<KeySet, String>;
}

/// Seconds between two fetches for the same issuer.
pub const REFRESH_COOLDOWN_SECS: u64 = 60;

/// Most issuers a cache remembers (the least recently fetched is dropped first).
const MAX_CACHED_ISSUERS: usize = 256;

#[derive(Default)]
struct IssuerKeys {
    keys: Option<KeySet>,
    last_attempt: Option<u64>,
    last_error: Option<String>,
}

/// Keys fetched on demand and cached per issuer (see the module docs for the policy).
pub struct CachingJwks<F> {
    fetcher: F,
    cooldown: u64,
    issuers: Mutex<HashMap<String, IssuerKeys>>,
}

impl<F: JwksFetcher> CachingJwks<F> {
    /// A cache over `fetcher` with the 60 s refresh cooldown.
    pub fn new(fetcher: F) -> CachingJwks<F> {
        CachingJwks {
            fetcher,
            cooldown: REFRESH_COOLDOWN_SECS,
            issuers: Mutex::new(HashMap::new()),
        }
    }

    /// The fetcher (tests read their fake's call count through it).
    pub fn fetcher(&self) -> &F {
        &self.fetcher
    }
}

impl<F: JwksFetcher> JwksSource for CachingJwks<F> {
    fn key(&self, issuer: &str, kid: &str, now: u64) -> Result<Arc<VerifyingKey>, KeyLookupError> {
        // A poisoned lock only means another verification panicked mid-update; the map
        // itself is still consistent (every write is a single assignment).
        let mut issuers = self
            .issuers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !issuers.contains_key(issuer) && issuers.len() >= MAX_CACHED_ISSUERS {
            let oldest = issuers
                .iter()
                .min_by_key(|(_, v)| v.last_attempt)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                issuers.remove(&oldest);
            }
        }
        let entry = issuers.entry(issuer.to_owned()).or_default();
        if let Some(key) = entry.keys.as_ref().and_then(|k| k.get(kid)) {
            return Ok(key);
        }
        let may_refresh = entry
            .last_attempt
            .is_none_or(|last| now >= last.saturating_add(self.cooldown) || now < last);
        if may_refresh {
            entry.last_attempt = Some(now);
            match self.fetcher.fetch(issuer) {
                Ok(keys) => {
                    entry.keys = Some(keys);
                    entry.last_error = None;
                }
                Err(e) => entry.last_error = Some(e),
            }
        }
        match (&entry.keys, &entry.last_error) {
            (Some(keys), _) => keys.get(kid).ok_or_else(|| KeyLookupError::UnknownKid {
                kid: kid.to_owned(),
                known: keys.kids(),
            }),
            (None, Some(e)) => Err(KeyLookupError::Unavailable(e.clone())),
            (None, None) => Err(KeyLookupError::Unavailable(
                "no keys fetched yet and the refresh cooldown has not elapsed".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::signer::{SigningKey, jwks_document};

    struct FakeFetcher {
        calls: AtomicUsize,
        responses: Mutex<Vec<Result<KeySet, String>>>,
    }

    impl JwksFetcher for FakeFetcher {
        fn fetch(&self, _issuer: &str) -> Result<KeySet, String> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut r = self
                .responses
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if r.is_empty() {
                Err("no scripted response".into())
            } else {
                r.remove(0)
            }
        }
    }

    fn set(keys: &[&SigningKey]) -> KeySet {
        KeySet::from_jwks_json(jwks_document(keys.iter().copied()).to_string().as_bytes())
            .expect("jwks")
    }

    #[test]
    fn unknown_kid_refreshes_at_most_once_a_minute_and_failures_keep_old_keys() {
        let k1 = SigningKey::generate_es256("k1").expect("key");
        let k2 = SigningKey::generate_es256("k2").expect("key");
        let fake = FakeFetcher {
            calls: AtomicUsize::new(0),
            responses: Mutex::new(vec![
                Ok(set(&[&k1])),
                Err("HTTP 503".into()),
                Ok(set(&[&k1, &k2])),
            ]),
        };
        let cache = CachingJwks::new(fake);
        let iss = "https://issuer.example";
        let calls = |c: &CachingJwks<FakeFetcher>| c.fetcher().calls.load(Ordering::SeqCst);

        // First lookup fetches.
        assert!(cache.key(iss, "k1", 1000).is_ok());
        assert_eq!(calls(&cache), 1);
        // Known kid: served from cache, no fetch.
        assert!(cache.key(iss, "k1", 1001).is_ok());
        assert_eq!(calls(&cache), 1);
        // Unknown kid within the cooldown: no fetch.
        assert!(matches!(
            cache.key(iss, "k2", 1030),
            Err(KeyLookupError::UnknownKid { .. })
        ));
        assert_eq!(calls(&cache), 1);
        // After the cooldown: one fetch, which fails; k1 is still served.
        assert!(matches!(
            cache.key(iss, "k2", 1060),
            Err(KeyLookupError::UnknownKid { .. })
        ));
        assert_eq!(calls(&cache), 2);
        assert!(cache.key(iss, "k1", 1061).is_ok());
        assert_eq!(calls(&cache), 2);
        // Still cooling down from the failed attempt.
        assert!(cache.key(iss, "k2", 1119).is_err());
        assert_eq!(calls(&cache), 2);
        // Next refresh succeeds with the rotated key.
        assert!(cache.key(iss, "k2", 1120).is_ok());
        assert_eq!(calls(&cache), 3);
    }

    #[test]
    fn first_fetch_failure_is_unavailable() {
        let cache = CachingJwks::new(FakeFetcher {
            calls: AtomicUsize::new(0),
            responses: Mutex::new(vec![Err("connection refused".into())]),
        });
        assert_eq!(
            cache.key("https://i", "k", 5).map(|k| k.kid().to_owned()),
            Err(KeyLookupError::Unavailable("connection refused".into()))
        );
    }
}
