//! Replay protection: an id token (`jti`) is exchanged at most once per package.
//!
//! One token may be exchanged once for each package of a monorepo release, never twice for
//! the same package. [`JtiStore::claim`] is an atomic check-and-insert; entries are kept
//! until the token itself has expired (plus leeway) and then forgotten, so the store is
//! bounded by the number of live tokens.

use std::collections::HashMap;
use std::sync::Mutex;

/// Why a `jti` could not be claimed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JtiError {
    /// This `(jti, package)` was exchanged before.
    #[error("jti {jti:?} was already exchanged for {package}")]
    Replayed {
        /// The token id.
        jti: String,
        /// The package.
        package: String,
    },
    /// The store is full of live entries; refusing is the safe answer.
    #[error("replay store is full ({0} live entries)")]
    Full(usize),
}

/// Remembers which `(jti, package)` pairs were exchanged.
pub trait JtiStore: Send + Sync {
    /// Atomically records `(jti, package)` unless already present. `forget_after` is the Unix
    /// time after which the token can no longer be presented (its `exp` plus leeway); `now`
    /// lets the store drop expired entries.
    fn claim(&self, jti: &str, package: &str, forget_after: u64, now: u64) -> Result<(), JtiError>;
}

/// A [`JtiStore`] in process memory.
#[derive(Debug)]
pub struct InMemoryJtiStore {
    capacity: usize,
    entries: Mutex<HashMap<(String, String), u64>>,
}

impl Default for InMemoryJtiStore {
    fn default() -> Self {
        InMemoryJtiStore::with_capacity(1_000_000)
    }
}

impl InMemoryJtiStore {
    /// A store holding at most `capacity` live entries.
    pub fn with_capacity(capacity: usize) -> InMemoryJtiStore {
        InMemoryJtiStore {
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Live entries (after dropping expired ones at `now`).
    pub fn len(&self, now: u64) -> usize {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.retain(|_, until| *until >= now);
        entries.len()
    }

    /// Whether no live entry remains at `now`.
    pub fn is_empty(&self, now: u64) -> bool {
        self.len(now) == 0
    }
}

impl JtiStore for InMemoryJtiStore {
    fn claim(&self, jti: &str, package: &str, forget_after: u64, now: u64) -> Result<(), JtiError> {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let key = (jti.to_owned(), package.to_owned());
        if let Some(until) = entries.get(&key)
            && *until >= now
        {
            return Err(JtiError::Replayed {
                jti: jti.to_owned(),
                package: package.to_owned(),
            });
        }
        if entries.len() >= self.capacity {
            entries.retain(|_, until| *until >= now);
            if entries.len() >= self.capacity {
                return Err(JtiError::Full(entries.len()));
            }
        }
        entries.insert(key, forget_after);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_package() {
        let store = InMemoryJtiStore::default();
        assert_eq!(store.claim("j", "@a/one", 200, 100), Ok(()));
        assert!(matches!(
            store.claim("j", "@a/one", 200, 101),
            Err(JtiError::Replayed { .. })
        ));
        assert_eq!(store.claim("j", "@a/two", 200, 101), Ok(()));
    }

    #[test]
    fn expired_entries_are_forgotten_and_capacity_is_enforced() {
        let store = InMemoryJtiStore::with_capacity(2);
        assert_eq!(store.claim("a", "p", 110, 100), Ok(()));
        assert_eq!(store.claim("b", "p", 300, 100), Ok(()));
        assert_eq!(store.claim("c", "p", 300, 105), Err(JtiError::Full(2)));
        // "a" expired at 110: its slot is reused.
        assert_eq!(store.claim("c", "p", 300, 111), Ok(()));
        assert_eq!(store.len(111), 2);
    }

    #[test]
    fn concurrent_claims_of_one_pair_succeed_exactly_once() {
        let store = std::sync::Arc::new(InMemoryJtiStore::default());
        let results: Vec<bool> = (0..8)
            .map(|_| {
                let s = store.clone();
                std::thread::spawn(move || s.claim("same", "pkg", 1000, 1).is_ok())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap_or(false))
            .collect();
        assert_eq!(results.iter().filter(|ok| **ok).count(), 1);
    }
}
