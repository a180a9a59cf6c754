//! Shared state of a running sandbox and the request dispatcher.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;

use tokenless_trust::{
    InMemoryJtiStore, IssuerEntry, IssuerTable, KeySet, MintedToken, Minter, StaticJwks,
    TrustConfig, Verifier,
};

use crate::issuers::{Issuers, Provider, SigningKey};
use crate::model::World;
use crate::{circleci, http, login, oidc, registry, settings, teams, tokens};

/// A pending web login (`POST /-/v1/login`).
#[derive(Debug, Clone, Default)]
pub struct WebLogin {
    pub approved_token: Option<String>,
}

/// State that is not persisted: exchange results and web logins.
#[derive(Debug, Default)]
pub struct Runtime {
    pub minted: HashMap<String, MintedToken>,
    pub logins: HashMap<String, WebLogin>,
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
    /// The audience the exchange requires: `npm:<registry hostname>`.
    pub audience: String,
    pub world: Mutex<World>,
    pub issuers: Issuers,
    /// `tokenless-trust`'s verifier over this sandbox's own issuers, with a replay store.
    pub verifier: Verifier,
    pub minter: Minter,
    /// Trust configs parsed by `tokenless-trust`, by id (a config never changes under its id).
    parsed: Mutex<HashMap<String, Arc<TrustConfig>>>,
    pub runtime: Mutex<Runtime>,
    pub limits: Limits,
    pub dirty: AtomicBool,
    rate_window: Mutex<(u64, u32)>,
    pub requests: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl App {
    pub fn new(
        base: String,
        audience: String,
        world: World,
        issuers: Issuers,
        limits: Limits,
    ) -> App {
        let verifier = Verifier::new(issuer_table(&base, &issuers))
            .with_jti_store(Arc::new(InMemoryJtiStore::default()));
        let minter = Minter::with_ttl(limits.token_lifetime.as_secs().max(1));
        App {
            base,
            audience,
            world: Mutex::new(world),
            issuers,
            verifier,
            minter,
            parsed: Mutex::new(HashMap::new()),
            runtime: Mutex::new(Runtime::default()),
            limits,
            dirty: AtomicBool::new(false),
            rate_window: Mutex::new((0, 0)),
            requests: AtomicU64::new(0),
        }
    }

    /// The registry URL with its trailing slash, as npm's `registry` config wants it.
    pub fn registry(&self) -> String {
        format!("{}/", self.base)
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
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

    /// The package's trust config as `tokenless-trust` reads it (parsed once per config id).
    pub fn parsed_trust(
        &self,
        stored: &crate::model::TrustConfig,
    ) -> Result<Arc<TrustConfig>, String> {
        if let Some(hit) = lock(&self.parsed).get(&stored.id) {
            return Ok(hit.clone());
        }
        let value = serde_json::to_value(stored).map_err(|e| e.to_string())?;
        let parsed = Arc::new(TrustConfig::from_json(&value, "trust").map_err(|e| e.to_string())?);
        lock(&self.parsed).insert(stored.id.clone(), parsed.clone());
        Ok(parsed)
    }

    /// Counts a request in the current one-second window; `false` when over `--rate-limit`.
    fn admit(&self) -> bool {
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
        IssuerEntry::gitlab(prefix(Provider::GitLab), keys(&issuers.gitlab)),
    ])
}

fn random_unit() -> f64 {
    let mut b = [0u8; 4];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        return 1.0;
    }
    f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
}

/// Every request enters here: faults first, then the route table.
pub async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    app.requests.fetch_add(1, Ordering::Relaxed);
    if !app.limits.latency.is_zero() {
        tokio::time::sleep(app.limits.latency).await;
    }
    if !app.admit() {
        let mut resp = http::error(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests; slow down.",
        );
        resp.headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        return resp;
    }
    if app.limits.fail_rate > 0.0 && random_unit() < app.limits.fail_rate {
        return if random_unit() < 0.5 {
            http::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Injected failure (--fail-rate).",
            )
        } else {
            http::dropped_connection()
        };
    }
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, app.limits.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return http::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "Request body exceeds the sandbox limit of {} bytes.",
                    app.limits.max_body_bytes
                ),
            );
        }
    };
    let ctx = Ctx {
        app: &app,
        method: &parts.method,
        headers: &parts.headers,
        query: parts.uri.query(),
        body: &body,
    };
    let path = parts.uri.path();
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    route(&ctx, &segs).await
}

/// One request, as the handlers see it.
pub struct Ctx<'a> {
    pub app: &'a Arc<App>,
    pub method: &'a Method,
    pub headers: &'a axum::http::HeaderMap,
    pub query: Option<&'a str>,
    pub body: &'a [u8],
}

