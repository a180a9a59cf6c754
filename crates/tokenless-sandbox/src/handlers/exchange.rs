//! `POST /-/npm/v1/oidc/token/exchange/package/<pkg>`: a CI id token in, a short-lived token
//! for that one package out (201 `{"token"}`), or 404 `{"message"}` for any failure, as
//! registry.npmjs.org answers; except 401 for a GitHub token from an enterprise-scoped
//! issuer, as npm answers that one (npm/cli#9203; `Decision::refusal_status`). The decision is `tokenless-trust`'s verifier over every trust
//! config of the package, with the sandbox's own issuer table and replay store.
//!
//! The registry learns what the token is for only afterwards: `PUT /<pkg>` needs a grant of
//! `createPackage`, `POST /-/stage/package/<pkg>` one of `createStagedPackage`. So the
//! exchange asks for both actions and mints a token carrying exactly the granted ones, each
//! attributed to the config that allows it (never decided from the `npm-command` header).

use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{Value, json};
use tokenless_trust::Action;

use crate::clock::now_secs;
use crate::error::{Handled, SandboxError};
use crate::http;
use crate::packages::validate_name;
use crate::router::Ctx;

fn refuse(msg: impl Into<String>) -> SandboxError {
    SandboxError::new(StatusCode::NOT_FOUND, msg)
}

/// The registry host the token's audience names, when it is one of the sandbox's accepted
/// audiences (read before verification only to pick which of them to verify against; the
/// verifier still compares `aud` exactly and checks the signature).
fn audience_host<'a>(audiences: &'a [String], token: &str) -> Option<&'a str> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let aud = claims.get("aud").and_then(|a| match a {
        Value::String(s) => Some(s.as_str()),
        Value::Array(items) if items.len() == 1 => items.first().and_then(Value::as_str),
        _ => None,
    })?;
    audiences
        .iter()
        .find(|a| a.as_str() == aud)
        .and_then(|a| a.strip_prefix("npm:"))
}

pub async fn exchange(c: &Ctx<'_>, package: &str) -> Handled {
    validate_name(package).map_err(|e| refuse(format!("Invalid package name: {e}")))?;
    let id_token = http::bearer(c.headers)
        .ok_or_else(|| refuse("No OIDC id token: send it as `Authorization: Bearer <jwt>`."))?;
    let configs = {
        let world = c.app.world();
        match world.packages.get(package) {
            None => {
                return Err(refuse(format!(
                    "Package {package} not found; trusted publishing needs an existing package."
                )));
            }
            Some(p) if p.trust.is_empty() => {
                return Err(refuse(format!(
                    "{package} has no trusted publisher configured."
                )));
            }
            Some(p) => p.trust.clone(),
        }
    };
    let now = now_secs();
    let primary = c
        .app
        .audiences
        .first()
        .and_then(|a| a.strip_prefix("npm:"))
        .unwrap_or_default();
    let host = audience_host(&c.app.audiences, id_token).unwrap_or(primary);
    let decision = c.app.verifier.verify_exchange(
        id_token,
        &configs,
        package,
        [Action::Publish, Action::Stage],
        host,
        now,
    );
    if !decision.accepted {
        // npm answers 401 for an enterprise-scoped GitHub issuer, 404 for the rest.
        return Err(match decision.refusal_status() {
            401 => SandboxError::new(
                StatusCode::UNAUTHORIZED,
                format!("Unauthorized: {}", decision.summary()),
            ),
            _ => refuse(format!(
                "OIDC token exchange refused: {}",
                decision.summary()
            )),
        });
    }
    let minted = c
        .app
        .minter
        .mint(&decision, now)
        .map_err(|e| refuse(format!("Could not mint a token: {e}")))?;
    let token = minted.secret.expose().to_owned();
    c.app.remember_minted(token.clone(), minted, now);
    Ok(http::created(&json!({"token": token})))
}
