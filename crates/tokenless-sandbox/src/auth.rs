//! Who is calling ([`Principal`], resolved by [`Ctx::principal`]) and npm's rules on what each
//! caller may do: token scopes and orgs, 2FA on writes (an OTP or the web flow, with attempt
//! limits), CIDR-restricted tokens, and the publishing policy of each package.

use tokenless_trust::{Action, MintedToken};

use crate::clock::now_secs;
use crate::error::SandboxError;
use crate::http;
use crate::model::{GranularToken, Mfa, Permission, World};
use crate::router::Ctx;
use crate::state::{Attempts, TfaChallenge};

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A person's login session (`npm login`).
    Session { user: String },
    /// A granular access token (its key; the token itself is read from the world).
    Granular { key: String, user: String },
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

    /// The granular token behind the principal, if it is one.
    pub fn token<'w>(&self, world: &'w World) -> Option<&'w GranularToken> {
        match self {
            Principal::Granular { key, .. } => world.tokens.get(key),
            _ => None,
        }
    }
}

/// Failed attempts allowed before the lockout starts.
const FREE_ATTEMPTS: u32 = 5;
/// The first lockout; it doubles with each further failure, up to [`MAX_LOCKOUT_SECS`].
const FIRST_LOCKOUT_SECS: u64 = 30;
const MAX_LOCKOUT_SECS: u64 = 15 * 60;
/// "Skip 2FA for the next 5 minutes".
pub const TFA_WINDOW_SECS: u64 = 5 * 60;

/// Whether an IPv4 `addr` is inside `cidr` (`a.b.c.d/n`).
fn cidr_contains(cidr: &str, addr: std::net::IpAddr) -> bool {
    let std::net::IpAddr::V4(v4) = addr else {
        return false;
    };
    let Some((net, bits)) = parse_cidr(cidr) else {
        return false;
    };
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    u32::from(v4) & mask == net & mask
}

/// `a.b.c.d/n` with `n` in 0..=32 (IPv4 only, as npm's CLI requires).
pub fn parse_cidr(cidr: &str) -> Option<(u32, u32)> {
    let (ip, bits) = cidr.split_once('/')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let bits: u32 = bits.parse().ok().filter(|b| *b <= 32)?;
    Some((u32::from(ip), bits))
}

