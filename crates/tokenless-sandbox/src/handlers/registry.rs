//! Registry reads and writes the npm CLI uses: whoami, packuments, tarballs, publish,
//! dist-tags, deprecate (a packument `PUT`) and unpublish (`-rev` writes and deletes).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::auth::{self, Principal, Publishing};
use crate::clock::now_secs;
use crate::error::{Handled, SandboxError};
use crate::http;
use crate::model::{Blob, Mfa, Package, Publisher, TrustedPublisher, Version, World};
use crate::packages::{
    digests, packument as render_packument, tarball_file, valid_version, validate_name, version_key,
};
use crate::router::Ctx;

/// How long after publishing a version may be unpublished (npm's rule, simplified: npm also
/// allows later unpublishes of packages without dependents and with few downloads).
pub const UNPUBLISH_WINDOW_SECS: u64 = 72 * 3600;

pub fn whoami(c: &Ctx<'_>) -> Handled {
    let world = c.app.world();
    match c.principal(&world)? {
        None => Err(SandboxError::unauthorized(
            "You must be logged in to see who you are.",
        )),
        Some(Principal::Oidc(_)) => Err(SandboxError::unauthorized(
            "A trusted-publishing token has no account; `npm whoami` does not reflect OIDC.",
        )),
        Some(p) => Ok(http::ok(&json!({"username": p.user().unwrap_or_default()}))),
    }
}

/// Whether the caller may read `pkg` (public packages: everyone).
pub fn readable(c: &Ctx<'_>, world: &World, pkg: &Package) -> bool {
    if pkg.public {
        return true;
    }
    match c.principal(world) {
        Ok(Some(Principal::Oidc(m))) => m.package == pkg.name,
        Ok(Some(p)) => p
            .user()
            .is_some_and(|u| world.role(u).is_some() && world.in_scope(&pkg.name)),
        _ => false,
    }
}

fn known_name(name: &str) -> Result<(), SandboxError> {
    validate_name(name).map_err(|e| SandboxError::bad_request(e.to_string()))
}

pub fn packument(c: &Ctx<'_>, name: &str) -> Handled {
    known_name(name)?;
    let world = c.app.world();
    match world.packages.get(name) {
        Some(pkg) if readable(c, &world, pkg) => {
            Ok(http::ok(&render_packument(pkg, &c.app.registry())))
        }
        _ => Err(SandboxError::not_found("Not found")),
    }
}

pub fn dist_tags(c: &Ctx<'_>, name: &str) -> Handled {
    let world = c.app.world();
    match world.packages.get(name) {
        Some(pkg) if readable(c, &world, pkg) => Ok(http::ok(&json!(pkg.dist_tags))),
        _ => Err(SandboxError::not_found("Not found")),
    }
}

/// A tag name npm accepts: not empty, not a version or range, URL-safe.
fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && !valid_version(tag)
        && !tag.starts_with('v')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `npm dist-tag add <pkg>@<version> <tag>`: the body is the version as a JSON string.
pub fn dist_tag_set(c: &Ctx<'_>, name: &str, tag: &str) -> Handled {
    let version: String = http::parse(c.body)?;
    if !valid_tag(tag) {
        return Err(SandboxError::bad_request(format!(
            "Invalid tag {tag:?}: a tag cannot be empty or look like a version."
        )));
    }
    let mut world = c.app.write();
    tag_writer(c, &world, name)?;
    let Some(pkg) = world.packages.get_mut(name) else {
        return Err(SandboxError::not_found(format!(
            "Package {name} not found."
        )));
    };
    if !pkg.versions.contains_key(&version) {
        return Err(SandboxError::not_found(format!(
            "{name} has no version {version:?}."
        )));
    }
    pkg.dist_tags.insert(tag.to_owned(), version);
    touch(pkg);
    Ok(http::created(&json!(pkg.dist_tags)))
}

