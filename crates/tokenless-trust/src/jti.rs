//! Replay protection: an id token (`jti`) is exchanged at most once per package.
//!
//! One token may be exchanged once for each package of a monorepo release, never twice for
//! the same package. Entries are keyed by `(issuer, jti, package)`: a `jti` is unique only
//! within its issuer, so two issuers' equal `jti`s never shadow each other.
//! [`JtiStore::claim`] is an atomic check-and-insert.
//!
//! Bounds: an entry is kept until its token can no longer be presented (`exp` + leeway) and
//! then dropped; the verifier refuses tokens living longer than their issuer's maximum
//! ([`IssuerEntry::max_lifetime_secs`](crate::IssuerEntry::max_lifetime_secs)), so no entry
//! is held longer than that. [`InMemoryJtiStore`] prunes expired entries as it goes
//! (amortised O(log n) per claim, through an expiry-ordered heap), and refuses new claims
//! with [`JtiError::Full`] once it holds its capacity of live entries, so a flood of valid
//! tokens cannot grow it without bound.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};

/// Why a `jti` could not be claimed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JtiError {
    /// This `(issuer, jti, package)` was exchanged before.
    #[error("jti {jti:?} of {issuer} was already exchanged for {package}")]
    Replayed {
        /// The token's issuer.
        issuer: String,
        /// The token id.
        jti: String,
        /// The package.
        package: String,
    },
    /// The store holds `capacity` live entries; refusing is the safe answer.
    #[error(
        "the replay store is full ({capacity} tokens exchanged and not yet expired; the next expires at {next_expiry}); retry after that"
    )]
    Full {
        /// Live entries held (the configured capacity).
        capacity: usize,
        /// Unix time at which the earliest entry is dropped.
        next_expiry: u64,
    },
}

/// Remembers which `(issuer, jti, package)` triples were exchanged.
pub trait JtiStore: Send + Sync {
    /// Atomically records `(issuer, jti, package)` unless already present. `forget_after` is
    /// the Unix time after which the token can no longer be presented (its `exp` plus
    /// leeway); `now` lets the store drop expired entries.
    fn claim(
        &self,
        issuer: &str,
        jti: &str,
        package: &str,
        forget_after: u64,
        now: u64,
    ) -> Result<(), JtiError>;
}

/// Default capacity of [`InMemoryJtiStore`]: live entries held at once.
pub const DEFAULT_JTI_CAPACITY: usize = 100_000;

type Key = Arc<(String, String, String)>;

#[derive(Debug, Default)]
struct Entries {
    /// Key → the time after which it is forgotten.
    live: HashMap<Key, u64>,
    /// Every key with its expiry, earliest first. A key claimed again after it expired has
    /// a newer heap item; the stale one is skipped when popped.
    by_expiry: BinaryHeap<Reverse<(u64, Key)>>,
}

impl Entries {
    /// Drops every entry whose `forget_after` is before `now`.
    fn prune(&mut self, now: u64) {
        while let Some(Reverse((until, _))) = self.by_expiry.peek() {
            if *until >= now {
                break;
            }
            if let Some(Reverse((until, key))) = self.by_expiry.pop()
                && self.live.get(&key) == Some(&until)
            {
                self.live.remove(&key);
            }
        }
    }

    fn next_expiry(&self) -> u64 {
        self.by_expiry
            .peek()
            .map_or(0, |Reverse((until, _))| *until)
    }
}

/// A [`JtiStore`] in process memory, holding at most a fixed number of live entries.
#[derive(Debug)]
pub struct InMemoryJtiStore {
    capacity: usize,
    entries: Mutex<Entries>,
}

impl Default for InMemoryJtiStore {
    fn default() -> Self {
        InMemoryJtiStore::with_capacity(DEFAULT_JTI_CAPACITY)
    }
}

