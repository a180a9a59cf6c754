//! `POST /-/npm/v1/oidc/token/exchange/package/<pkg>`: a CI id token in, a short-lived
//! publish token for that one package out (201 `{"token"}`), or 404 `{"message"}` for any
//! failure, as registry.npmjs.org answers. The decision is `tokenless-trust`'s verifier,
//! run with the sandbox's own issuer table and replay store.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use tokenless_trust::Action;

use crate::app::Ctx;
use crate::clock::now_secs;
use crate::http;
use crate::packages::validate_name;

fn refuse(msg: impl Into<String>) -> Response {
    http::json(StatusCode::NOT_FOUND, &json!({"message": msg.into()}))
}

/// The action the exchanged token is for: `npm stage publish` sends `npm-command: stage`.
fn action(c: &Ctx<'_>) -> Action {
    let stage = c
        .headers
        .get("npm-command")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("stage"));
    if stage {
        Action::Stage
    } else {
        Action::Publish
    }
}

pub async fn exchange(c: &Ctx<'_>, package: &str) -> Response {
    if let Err(e) = validate_name(package) {
        return refuse(format!("Invalid package name: {e}"));
    }
    let Some(id_token) = http::bearer(c.headers) else {
        return refuse("No OIDC id token: send it as `Authorization: Bearer <jwt>`.");
    };
    let stored = {
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
    let config = match c.app.parsed_trust(&stored) {
        Ok(cfg) => cfg,
        Err(e) => {
            return refuse(format!(
                "The trusted publisher of {package} is unusable: {e}"
            ));
        }
    };
    let now = now_secs();
    let host = c.app.audience.trim_start_matches("npm:");
    let decision = c.app.verifier.verify_exchange(
        id_token,
        std::slice::from_ref(&*config),
        package,
        action(c),
        host,
        now,
    );
    if !decision.accepted {
        return refuse(format!(
            "OIDC token exchange refused: {}",
            decision.summary()
        ));
    }
    match c.app.minter.mint(&decision, now) {
        Ok(minted) => {
            let token = minted.secret.expose().to_owned();
            c.app.runtime().minted.insert(token.clone(), minted);
            http::json(StatusCode::CREATED, &json!({"token": token}))
        }
        Err(e) => refuse(format!("Could not mint a token: {e}")),
    }
}