pub fn dist_tag_remove(c: &Ctx<'_>, name: &str, tag: &str) -> Handled {
    let mut world = c.app.write();
    tag_writer(c, &world, name)?;
    let Some(pkg) = world.packages.get_mut(name) else {
        return Err(SandboxError::not_found(format!(
            "Package {name} not found."
        )));
    };
    if tag == "latest" {
        return Err(SandboxError::bad_request(
            "The latest tag cannot be removed.",
        ));
    }
    if pkg.dist_tags.remove(tag).is_none() {
        return Err(SandboxError::not_found(format!(
            "{name} has no tag {tag:?}."
        )));
    }
    touch(pkg);
    Ok(http::ok(&json!(pkg.dist_tags)))
}

/// Tags and deprecations: a maintainer with 2FA, or a stage-only token (which npm lets move
/// tags and deprecate without a second factor: it cannot publish).
fn tag_writer(c: &Ctx<'_>, world: &World, name: &str) -> Result<String, SandboxError> {
    if let Ok(Some(p)) = c.principal(world)
        && let Some(t) = p.token(world)
        && t.stage_only
    {
        auth::token_covers_write(t, name)?;
        let user = t.owner.clone();
        if !world.can_write(&user, name) {
            return Err(SandboxError::forbidden(format!(
                "{user} may not change {name}."
            )));
        }
        return Ok(user);
    }
    auth::package_writer(c, world, name)
}

fn touch(pkg: &mut Package) {
    pkg.rev += 1;
    pkg.modified = now_secs();
}

pub fn tarball(c: &Ctx<'_>, name: &str, file: &str) -> Handled {
    let world = c.app.world();
    let Some(pkg) = world.packages.get(name).filter(|p| readable(c, &world, p)) else {
        return Err(SandboxError::not_found("Not found"));
    };
    let Some((_, ver)) = pkg
        .versions
        .iter()
        .find(|(v, _)| tarball_file(name, v) == file)
    else {
        return Err(SandboxError::not_found(format!(
            "Tarball {file:?} of {name} not found."
        )));
    };
    let Some(Blob(bytes)) = world.blobs.get(&ver.integrity) else {
        return Err(SandboxError::not_found(format!(
            "Tarball {file:?} is gone."
        )));
    };
    Ok(octets(bytes.as_ref().clone()))
}

pub fn octets(bytes: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(bytes));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    resp
}

/// A validated publish document: one version, its tarball and dist-tags.
pub struct Upload {
    pub version: String,
    pub manifest: Value,
    pub tarball: Vec<u8>,
    pub shasum: String,
    pub integrity: String,
    pub tags: BTreeMap<String, String>,
    pub public: bool,
}

