//! Granular access tokens (`npm token list|create|revoke`) and the profile.

use crate::error::{Handled, SandboxError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::clock::{now_secs, rfc3339};
use crate::http;
use crate::model::{GranularToken, Permission};
use crate::router::Ctx;

/// Longest lifetime of a write token (npm's 90-day cap).
const MAX_WRITE_DAYS: u64 = 90;
const PAGE_SIZE: usize = 100;

/// The list shape npm's CLI reads, plus the website's fields (optional for clients);
/// `accessed` is the token's last use, `null` when never used.
fn listed(t: &GranularToken, accessed: Option<u64>) -> Value {
    json!({
        "accessed": accessed.map(rfc3339),
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
        "packages_and_scopes_permission": if t.stage_only { "read-write-stage-only" } else if t.permission == Permission::ReadWrite { "read-write" } else { "read-only" },
        "orgs_permission": t.orgs_permission,
    })
}

pub fn list(c: &Ctx<'_>) -> Handled {
    let world = c.app.world();
    let (_, user) = c.account(&world)?;
    let page: usize = http::query_param(c.query, "page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let mine: Vec<&GranularToken> = world.tokens.values().filter(|t| t.owner == user).collect();
    let used = c.app.runtime().token_used.clone();
    let objects: Vec<Value> = mine
        .iter()
        .skip(page.saturating_mul(PAGE_SIZE))
        .take(PAGE_SIZE)
        .map(|t| listed(t, used.get(&t.key).copied()))
        .collect();
    let next = if (page + 1).saturating_mul(PAGE_SIZE) < mine.len() {
        format!("{}/-/npm/v1/tokens?page={}", c.app.base, page + 1)
    } else {
        String::new()
    };
    Ok(http::ok(
        &json!({"objects": objects, "total": mine.len(), "urls": {"next": next}}),
    ))
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
    orgs_permission: Option<String>,
    /// Days; any JSON number is read, so an out-of-range value is a 400, never a wrap.
    expires: Option<serde_json::Number>,
    cidr_whitelist: Option<Vec<String>>,
    #[serde(default)]
    bypass_2fa: bool,
}

/// npm's limits on granular tokens.
const MAX_TOKENS_PER_ACCOUNT: usize = 1000;
const MAX_SELECTIONS: usize = 50;
/// Read-only tokens are not capped at 90 days; the sandbox still bounds them (10 years).
const MAX_READ_DAYS: u64 = 3650;
const DEFAULT_WRITE_DAYS: u64 = 7;
const MAX_NAME_BYTES: usize = 256;

fn permission_of(
    value: Option<&str>,
    field: &str,
) -> Result<(Option<Permission>, bool), SandboxError> {
    match value {
        None | Some("no-access") => Ok((None, false)),
        Some("read-only") => Ok((Some(Permission::ReadOnly), false)),
        Some("read-write") => Ok((Some(Permission::ReadWrite), false)),
        Some("read-write-stage-only") if field == "packages_and_scopes_permission" => {
            Ok((Some(Permission::ReadWrite), true))
        }
        Some(other) => Err(SandboxError::bad_request(format!(
            "Unknown {field} {other:?}: expected read-only, read-write{} or no-access.",
            if field == "packages_and_scopes_permission" {
                ", read-write-stage-only"
            } else {
                ""
            }
        ))),
    }
}

/// `npm token create`: a person's login session, their password and the second factor.
/// Granular tokens cannot create or delete tokens.
pub fn create(c: &Ctx<'_>) -> Handled {
    let body: CreateBody = http::parse(c.body)?;
    let mut world = c.app.write();
    let principal = c.require(&world)?;
    let Principal::Session { user } = &principal else {
        return Err(SandboxError::forbidden(
            "Tokens are created from a login session (`npm login`), never with another token.",
        ));
    };
    let user = user.clone();
    let now = now_secs();
    c.check_attempts("login", &user, now)?;
    let Some(password) = body.password.as_deref() else {
        return Err(SandboxError::bad_request(
            "`password` is required to create a token.",
        ));
    };
    if world
        .users
        .get(&user)
        .is_none_or(|u| u.password != password)
    {
        c.record_failure("login", &user, now);
        return Err(SandboxError::unauthorized("Invalid password."));
    }
    c.clear_failures("login", &user);
    c.second_factor(&world, &user)?;
    let (permission, stage_only) = permission_of(
        body.packages_and_scopes_permission.as_deref(),
        "packages_and_scopes_permission",
    )?;
    let permission = permission.unwrap_or(Permission::ReadOnly);
    let (orgs_permission, _) = permission_of(body.orgs_permission.as_deref(), "orgs_permission")?;
    let writes =
        permission == Permission::ReadWrite || orgs_permission == Some(Permission::ReadWrite);
    let days = match &body.expires {
        None if writes => DEFAULT_WRITE_DAYS,
        None => 30,
        Some(n) => match n.as_u64() {
            Some(d) if d >= 1 && (d <= MAX_WRITE_DAYS || (!writes && d <= MAX_READ_DAYS)) => d,
            _ => {
                return Err(SandboxError::bad_request(format!(
                    "`expires` must be a whole number of days from 1 to {} for this token, got {n}.",
                    if writes {
                        MAX_WRITE_DAYS
                    } else {
                        MAX_READ_DAYS
                    }
                )));
            }
        },
    };
    if body.packages.len() + body.scopes.len() > MAX_SELECTIONS || body.orgs.len() > MAX_SELECTIONS
    {
        return Err(SandboxError::bad_request(format!(
            "A token selects at most {MAX_SELECTIONS} packages and scopes and {MAX_SELECTIONS} orgs."
        )));
    }
    for p in &body.packages {
        crate::packages::validate_name(p)
            .map_err(|e| SandboxError::bad_request(format!("packages: {e}")))?;
    }
    for s in &body.scopes {
        let bare = s.trim_start_matches('@');
        if bare.is_empty() || crate::packages::validate_name(&format!("@{bare}/x")).is_err() {
            return Err(SandboxError::bad_request(format!(
                "scopes: invalid scope {s:?}."
            )));
        }
    }
    if let Some(cidrs) = &body.cidr_whitelist {
        if cidrs.len() > MAX_SELECTIONS {
            return Err(SandboxError::bad_request("Too many CIDR ranges."));
        }
        if let Some(bad) = cidrs.iter().find(|c| crate::auth::parse_cidr(c).is_none()) {
            return Err(SandboxError::bad_request(format!(
                "Invalid CIDR range {bad:?}: expected an IPv4 range such as 192.168.0.0/16."
            )));
        }
    }
    let name = body
        .name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "token".into());
    if name.len() > MAX_NAME_BYTES || body.description.as_ref().is_some_and(|d| d.len() > 4096) {
        return Err(SandboxError::bad_request(
            "Token name or description is too long.",
        ));
    }
    if world.tokens.values().filter(|t| t.owner == user).count() >= MAX_TOKENS_PER_ACCOUNT {
        return Err(SandboxError::conflict(format!(
            "An account has at most {MAX_TOKENS_PER_ACCOUNT} granular tokens."
        )));
    }
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
        stage_only,
        orgs_permission,
        cidr_whitelist: body.cidr_whitelist,
    };
    let mut shown = listed(&token, None);
    if let Some(o) = shown.as_object_mut() {
        o.insert("token".into(), json!(token.token));
    }
    world.tokens.insert(token.key.clone(), token);
    Ok(http::created(&shown))
}

pub fn delete(c: &Ctx<'_>, key: &str) -> Handled {
    let mut world = c.app.write();
    let principal = c.require(&world)?;
    let Principal::Session { user } = &principal else {
        return Err(SandboxError::forbidden(
            "Tokens are deleted from a login session (`npm login`), never with another token.",
        ));
    };
    let user = user.clone();
    c.second_factor(&world, &user)?;
    let found = world
        .tokens
        .values()
        .find(|t| (t.key == key || t.token == key) && t.owner == user)
        .map(|t| t.key.clone());
    match found {
        Some(k) => {
            world.tokens.remove(&k);
            Ok(http::empty_ok())
        }
        None => Err(SandboxError::not_found(format!(
            "No token of {user} has the id {key}."
        ))),
    }
}

pub fn profile(c: &Ctx<'_>) -> Handled {
    let world = c.app.world();
    let (_, user) = c.account(&world)?;
    let Some(u) = world.users.get(&user) else {
        return Err(SandboxError::not_found("No such user."));
    };
    Ok(http::ok(&json!({
        "name": u.name,
        "email": u.email,
        "email_verified": true,
        "tfa": {"mode": "auth-and-writes", "pending": false},
        "created": rfc3339(0),
        "updated": rfc3339(0),
    })))
}
