//! The HTTP core both clients share: bounded concurrency, timeouts, retries with
//! backoff on 5xx and dropped connections, 429 honoured through `Retry-After` for every
//! request in flight (and, without `Retry-After`, an exponential client-wide pause with jitter), bounded response bodies, and errors that never carry a credential.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::{Method, StatusCode, header::HeaderMap};
use tokio::sync::Semaphore;
use url::Url;

use crate::{
    Secret,
    error::{ApiError, ErrorKind},
};

/// The `User-Agent` every request carries.
pub const USER_AGENT: &str = concat!("tokenless/", env!("CARGO_PKG_VERSION"));

/// Largest response body read into memory.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// How a client talks to its server.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Per-attempt timeout, from sending to the last byte of the body.
    pub timeout: Duration,
    /// Attempts per request (the first one included) on 5xx, timeouts and dropped
    /// connections; also the number of 429 answers tolerated.
    pub max_attempts: u32,
    /// Requests in flight at once, across every client of the same server (origin): the
    /// first client made for a server sets it.
    pub concurrency: usize,
    /// Longest `Retry-After` honoured; a longer one is clamped. Also the longest pause after
    /// a 429 without `Retry-After`.
    pub max_retry_after: Duration,
    /// The pause after a 429 without `Retry-After` (registry.npmjs.org sends none): every
    /// request of the client waits this long, plus up to a quarter more as jitter. Each
    /// further 429 without `Retry-After` to a request sent after the pause doubles it (up to
    /// `max_retry_after`); an answer that is not a 429 resets it.
    pub rate_limit_backoff: Duration,
    /// First and largest backoff between retries (exponential with jitter).
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Most attempts started per second, across every client of the same server (`None`:
    /// no cap). A client told the server's rate stays under it instead of learning it from
    /// 429s, each of which pauses every request.
    pub max_rate: Option<u32>,
    /// Host names answered from here instead of DNS, as curl's `--resolve` (the URL's port
    /// is kept): a test points real host names at loopback listeners.
    pub resolve: Vec<(String, std::net::IpAddr)>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(30),
            max_attempts: 5,
            concurrency: 24,
            max_retry_after: Duration::from_secs(60),
            rate_limit_backoff: Duration::from_secs(1),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(3),
            max_rate: None,
            resolve: Vec::new(),
        }
    }
}

/// Counters over the life of a client (and its clones).
#[derive(Debug, Default)]
pub struct Stats {
    /// Attempts sent, retries included.
    pub attempts: AtomicU64,
    /// Attempts answered 429.
    pub rate_limited: AtomicU64,
    /// Logical requests that were answered 429 more than once.
    pub rate_limited_twice: AtomicU64,
    /// Attempts retried after a 5xx, timeout or dropped connection.
    pub retried: AtomicU64,
}

/// A snapshot of [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub attempts: u64,
    pub rate_limited: u64,
    pub rate_limited_twice: u64,
    pub retried: u64,
}

impl Stats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            attempts: self.attempts.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            rate_limited_twice: self.rate_limited_twice.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
        }
    }
}

/// One request to send. `path` is relative to the base URL (no leading `/`) or an
/// absolute URL on the base's origin; `shown` is what errors print.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: Method,
    pub path: String,
    pub shown: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<serde_json::Value>,
}

