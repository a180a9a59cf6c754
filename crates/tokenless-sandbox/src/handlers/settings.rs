//! Package settings: visibility, trusted publishers (`npm trust`) and publishing access
//! (`npm access set mfa=…`, plus the sandbox-only read `GET /-/package/<pkg>/access`).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::app::{Ctx, empty_ok};
use crate::auth::{self, Principal};
use crate::http;
use crate::ids::is_uuid;
use crate::model::{Mfa, TrustConfig, World};
use crate::registry::readable;

pub fn visibility(c: &Ctx<'_>, name: &str) -> Response {
    let world = c.app.world();
    match world.packages.get(name) {
        Some(p) if readable(c, &world, p) => http::ok(&json!({"public": p.public})),
        _ => http::not_found("Not found"),
    }
}

/// The acting user for a settings write on an existing package: 2FA-guarded, maintainer only.
fn settings_writer(c: &Ctx<'_>, world: &World, name: &str) -> Result<String, Response> {
    let principal = auth::require(c.app, world, c.headers)?;
    if !world.packages.contains_key(name) {
        return Err(http::not_found(format!("Package {name} not found.")));
    }
    let user = auth::require_2fa_write(world, &principal, c.headers)?;
    if !world.can_manage(&user, name) {
        return Err(http::forbidden(format!(
            "{user} is not allowed to change the settings of {name}."
        )));
    }
    Ok(user)
}

/// A reader of settings: any account (not an OIDC token) that may read the package.
fn settings_reader(c: &Ctx<'_>, world: &World, name: &str) -> Result<(), Response> {
    match auth::require(c.app, world, c.headers)? {
        Principal::Oidc(_) => Err(http::forbidden(
            "A trusted-publishing token cannot read package settings.",
        )),
        _ => match world.packages.get(name) {
            Some(p) if readable(c, world, p) => Ok(()),
            _ => Err(http::not_found(format!("Package {name} not found."))),
        },
    }
}

pub fn trust_list(c: &Ctx<'_>, name: &str) -> Response {
    let world = c.app.world();
    if let Err(e) = settings_reader(c, &world, name) {
        return e;
    }
    let configs: Vec<&TrustConfig> = world
        .packages
        .get(name)
        .and_then(|p| p.trust.as_ref())
        .into_iter()
        .collect();
    http::ok(&json!(configs))
}

