//! Every request enters at [`handle`]: faults first, then the body is read (bounded), then the
//! route table sends it to one handler in `handlers/`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::{Handled, SandboxError};
use crate::handlers::{
    circleci, exchange, faults, github, gitlab, info, login, oidc, push, registry, settings, stage,
    teams, tokens,
};
use crate::http;
use crate::state::App;

fn random_unit() -> f64 {
    let mut b = [0u8; 4];
    if aws_lc_rs::rand::fill(&mut b).is_err() {
        return 1.0;
    }
    f64::from(u32::from_le_bytes(b)) / f64::from(u32::MAX)
}

/// Every request enters here: faults first, then the body (bounded), then the route table.
pub async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    app.requests.fetch_add(1, Ordering::Relaxed);
    if !app.limits.latency.is_zero() {
        tokio::time::sleep(app.limits.latency).await;
    }
    if !app.admit() {
        // The CircleCI, GitHub and GitLab APIs say when to come back; npm's registry does not.
        return if is_forge_api(req.uri().path()) {
            SandboxError::too_many("Too many requests; slow down.", 1).into_response()
        } else {
            http::npm_rate_limited()
        };
    }
    if app.limits.fail_rate > 0.0 && random_unit() < app.limits.fail_rate {
        return if random_unit() < 0.5 {
            SandboxError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Injected failure (--fail-rate).",
            )
            .into_response()
        } else {
            http::dropped_connection()
        };
    }
    if app
        .runtime()
        .fail_paths
        .iter()
        .any(|p| p == req.uri().path())
    {
        return SandboxError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Injected failure (POST /-/sandbox/fail).",
        )
        .into_response();
    }
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let (parts, body) = req.into_parts();
    let body = match read_body(body, app.limits.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let ctx = Ctx {
        app: &app,
        method: &parts.method,
        headers: &parts.headers,
        query: parts.uri.query(),
        path: parts.uri.path(),
        body: &body,
        peer,
    };
    let path = parts.uri.path();
    let segs: Vec<&str> = path.split('/').skip(1).collect();
    route(&ctx, &segs)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// Whether `path` is under the CircleCI (`/api/v2`), GitHub (`/api/v3`) or GitLab
/// (`/api/v4`) API rather than the registry.
fn is_forge_api(path: &str) -> bool {
    ["/api/v2", "/api/v3", "/api/v4"].iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// Reads the whole body: 413 past the limit, 400 when the body itself is broken (malformed
/// chunked encoding, a connection cut mid-body).
async fn read_body(body: axum::body::Body, max: usize) -> Result<Bytes, SandboxError> {
    match axum::body::to_bytes(body, max).await {
        Ok(b) => Ok(b),
        Err(e) => {
            let over_limit =
                std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |err| {
                    err.source()
                })
                .any(|err| err.is::<http_body_util::LengthLimitError>());
            if over_limit {
                Err(SandboxError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("Request body exceeds the sandbox limit of {max} bytes."),
                ))
            } else {
                Err(SandboxError::bad_request(format!(
                    "The request body could not be read: {e}."
                )))
            }
        }
    }
}

/// One request, as the handlers see it.
pub struct Ctx<'a> {
    pub app: &'a Arc<App>,
    pub method: &'a Method,
    pub headers: &'a axum::http::HeaderMap,
    pub query: Option<&'a str>,
    /// The request path (for `Link` headers).
    pub path: &'a str,
    pub body: &'a [u8],
    /// The caller's address (CIDR-restricted tokens are checked against it).
    pub peer: Option<IpAddr>,
}

/// `@scope/name` from one segment (`@scope%2fname`) or two (`@scope`, `name`).
fn package_name(segs: &[&str]) -> Option<String> {
    match segs {
        [one] if !one.is_empty() => Some(http::decode(one)),
        [scope, name] if scope.starts_with('@') => {
            Some(format!("{}/{}", http::decode(scope), http::decode(name)))
        }
        _ => None,
    }
}