impl Request {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        let path = path.into();
        let shown = format!("/{}", path.trim_start_matches('/'));
        Request {
            method,
            path,
            shown,
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn get(path: impl Into<String>) -> Self {
        Request::new(Method::GET, path)
    }

    /// Replace what errors show as the path (for paths that embed a credential).
    pub fn shown_as(mut self, shown: impl Into<String>) -> Self {
        self.shown = shown.into();
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn error(&self, kind: ErrorKind) -> ApiError {
        ApiError {
            method: self.method.to_string(),
            path: self.shown.clone(),
            kind,
        }
    }

    fn idempotent(&self) -> bool {
        matches!(
            self.method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE
        )
    }
}

/// A complete answer: status, headers, body.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// The error text of an npm- or CircleCI-style error body (`message` or `error`).
    pub fn message(&self) -> String {
        let parsed: Option<serde_json::Value> = serde_json::from_slice(&self.body).ok();
        let text = parsed.as_ref().and_then(|v| {
            ["message", "error", "reason"]
                .iter()
                .find_map(|k| v.get(k).and_then(|m| m.as_str()))
                .map(str::to_string)
        });
        let text = text.unwrap_or_else(|| String::from_utf8_lossy(&self.body).into_owned());
        let text: String = text.chars().filter(|c| !c.is_control()).take(300).collect();
        text.trim().to_string()
    }
}

/// `Ok` for a 2xx answer; otherwise the status and the server's error text.
pub(crate) fn expect_success(req: &Request, reply: &Reply) -> Result<(), ApiError> {
    if reply.status.is_success() {
        Ok(())
    } else {
        Err(req.error(ErrorKind::Status {
            status: reply.status.as_u16(),
            message: reply.message(),
        }))
    }
}

/// The JSON body of a 2xx answer.
pub(crate) fn decode_success<T: serde::de::DeserializeOwned>(
    req: &Request,
    reply: Reply,
) -> Result<T, ApiError> {
    expect_success(req, &reply)?;
    serde_json::from_slice(&reply.body).map_err(|e| req.error(ErrorKind::Decode(e.to_string())))
}

/// The client-wide pause after 429s.
#[derive(Debug, Default)]
struct Throttle {
    /// No attempt starts before this instant: a 429 pauses every request, not one.
    not_before: Option<Instant>,
    /// When the last pause without `Retry-After` was decided: 429s to attempts sent before
    /// it belong to the same burst and do not lengthen it.
    paused_at: Option<Instant>,
    /// Consecutive pauses without `Retry-After` (the exponent of the backoff).
    level: u32,
}

/// What every client of one server (scheme, host and port) shares: the requests in flight,
/// the pause after a 429 and the rate cap. The registry and the CI providers' APIs usually
/// are different servers, each with its own limits; where several APIs are one server (a
/// tokenless sandbox, a self-hosted forge), one budget keeps them under its one limit
/// together instead of each learning it from 429s.
struct Budget {
    limiter: Semaphore,
    throttle: Mutex<Throttle>,
    /// With `max_rate`: the earliest start of the next attempt.
    next_slot: Mutex<Option<Instant>>,
    max_rate: Option<u32>,
}

impl Budget {
    /// The live budget of `origin`, or a new one sized by `options`.
    fn of(origin: &str, options: &ClientOptions) -> Arc<Budget> {
        use std::collections::HashMap;
        use std::sync::{LazyLock, Weak};
        static BUDGETS: LazyLock<Mutex<HashMap<String, Weak<Budget>>>> =
            LazyLock::new(Default::default);
        let mut budgets = BUDGETS.lock().unwrap_or_else(|p| p.into_inner());
        budgets.retain(|_, b| b.strong_count() > 0);
        if let Some(live) = budgets.get(origin).and_then(Weak::upgrade) {
            return live;
        }
        let budget = Arc::new(Budget {
            limiter: Semaphore::new(options.concurrency.max(1)),
            throttle: Mutex::new(Throttle::default()),
            next_slot: Mutex::new(None),
            max_rate: options.max_rate,
        });
        budgets.insert(origin.to_owned(), Arc::downgrade(&budget));
        budget
    }
}

struct Shared {
    client: reqwest::Client,
    budget: Arc<Budget>,
    options: ClientOptions,
    stats: Stats,
}

/// A base URL plus the shared machinery; cheap to clone.
#[derive(Clone)]
pub(crate) struct Http {
    base: Url,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("base", &self.base.as_str())
            .finish()
    }
}