fn str_claim<'a>(claims: &'a Value, key: &str) -> Option<&'a str> {
    claims
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn file_claim<'a>(claims: &'a Value, key: &str) -> Option<&'a str> {
    claims
        .get(key)
        .and_then(|v| v.get("file"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Checks the shape npm's trust API expects for each provider.
fn validate_config(cfg: &Value) -> Result<(String, Value, Vec<String>), String> {
    let provider = cfg
        .get("type")
        .and_then(Value::as_str)
        .ok_or("`type` is required")?;
    let claims = cfg
        .get("claims")
        .filter(|c| c.is_object())
        .ok_or("`claims` must be an object")?;
    let permissions: Vec<String> = cfg
        .get("permissions")
        .and_then(Value::as_array)
        .ok_or("`permissions` must be an array")?
        .iter()
        .map(|p| {
            p.as_str()
                .map(str::to_owned)
                .ok_or("`permissions` must hold strings")
        })
        .collect::<Result<_, _>>()?;
    if permissions.is_empty() {
        return Err(
            "at least one permission (createPackage, createStagedPackage) is required".into(),
        );
    }
    if let Some(bad) = permissions
        .iter()
        .find(|p| !matches!(p.as_str(), "createPackage" | "createStagedPackage"))
    {
        return Err(format!("unknown permission {bad:?}"));
    }
    match provider {
        "circleci" => {
            for key in ["org-id", "project-id", "pipeline-definition-id"] {
                let full = format!("oidc.circleci.com/{key}");
                if !str_claim(claims, &full).is_some_and(is_uuid) {
                    return Err(format!("claim {full:?} must be a UUID"));
                }
            }
            let origin = str_claim(claims, "oidc.circleci.com/vcs-origin")
                .ok_or("claim \"oidc.circleci.com/vcs-origin\" is required")?;
            if origin.contains("://") || origin.split('/').count() < 3 {
                return Err(
                    "vcs-origin must look like github.com/owner/repo, without a scheme".into(),
                );
            }
            if let Some(ids) = claims.get("oidc.circleci.com/context-ids") {
                let ok = ids
                    .as_array()
                    .is_some_and(|a| a.iter().all(|v| v.as_str().is_some_and(is_uuid)));
                if !ok {
                    return Err(
                        "claim \"oidc.circleci.com/context-ids\" must be an array of UUIDs".into(),
                    );
                }
            }
        }
        "github" => {
            let repo = str_claim(claims, "repository").ok_or("claim \"repository\" is required")?;
            if repo.split('/').count() != 2 {
                return Err("repository must be owner/repo".into());
            }
            file_claim(claims, "workflow_ref").ok_or("claim \"workflow_ref.file\" is required")?;
        }
        "gitlab" => {
            str_claim(claims, "project_path").ok_or("claim \"project_path\" is required")?;
            file_claim(claims, "ci_config_ref_uri")
                .ok_or("claim \"ci_config_ref_uri.file\" is required")?;
        }
        other => return Err(format!("unknown trusted publisher type {other:?}")),
    }
    Ok((provider.to_owned(), claims.clone(), permissions))
}

pub fn trust_create(c: &Ctx<'_>, name: &str) -> Response {
    let body: Value = match http::parse(c.body) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let mut world = c.app.world();
    if let Err(e) = settings_writer(c, &world, name) {
        return e;
    }
    let cfg = match &body {
        Value::Array(a) if a.len() == 1 => &a[0],
        Value::Object(_) => &body,
        _ => {
            return http::bad_request(
                "Expected a JSON array with exactly one trusted publisher configuration.",
            );
        }
    };
    let (provider, claims, permissions) = match validate_config(cfg) {
        Ok(v) => v,
        Err(msg) => {
            return http::bad_request(format!("Invalid trusted publisher configuration: {msg}."));
        }
    };
    let Some(pkg) = world.packages.get_mut(name) else {
        return http::not_found("Not found");
    };
    if pkg.trust.is_some() {
        return http::error(
            StatusCode::CONFLICT,
            format!(
                "{name} already has a trusted publisher; a package can have only one. Revoke it first."
            ),
        );
    }
    let config = TrustConfig {
        id: crate::ids::random_uuid(),
        provider,
        claims,
        permissions,
    };
    pkg.trust = Some(config.clone());
    c.app.mark_dirty();
    http::json(StatusCode::CREATED, &json!([config]))
}

pub fn trust_delete(c: &Ctx<'_>, name: &str, id: &str) -> Response {
    let mut world = c.app.world();
    if let Err(e) = settings_writer(c, &world, name) {
        return e;
    }
    let Some(pkg) = world.packages.get_mut(name) else {
        return http::not_found("Not found");
    };
    if pkg.trust.as_ref().is_none_or(|t| t.id != id) {
        return http::not_found(format!("{name} has no trusted publisher with id {id}."));
    }
    pkg.trust = None;
    c.app.mark_dirty();
    empty_ok()
}

pub fn access_get(c: &Ctx<'_>, name: &str) -> Response {
    let world = c.app.world();
    if let Err(e) = settings_reader(c, &world, name) {
        return e;
    }
    let Some(pkg) = world.packages.get(name) else {
        return http::not_found("Not found");
    };
    let (tfa, overrides) = pkg.mfa.flags();
    http::ok(&json!({"publish_requires_tfa": tfa, "automation_token_overrides_tfa": overrides}))
}

pub fn access_set(c: &Ctx<'_>, name: &str) -> Response {
    let body: Value = match http::parse(c.body) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let mut world = c.app.world();
    if let Err(e) = settings_writer(c, &world, name) {
        return e;
    }
    let Some(pkg) = world.packages.get_mut(name) else {
        return http::not_found("Not found");
    };
    if let Some(access) = body.get("access") {
        match access.as_str() {
            Some("public") => pkg.public = true,
            Some("restricted") if name.starts_with('@') => pkg.public = false,
            Some("restricted") => {
                return http::bad_request("Unscoped packages cannot be restricted.");
            }
            _ => return http::bad_request("`access` must be \"public\" or \"restricted\"."),
        }
    } else if let Some(tfa) = body.get("publish_requires_tfa") {
        let Some(tfa) = tfa.as_bool() else {
            return http::bad_request("`publish_requires_tfa` must be a boolean.");
        };
        let overrides = match body.get("automation_token_overrides_tfa") {
            None => false,
            Some(v) => match v.as_bool() {
                Some(b) => b,
                None => {
                    return http::bad_request(
                        "`automation_token_overrides_tfa` must be a boolean.",
                    );
                }
            },
        };
        pkg.mfa = match (tfa, overrides) {
            (false, _) => Mfa::None,
            (true, true) => Mfa::Automation,
            (true, false) => Mfa::Publish,
        };
    } else {
        return http::bad_request("Expected `access` or `publish_requires_tfa` in the body.");
    }
    let (tfa, overrides) = pkg.mfa.flags();
    let public = pkg.public;
    c.app.mark_dirty();
    http::ok(
        &json!({"public": public, "publish_requires_tfa": tfa, "automation_token_overrides_tfa": overrides}),
    )
}
