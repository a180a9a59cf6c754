//! Granular access tokens (`npm token list|create|revoke`) and the profile.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{Ctx, empty_ok};
use crate::auth::{self, Principal};
use crate::clock::{now_secs, rfc3339};
use crate::http;
use crate::model::{GranularToken, Permission};

/// Longest lifetime of a write token (npm's 90-day cap).
const MAX_WRITE_DAYS: u64 = 90;
const PAGE_SIZE: usize = 100;

/// The list shape npm's CLI reads, plus the website's fields (optional for clients).
fn listed(t: &GranularToken) -> Value {
    json!({
        "key": t.key,
        "token": t.token.chars().take(8).collect::<String>(),
        "name": t.name,
        "description": t.description,
        "created": rfc3339(t.created),
        "updated": rfc3339(t.created),
        "expires": t.expires.map(rfc3339),
        "readonly": t.permission == Permission::ReadOnly,
        "cidr_whitelist": t.cidr_whitelist,
        "bypass_2fa": t.bypass_2fa,
        "packages": t.packages,
        "scopes": t.scopes,
        "orgs": t.orgs,
        "packages_all": t.packages_all,
        "packages_and_scopes_permission": t.permission,
    })
}

fn account(c: &Ctx<'_>, world: &crate::model::World) -> Result<String, Response> {
    match auth::require(c.app, world, c.headers)? {
        Principal::Oidc(_) => Err(http::forbidden(
            "A trusted-publishing token cannot manage tokens.",
        )),
        p => Ok(p.user().unwrap_or_default().to_owned()),
    }
}

pub fn list(c: &Ctx<'_>) -> Response {
    let world = c.app.world();
    let user = match account(c, &world) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let page: usize = http::query_param(c.query, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let mine: Vec<&GranularToken> = world.tokens.values().filter(|t| t.owner == user).collect();
    let objects: Vec<Value> = mine
        .iter()
        .skip(page.saturating_mul(PAGE_SIZE))
        .take(PAGE_SIZE)
        .map(|t| listed(t))
        .collect();
    let next = if (page + 1).saturating_mul(PAGE_SIZE) < mine.len() {
        format!("{}/-/npm/v1/tokens?page={}", c.app.base, page + 1)
    } else {
        String::new()
    };
    http::ok(&json!({"objects": objects, "total": mine.len(), "urls": {"next": next}}))
}

#[derive(Debug, Deserialize)]
struct CreateBody {
    name: Option<String>,
    password: Option<String>,
    description: Option<String>,
    #[serde(default)]
    packages: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    orgs: Vec<String>,
    #[serde(default)]
    packages_all: bool,
    packages_and_scopes_permission: Option<String>,
    expires: Option<u64>,
    cidr_whitelist: Option<Vec<String>>,
    #[serde(default)]
    bypass_2fa: bool,
}

pub fn create(c: &Ctx<'_>) -> Response {
    let body: CreateBody = match http::parse(c.body) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let mut world = c.app.world();
    let principal = match auth::require(c.app, &world, c.headers) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let user = match auth::require_2fa_write(&world, &principal, c.headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    if let Some(pw) = &body.password
        && world.users.get(&user).is_none_or(|u| &u.password != pw)
    {
        return http::unauthorized("Invalid password.");
    }
    let permission = match body.packages_and_scopes_permission.as_deref() {
        None | Some("read-only") => Permission::ReadOnly,
        Some("read-write") => Permission::ReadWrite,
        Some("no-access") => Permission::ReadOnly,
        Some(other) => return http::bad_request(format!("Unknown permission {other:?}.")),
    };
    let days = body.expires.unwrap_or(30);
    if days == 0 || (permission == Permission::ReadWrite && days > MAX_WRITE_DAYS) {
        return http::bad_request(format!(
            "Write tokens must expire within 1 to {MAX_WRITE_DAYS} days."
        ));
    }
    let name = body
        .name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "token".into());
    let now = now_secs();
    let token = GranularToken {
        key: crate::ids::random_uuid(),
        token: crate::ids::npm_token(),
        name,
        description: body.description,
        owner: user,
        created: now,
        expires: Some(now + days * 86_400),
        bypass_2fa: body.bypass_2fa,
        packages: body.packages,
        scopes: body.scopes,
        orgs: body.orgs,
        packages_all: body.packages_all,
        permission,
        cidr_whitelist: body.cidr_whitelist,
    };
    let mut shown = listed(&token);
    if let Some(o) = shown.as_object_mut() {
        o.insert("token".into(), json!(token.token));
    }
    world.tokens.insert(token.key.clone(), token);
    c.app.mark_dirty();
    http::json(StatusCode::CREATED, &shown)
}

pub fn delete(c: &Ctx<'_>, key: &str) -> Response {
    let mut world = c.app.world();
    let principal = match auth::require(c.app, &world, c.headers) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let user = match auth::require_2fa_write(&world, &principal, c.headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let found = world
        .tokens
        .values()
        .find(|t| (t.key == key || t.token == key) && t.owner == user)
        .map(|t| t.key.clone());
    match found {
        Some(k) => {
            world.tokens.remove(&k);
            c.app.mark_dirty();
            empty_ok()
        }
        None => http::not_found(format!("No token of {user} has the id {key}.")),
    }
}

pub fn profile(c: &Ctx<'_>) -> Response {
    let world = c.app.world();
    let user = match account(c, &world) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let Some(u) = world.users.get(&user) else {
        return http::not_found("No such user.");
    };
    http::ok(&json!({
        "name": u.name,
        "email": u.email,
        "email_verified": true,
        "tfa": {"mode": "auth-and-writes", "pending": false},
        "created": rfc3339(0),
        "updated": rfc3339(0),
    }))
}