impl Http {
    pub fn new(base: &str, options: ClientOptions) -> Result<Http, ApiError> {
        let invalid = |why: String| ApiError {
            method: "-".into(),
            path: base.to_string(),
            kind: ErrorKind::Invalid(why),
        };
        let mut base = Url::parse(base).map_err(|e| invalid(format!("not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("the URL must be http or https".into()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut builder = reqwest::Client::builder();
        for (host, addr) in &options.resolve {
            builder = builder.resolve(host, std::net::SocketAddr::new(*addr, 0));
        }
        let client = builder
            .user_agent(USER_AGENT)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .pool_max_idle_per_host(options.concurrency.max(1))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| invalid(format!("cannot build an HTTP client: {e}")))?;
        let budget = Budget::of(&base.origin().ascii_serialization(), &options);
        Ok(Http {
            base,
            shared: Arc::new(Shared {
                client,
                budget,
                options,
                stats: Stats::default(),
            }),
        })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    pub fn options(&self) -> &ClientOptions {
        &self.shared.options
    }

    fn url(&self, req: &Request) -> Result<Url, ApiError> {
        if req.path.starts_with("http://") || req.path.starts_with("https://") {
            let url = Url::parse(&req.path)
                .map_err(|e| req.error(ErrorKind::Invalid(format!("bad URL: {e}"))))?;
            if url.origin() != self.base.origin() {
                return Err(req.error(ErrorKind::Invalid(format!(
                    "refusing to follow a link to another origin ({}); credentials stay with {}",
                    url.origin().ascii_serialization(),
                    self.base.origin().ascii_serialization()
                ))));
            }
            return Ok(url);
        }
        self.base
            .join(req.path.trim_start_matches('/'))
            .map_err(|e| req.error(ErrorKind::Invalid(format!("bad path: {e}"))))
    }

    async fn wait_gate(&self) {
        loop {
            let until = self
                .shared
                .budget
                .throttle
                .lock()
                .map(|t| t.not_before)
                .unwrap_or_default();
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t.into()).await,
                _ => return,
            }
        }
    }

    fn close_gate(&self, wait: Duration) {
        let until = Instant::now() + wait;
        if let Ok(mut t) = self.shared.budget.throttle.lock()
            && t.not_before.is_none_or(|b| b < until)
        {
            t.not_before = Some(until);
        }
    }

    /// A 429 without `Retry-After` to an attempt sent at `sent`: pause every request for
    /// `rate_limit_backoff · 2^level` (at most `max_retry_after`) plus up to a quarter of it as
    /// jitter, unless a pause was already decided after `sent` (the same burst).
    fn back_off(&self, sent: Instant) {
        let opts = &self.shared.options;
        let Ok(mut t) = self.shared.budget.throttle.lock() else {
            return;
        };
        if t.paused_at.is_some_and(|p| p >= sent) {
            return;
        }
        let base = opts
            .rate_limit_backoff
            .saturating_mul(1u32 << t.level.min(16))
            .min(opts.max_retry_after);
        let wait = base + base.mul_f64(0.25 * jitter_unit());
        let now = Instant::now();
        t.level = t.level.saturating_add(1);
        t.paused_at = Some(now);
        if t.not_before.is_none_or(|b| b < now + wait) {
            t.not_before = Some(now + wait);
        }
    }

    /// An answer other than 429 to an attempt sent at `sent`: the server keeps up again, so
    /// the next 429 without `Retry-After` starts the backoff over. Answers to attempts sent
    /// before the last pause say nothing about it.
    fn calm(&self, sent: Instant) {
        if let Ok(mut t) = self.shared.budget.throttle.lock()
            && t.level > 0
            && t.paused_at.is_none_or(|p| p < sent)
        {
            t.level = 0;
        }
    }

    /// With `max_rate`, wait for this attempt's start slot (slots are 1/rate apart).
    async fn wait_slot(&self) {
        let Some(rate) = self.shared.budget.max_rate.filter(|r| *r > 0) else {
            return;
        };
        let every = Duration::from_secs(1) / rate;
        let at = {
            let mut next = self
                .shared
                .budget
                .next_slot
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let at = next.map_or_else(Instant::now, |n| n.max(Instant::now()));
            *next = Some(at + every);
            at
        };
        tokio::time::sleep_until(at.into()).await;
    }

    /// Send with retries; returns any final answer (2xx or not) or a transport error.
    pub async fn send(
        &self,
        req: &Request,
        auth: Option<(&str, &Secret)>,
    ) -> Result<Reply, ApiError> {
        let url = self.url(req)?;
        let opts = &self.shared.options;
        let stats = &self.shared.stats;
        let mut backoff = ExponentialBuilder::default()
            .with_min_delay(opts.min_backoff)
            .with_max_delay(opts.max_backoff)
            .with_jitter()
            .with_max_times(opts.max_attempts.saturating_sub(1) as usize)
            .build();
        let mut answered_429 = 0u32;
        // One permit for the whole request, retries included: a request that was told to
        // wait keeps its place, so after a 429 pause the waiting requests go first and new
        // ones queue behind them (the semaphore is FIFO). Requests in flight never exceed
        // `concurrency`, so below the server's rate a request is answered 429 at most once.
        let _permit = self
            .shared
            .budget
            .limiter
            .acquire()
            .await
            .map_err(|_| req.error(ErrorKind::Transport("client shut down".into())))?;
        loop {
            self.wait_gate().await;
            self.wait_slot().await;
            stats.attempts.fetch_add(1, Ordering::Relaxed);
            let sent = Instant::now();
            let outcome = self.attempt(req, url.clone(), auth).await;
            if matches!(&outcome, Ok(r) if r.status != StatusCode::TOO_MANY_REQUESTS) {
                self.calm(sent);
            }
            match outcome {
                Ok(reply) if reply.status == StatusCode::TOO_MANY_REQUESTS => {
                    answered_429 += 1;
                    stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    if answered_429 == 2 {
                        stats.rate_limited_twice.fetch_add(1, Ordering::Relaxed);
                    }
                    if answered_429 >= opts.max_attempts {
                        return Err(req.error(ErrorKind::RateLimited(answered_429)));
                    }
                    match retry_after(&reply.headers) {
                        Some(wait) => self.close_gate(wait.min(opts.max_retry_after)),
                        None => self.back_off(sent),
                    }
                }
                Ok(reply) if reply.status.is_server_error() && req.idempotent() => {
                    match backoff.next() {
                        Some(delay) => {
                            stats.retried.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(delay).await;
                        }
                        None => return Ok(reply),
                    }
                }
                Ok(reply) => return Ok(reply),
                Err(failure) => {
                    let retryable = failure.never_sent || req.idempotent();
                    match backoff.next() {
                        Some(delay) if retryable => {
                            stats.retried.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(delay).await;
                        }
                        _ => return Err(req.error(failure.kind)),
                    }
                }
            }
        }
    }

    async fn attempt(
        &self,
        req: &Request,
        url: Url,
        auth: Option<(&str, &Secret)>,
    ) -> Result<Reply, Failure> {
        let opts = &self.shared.options;
        let mut builder = self
            .shared
            .client
            .request(req.method.clone(), url)
            .timeout(opts.timeout);
        if let Some((name, secret)) = auth {
            builder = builder.header(name, secret.expose());
        }
        for (name, value) in &req.headers {
            builder = builder.header(*name, value);
        }
        if let Some(body) = &req.body {
            builder = builder.json(body);
        }
        let mut resp = builder
            .send()
            .await
            .map_err(|e| Failure::from_reqwest(&e, opts.timeout))?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let mut body = Vec::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_BODY {
                        return Err(Failure {
                            kind: ErrorKind::Invalid(format!(
                                "response body larger than {MAX_BODY} bytes"
                            )),
                            never_sent: false,
                        });
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return Err(Failure::from_reqwest(&e, opts.timeout)),
            }
        }
        Ok(Reply {
            status,
            headers,
            body,
        })
    }
}

