//! Staged publishing as the npm CLI (11.15+) drives it: `npm stage publish` uploads a version
//! for later approval, `list`/`view` read stages (only of packages the caller can write),
//! and `approve`/`reject` need a person's login session plus 2FA: tokens, OIDC-minted or
//! granular, can never approve, so CI cannot release its own stage.

use serde::Deserialize;
use serde_json::{Value, json};
use tokenless_trust::Action;

use crate::auth::{self, Principal, Publishing};
use crate::clock::{now_secs, rfc3339};
use crate::error::{Handled, SandboxError};
use crate::handlers::registry::{self, octets};
use crate::http;
use crate::model::{Stage, World};
use crate::router::Ctx;

/// Stages kept at once (a full registry answers 429 rather than grow without bound).
const MAX_STAGES: usize = 10_000;
const MAX_PER_PAGE: usize = 100;

pub fn create(c: &Ctx<'_>, name: &str) -> Handled {
    crate::packages::validate_name(name).map_err(|e| SandboxError::bad_request(e.to_string()))?;
    let body: Value = http::parse(c.body)?;
    let up = registry::parse_upload(name, &body)?;
    let mut world = c.app.write();
    let principal = c.require(&world)?;
    let who = auth::may_stage(&world, &principal, name)?;
    registry::check_new_version(&world, name, &up.version)?;
    if world
        .stages
        .values()
        .any(|s| s.package == name && s.version == up.version)
    {
        return Err(SandboxError::conflict(format!(
            "{name}@{} is already staged.",
            up.version
        )));
    }
    if world.stages.len() >= MAX_STAGES {
        return Err(SandboxError::too_many(
            "Too many staged publishes pending.",
            60,
        ));
    }
    let publisher = registry::publisher(&world, &who, Action::Stage);
    let (actor_type, actor) = match &who {
        Publishing::User(u) => ("user", u.clone()),
        Publishing::Oidc(_) => ("oidc", publisher.name.clone()),
    };
    let id = crate::ids::random_uuid();
    let tag = up
        .tags
        .keys()
        .next()
        .cloned()
        .unwrap_or_else(|| "latest".to_owned());
    world
        .blobs
        .entry(up.integrity.clone())
        .or_insert_with(|| crate::model::Blob(std::sync::Arc::new(up.tarball)));
    world.stages.insert(
        id.clone(),
        Stage {
            id: id.clone(),
            package: name.to_owned(),
            version: up.version,
            tag,
            created: now_secs(),
            manifest: up.manifest,
            shasum: up.shasum,
            integrity: up.integrity,
            public: up.public,
            actor,
            actor_type: actor_type.to_owned(),
            trusted_publisher: publisher.trusted_publisher,
        },
    );
    Ok(http::created(&json!({"stageId": id, "id": id})))
}

/// The fields `npm stage list` and `npm stage view` print, and no others.
fn stage_json(s: &Stage) -> Value {
    json!({
        "id": s.id,
        "packageName": s.package,
        "version": s.version,
        "tag": s.tag,
        "createdAt": rfc3339(s.created),
        "actor": s.actor,
        "actorType": s.actor_type,
        "shasum": s.shasum,
    })
}

/// Whether the caller may see (and so act on) stages of `package`: those it can write.
fn visible(world: &World, principal: &Principal, package: &str) -> bool {
    match principal {
        Principal::Oidc(m) => m.package == package,
        Principal::Session { user } => world.can_write(user, package),
        Principal::Granular { user, .. } => {
            principal
                .token(world)
                .is_some_and(|t| auth::token_covers_write(t, package).is_ok())
                && world.can_write(user, package)
        }
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    page: usize,
    per_page: usize,
    package: Option<String>,
}

fn list_query(query: Option<&str>) -> Result<ListQuery, SandboxError> {
    let number = |key: &str, default: usize| -> Result<usize, SandboxError> {
        match http::query_param(query, key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                SandboxError::bad_request(format!("`{key}` must be a whole number, got {v:?}."))
            }),
        }
    };
    Ok(ListQuery {
        page: number("page", 0)?,
        per_page: number("perPage", MAX_PER_PAGE)?.clamp(1, MAX_PER_PAGE),
        package: http::query_param(query, "package"),
    })
}

