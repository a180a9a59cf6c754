//! `tokenless sandbox`: a local npm registry, CircleCI API v2 and OIDC issuers (CircleCI,
//! GitHub Actions, GitLab) that speak the real wire formats, for tests, demos and rehearsals.
//!
//! # In-process use (tests of other crates)
//!
//! ```no_run
//! # async fn demo() -> Result<(), tokenless_sandbox::StartError> {
//! use tokenless_sandbox::{Sandbox, SandboxOptions, Scenario};
//!
//! let sandbox = Sandbox::start(SandboxOptions {
//!     scenario: Scenario::Legacy,
//!     ..SandboxOptions::default() // listens on 127.0.0.1:0
//! })
//! .await?;
//! let registry = sandbox.url().to_owned(); // "http://127.0.0.1:PORT/"
//! let info = sandbox.info(); // the same document as GET /-/sandbox/info
//! let owner = info.owner().map(|u| u.name.clone());
//! let code = info.owner().and_then(|u| tokenless_sandbox::totp::current_code(&u.totp_secret).ok());
//! sandbox.shutdown().await;
//! # let _ = (registry, owner, code); Ok(()) }
//! ```
//!
//! The HTTP surface, the scenario format and the fault-injection options are documented in
//! `docs/sandbox.md`.

mod auth;
pub use tokenless_trust::clock;
mod error;
pub mod github;
pub mod gitlab;
mod handlers;
mod http;
pub mod ids;
mod info;
pub mod issuers;
mod limits;
pub mod model;
pub mod packages;
mod persist;
mod restrictions;
mod router;
pub mod scenario;
mod server;
mod state;
pub mod totp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use info::{
    InfoCircleCi, InfoContext, InfoGitHub, InfoProject, InfoRestriction, InfoToken, InfoUser,
    IssuerUrls, SandboxInfo,
};
pub use persist::StateError;
pub use scenario::{Scenario, ScenarioError};

use issuers::Issuers;
use state::{App, Limits};

/// How to run a sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Where to listen; port 0 picks a free port. Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    pub scenario: Scenario,
    /// Persist state (world and issuer keys) here; loaded instead of the scenario if it exists.
    pub state: Option<PathBuf>,
    /// Added to every response.
    pub latency: Duration,
    /// Probability (0..=1) that a request fails (HTTP 500 or a dropped connection).
    pub fail_rate: f64,
    /// Requests per second beyond which the sandbox answers 429 with `Retry-After`.
    pub rate_limit: Option<u32>,
    /// Largest request body accepted (publishes included); larger ones get 413.
    pub max_body_bytes: usize,
    /// Lifetime of tokens minted by the OIDC exchange.
    pub token_lifetime: Duration,
    /// Audiences the exchange accepts besides those derived from the sandbox's own URL, e.g.
    /// `npm:registry.npmjs.org`, so that a CI config written for the public registry (which
    /// asks for that audience explicitly) publishes to the sandbox unchanged. Empty by
    /// default: then only the derived audiences are accepted.
    pub extra_audiences: Vec<String>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            scenario: Scenario::Legacy,
            state: None,
            latency: Duration::ZERO,
            fail_rate: 0.0,
            rate_limit: None,
            max_body_bytes: 16 * 1024 * 1024,
            token_lifetime: Duration::from_secs(300),
            extra_audiences: Vec::new(),
        }
    }
}

/// Why a sandbox did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("issuer keys: {0}")]
    Keys(#[from] issuers::KeyError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("--fail-rate must be between 0 and 1, got {0}")]
    FailRate(f64),
    #[error("an extra audience must be npm:<registry host>, got {0:?}")]
    Audience(String),
}

/// A running sandbox. Dropping it without [`SandboxHandle::shutdown`] stops serving too.
pub struct SandboxHandle {
    app: Arc<App>,
    addr: SocketAddr,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    state: Option<(PathBuf, issuers::StoredKeys)>,
}

impl std::fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// Entry point.
pub struct Sandbox;