impl InMemoryJtiStore {
    /// A store holding at most `capacity` live entries.
    pub fn with_capacity(capacity: usize) -> InMemoryJtiStore {
        InMemoryJtiStore {
            capacity,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// The configured capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Live entries (after dropping expired ones at `now`).
    pub fn len(&self, now: u64) -> usize {
        let mut entries = self.lock();
        entries.prune(now);
        entries.live.len()
    }

    /// Whether no live entry remains at `now`.
    pub fn is_empty(&self, now: u64) -> bool {
        self.len(now) == 0
    }

    /// Items in the expiry index, live or stale (for tests of the pruning bound).
    #[doc(hidden)]
    pub fn indexed(&self) -> usize {
        self.lock().by_expiry.len()
    }
}

impl JtiStore for InMemoryJtiStore {
    fn claim(
        &self,
        issuer: &str,
        jti: &str,
        package: &str,
        forget_after: u64,
        now: u64,
    ) -> Result<(), JtiError> {
        let mut entries = self.lock();
        entries.prune(now);
        let key: Key = Arc::new((issuer.to_owned(), jti.to_owned(), package.to_owned()));
        if entries.live.contains_key(&key) {
            return Err(JtiError::Replayed {
                issuer: issuer.to_owned(),
                jti: jti.to_owned(),
                package: package.to_owned(),
            });
        }
        if entries.live.len() >= self.capacity {
            return Err(JtiError::Full {
                capacity: self.capacity,
                next_expiry: entries.next_expiry(),
            });
        }
        entries.live.insert(key.clone(), forget_after);
        entries.by_expiry.push(Reverse((forget_after, key)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "https://token.actions.githubusercontent.com";

    #[test]
    fn once_per_issuer_jti_and_package() {
        let store = InMemoryJtiStore::default();
        assert_eq!(store.claim(ISS, "j", "@a/one", 200, 100), Ok(()));
        assert!(matches!(
            store.claim(ISS, "j", "@a/one", 200, 101),
            Err(JtiError::Replayed { .. })
        ));
        assert_eq!(store.claim(ISS, "j", "@a/two", 200, 101), Ok(()));
        // The same jti from another issuer is another token.
        assert_eq!(
            store.claim("https://gitlab.com", "j", "@a/one", 200, 101),
            Ok(())
        );
        assert_eq!(store.len(101), 3);
    }

    #[test]
    fn entries_are_dropped_once_forget_after_passes() {
        let store = InMemoryJtiStore::default();
        assert_eq!(store.claim(ISS, "a", "p", 110, 100), Ok(()));
        assert_eq!(store.claim(ISS, "b", "p", 300, 100), Ok(()));
        assert_eq!(store.len(110), 2, "still live at forget_after itself");
        assert_eq!(store.len(111), 1);
        // A token presented after its entry was dropped is refused by the exp check, not
        // by the store; the store accepts the key again.
        assert_eq!(store.claim(ISS, "a", "p", 400, 111), Ok(()));
        assert!(matches!(
            store.claim(ISS, "a", "p", 400, 112),
            Err(JtiError::Replayed { .. })
        ));
    }

    #[test]
    fn a_full_store_refuses_clearly_and_frees_slots_as_entries_expire() {
        let store = InMemoryJtiStore::with_capacity(2);
        assert_eq!(store.claim(ISS, "a", "p", 110, 100), Ok(()));
        assert_eq!(store.claim(ISS, "b", "p", 300, 100), Ok(()));
        let full = store.claim(ISS, "c", "p", 300, 105);
        assert_eq!(
            full,
            Err(JtiError::Full {
                capacity: 2,
                next_expiry: 110
            })
        );
        let message = full.map_err(|e| e.to_string()).err().unwrap_or_default();
        assert!(
            message.contains("replay store is full (2 tokens"),
            "{message}"
        );
        assert!(message.contains("retry after"), "{message}");
        // "a" is forgotten after 110: its slot is reused.
        assert_eq!(store.claim(ISS, "c", "p", 300, 111), Ok(()));
        assert_eq!(store.len(111), 2);
    }

    #[test]
    fn a_flood_of_short_lived_tokens_keeps_memory_bounded() {
        let store = InMemoryJtiStore::with_capacity(1_000);
        // 100,000 tokens, each living 10 s, one claimed per second of clock: at most ~11
        // are live at any time and the index never grows past the live set plus what one
        // claim adds.
        for i in 0..100_000u64 {
            let now = 1_000 + i;
            assert_eq!(
                store.claim(ISS, &format!("j{i}"), "p", now + 10, now),
                Ok(())
            );
            assert!(store.indexed() <= 12, "index holds {}", store.indexed());
        }
        assert!(store.len(101_000) <= 11);
    }

    #[test]
    fn a_flood_within_one_second_hits_the_cap_not_the_memory() {
        let store = InMemoryJtiStore::with_capacity(500);
        let refused = (0..5_000)
            .filter(|i| store.claim(ISS, &format!("j{i}"), "p", 10_000, 1).is_err())
            .count();
        assert_eq!(refused, 4_500);
        assert_eq!(store.indexed(), 500);
    }

    #[test]
    fn concurrent_claims_of_one_triple_succeed_exactly_once() {
        let store = Arc::new(InMemoryJtiStore::default());
        let results: Vec<bool> = (0..8)
            .map(|_| {
                let s = store.clone();
                std::thread::spawn(move || s.claim(ISS, "same", "pkg", 1000, 1).is_ok())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap_or(false))
            .collect();
        assert_eq!(results.iter().filter(|ok| **ok).count(), 1);
    }
}