/// `GET /-/stage?page=&perPage=&package=` → `{items, total}`.
pub fn list(c: &Ctx<'_>) -> Handled {
    let q = list_query(c.query)?;
    let world = c.app.world();
    let principal = c.require(&world)?;
    let mine: Vec<&Stage> = world
        .stages
        .values()
        .filter(|s| q.package.as_deref().is_none_or(|p| p == s.package))
        .filter(|s| visible(&world, &principal, &s.package))
        .collect();
    let items: Vec<Value> = mine
        .iter()
        .skip(q.page.saturating_mul(q.per_page))
        .take(q.per_page)
        .map(|s| stage_json(s))
        .collect();
    Ok(http::ok(&json!({"items": items, "total": mine.len()})))
}

/// The stage `id`, if the caller may see it (otherwise it does not exist for them).
fn find<'w>(
    c: &Ctx<'_>,
    world: &'w World,
    id: &str,
) -> Result<(Principal, &'w Stage), SandboxError> {
    let principal = c.require(world)?;
    match world.stages.get(id) {
        Some(s) if visible(world, &principal, &s.package) => Ok((principal, s)),
        _ => Err(SandboxError::not_found("No such staged publish.")),
    }
}

pub fn view(c: &Ctx<'_>, id: &str) -> Handled {
    let world = c.app.world();
    let (_, stage) = find(c, &world, id)?;
    Ok(http::ok(&stage_json(stage)))
}

pub fn tarball(c: &Ctx<'_>, id: &str) -> Handled {
    let world = c.app.world();
    let (_, stage) = find(c, &world, id)?;
    match world.blobs.get(&stage.integrity) {
        Some(blob) => Ok(octets(blob.0.as_ref().clone())),
        None => Err(SandboxError::not_found("The staged tarball is gone.")),
    }
}

/// Approve and reject: a person's session (never a token) with write access, plus 2FA.
fn approver(c: &Ctx<'_>, world: &World, id: &str) -> Result<(String, Stage), SandboxError> {
    let (principal, stage) = find(c, world, id)?;
    let Principal::Session { user } = &principal else {
        return Err(SandboxError::forbidden(
            "Staged publishes are approved or rejected by a person: log in (`npm login`) and confirm with 2FA. Tokens cannot approve.",
        ));
    };
    c.second_factor(world, user)?;
    Ok((user.clone(), stage.clone()))
}

pub fn approve(c: &Ctx<'_>, id: &str) -> Handled {
    let mut world = c.app.write();
    let (user, stage) = approver(c, &world, id)?;
    let publisher = crate::model::Publisher {
        name: stage.actor.clone(),
        email: if stage.actor_type == "oidc" {
            "npm-oidc-no-reply@github.com".to_owned()
        } else {
            world
                .users
                .get(&stage.actor)
                .map(|u| u.email.clone())
                .unwrap_or_default()
        },
        trusted_publisher: stage.trusted_publisher.clone(),
        approved_by: Some(user),
    };
    let tarball = world
        .blobs
        .get(&stage.integrity)
        .map(|b| b.0.as_ref().clone())
        .ok_or_else(|| SandboxError::not_found("The staged tarball is gone."))?;
    let up = registry::Upload {
        version: stage.version.clone(),
        manifest: stage.manifest.clone(),
        tarball,
        shasum: stage.shasum.clone(),
        integrity: stage.integrity.clone(),
        tags: [(stage.tag.clone(), stage.version.clone())]
            .into_iter()
            .collect(),
        public: stage.public,
    };
    registry::apply(&mut world, &stage.package, up, publisher)?;
    world.stages.remove(id);
    Ok(http::ok(
        &json!({"ok": true, "package": stage.package, "version": stage.version}),
    ))
}

pub fn reject(c: &Ctx<'_>, id: &str) -> Handled {
    let mut world = c.app.write();
    approver(c, &world, id)?;
    world.stages.remove(id);
    world.drop_unused_blobs();
    Ok(http::empty_ok())
}