async fn route(c: &Ctx<'_>, segs: &[&str]) -> Handled {
    use Method as M;
    let d = http::decode;
    match (c.method.clone(), segs) {
        // identity
        (M::GET, ["-", "whoami"]) => registry::whoami(c),
        (M::GET, ["-", "ping"]) => Ok(http::ok(&serde_json::json!({}))),
        // the OIDC exchange, at the host root
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
                rest @ ..,
            ],
        ) => match package_name(rest) {
            Some(pkg) => exchange::exchange(c, &pkg).await,
            None => Err(SandboxError::not_found(
                "Not found: no package in the exchange URL.",
            )),
        },
        // package settings
        (M::GET, ["-", "package", pkg, "visibility"]) => settings::visibility(c, &d(pkg)),
        (M::GET, ["-", "package", pkg, "trust"]) => settings::trust_list(c, &d(pkg)),
        (M::POST, ["-", "package", pkg, "trust"]) => settings::trust_create(c, &d(pkg)),
        (M::DELETE, ["-", "package", pkg, "trust", id]) => {
            settings::trust_delete(c, &d(pkg), &d(id))
        }
        (M::POST, ["-", "package", pkg, "access"]) => settings::access_set(c, &d(pkg)),
        (M::GET, ["-", "package", pkg, "collaborators"]) => teams::collaborators(c, &d(pkg)),
        (M::GET, ["-", "package", pkg, "dist-tags"]) => registry::dist_tags(c, &d(pkg)),
        (M::PUT | M::POST, ["-", "package", pkg, "dist-tags", tag]) => {
            registry::dist_tag_set(c, &d(pkg), &d(tag))
        }
        (M::DELETE, ["-", "package", pkg, "dist-tags", tag]) => {
            registry::dist_tag_remove(c, &d(pkg), &d(tag))
        }
        // staged publishing
        (M::POST, ["-", "stage", "package", rest @ ..]) => match package_name(rest) {
            Some(pkg) => stage::create(c, &pkg),
            None => Err(SandboxError::not_found(
                "Not found: no package in the stage URL.",
            )),
        },
        (M::GET, ["-", "stage"]) => stage::list(c),
        (M::GET, ["-", "stage", id]) => stage::view(c, &d(id)),
        (M::GET, ["-", "stage", id, "tarball"]) => stage::tarball(c, &d(id)),
        (M::POST, ["-", "stage", id, "approve"]) => stage::approve(c, &d(id)),
        (M::DELETE, ["-", "stage", id]) => stage::reject(c, &d(id)),
        // tokens and profile
        (M::GET, ["-", "npm", "v1", "tokens"]) => tokens::list(c),
        (M::POST, ["-", "npm", "v1", "tokens"]) => tokens::create(c),
        (M::DELETE, ["-", "npm", "v1", "tokens", "token", key]) => tokens::delete(c, &d(key)),
        (M::GET, ["-", "npm", "v1", "user"]) => tokens::profile(c),
        // login, logout and web 2FA
        (M::POST, ["-", "v1", "login"]) => login::start(c),
        (M::GET, ["-", "v1", "login", "done", id]) => login::done(c, &d(id)),
        (M::GET, ["-", "v1", "login", "approve", id]) => login::page(c, &d(id)),
        (M::POST, ["-", "v1", "login", "approve", id]) => login::approve(c, &d(id)),
        // npm polls the doneUrl with the options of the write it retries (`npm dist-tag add`
        // polls with PUT and the tag's body, `dist-tag rm` with DELETE), so every method is
        // a poll.
        (_, ["-", "v1", "2fa", "done", id]) => login::tfa_done(c, &d(id)),
        (M::GET, ["-", "v1", "2fa", "approve", id]) => login::tfa_page(c, &d(id)),
        (M::PUT, ["-", "user", user]) if user.starts_with("org.couchdb.user:") => login::couch(c),
        (M::DELETE, ["-", "user", "token", token]) => login::logout(c, &d(token)),
        // orgs and teams
        (M::GET, ["-", "org", org, "user"]) => teams::org_members(c, &d(org)),
        (M::PUT, ["-", "org", org, "user"]) => teams::org_set(c, &d(org)),
        (M::DELETE, ["-", "org", org, "user"]) => teams::org_remove(c, &d(org)),
        (M::GET, ["-", "org", org, "team"]) => teams::team_list(c, &d(org)),
        (M::PUT, ["-", "org", org, "team"]) => teams::team_create(c, &d(org)),
        (M::GET, ["-", "org", org, "package"]) => teams::org_packages(c, &d(org)),
        (M::GET, ["-", "user", user, "package"]) => teams::user_packages(c, &d(user)),
        (M::GET, ["-", "team", org, team, "user"]) => teams::team_members(c, &d(org), &d(team)),
        (M::PUT, ["-", "team", org, team, "user"]) => teams::team_add_member(c, &d(org), &d(team)),
        (M::DELETE, ["-", "team", org, team, "user"]) => {
            teams::team_remove_member(c, &d(org), &d(team))
        }
        (M::GET, ["-", "team", org, team, "package"]) => teams::team_packages(c, &d(org), &d(team)),
        (M::PUT, ["-", "team", org, team, "package"]) => teams::team_grant(c, &d(org), &d(team)),
        (M::DELETE, ["-", "team", org, team, "package"]) => {
            teams::team_revoke(c, &d(org), &d(team))
        }
        (M::DELETE, ["-", "team", org, team]) => teams::team_destroy(c, &d(org), &d(team)),
        // sandbox extensions: info, inspection and OIDC issuers (tests and narration only)
        (M::GET, ["-", "sandbox", "info"]) => info::handler(c),
        (M::GET, ["-", "sandbox", "2fa"]) => login::tfa_pending(c),
        (M::POST, ["-", "sandbox", "push"]) => push::handler(c),
        (M::POST, ["-", "sandbox", "2fa", id, "approve"]) => login::tfa_approve(c, &d(id)),
        (M::POST, ["-", "sandbox", "expire"]) => login::expire(c),
        (M::POST, ["-", "sandbox", "fail"]) => faults::set(c),
        (M::GET, ["-", "sandbox", "package", pkg, "access"]) => settings::access_get(c, &d(pkg)),
        (_, ["-", "sandbox", "oidc", rest @ ..]) => oidc::route(c, rest),
        // CircleCI API v2, GitHub REST (as GitHub Enterprise Server serves it), GitLab REST
        (_, ["api", "v2", rest @ ..]) => circleci::route(c, rest),
        (_, ["api", "v3", rest @ ..]) => github::route(c, rest),
        (_, ["api", "v4", rest @ ..]) => gitlab::route(c, rest),
        (_, ["-", ..]) => Err(SandboxError::not_found(
            "Not found: no such registry endpoint.",
        )),
        // package documents, tarballs, unpublish (after every `/-/` route)
        (M::GET, [pkg, "-", file]) => registry::tarball(c, &d(pkg), &d(file)),
        (M::GET, [scope, name, "-", file]) if scope.starts_with('@') => {
            registry::tarball(c, &format!("{}/{}", d(scope), d(name)), &d(file))
        }
        (M::DELETE, [head @ .., "-", _file, "-rev", rev]) => match package_name(head) {
            Some(pkg) => registry::tarball_delete(c, &pkg, &d(rev)),
            None => Err(SandboxError::not_found("Not found")),
        },
        (M::PUT, [head @ .., "-rev", rev]) => match package_name(head) {
            Some(pkg) => registry::update(c, &pkg, Some(&d(rev))),
            None => Err(SandboxError::not_found("Not found")),
        },
        (M::DELETE, [head @ .., "-rev", rev]) => match package_name(head) {
            Some(pkg) => registry::unpublish_all(c, &pkg, &d(rev)),
            None => Err(SandboxError::not_found("Not found")),
        },
        (M::GET, rest) => match package_name(rest) {
            Some(pkg) => registry::packument(c, &pkg),
            None => Err(SandboxError::not_found("Not found")),
        },
        (M::PUT, rest) => match package_name(rest) {
            Some(pkg) => registry::put_package(c, &pkg),
            None => Err(SandboxError::not_found("Not found")),
        },
        _ => Err(SandboxError::not_found("Not found")),
    }
}