impl Sandbox {
    /// Loads the state (or the scenario), binds, and serves in the background.
    pub async fn start(opts: SandboxOptions) -> Result<SandboxHandle, StartError> {
        if !(0.0..=1.0).contains(&opts.fail_rate) {
            return Err(StartError::FailRate(opts.fail_rate));
        }
        if let Some(bad) = opts.extra_audiences.iter().find(|a| {
            a.strip_prefix("npm:")
                .is_none_or(|host| host.is_empty() || host.contains(['/', ' ']))
        }) {
            return Err(StartError::Audience(bad.clone()));
        }
        let loaded = match &opts.state {
            Some(path) => persist::load(path)?,
            None => None,
        };
        let (mut world, issuers) = match loaded {
            Some(state) => (state.world, Issuers::from_stored(&state.keys)?),
            None => {
                let scenario = opts.scenario.clone();
                tokio::task::spawn_blocking(move || -> Result<_, StartError> {
                    Ok((scenario.load()?, Issuers::generate()?))
                })
                .await
                .map_err(|e| {
                    StartError::Keys(issuers::KeyError::Stored(if e.is_panic() {
                        "panic"
                    } else {
                        "cancelled"
                    }))
                })??
            }
        };
        // The scenario's sessions last two hours from now, whether fresh or loaded.
        world.start_sessions(clock::now_secs());
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: opts.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: opts.listen,
            source,
        })?;
        let base = format!("http://{addr}");
        let mut audiences = audiences_for(addr);
        for extra in &opts.extra_audiences {
            if !audiences.contains(extra) {
                audiences.push(extra.clone());
            }
        }
        let stored = issuers.to_stored()?;
        let app = Arc::new(App::new(
            base.clone(),
            audiences,
            world,
            issuers,
            Limits {
                latency: opts.latency,
                fail_rate: opts.fail_rate,
                rate_limit: opts.rate_limit,
                max_body_bytes: opts.max_body_bytes,
                token_lifetime: opts.token_lifetime,
            },
        ));
        let state = opts.state.clone().map(|p| (p, stored));
        if let Some((path, keys)) = &state {
            // Write the initial state at once, so a fresh scenario survives a crash.
            let world = app.world().clone();
            persist::save(path, keys, &world)?;
            spawn_saver(app.clone(), path.clone(), keys.clone());
        }
        let router = axum::Router::new()
            .fallback(router::handle)
            .with_state(app.clone());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(server::serve(listener, router, stop_rx));
        Ok(SandboxHandle {
            app,
            addr,
            url: format!("{base}/"),
            stop: Some(stop_tx),
            server: Some(server),
            state,
        })
    }
}

/// The audiences a client may derive from this registry's URL: npm takes the hostname
/// (`npm:127.0.0.1`); yarn keeps the port (`npm:127.0.0.1:4873`); `localhost` names the same
/// loopback registry. An explicit list: the exchange accepts these and nothing else.
fn audiences_for(addr: SocketAddr) -> Vec<String> {
    let ip = addr.ip();
    let port = addr.port();
    let mut out = vec![format!("npm:{ip}"), format!("npm:{ip}:{port}")];
    if ip.is_loopback() {
        out.push("npm:localhost".to_owned());
        out.push(format!("npm:localhost:{port}"));
    }
    out
}

fn spawn_saver(app: Arc<App>, path: PathBuf, keys: issuers::StoredKeys) {
    let weak = Arc::downgrade(&app);
    drop(app);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            let Some(app) = weak.upgrade() else { break };
            if app.dirty.swap(false, Ordering::AcqRel) {
                let world = app.world().clone();
                let (path, keys) = (path.clone(), keys.clone());
                let saved =
                    tokio::task::spawn_blocking(move || persist::save(&path, &keys, &world)).await;
                if let Ok(Err(e)) = saved {
                    eprintln!("tokenless sandbox: {e}");
                    app.mark_dirty();
                }
            }
        }
    });
}

impl SandboxHandle {
    /// The registry URL with a trailing slash, e.g. `http://127.0.0.1:41234/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The audience npm computes for this registry: `npm:<registry hostname>`.
    pub fn audience(&self) -> &str {
        self.app.audiences.first().map_or("", String::as_str)
    }

    /// Every audience the exchange accepts (the first, then the aliases other clients derive
    /// from the registry URL).
    pub fn audiences(&self) -> &[String] {
        &self.app.audiences
    }

    /// The same document as `GET /-/sandbox/info`.
    pub fn info(&self) -> SandboxInfo {
        info::snapshot(&self.app)
    }

    /// Requests served so far.
    pub fn requests(&self) -> u64 {
        self.app.requests.load(Ordering::Relaxed)
    }

    /// Stops serving (in-flight requests finish) and writes the state file, if any.
    pub async fn shutdown(mut self) {
        self.stop_now().await;
    }

    /// Serves until Ctrl-C or SIGTERM, then shuts down.
    pub async fn serve_until_signal(self) {
        wait_for_signal().await;
        self.shutdown().await;
    }

    async fn stop_now(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        if let Some((path, keys)) = &self.state {
            let world = self.app.world().clone();
            if let Err(e) = persist::save(path, keys, &world) {
                eprintln!("tokenless sandbox: {e}");
            }
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
