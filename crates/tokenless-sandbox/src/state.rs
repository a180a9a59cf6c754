//! The shared state of a running sandbox: the persisted [`World`] and what lives only in
//! memory ([`Runtime`]: exchanged tokens, web logins, 2FA challenges, attempt counters).
//!
//! # Lock order
//!
//! `world` before `runtime`, never the other way round; `rate_window` is a leaf
//! (taken alone, briefly). A handler that needs both takes `world` first and keeps it.
//! Writers take the world through [`App::write`], whose guard marks the state dirty (for
//! `--state`) when it is dropped after a mutable borrow.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokenless_trust::{
    InMemoryJtiStore, IssuerEntry, IssuerTable, KeySet, MintedToken, Minter, StaticJwks, Verifier,
};

use crate::issuers::{Issuers, Provider, SigningKey};
use crate::model::World;

/// A pending web login (`POST /-/v1/login`).
#[derive(Debug, Clone, Default)]
pub struct WebLogin {
    pub approved_token: Option<String>,
    pub created: u64,
}

/// A pending web 2FA challenge of one user: approved through its `authUrl` (or the sandbox's
/// inspection endpoint); the `doneUrl` then hands out a one-use code the CLI sends as `npm-otp`.
#[derive(Debug, Clone)]
pub struct TfaChallenge {
    pub user: String,
    pub created: u64,
    /// Set on approval; consumed by the first write that presents it.
    pub code: Option<String>,
    /// The approver ticked "skip 2FA for the next 5 minutes".
    pub remember: bool,
}

/// Failed attempts of one kind (login or OTP) for one account, for lockout with backoff.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attempts {
    pub failures: u32,
    /// Unix seconds before which every attempt is refused with 429.
    pub locked_until: u64,
}

/// State that is not persisted.
#[derive(Debug, Default)]
pub struct Runtime {
    /// Paths that answer 500 until changed (`POST /-/sandbox/fail`).
    pub fail_paths: Vec<String>,
    pub minted: HashMap<String, MintedToken>,
    /// Size of `minted` at which expired tokens are swept next.
    pub minted_prune_at: usize,
    pub logins: HashMap<String, WebLogin>,
    pub challenges: HashMap<String, TfaChallenge>,
    /// Approved web 2FA codes not used yet: code → user.
    pub tfa_codes: HashMap<String, String>,
    /// "Skip 2FA for the next 5 minutes": user → until (Unix seconds).
    pub tfa_windows: HashMap<String, u64>,
    /// (kind, account) → failed attempts.
    pub attempts: HashMap<(&'static str, String), Attempts>,
    /// Granular token key → when it last authenticated a request (`accessed` in the list).
    pub token_used: HashMap<String, u64>,
}

/// Fault-injection and limit settings.
#[derive(Debug, Clone)]
pub struct Limits {
    pub latency: Duration,
    pub fail_rate: f64,
    pub rate_limit: Option<u32>,
    pub max_body_bytes: usize,
    pub token_lifetime: Duration,
}

pub struct App {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub base: String,
    /// The audiences the exchange accepts: `npm:<registry hostname>` first, then the aliases
    /// clients derive from the registry URL they were given (listed in `/-/sandbox/info`).
    pub audiences: Vec<String>,
    world: Mutex<World>,
    pub issuers: Issuers,
    /// `tokenless-trust`'s verifier over this sandbox's own issuers, with a replay store.
    pub verifier: Verifier,
    pub minter: Minter,
    runtime: Mutex<Runtime>,
    pub limits: Limits,
    pub dirty: AtomicBool,
    rate_window: Mutex<(u64, u32)>,
    /// GitHub API requests in the current hour: (hour, count).
    github_window: Mutex<(u64, u32)>,
    pub requests: AtomicU64,
}

/// The GitHub API budget after one request, as `x-ratelimit-*` headers report it.
#[derive(Debug, Clone, Copy)]
pub struct RateBudget {
    pub limit: u32,
    pub used: u32,
    /// Unix seconds when the window resets.
    pub reset: u64,
}

impl RateBudget {
    pub fn exceeded(&self) -> bool {
        self.used > self.limit
    }

    pub fn headers(&self) -> [(&'static str, String); 5] {
        [
            ("x-ratelimit-limit", self.limit.to_string()),
            (
                "x-ratelimit-remaining",
                self.limit.saturating_sub(self.used).to_string(),
            ),
            ("x-ratelimit-reset", self.reset.to_string()),
            ("x-ratelimit-used", self.used.min(self.limit).to_string()),
            ("x-ratelimit-resource", "core".to_owned()),
        ]
    }
}

/// The world, borrowed for a write: marks the state dirty when dropped if it was mutated.
pub struct WorldWrite<'a> {
    guard: MutexGuard<'a, World>,
    dirty: &'a AtomicBool,
    touched: bool,
}

impl std::ops::Deref for WorldWrite<'_> {
    type Target = World;
    fn deref(&self) -> &World {
        &self.guard
    }
}