impl Ctx<'_> {
    /// Resolves the bearer token. `Ok(None)`: no credentials. `Err`: credentials that are not
    /// valid (unknown, expired, or a CIDR-restricted token used from elsewhere).
    pub fn principal(&self, world: &World) -> Result<Option<Principal>, SandboxError> {
        let Some(token) = http::bearer(self.headers) else {
            return Ok(None);
        };
        let now = now_secs();
        if let Some((u, session)) = world.session(token) {
            if !session.live(now) {
                // Deliberately no `www-authenticate: OTP`: no code helps, only a new login.
                return Err(SandboxError::unauthorized(
                    "Your session expired; log in again (npm login).",
                ));
            }
            return Ok(Some(Principal::Session {
                user: u.name.clone(),
            }));
        }
        if let Some(t) = world.token_by_secret(token) {
            if t.expired(now) {
                return Err(SandboxError::unauthorized("This token has expired."));
            }
            if let Some(cidrs) = &t.cidr_whitelist {
                let inside = self
                    .peer
                    .is_some_and(|ip| cidrs.iter().any(|c| cidr_contains(c, ip)));
                if !inside {
                    return Err(SandboxError::ip_refused(
                        "This token may only be used from its allowed IP ranges.",
                    ));
                }
            }
            self.app.runtime().token_used.insert(t.key.clone(), now);
            return Ok(Some(Principal::Granular {
                key: t.key.clone(),
                user: t.owner.clone(),
            }));
        }
        if let Some(m) = self.app.minted(token) {
            if m.expires_at <= now {
                return Err(SandboxError::unauthorized(
                    "This short-lived publish token has expired.",
                ));
            }
            return Ok(Some(Principal::Oidc(m)));
        }
        Err(SandboxError::unauthorized(
            "Unable to authenticate: unknown or revoked token.",
        ))
    }

    /// Like [`Ctx::principal`], but a missing credential is a 401.
    pub fn require(&self, world: &World) -> Result<Principal, SandboxError> {
        self.principal(world)?
            .ok_or_else(|| SandboxError::unauthorized("You must be logged in to do this."))
    }

    /// An account (a session or a granular token), never an OIDC-minted token.
    pub fn account(&self, world: &World) -> Result<(Principal, String), SandboxError> {
        let p = self.require(world)?;
        match p.user() {
            Some(u) => {
                let u = u.to_owned();
                Ok((p, u))
            }
            None => Err(SandboxError::forbidden(
                "A token from a trusted-publishing exchange can only publish its package.",
            )),
        }
    }

    /// The 2FA step of a write by `user`: a valid TOTP code, a web 2FA code approved through
    /// the challenge's `authUrl`, or an open "skip 2FA for 5 minutes" window. Without one: the
    /// challenge (401 `www-authenticate: OTP`, with `authUrl`/`doneUrl` for accounts with a
    /// security key). Wrong codes count towards a lockout (then 429).
    pub fn second_factor(&self, world: &World, user: &str) -> Result<(), SandboxError> {
        let now = now_secs();
        let Some(account) = world.users.get(user) else {
            return Err(SandboxError::unauthorized("Unknown account."));
        };
        let window_open = self
            .app
            .runtime()
            .tfa_windows
            .get(user)
            .is_some_and(|until| *until > now);
        if window_open {
            // A web 2FA code sent anyway (npm retries the write that opened the window with
            // it) is spent all the same: approved codes are never left usable.
            if let Some(code) = http::otp(self.headers) {
                let mut rt = self.app.runtime();
                if rt.tfa_codes.get(code).is_some_and(|u| u == user) {
                    rt.tfa_codes.remove(code);
                }
            }
            return Ok(());
        }
        let Some(code) = http::otp(self.headers) else {
            return Err(self.challenge(user, account.security_key, now));
        };
        self.check_attempts("otp", user, now)?;
        let web_ok = {
            let mut rt = self.app.runtime();
            if rt.tfa_codes.get(code).is_some_and(|u| u == user) {
                rt.tfa_codes.remove(code);
                true
            } else {
                false
            }
        };
        if web_ok || crate::totp::verify(&account.totp_secret, code, now) {
            self.app
                .runtime()
                .attempts
                .remove(&("otp", user.to_owned()));
            Ok(())
        } else {
            self.record_failure("otp", user, now);
            Err(self.challenge(user, account.security_key, now))
        }
    }

    fn challenge(&self, user: &str, web: bool, now: u64) -> SandboxError {
        if !web {
            return SandboxError::otp_required();
        }
        let id = crate::ids::opaque();
        let mut rt = self.app.runtime();
        rt.challenges.retain(|_, c| c.created + 600 > now);
        if rt.challenges.len() >= 10_000 {
            return SandboxError::too_many("Too many pending 2FA challenges.", 60);
        }
        rt.challenges.insert(
            id.clone(),
            TfaChallenge {
                user: user.to_owned(),
                created: now,
                code: None,
                remember: false,
            },
        );
        SandboxError::otp_required().with_fields(serde_json::json!({
            "authUrl": format!("{}/-/v1/2fa/approve/{id}", self.app.base),
            "doneUrl": format!("{}/-/v1/2fa/done/{id}", self.app.base),
        }))
    }

    /// 429 while `account` is locked out for attempts of `kind` (`login`, `otp`).
    pub fn check_attempts(
        &self,
        kind: &'static str,
        account: &str,
        now: u64,
    ) -> Result<(), SandboxError> {
        let rt = self.app.runtime();
        match rt.attempts.get(&(kind, account.to_owned())) {
            Some(a) if a.locked_until > now => Err(SandboxError::too_many(
                format!("Too many failed {kind} attempts; try again later."),
                a.locked_until - now,
            )),
            _ => Ok(()),
        }
    }

    /// Counts a failure; past [`FREE_ATTEMPTS`] each one locks the account for twice as long.
    pub fn record_failure(&self, kind: &'static str, account: &str, now: u64) {
        let mut rt = self.app.runtime();
        if rt.attempts.len() >= 100_000 {
            rt.attempts.retain(|_, a| a.locked_until > now);
        }
        let a: &mut Attempts = rt.attempts.entry((kind, account.to_owned())).or_default();
        a.failures = a.failures.saturating_add(1);
        if a.failures >= FREE_ATTEMPTS {
            let doublings = (a.failures - FREE_ATTEMPTS).min(10);
            a.locked_until = now + (FIRST_LOCKOUT_SECS << doublings).min(MAX_LOCKOUT_SECS);
        }
    }

    /// Clears the failures of `kind` for `account` (after a success).
    pub fn clear_failures(&self, kind: &'static str, account: &str) {
        self.app
            .runtime()
            .attempts
            .remove(&(kind, account.to_owned()));
    }

    /// The rule for every write npm guards with 2FA (trust, access, tags, org and team
    /// changes): a session or a read-write granular token without bypass 2FA, plus the second
    /// factor. Bypass-2FA tokens are refused (npm policy since August 2026); OIDC-minted
    /// tokens can only publish. Returns the acting user.
    pub fn two_factor_write(&self, world: &World) -> Result<(Principal, String), SandboxError> {
        let (principal, user) = self.account(world)?;
        if principal.token(world).is_some_and(|t| t.bypass_2fa) {
            return Err(SandboxError::forbidden(
                "Granular access tokens with bypass 2FA cannot manage tokens, package access, trusted publishing, orgs or teams (npm policy since August 2026). Use a login session and a one-time password.",
            ));
        }
        self.second_factor(world, &user)?;
        Ok((principal, user))
    }
}