pub fn parse_upload(name: &str, body: &Value) -> Result<Upload, SandboxError> {
    let bad = |m: &str| SandboxError::bad_request(m);
    let obj = body
        .as_object()
        .ok_or_else(|| bad("Publish body must be a JSON object."))?;
    if obj.get("name").and_then(Value::as_str) != Some(name) {
        return Err(SandboxError::bad_request(format!(
            "Publish body `name` must be {name:?}, the package in the URL."
        )));
    }
    let versions = obj
        .get("versions")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Publish body has no `versions` object."))?;
    let mut versions = versions.iter();
    let (Some((version, manifest)), None) = (versions.next(), versions.next()) else {
        return Err(bad("Publish body must carry exactly one version."));
    };
    if !valid_version(version) {
        return Err(SandboxError::bad_request(format!(
            "Invalid version {version:?}: not a SemVer 2.0 version."
        )));
    }
    if manifest.get("version").and_then(Value::as_str) != Some(version.as_str())
        || manifest.get("name").and_then(Value::as_str) != Some(name)
    {
        return Err(bad(
            "The version's manifest must name the same package and version.",
        ));
    }
    let attachments = obj
        .get("_attachments")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Publish body has no `_attachments`."))?;
    let expected = format!("{name}-{version}.tgz");
    let attachment = attachments.get(&expected).ok_or_else(|| {
        SandboxError::bad_request(format!("Publish body has no attachment {expected:?}."))
    })?;
    let data = attachment
        .get("data")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("Attachment has no base64 `data`."))?;
    let tarball = STANDARD
        .decode(data)
        .map_err(|e| SandboxError::bad_request(format!("Attachment data is not base64: {e}.")))?;
    if let Some(len) = attachment.get("length").and_then(Value::as_u64)
        && len != tarball.len() as u64
    {
        return Err(SandboxError::bad_request(format!(
            "Attachment length {len} does not match its {} bytes.",
            tarball.len()
        )));
    }
    let (shasum, integrity) = digests(&tarball);
    let dist = manifest.get("dist");
    if let Some(s) = dist.and_then(|d| d.get("shasum")).and_then(Value::as_str)
        && s != shasum
    {
        return Err(bad("dist.shasum does not match the attached tarball."));
    }
    if let Some(i) = dist
        .and_then(|d| d.get("integrity"))
        .and_then(Value::as_str)
        && i != integrity
    {
        return Err(bad("dist.integrity does not match the attached tarball."));
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
    let mut manifest = manifest.clone();
    if let Some(m) = manifest.as_object_mut() {
        m.remove("_attachments");
    }
    Ok(Upload {
        version: version.clone(),
        manifest,
        tarball,
        shasum,
        integrity,
        tags,
        public,
    })
}

/// The `_npmUser` of a publish.
pub fn publisher(world: &World, who: &Publishing, action: tokenless_trust::Action) -> Publisher {
    match who {
        Publishing::User(u) => Publisher {
            name: u.clone(),
            email: world
                .users
                .get(u)
                .map(|x| x.email.clone())
                .unwrap_or_default(),
            trusted_publisher: None,
            approved_by: None,
        },
        Publishing::Oidc(m) => Publisher {
            name: provider_publisher(m.provider).to_owned(),
            email: "npm-oidc-no-reply@github.com".into(),
            trusted_publisher: Some(TrustedPublisher {
                id: m.provider.as_str().to_owned(),
                oidc_config_id: oidc_config_id(m, action),
            }),
            approved_by: None,
        },
    }
}

/// The trust config that granted `action` to an exchanged token.
pub fn oidc_config_id(m: &tokenless_trust::MintedToken, action: tokenless_trust::Action) -> String {
    m.grant_for(action)
        .and_then(|g| g.trust_config_id.clone())
        .unwrap_or_default()
}

/// The name npm records for a CI provider's publishes.
pub fn provider_publisher(p: tokenless_trust::Provider) -> &'static str {
    match p {
        tokenless_trust::Provider::GitHub => "GitHub Actions",
        tokenless_trust::Provider::GitLab => "GitLab CI/CD",
        tokenless_trust::Provider::CircleCi => "CircleCI",
    }
}

/// Refuses a version that exists (build metadata does not make a new version) or was
/// unpublished (a name@version is never reused).
pub fn check_new_version(world: &World, name: &str, version: &str) -> Result<(), SandboxError> {
    let key = version_key(version);
    if let Some(pkg) = world.packages.get(name)
        && (pkg.versions.keys().any(|v| version_key(v) == key)
            || pkg.unpublished.iter().any(|v| version_key(v) == key))
    {
        return Err(SandboxError::forbidden(format!(
            "You cannot publish over the previously published versions: {version}."
        )));
    }
    Ok(())
}