impl std::ops::DerefMut for WorldWrite<'_> {
    fn deref_mut(&mut self) -> &mut World {
        self.touched = true;
        &mut self.guard
    }
}

impl Drop for WorldWrite<'_> {
    fn drop(&mut self) {
        if self.touched {
            self.dirty.store(true, Ordering::Release);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl App {
    pub fn new(
        base: String,
        audiences: Vec<String>,
        world: World,
        issuers: Issuers,
        limits: Limits,
    ) -> App {
        // The exchange reports refusals only (404 with the first failure), so passing checks
        // need no detail text.
        let verifier = Verifier::new(issuer_table(&base, &issuers))
            .with_pass_details(false)
            .with_jti_store(Arc::new(InMemoryJtiStore::default()));
        let minter = Minter::with_ttl(limits.token_lifetime.as_secs().max(1));
        App {
            base,
            audiences,
            world: Mutex::new(world),
            issuers,
            verifier,
            minter,
            runtime: Mutex::new(Runtime::default()),
            limits,
            dirty: AtomicBool::new(false),
            rate_window: Mutex::new((0, 0)),
            github_window: Mutex::new((0, 0)),
            requests: AtomicU64::new(0),
        }
    }

    /// The registry URL with its trailing slash, as npm's `registry` config wants it.
    pub fn registry(&self) -> String {
        format!("{}/", self.base)
    }

    /// The world for reading.
    pub fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    /// The world for a write; the state is marked dirty once the guard is dropped, if the
    /// handler borrowed it mutably.
    pub fn write(&self) -> WorldWrite<'_> {
        WorldWrite {
            guard: lock(&self.world),
            dirty: &self.dirty,
            touched: false,
        }
    }

    pub fn runtime(&self) -> MutexGuard<'_, Runtime> {
        lock(&self.runtime)
    }

    pub fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    pub fn minted(&self, token: &str) -> Option<MintedToken> {
        self.runtime().minted.get(token).cloned()
    }

    /// Keeps an exchanged token until it expires (expired ones are dropped on the way, so the
    /// table holds only live tokens).
    pub fn remember_minted(&self, token: String, minted: MintedToken, now: u64) {
        let mut rt = self.runtime();
        if rt.minted.len() >= rt.minted_prune_at {
            rt.minted.retain(|_, m| m.expires_at > now);
            // Amortised: the next sweep waits until the live set has doubled.
            rt.minted_prune_at = (rt.minted.len() * 2).max(1024);
        }
        rt.minted.insert(token, minted);
    }

    /// Counts a GitHub API request in the current hour against `limit`.
    pub fn spend_github_request(&self, limit: u32) -> RateBudget {
        let hour = crate::clock::now_secs() / 3600;
        let mut w = lock(&self.github_window);
        if w.0 != hour {
            *w = (hour, 0);
        }
        w.1 = w.1.saturating_add(1);
        RateBudget {
            limit,
            used: w.1,
            reset: (hour + 1) * 3600,
        }
    }

    /// Counts a request in the current one-second window; `false` when over `--rate-limit`.
    pub fn admit(&self) -> bool {
        let Some(limit) = self.limits.rate_limit else {
            return true;
        };
        let now = crate::clock::now_secs();
        let mut w = lock(&self.rate_window);
        if w.0 != now {
            *w = (now, 0);
        }
        w.1 += 1;
        w.1 <= limit
    }
}

/// One entry per issuer, each trusting only its own key: a token signed by the GitHub issuer's
/// key cannot pass as a CircleCI token.
fn issuer_table(base: &str, issuers: &Issuers) -> IssuerTable {
    let keys = |k: &SigningKey| -> Arc<StaticJwks> {
        let doc = serde_json::json!({"keys": [k.public_jwk()]}).to_string();
        // Our own freshly built JWK always parses; an empty set would refuse every token.
        let set = KeySet::from_jwks_json(doc.as_bytes()).unwrap_or_else(|_| KeySet::from_keys([]));
        Arc::new(StaticJwks::new(set))
    };
    let prefix = |p: Provider| format!("{base}/-/sandbox/oidc/{}", p.as_str());
    IssuerTable::new(vec![
        IssuerEntry::circleci(prefix(Provider::CircleCi), keys(&issuers.circleci)),
        IssuerEntry::github(prefix(Provider::GitHub), keys(&issuers.github)),
        // The sandbox's GitLab tokens name CI files on gitlab.com, as real ones do.
        IssuerEntry::gitlab(prefix(Provider::GitLab), keys(&issuers.gitlab))
            .with_config_host("gitlab.com"),
    ])
}