/// A number in `[0, 1)` for jitter: std's randomly keyed SipHash over the time (not for
/// secrets; spreads clients that were paused together).
fn jitter_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// A failed attempt; `never_sent` when the request cannot have reached the server.
struct Failure {
    kind: ErrorKind,
    never_sent: bool,
}

impl Failure {
    fn from_reqwest(e: &reqwest::Error, timeout: Duration) -> Failure {
        if e.is_timeout() {
            return Failure {
                kind: ErrorKind::Timeout(timeout),
                never_sent: false,
            };
        }
        // Display without the URL, and walk the sources for the underlying cause.
        let mut why = String::new();
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(s) = source {
            why = s.to_string();
            source = s.source();
        }
        if why.is_empty() {
            why = "the connection failed".into();
        }
        Failure {
            kind: ErrorKind::Transport(why),
            never_sent: e.is_connect(),
        }
    }
}

/// `Retry-After` as seconds (integer or fractional); HTTP dates are not used by the
/// servers this client talks to and count as absent.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_of_one_server_share_one_budget() {
        let opts = ClientOptions {
            concurrency: 3,
            ..ClientOptions::default()
        };
        let registry = Http::new("http://127.0.0.1:9/", opts.clone()).expect("client");
        let circleci = Http::new("http://127.0.0.1:9/api/v2", opts.clone()).expect("client");
        let other = Http::new("http://127.0.0.1:10/", opts.clone()).expect("client");
        assert!(Arc::ptr_eq(
            &registry.shared.budget,
            &circleci.shared.budget
        ));
        assert!(!Arc::ptr_eq(&registry.shared.budget, &other.shared.budget));
        assert_eq!(registry.shared.budget.limiter.available_permits(), 3);
        // A 429 pause of one API holds the other's requests too.
        circleci.close_gate(Duration::from_secs(5));
        assert!(
            registry
                .shared
                .budget
                .throttle
                .lock()
                .expect("lock")
                .not_before
                .is_some_and(|t| t > Instant::now())
        );
        // Once every client of a server is gone, the next one starts afresh.
        drop((registry, circleci));
        let fresh = Http::new("http://127.0.0.1:9/", opts).expect("client");
        assert!(
            fresh
                .shared
                .budget
                .throttle
                .lock()
                .expect("lock")
                .not_before
                .is_none()
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_ignores_garbage() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(reqwest::header::RETRY_AFTER, "2".parse().expect("header"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(reqwest::header::RETRY_AFTER, "0.5".parse().expect("header"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(500)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "soon".parse().expect("header"),
        );
        assert_eq!(retry_after(&h), None);
        h.insert(reqwest::header::RETRY_AFTER, "-1".parse().expect("header"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn jitter_stays_in_its_unit_interval() {
        for _ in 0..1000 {
            let j = jitter_unit();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }

    #[test]
    fn links_to_another_origin_are_refused() {
        let http = Http::new("http://127.0.0.1:1/", ClientOptions::default()).expect("client");
        let err = http
            .url(&Request::get("http://evil.example/-/npm/v1/tokens"))
            .expect_err("cross-origin");
        assert!(err.to_string().contains("another origin"), "{err}");
        let ok = http.url(&Request::get("http://127.0.0.1:1/-/npm/v1/tokens?page=2"));
        assert!(ok.is_ok());
    }

    #[test]
    fn error_bodies_are_read_as_messages() {
        let reply = Reply {
            status: StatusCode::NOT_FOUND,
            headers: HeaderMap::new(),
            body: br#"{"message":"no such package"}"#.to_vec(),
        };
        assert_eq!(reply.message(), "no such package");
    }
}