/// Inserts the version; exactly one concurrent publish of a version wins (the world lock).
pub fn apply(
    world: &mut World,
    name: &str,
    up: Upload,
    publisher: Publisher,
) -> Result<(), SandboxError> {
    check_new_version(world, name, &up.version)?;
    match world.packages.get(name) {
        Some(p) => crate::limits::room("versions", p.versions.len(), crate::limits::VERSIONS)?,
        None => crate::limits::room("packages", world.packages.len(), crate::limits::PACKAGES)?,
    }
    let now = now_secs();
    world
        .blobs
        .entry(up.integrity.clone())
        .or_insert_with(|| Blob(Arc::new(up.tarball)));
    let pkg = world
        .packages
        .entry(name.to_owned())
        .or_insert_with(|| Package {
            name: name.to_owned(),
            created: now,
            modified: now,
            public: up.public,
            mfa: Mfa::Automation,
            trust: Vec::new(),
            dist_tags: BTreeMap::new(),
            versions: BTreeMap::new(),
            unpublished: Vec::new(),
            rev: 0,
        });
    touch(pkg);
    if up.tags.is_empty() && !pkg.dist_tags.contains_key("latest") {
        pkg.dist_tags.insert("latest".into(), up.version.clone());
    }
    for (tag, v) in up.tags {
        pkg.dist_tags.insert(tag, v);
    }
    pkg.versions.insert(
        up.version,
        Version {
            manifest: up.manifest,
            published: now,
            publisher,
            shasum: up.shasum,
            integrity: up.integrity,
        },
    );
    Ok(())
}

/// `PUT /<pkg>`: a publish (the body carries `_attachments`), or npm's metadata write
/// (`npm deprecate` sends the packument back with `deprecated` set on versions).
pub fn put_package(c: &Ctx<'_>, name: &str) -> Handled {
    known_name(name)?;
    let body: Value = http::parse(c.body)?;
    if body.get("_attachments").is_none() {
        return update(c, name, None);
    }
    let up = parse_upload(name, &body)?;
    let mut world = c.app.write();
    let principal = c.require(&world)?;
    let who = auth::may_publish(c, &world, &principal, name)?;
    let version = up.version.clone();
    let publisher = publisher(&world, &who, tokenless_trust::Action::Publish);
    apply(&mut world, name, up, publisher)?;
    Ok(http::ok(
        &json!({"ok": "created new entry", "id": name, "version": version}),
    ))
}

/// A metadata write of an existing packument: `deprecated` messages (`npm deprecate`) and,
/// through `PUT /<pkg>/-rev/<rev>`, removed versions (`npm unpublish <pkg>@<v>`). Nothing
/// else of the stored versions changes.
pub fn update(c: &Ctx<'_>, name: &str, rev: Option<&str>) -> Handled {
    known_name(name)?;
    let body: Value = http::parse(c.body)?;
    let sent = body
        .get("versions")
        .and_then(Value::as_object)
        .ok_or_else(|| SandboxError::bad_request("The packument has no `versions` object."))?;
    let mut world = c.app.write();
    let existing = world
        .packages
        .get(name)
        .ok_or_else(|| SandboxError::not_found(format!("Package {name} not found.")))?;
    if let Some(rev) = rev
        && rev != existing.rev_string()
    {
        return Err(SandboxError::conflict(format!(
            "Document update conflict: {name} is at revision {}, not {rev}.",
            existing.rev_string()
        )));
    }
    if let Some(unknown) = sent.keys().find(|v| !existing.versions.contains_key(*v)) {
        return Err(SandboxError::bad_request(format!(
            "{name}@{unknown} does not exist; publish new versions with their tarball."
        )));
    }
    let removed: Vec<String> = existing
        .versions
        .keys()
        .filter(|v| !sent.contains_key(*v))
        .cloned()
        .collect();
    if !removed.is_empty() {
        if rev.is_none() {
            return Err(SandboxError::bad_request(
                "Removing versions needs the document revision (`PUT /<pkg>/-rev/<rev>`).",
            ));
        }
        if removed.len() == existing.versions.len() {
            return Err(SandboxError::bad_request(
                "Removing every version unpublishes the package: `DELETE /<pkg>/-rev/<rev>`.",
            ));
        }
    }
    // Deprecating is open to stage-only tokens; removing versions is an unpublish, which
    // needs a maintainer with 2FA.
    let user = if removed.is_empty() {
        tag_writer(c, &world, name)?
    } else {
        let user = auth::package_writer(c, &world, name)?;
        if let Some(existing) = world.packages.get(name) {
            unpublish_allowed(existing, &removed, now_secs())?;
        }
        user
    };
    let Some(pkg) = world.packages.get_mut(name) else {
        return Err(SandboxError::not_found(format!(
            "Package {name} not found."
        )));
    };
    for (v, manifest) in sent {
        let Some(stored) = pkg.versions.get_mut(v) else {
            continue;
        };
        let message = manifest.get("deprecated").and_then(Value::as_str);
        if let Some(m) = stored.manifest.as_object_mut() {
            match message {
                Some(msg) if !msg.is_empty() => {
                    m.insert("deprecated".into(), json!(msg));
                }
                _ => {
                    m.remove("deprecated");
                }
            }
        }
    }
    for v in &removed {
        pkg.versions.remove(v);
        pkg.unpublished.push(v.clone());
    }
    pkg.dist_tags.retain(|_, v| !removed.contains(v));
    if !pkg.dist_tags.contains_key("latest")
        && let Some(highest) = pkg.versions.keys().max_by(|a, b| semver_cmp(a, b))
    {
        pkg.dist_tags.insert("latest".into(), highest.clone());
    }
    touch(pkg);
    Ok(http::ok(
        &json!({"ok": format!("updated {name} as {user}")}),
    ))
}