/// What a granular token allows on one package: it must select the package and grant write.
pub fn token_covers_write(token: &GranularToken, package: &str) -> Result<(), SandboxError> {
    if token.permission != Permission::ReadWrite {
        return Err(SandboxError::forbidden(format!(
            "This token is read-only for {package}."
        )));
    }
    if !token.covers(package) {
        return Err(SandboxError::forbidden(format!(
            "This token does not select {package}; it cannot change it."
        )));
    }
    Ok(())
}

/// What a granular token allows on the org: it must list the org with write permission.
pub fn token_covers_org(token: &GranularToken, org: &str) -> Result<(), SandboxError> {
    if token.orgs.iter().any(|o| o.trim_start_matches('@') == org)
        && token.orgs_permission == Some(Permission::ReadWrite)
    {
        Ok(())
    } else {
        Err(SandboxError::forbidden(format!(
            "This token has no write access to the org {org}."
        )))
    }
}

/// A settings write on an existing package (trust, access, dist-tags, deprecate, unpublish):
/// 2FA-guarded, by someone who may manage the package, through a token that selects it.
pub fn package_writer(c: &Ctx<'_>, world: &World, package: &str) -> Result<String, SandboxError> {
    if !world.packages.contains_key(package) {
        return Err(SandboxError::not_found(format!(
            "Package {package} not found."
        )));
    }
    let (principal, user) = c.account(world)?;
    if let Some(t) = principal.token(world) {
        token_covers_write(t, package)?;
    }
    if !world.can_manage(&user, package) {
        return Err(SandboxError::forbidden(format!(
            "{user} is not allowed to change {package}."
        )));
    }
    c.two_factor_write(world)?;
    Ok(user)
}

/// Who a publish is recorded as.
#[derive(Debug, Clone)]
pub enum Publishing {
    User(String),
    Oidc(MintedToken),
}

