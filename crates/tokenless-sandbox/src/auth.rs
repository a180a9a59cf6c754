//! Who is calling, and what the publishing and 2FA policies allow them to do.

use axum::http::HeaderMap;
use axum::response::Response;

use tokenless_trust::{Action, MintedToken};

use crate::app::App;
use crate::clock::now_secs;
use crate::http;
use crate::model::{Mfa, Permission, World};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A person's login session (`npm login`).
    Session { user: String },
    /// A granular access token.
    Granular {
        key: String,
        user: String,
        bypass_2fa: bool,
        permission: Permission,
    },
    /// A short-lived token minted by the OIDC exchange.
    Oidc(MintedToken),
}

impl Principal {
    /// The account name behind the principal (OIDC tokens have none).
    pub fn user(&self) -> Option<&str> {
        match self {
            Principal::Session { user } | Principal::Granular { user, .. } => Some(user),
            Principal::Oidc(_) => None,
        }
    }
}

/// Resolves the bearer token. `Ok(None)`: no credentials. `Err`: credentials that are not valid.
pub fn principal(
    app: &App,
    world: &World,
    headers: &HeaderMap,
) -> Result<Option<Principal>, Response> {
    let Some(token) = http::bearer(headers) else {
        return Ok(None);
    };
    if let Some(u) = world.user_by_session(token) {
        return Ok(Some(Principal::Session {
            user: u.name.clone(),
        }));
    }
    if let Some(t) = world.token_by_secret(token) {
        if t.expired(now_secs()) {
            return Err(http::unauthorized("This token has expired."));
        }
        return Ok(Some(Principal::Granular {
            key: t.key.clone(),
            user: t.owner.clone(),
            bypass_2fa: t.bypass_2fa,
            permission: t.permission,
        }));
    }
    if let Some(m) = app.minted(token) {
        if m.expires_at <= now_secs() {
            return Err(http::unauthorized(
                "This short-lived publish token has expired.",
            ));
        }
        return Ok(Some(Principal::Oidc(m)));
    }
    Err(http::unauthorized(
        "Unable to authenticate: unknown or revoked token.",
    ))
}

/// Like [`principal`], but a missing credential is a 401.
pub fn require(app: &App, world: &World, headers: &HeaderMap) -> Result<Principal, Response> {
    principal(app, world, headers)?
        .ok_or_else(|| http::unauthorized("You must be logged in to do this."))
}

/// Whether the request carries a valid one-time password for `user`.
pub fn otp_valid(world: &World, user: &str, headers: &HeaderMap) -> bool {
    match (world.users.get(user), http::otp(headers)) {
        (Some(u), Some(code)) => crate::totp::verify(&u.totp_secret, code, now_secs()),
        _ => false,
    }
}

/// The rule for every write npm guards with 2FA (trust, access, tokens, org and team changes):
/// a session or a non-bypass granular token, with a valid OTP. Bypass-2FA tokens are refused
/// (August 2026 policy); OIDC-minted tokens can only publish. Returns the acting user.
pub fn require_2fa_write(
    world: &World,
    principal: &Principal,
    headers: &HeaderMap,
) -> Result<String, Response> {
    match principal {
        Principal::Oidc(_) => Err(http::forbidden(
            "A token from a trusted-publishing exchange can only publish its package.",
        )),
        Principal::Granular {
            bypass_2fa: true, ..
        } => Err(http::forbidden(
            "Granular access tokens with bypass 2FA cannot manage tokens, package access, trusted publishing, orgs or teams (npm policy since August 2026). Use a login session and a one-time password.",
        )),
        Principal::Granular {
            permission: Permission::ReadOnly,
            ..
        } => Err(http::forbidden("This token is read-only.")),
        Principal::Session { user } | Principal::Granular { user, .. } => {
            if otp_valid(world, user, headers) {
                Ok(user.clone())
            } else {
                Err(http::otp_challenge())
            }
        }
    }
}

/// Whether `principal` may publish `package` (which may not exist yet), given the package's
/// publishing-access setting. Returns the publishing account on success.
pub fn may_publish(
    world: &World,
    principal: &Principal,
    package: &str,
    headers: &HeaderMap,
) -> Result<Publishing, Response> {
    let existing = world.packages.get(package);
    let mfa = existing.map_or(Mfa::Automation, |p| p.mfa);
    match principal {
        Principal::Oidc(m) => {
            if m.authorizes(package, Action::Publish, now_secs()) {
                Ok(Publishing::Oidc(m.clone()))
            } else if m.package != package {
                Err(http::forbidden(format!(
                    "This short-lived token was issued for {} and cannot publish {package}.",
                    m.package
                )))
            } else {
                Err(http::forbidden(format!(
                    "This short-lived token allows `{}` only, not `npm publish`.",
                    m.action.as_str()
                )))
            }
        }
        Principal::Granular {
            key,
            user,
            bypass_2fa,
            permission,
        } => {
            let token = world.tokens.get(key);
            if *permission == Permission::ReadOnly || !token.is_some_and(|t| t.covers(package)) {
                return Err(http::forbidden(format!(
                    "This token does not have write access to {package}."
                )));
            }
            if !world.can_write(user, package) {
                return Err(http::forbidden(format!(
                    "{user} may not publish {package}."
                )));
            }
            match mfa {
                Mfa::Publish => Err(http::forbidden(format!(
                    "{package} requires two-factor authentication and disallows tokens: granular access tokens cannot publish it, with or without bypass 2FA. Publish through a trusted publisher or interactively with a one-time password."
                ))),
                Mfa::Automation if !*bypass_2fa && !otp_valid(world, user, headers) => {
                    Err(http::otp_challenge())
                }
                _ => Ok(Publishing::User(user.clone())),
            }
        }
        Principal::Session { user } => {
            if !world.can_write(user, package) {
                return Err(http::forbidden(format!(
                    "{user} may not publish {package}."
                )));
            }
            if mfa == Mfa::None || otp_valid(world, user, headers) {
                Ok(Publishing::User(user.clone()))
            } else {
                Err(http::otp_challenge())
            }
        }
    }
}

/// Who a publish is recorded as.
#[derive(Debug, Clone)]
pub enum Publishing {
    User(String),
    Oidc(MintedToken),
}
