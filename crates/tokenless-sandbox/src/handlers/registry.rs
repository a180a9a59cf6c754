//! Registry reads and writes the npm CLI uses for install and publish: whoami, packuments,
//! tarballs, publish and stage publish.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::app::{Ctx, empty_ok};
use crate::auth::{self, Principal, Publishing};
use crate::clock::now_secs;
use crate::http;
use crate::model::{Mfa, Package, Publisher, Stage, TrustedPublisher, Version, World};
use crate::packages::{
    digests, packument as render_packument, tarball_file, valid_version, validate_name,
};

pub fn whoami(c: &Ctx<'_>) -> Response {
    let world = c.app.world();
    match auth::principal(c.app, &world, c.headers) {
        Err(e) => e,
        Ok(None) => http::unauthorized("You must be logged in to see who you are."),
        Ok(Some(Principal::Oidc(_))) => http::unauthorized(
            "A trusted-publishing token has no account; `npm whoami` does not reflect OIDC.",
        ),
        Ok(Some(p)) => http::ok(&json!({"username": p.user().unwrap_or_default()})),
    }
}

/// Whether the caller may read `pkg` (public packages: everyone).
pub fn readable(c: &Ctx<'_>, world: &World, pkg: &Package) -> bool {
    if pkg.public {
        return true;
    }
    match auth::principal(c.app, world, c.headers) {
        Ok(Some(Principal::Oidc(m))) => m.package == pkg.name,
        Ok(Some(p)) => p.user().is_some_and(|u| world.users.contains_key(u)),
        _ => false,
    }
}

pub fn packument(c: &Ctx<'_>, name: &str) -> Response {
    if let Err(e) = validate_name(name) {
        return http::bad_request(e.to_string());
    }
    let world = c.app.world();
    match world.packages.get(name) {
        Some(pkg) if readable(c, &world, pkg) => {
            http::ok(&render_packument(pkg, &c.app.registry()))
        }
        _ => http::not_found("Not found"),
    }
}

pub fn dist_tags(c: &Ctx<'_>, name: &str) -> Response {
    let world = c.app.world();
    match world.packages.get(name) {
        Some(pkg) if readable(c, &world, pkg) => http::ok(&json!(pkg.dist_tags)),
        _ => http::not_found("Not found"),
    }
}

pub fn tarball(c: &Ctx<'_>, name: &str, file: &str) -> Response {
    let world = c.app.world();
    let Some(pkg) = world.packages.get(name).filter(|p| readable(c, &world, p)) else {
        return http::not_found("Not found");
    };
    match pkg
        .versions
        .iter()
        .find(|(v, _)| tarball_file(name, v) == file)
    {
        Some((_, ver)) => {
            let mut resp = Response::new(Body::from(ver.tarball.clone()));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            resp
        }
        None => http::not_found(format!("Tarball {file:?} of {name} not found.")),
    }
}

/// A validated publish document: one version, its tarball and dist-tags.
struct Upload {
    version: String,
    manifest: Value,
    tarball: Vec<u8>,
    shasum: String,
    integrity: String,
    tags: BTreeMap<String, String>,
    public: bool,
}