/// Whether the caller may publish `package` directly (`PUT /<pkg>`), under the package's
/// publishing-access setting and the registry policy.
pub fn may_publish(
    c: &Ctx<'_>,
    world: &World,
    principal: &Principal,
    package: &str,
) -> Result<Publishing, SandboxError> {
    let mfa = world
        .packages
        .get(package)
        .map_or(Mfa::Automation, |p| p.mfa);
    match principal {
        Principal::Oidc(m) => {
            oidc_grant(m, package, Action::Publish).map(|()| Publishing::Oidc(m.clone()))
        }
        Principal::Granular { user, .. } => {
            let Some(token) = principal.token(world) else {
                return Err(SandboxError::unauthorized("Unknown token."));
            };
            token_covers_write(token, package)?;
            if token.stage_only {
                return Err(SandboxError::forbidden(format!(
                    "E_STAGE_REQUIRED: this token is stage-only; it cannot publish {package} directly. Run `npm stage publish` and approve the stage with 2FA."
                )));
            }
            if !world.can_write(user, package) {
                return Err(SandboxError::forbidden(format!(
                    "{user} may not publish {package}."
                )));
            }
            if mfa == Mfa::Publish {
                return Err(SandboxError::forbidden(format!(
                    "{package} requires two-factor authentication and disallows tokens: granular access tokens cannot publish it, with or without bypass 2FA. Publish through a trusted publisher or interactively with a one-time password."
                )));
            }
            if token.bypass_2fa {
                if !world.policy.bypass_tokens_publish {
                    return Err(SandboxError::forbidden(
                        "E_STAGE_REQUIRED: granular tokens with bypass 2FA can no longer publish directly. Stage the publish (`npm stage publish`) and approve it with 2FA, or use trusted publishing.",
                    ));
                }
                return Ok(Publishing::User(user.clone()));
            }
            c.second_factor(world, user)?;
            Ok(Publishing::User(user.clone()))
        }
        Principal::Session { user } => {
            if !world.can_write(user, package) {
                return Err(SandboxError::forbidden(format!(
                    "{user} may not publish {package}."
                )));
            }
            // Every sandbox account has 2FA for `auth-and-writes`: a write needs the second
            // factor whatever the package's setting.
            c.second_factor(world, user)?;
            Ok(Publishing::User(user.clone()))
        }
    }
}

/// Whether the caller may stage a publish of `package` (`POST /-/stage/package/<pkg>`). 2FA is
/// deferred to approval, so no OTP is asked here.
pub fn may_stage(
    world: &World,
    principal: &Principal,
    package: &str,
) -> Result<Publishing, SandboxError> {
    match principal {
        Principal::Oidc(m) => {
            oidc_grant(m, package, Action::Stage).map(|()| Publishing::Oidc(m.clone()))
        }
        Principal::Granular { user, .. } | Principal::Session { user } => {
            if let Some(token) = principal.token(world) {
                token_covers_write(token, package)?;
            }
            if !world.can_write(user, package) {
                return Err(SandboxError::forbidden(format!(
                    "{user} may not publish {package}."
                )));
            }
            Ok(Publishing::User(user.clone()))
        }
    }
}

/// An exchanged token may perform exactly the actions its trust configs granted, on its one
/// package.
fn oidc_grant(m: &MintedToken, package: &str, action: Action) -> Result<(), SandboxError> {
    if m.package != package {
        return Err(SandboxError::forbidden(format!(
            "This short-lived token was issued for {} and cannot publish {package}.",
            m.package
        )));
    }
    if m.authorizes(package, action, now_secs()) {
        Ok(())
    } else {
        let (needs, how) = match action {
            Action::Publish => ("createPackage", "`npm stage publish`"),
            Action::Stage => ("createStagedPackage", "`npm publish`"),
        };
        Err(SandboxError::forbidden(format!(
            "No trusted publisher of {package} that matched this job allows {needs}; use {how}, or allow the action in a trust config."
        )))
    }
}
