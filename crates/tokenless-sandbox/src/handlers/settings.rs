//! Package settings: visibility, trusted publishers (`npm trust`) and publishing access
//! (`npm access set mfa=…`; npm has no read of it, so the sandbox's is an inspection
//! endpoint, `GET /-/sandbox/package/<pkg>/access`, for tests and narration).

use crate::error::{Handled, SandboxError};
use serde_json::{Value, json};

use crate::auth;
use crate::http;
use crate::ids::is_uuid;
use crate::router::Ctx;
use tokenless_trust::TrustConfig;

use crate::handlers::registry::readable;
use crate::model::{Mfa, World};

pub fn visibility(c: &Ctx<'_>, name: &str) -> Handled {
    let world = c.app.world();
    match world.packages.get(name) {
        Some(p) if readable(c, &world, p) => Ok(http::ok(&json!({"public": p.public}))),
        _ => Err(SandboxError::not_found("Not found")),
    }
}

/// A reader of settings: any account (not an OIDC token) that may read the package.
fn settings_reader(c: &Ctx<'_>, world: &World, name: &str) -> Result<(), SandboxError> {
    c.account(world)?;
    match world.packages.get(name) {
        Some(p) if readable(c, world, p) => Ok(()),
        _ => Err(SandboxError::not_found(format!(
            "Package {name} not found."
        ))),
    }
}

pub fn trust_list(c: &Ctx<'_>, name: &str) -> Handled {
    let world = c.app.world();
    settings_reader(c, &world, name)?;
    let configs: Vec<Value> = world
        .packages
        .get(name)
        .map(|p| p.trust.iter().map(TrustConfig::to_json).collect())
        .unwrap_or_default();
    Ok(http::ok(&json!(configs)))
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

/// `POST /-/package/<pkg>/trust` with `[config]`: appends a trusted publisher (npm allows
/// several since 2026-09-03, up to the policy's limit). Configs are immutable: changing one
/// is revoke + create. A config is stored only when tokenless-trust's parser accepts it, so
/// every stored config is usable at exchange time.
pub fn trust_create(c: &Ctx<'_>, name: &str) -> Handled {
    let body: Value = http::parse(c.body)?;
    let mut world = c.app.write();
    auth::package_writer(c, &world, name)?;
    let cfg = match &body {
        Value::Array(a) if a.len() == 1 => &a[0],
        Value::Object(_) => &body,
        _ => {
            return Err(SandboxError::bad_request(
                "Expected a JSON array with exactly one trusted publisher configuration.",
            ));
        }
    };
    let (provider, claims, permissions) = validate_config(cfg).map_err(|msg| {
        SandboxError::bad_request(format!("Invalid trusted publisher configuration: {msg}."))
    })?;
    if serde_json::to_vec(cfg).map_or(0, |b| b.len()) > MAX_CONFIG_BYTES {
        return Err(SandboxError::bad_request(format!(
            "A trusted publisher configuration is limited to {MAX_CONFIG_BYTES} bytes."
        )));
    }
    let wire = json!({
        "id": crate::ids::random_uuid(),
        "type": provider,
        "claims": claims,
        "permissions": permissions,
    });
    let config = TrustConfig::from_json(&wire, "[0]").map_err(|e| {
        SandboxError::bad_request(format!("Invalid trusted publisher configuration: {e}."))
    })?;
    let limit = world.policy.max_trust_configs;
    let Some(pkg) = world.packages.get_mut(name) else {
        return Err(SandboxError::not_found("Not found"));
    };
    if pkg.trust.len() >= limit {
        return Err(SandboxError::conflict(format!(
            "{name} already has {} trusted publishers, the most a package may have. Revoke one first.",
            pkg.trust.len()
        )));
    }
    if pkg
        .trust
        .iter()
        .any(|t| t.publisher == config.publisher && t.permissions == config.permissions)
    {
        return Err(SandboxError::conflict(format!(
            "{name} already has this trusted publisher."
        )));
    }
    pkg.trust.push(config);
    Ok(http::created(&json!([wire])))
}

/// Largest trusted publisher configuration accepted.
const MAX_CONFIG_BYTES: usize = 4096;

pub fn trust_delete(c: &Ctx<'_>, name: &str, id: &str) -> Handled {
    let mut world = c.app.write();
    auth::package_writer(c, &world, name)?;
    let Some(pkg) = world.packages.get_mut(name) else {
        return Err(SandboxError::not_found("Not found"));
    };
    let before = pkg.trust.len();
    pkg.trust.retain(|t| t.id.as_deref() != Some(id));
    if pkg.trust.len() == before {
        return Err(SandboxError::not_found(format!(
            "{name} has no trusted publisher with id {id}."
        )));
    }
    Ok(http::empty_ok())
}

pub fn access_get(c: &Ctx<'_>, name: &str) -> Handled {
    let world = c.app.world();
    settings_reader(c, &world, name)?;
    let Some(pkg) = world.packages.get(name) else {
        return Err(SandboxError::not_found("Not found"));
    };
    let (tfa, overrides) = pkg.mfa.flags();
    Ok(http::ok(
        &json!({"publish_requires_tfa": tfa, "automation_token_overrides_tfa": overrides}),
    ))
}

pub fn access_set(c: &Ctx<'_>, name: &str) -> Handled {
    let body: Value = http::parse(c.body)?;
    let mut world = c.app.write();
    auth::package_writer(c, &world, name)?;
    let Some(pkg) = world.packages.get_mut(name) else {
        return Err(SandboxError::not_found("Not found"));
    };
    if let Some(access) = body.get("access") {
        match access.as_str() {
            Some("public") => pkg.public = true,
            Some("restricted") if name.starts_with('@') => pkg.public = false,
            Some("restricted") => {
                return Err(SandboxError::bad_request(
                    "Unscoped packages cannot be restricted.",
                ));
            }
            _ => {
                return Err(SandboxError::bad_request(
                    "`access` must be \"public\" or \"restricted\".",
                ));
            }
        }
    } else if let Some(tfa) = body.get("publish_requires_tfa") {
        let Some(tfa) = tfa.as_bool() else {
            return Err(SandboxError::bad_request(
                "`publish_requires_tfa` must be a boolean.",
            ));
        };
        let overrides = match body.get("automation_token_overrides_tfa") {
            None => false,
            Some(v) => match v.as_bool() {
                Some(b) => b,
                None => {
                    return Err(SandboxError::bad_request(
                        "`automation_token_overrides_tfa` must be a boolean.",
                    ));
                }
            },
        };
        pkg.mfa = match (tfa, overrides) {
            (false, _) => Mfa::None,
            (true, true) => Mfa::Automation,
            (true, false) => Mfa::Publish,
        };
    } else {
        return Err(SandboxError::bad_request(
            "Expected `access` or `publish_requires_tfa` in the body.",
        ));
    }
    let (tfa, overrides) = pkg.mfa.flags();
    let public = pkg.public;
    pkg.rev += 1;
    Ok(http::ok(
        &json!({"public": public, "publish_requires_tfa": tfa, "automation_token_overrides_tfa": overrides}),
    ))
}