fn parse_upload(name: &str, body: &Value) -> Result<Upload, Response> {
    let obj = body
        .as_object()
        .ok_or_else(|| http::bad_request("Publish body must be a JSON object."))?;
    if obj.get("name").and_then(Value::as_str) != Some(name) {
        return Err(http::bad_request(format!(
            "Publish body `name` must be {name:?}, the package in the URL."
        )));
    }
    let versions = obj
        .get("versions")
        .and_then(Value::as_object)
        .ok_or_else(|| http::bad_request("Publish body has no `versions` object."))?;
    let mut versions = versions.iter();
    let (Some((version, manifest)), None) = (versions.next(), versions.next()) else {
        return Err(http::bad_request(
            "Publish body must carry exactly one version.",
        ));
    };
    if !valid_version(version) {
        return Err(http::bad_request(format!("Invalid version {version:?}.")));
    }
    if manifest.get("version").and_then(Value::as_str) != Some(version.as_str())
        || manifest.get("name").and_then(Value::as_str) != Some(name)
    {
        return Err(http::bad_request(
            "The version's manifest must name the same package and version.",
        ));
    }
    let attachments = obj
        .get("_attachments")
        .and_then(Value::as_object)
        .ok_or_else(|| http::bad_request("Publish body has no `_attachments`."))?;
    let expected = format!("{name}-{version}.tgz");
    let attachment = attachments.get(&expected).ok_or_else(|| {
        http::bad_request(format!("Publish body has no attachment {expected:?}."))
    })?;
    let data = attachment
        .get("data")
        .and_then(Value::as_str)
        .ok_or_else(|| http::bad_request("Attachment has no base64 `data`."))?;
    let tarball = STANDARD
        .decode(data)
        .map_err(|e| http::bad_request(format!("Attachment data is not base64: {e}.")))?;
    if let Some(len) = attachment.get("length").and_then(Value::as_u64)
        && len != tarball.len() as u64
    {
        return Err(http::bad_request(format!(
            "Attachment length {len} does not match its {} bytes.",
            tarball.len()
        )));
    }
    let (shasum, integrity) = digests(&tarball);
    let dist = manifest.get("dist");
    if let Some(s) = dist.and_then(|d| d.get("shasum")).and_then(Value::as_str)
        && s != shasum
    {
        return Err(http::bad_request(
            "dist.shasum does not match the attached tarball.",
        ));
    }
    if let Some(i) = dist
        .and_then(|d| d.get("integrity"))
        .and_then(Value::as_str)
        && i != integrity
    {
        return Err(http::bad_request(
            "dist.integrity does not match the attached tarball.",
        ));
    }
    let mut tags = BTreeMap::new();
    if let Some(t) = obj.get("dist-tags").and_then(Value::as_object) {
        for (tag, v) in t {
            if v.as_str() == Some(version.as_str()) {
                tags.insert(tag.clone(), version.clone());
            }
        }
    }
    let public = obj.get("access").and_then(Value::as_str) != Some("restricted");
    Ok(Upload {
        version: version.clone(),
        manifest: manifest.clone(),
        tarball,
        shasum,
        integrity,
        tags,
        public,
    })
}

fn publisher(world: &World, who: &Publishing) -> Publisher {
    match who {
        Publishing::User(u) => Publisher {
            name: u.clone(),
            email: world
                .users
                .get(u)
                .map(|x| x.email.clone())
                .unwrap_or_default(),
            trusted_publisher: None,
        },
        Publishing::Oidc(m) => Publisher {
            name: match m.provider {
                tokenless_trust::Provider::GitHub => "GitHub Actions".into(),
                tokenless_trust::Provider::GitLab => "GitLab CI/CD".into(),
                tokenless_trust::Provider::CircleCi => "CircleCI".into(),
            },
            email: "npm-oidc-no-reply@github.com".into(),
            trusted_publisher: Some(TrustedPublisher {
                id: m.provider.as_str().to_owned(),
                oidc_config_id: m.trust_config_id.clone().unwrap_or_default(),
            }),
        },
    }
}

/// Inserts the version; exactly one concurrent publish of a version wins (the world lock).
fn apply(world: &mut World, name: &str, up: Upload, who: &Publishing) -> Result<(), Response> {
    let now = now_secs();
    let publisher = publisher(world, who);
    let pkg = world
        .packages
        .entry(name.to_owned())
        .or_insert_with(|| Package {
            name: name.to_owned(),
            created: now,
            modified: now,
            public: up.public,
            mfa: Mfa::Automation,
            trust: None,
            dist_tags: BTreeMap::new(),
            versions: BTreeMap::new(),
        });
    if pkg.versions.contains_key(&up.version) {
        return Err(http::forbidden(format!(
            "You cannot publish over the previously published versions: {}.",
            up.version
        )));
    }
    pkg.modified = now;
    for (tag, v) in up.tags {
        pkg.dist_tags.insert(tag, v);
    }
    let mut manifest = up.manifest;
    if let Some(m) = manifest.as_object_mut() {
        m.remove("_attachments");
    }
    pkg.versions.insert(
        up.version,
        Version {
            manifest,
            published: now,
            publisher,
            tarball: up.tarball,
            shasum: up.shasum,
            integrity: up.integrity,
        },
    );
    Ok(())
}

