//! `POST /-/npm/v1/oidc/token/exchange/package/<pkg>`: a CI id token in, a short-lived
//! publish token for that one package out (201 `{"token"}`), or 404 `{"message"}` for any
//! failure, as registry.npmjs.org answers. The decision is `tokenless-trust`'s verifier.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::app::{Ctx, MintedToken};
use crate::clock::now_secs;
use crate::http;
use crate::packages::validate_name;

fn refuse(msg: impl Into<String>) -> Response {
    http::json(StatusCode::NOT_FOUND, &json!({"message": msg.into()}))
}

/// The action the exchanged token is for: `npm stage publish` sends `npm-command: stage`.
fn wants_stage(c: &Ctx<'_>) -> bool {
    c.headers
        .get("npm-command")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("stage"))
}

pub async fn exchange(c: &Ctx<'_>, package: &str) -> Response {
    if let Err(e) = validate_name(package) {
        return refuse(format!("Invalid package name: {e}"));
    }
    let Some(id_token) = http::bearer(c.headers) else {
        return refuse("No OIDC id token: send it as `Authorization: Bearer <jwt>`.");
    };
    let trust = {
        let world = c.app.world();
        match world.packages.get(package) {
            None => {
                return refuse(format!(
                    "Package {package} not found; trusted publishing needs an existing package."
                ));
            }
            Some(p) => match &p.trust {
                None => return refuse(format!("{package} has no trusted publisher configured.")),
                Some(t) => t.clone(),
            },
        }
    };
    let stage = wants_stage(c);
    match crate::verify::verify(c.app, id_token, &trust, package, stage, now_secs()) {
        Ok(accepted) => {
            let token = crate::ids::npm_token();
            let minted = MintedToken {
                package: package.to_owned(),
                permissions: vec![accepted.permission.to_owned()],
                expires: now_secs() + c.app.limits.token_lifetime.as_secs(),
                provider: accepted.provider,
                config_id: trust.id.clone(),
            };
            c.app.runtime().minted.insert(token.clone(), minted);
            http::json(StatusCode::CREATED, &json!({"token": token}))
        }
        Err(message) => refuse(message),
    }
}