/// Orders versions by major, minor, patch (pre-releases after nothing; good enough for
/// choosing the next `latest`).
fn semver_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let key = |v: &str| -> (Vec<u64>, bool) {
        let core = version_key(v).split('-').next().unwrap_or("");
        (
            core.split('.').map(|p| p.parse().unwrap_or(0)).collect(),
            !v.contains('-'),
        )
    };
    key(a).cmp(&key(b))
}

fn unpublish_allowed(pkg: &Package, versions: &[String], now: u64) -> Result<(), SandboxError> {
    for v in versions {
        if let Some(ver) = pkg.versions.get(v)
            && now.saturating_sub(ver.published) > UNPUBLISH_WINDOW_SECS
        {
            return Err(SandboxError::forbidden(format!(
                "{}@{v} was published more than 72 hours ago and can no longer be unpublished; deprecate it instead.",
                pkg.name
            )));
        }
    }
    Ok(())
}

/// `DELETE /<pkg>/-rev/<rev>`: unpublishes the whole package.
pub fn unpublish_all(c: &Ctx<'_>, name: &str, rev: &str) -> Handled {
    known_name(name)?;
    let mut world = c.app.write();
    auth::package_writer(c, &world, name)?;
    let Some(pkg) = world.packages.get(name) else {
        return Err(SandboxError::not_found(format!(
            "Package {name} not found."
        )));
    };
    if rev != pkg.rev_string() {
        return Err(SandboxError::conflict(format!(
            "Document update conflict: {name} is at revision {}, not {rev}.",
            pkg.rev_string()
        )));
    }
    let all: Vec<String> = pkg.versions.keys().cloned().collect();
    unpublish_allowed(pkg, &all, now_secs())?;
    world.packages.remove(name);
    world.stages.retain(|_, s| s.package != name);
    world.drop_unused_blobs();
    Ok(http::empty_ok())
}

/// `DELETE /<pkg>/-/<file>/-rev/<rev>`: the tarball of a version removed by the `-rev` PUT
/// (tarballs are stored by digest and dropped with the last version that uses them).
pub fn tarball_delete(c: &Ctx<'_>, name: &str, _rev: &str) -> Handled {
    let mut world = c.app.write();
    auth::package_writer(c, &world, name)?;
    world.drop_unused_blobs();
    Ok(http::empty_ok())
}