pub fn publish(c: &Ctx<'_>, name: &str) -> Response {
    if let Err(e) = validate_name(name) {
        return http::bad_request(e.to_string());
    }
    let body: Value = match http::parse(c.body) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let up = match parse_upload(name, &body) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let mut world = c.app.world();
    let principal = match auth::require(c.app, &world, c.headers) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let who = match auth::may_publish(&world, &principal, name, c.headers) {
        Ok(w) => w,
        Err(e) => return e,
    };
    let version = up.version.clone();
    match apply(&mut world, name, up, &who) {
        Ok(()) => {
            c.app.mark_dirty();
            http::json(
                StatusCode::OK,
                &json!({"ok": "created new entry", "id": name, "version": version}),
            )
        }
        Err(e) => e,
    }
}

pub fn stage(c: &Ctx<'_>, name: &str) -> Response {
    if let Err(e) = validate_name(name) {
        return http::bad_request(e.to_string());
    }
    let body: Value = match http::parse(c.body) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let up = match parse_upload(name, &body) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let mut world = c.app.world();
    let principal = match auth::require(c.app, &world, c.headers) {
        Ok(p) => p,
        Err(e) => return e,
    };
    if let Principal::Oidc(m) = &principal {
        if !m.authorizes(name, tokenless_trust::Action::Stage, now_secs()) {
            return http::forbidden(format!(
                "This short-lived token may not stage a publish of {name}."
            ));
        }
    } else if let Err(e) = auth::may_publish(&world, &principal, name, c.headers) {
        return e;
    }
    if world
        .packages
        .get(name)
        .is_some_and(|p| p.versions.contains_key(&up.version))
    {
        return http::forbidden(format!(
            "You cannot publish over the previously published versions: {}.",
            up.version
        ));
    }
    let id = crate::ids::random_uuid();
    world.stages.insert(
        id.clone(),
        Stage {
            id: id.clone(),
            package: name.to_owned(),
            version: up.version,
            created: now_secs(),
            body,
        },
    );
    c.app.mark_dirty();
    http::json(StatusCode::CREATED, &json!({"stageId": id}))
}

fn stage_json(s: &Stage) -> Value {
    json!({"id": s.id, "stageId": s.id, "package": s.package, "version": s.version, "created": crate::clock::rfc3339(s.created)})
}

pub fn stage_list(c: &Ctx<'_>) -> Response {
    let world = c.app.world();
    if let Err(e) = auth::require(c.app, &world, c.headers) {
        return e;
    }
    http::ok(&json!(
        world.stages.values().map(stage_json).collect::<Vec<_>>()
    ))
}

pub fn stage_view(c: &Ctx<'_>, id: &str) -> Response {
    let world = c.app.world();
    if let Err(e) = auth::require(c.app, &world, c.headers) {
        return e;
    }
    world.stages.get(id).map_or_else(
        || http::not_found("No such staged publish."),
        |s| http::ok(&stage_json(s)),
    )
}

pub fn stage_approve(c: &Ctx<'_>, id: &str) -> Response {
    let mut world = c.app.world();
    let principal = match auth::require(c.app, &world, c.headers) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let user = match auth::require_2fa_write(&world, &principal, c.headers) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let Some(stage) = world.stages.get(id).cloned() else {
        return http::not_found("No such staged publish.");
    };
    if !world.can_write(&user, &stage.package) {
        return http::forbidden(format!("{user} may not publish {}.", stage.package));
    }
    let up = match parse_upload(&stage.package, &stage.body) {
        Ok(u) => u,
        Err(e) => return e,
    };
    match apply(&mut world, &stage.package, up, &Publishing::User(user)) {
        Ok(()) => {
            world.stages.remove(id);
            c.app.mark_dirty();
            empty_ok()
        }
        Err(e) => e,
    }
}

pub fn stage_reject(c: &Ctx<'_>, id: &str) -> Response {
    let mut world = c.app.world();
    let principal = match auth::require(c.app, &world, c.headers) {
        Ok(p) => p,
        Err(e) => return e,
    };
    if let Err(e) = auth::require_2fa_write(&world, &principal, c.headers) {
        return e;
    }
    match world.stages.remove(id) {
        Some(_) => {
            c.app.mark_dirty();
            empty_ok()
        }
        None => http::not_found("No such staged publish."),
    }
}