async fn route(c: &Ctx<'_>, segs: &[&str]) -> Response {
    use Method as M;
    let m = c.method.clone();
    match (m, segs) {
        // npm registry: identity, packages, publish
        (M::GET, ["-", "whoami"]) => registry::whoami(c),
        (M::GET, ["-", "ping"]) => http::ok(&serde_json::json!({})),
        (
            M::POST,
            [
                "-",
                "npm",
                "v1",
                "oidc",
                "token",
                "exchange",
                "package",
                pkg,
            ],
        ) => crate::exchange::exchange(c, &http::decode(pkg)).await,
        (
            M::POST,
            [
                "-",
                "npm",
                "v1",
                "oidc",
                "token",
                "exchange",
                "package",
                scope,
                name,
            ],
        ) if scope.starts_with('@') => {
            crate::exchange::exchange(
                c,
                &format!("{}/{}", http::decode(scope), http::decode(name)),
            )
            .await
        }
        (M::GET, ["-", "package", pkg, "visibility"]) => {
            settings::visibility(c, &http::decode(pkg))
        }
        (M::GET, ["-", "package", pkg, "trust"]) => settings::trust_list(c, &http::decode(pkg)),
        (M::POST, ["-", "package", pkg, "trust"]) => settings::trust_create(c, &http::decode(pkg)),
        (M::DELETE, ["-", "package", pkg, "trust", id]) => {
            settings::trust_delete(c, &http::decode(pkg), &http::decode(id))
        }
        (M::GET, ["-", "package", pkg, "access"]) => settings::access_get(c, &http::decode(pkg)),
        (M::POST, ["-", "package", pkg, "access"]) => settings::access_set(c, &http::decode(pkg)),
        (M::GET, ["-", "package", pkg, "collaborators"]) => {
            teams::collaborators(c, &http::decode(pkg))
        }
        (M::GET, ["-", "package", pkg, "dist-tags"]) => registry::dist_tags(c, &http::decode(pkg)),
        (M::POST, ["-", "stage", "package", pkg]) => registry::stage(c, &http::decode(pkg)),
        (M::GET, ["-", "stage"]) => registry::stage_list(c),
        (M::GET, ["-", "stage", id]) => registry::stage_view(c, &http::decode(id)),
        (M::POST, ["-", "stage", id, "approve"]) => registry::stage_approve(c, &http::decode(id)),
        (M::DELETE, ["-", "stage", id]) => registry::stage_reject(c, &http::decode(id)),
        // tokens and profile
        (M::GET, ["-", "npm", "v1", "tokens"]) => tokens::list(c),
        (M::POST, ["-", "npm", "v1", "tokens"]) => tokens::create(c),
        (M::DELETE, ["-", "npm", "v1", "tokens", "token", key]) => {
            tokens::delete(c, &http::decode(key))
        }
        (M::GET, ["-", "npm", "v1", "user"]) => tokens::profile(c),
        // login
        (M::POST, ["-", "v1", "login"]) => login::start(c),
        (M::GET, ["-", "v1", "login", "done", id]) => login::done(c, &http::decode(id)),
        (M::GET, ["-", "v1", "login", "approve", id]) => login::page(c, &http::decode(id)),
        (M::POST, ["-", "v1", "login", "approve", id]) => login::approve(c, &http::decode(id)),
        (M::PUT, ["-", "user", user]) if user.starts_with("org.couchdb.user:") => login::couch(c),
        (M::DELETE, ["-", "user", "token", token]) => login::logout(c, &http::decode(token)),
        // orgs and teams
        (M::GET, ["-", "org", org, "user"]) => teams::org_members(c, &http::decode(org)),
        (M::PUT, ["-", "org", org, "user"]) => teams::org_set(c, &http::decode(org)),
        (M::DELETE, ["-", "org", org, "user"]) => teams::org_remove(c, &http::decode(org)),
        (M::GET, ["-", "org", org, "team"]) => teams::team_list(c, &http::decode(org)),
        (M::PUT, ["-", "org", org, "team"]) => teams::team_create(c, &http::decode(org)),
        (M::GET, ["-", "org", org, "package"]) => teams::org_packages(c, &http::decode(org)),
        (M::GET, ["-", "user", user, "package"]) => teams::user_packages(c, &http::decode(user)),
        (M::GET, ["-", "team", org, team, "user"]) => {
            teams::team_members(c, &http::decode(org), &http::decode(team))
        }
        (M::PUT, ["-", "team", org, team, "user"]) => {
            teams::team_add_member(c, &http::decode(org), &http::decode(team))
        }
        (M::DELETE, ["-", "team", org, team, "user"]) => {
            teams::team_remove_member(c, &http::decode(org), &http::decode(team))
        }
        (M::GET, ["-", "team", org, team, "package"]) => {
            teams::team_packages(c, &http::decode(org), &http::decode(team))
        }
        (M::PUT, ["-", "team", org, team, "package"]) => {
            teams::team_grant(c, &http::decode(org), &http::decode(team))
        }
        (M::DELETE, ["-", "team", org, team, "package"]) => {
            teams::team_revoke(c, &http::decode(org), &http::decode(team))
        }
        (M::DELETE, ["-", "team", org, team]) => {
            teams::team_destroy(c, &http::decode(org), &http::decode(team))
        }
        // sandbox extensions: info and OIDC issuers
        (M::GET, ["-", "sandbox", "info"]) => crate::info::handler(c),
        (_, ["-", "sandbox", "oidc", rest @ ..]) => oidc::route(c, rest),
        // CircleCI API v2
        (_, ["api", "v2", rest @ ..]) => circleci::route(c, rest),
        // package documents and tarballs (after every `/-/` route)
        (_, ["-", ..]) => http::not_found("Not found: no such registry endpoint."),
        (M::GET, [pkg]) if !pkg.is_empty() => registry::packument(c, &http::decode(pkg)),
        (M::GET, [scope, name]) if scope.starts_with('@') => registry::packument(
            c,
            &format!("{}/{}", http::decode(scope), http::decode(name)),
        ),
        (M::PUT, [pkg]) if !pkg.is_empty() => registry::publish(c, &http::decode(pkg)),
        (M::GET, [pkg, "-", file]) => registry::tarball(c, &http::decode(pkg), &http::decode(file)),
        (M::GET, [scope, name, "-", file]) if scope.starts_with('@') => registry::tarball(
            c,
            &format!("{}/{}", http::decode(scope), http::decode(name)),
            &http::decode(file),
        ),
        _ => http::not_found("Not found"),
    }
}

/// An empty 204-less success body npm accepts for deletes.
pub fn empty_ok() -> Response {
    let mut r = Response::new(Body::from("{}"));
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    r
}
