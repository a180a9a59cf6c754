//! CircleCI API v2 (below `/api/v2/`): contexts with their restrictions and environment
//! variable names, projects, project variables, pipeline definitions, pipelines and the
//! configuration each pipeline ran. Values of variables are never returned (masked as
//! CircleCI does). Errors are `{"message": …}` as CircleCI's.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clock::{now_secs, rfc3339};
use crate::error::{Handled, SandboxError};
use crate::model::{Context, EnvVar, Pipeline, Project, Restriction, World};
use crate::router::Ctx;
use crate::{http, limits};

fn msg(status: StatusCode, m: impl Into<String>) -> SandboxError {
    SandboxError::new(status, m)
}

fn not_found(what: &str) -> SandboxError {
    msg(StatusCode::NOT_FOUND, format!("{what} not found."))
}

fn page(items: Vec<Value>) -> Response {
    http::ok(&json!({"items": items, "next_page_token": null}))
}

pub fn route(c: &Ctx<'_>, rest: &[&str]) -> Handled {
    use Method as M;
    // A personal API token in `Circle-Token`, as CircleCI takes it.
    let given = c.headers.get("circle-token").and_then(|v| v.to_str().ok());
    if given != Some(c.app.world().circleci.token.as_str()) {
        return Err(msg(StatusCode::UNAUTHORIZED, "You must log in first."));
    }
    let m = c.method.clone();
    let decoded: Vec<String> = rest.iter().map(|s| http::decode(s)).collect();
    let r: Vec<&str> = decoded.iter().map(String::as_str).collect();
    match (m, r.as_slice()) {
        (M::GET, ["context"]) => list_contexts(c),
        (M::POST, ["context"]) => create_context(c),
        (M::GET, ["context", id]) => with_context(c, id, |_, ctx| http::ok(&context_json(ctx))),
        (M::DELETE, ["context", id]) => delete_context(c, id),
        (M::GET, ["context", id, "environment-variable"]) => with_context(c, id, |_, ctx| {
            page(ctx.env.iter().map(|e| context_var(ctx, e)).collect())
        }),
        (M::PUT, ["context", id, "environment-variable", name]) => put_context_var(c, id, name),
        (M::DELETE, ["context", id, "environment-variable", name]) => {
            delete_context_var(c, id, name)
        }
        (M::GET, ["context", id, "restrictions"]) => with_context(c, id, |_, ctx| {
            page(
                ctx.restrictions
                    .iter()
                    .map(|r| restriction_json(ctx, r))
                    .collect(),
            )
        }),
        (M::POST, ["context", id, "restrictions"]) => create_restriction(c, id),
        (M::DELETE, ["context", id, "restrictions", rid]) => delete_restriction(c, id, rid),
        (M::GET, ["project", a, b, p]) => with_project(c, &format!("{a}/{b}/{p}"), |w, p| {
            http::ok(&project_json(w, p))
        }),
        (M::GET, ["project", a, b, p, "envvar"]) => {
            with_project(c, &format!("{a}/{b}/{p}"), |_, p| {
                page(p.env.iter().map(project_var).collect())
            })
        }
        (M::POST, ["project", a, b, p, "envvar"]) => put_project_var(c, &format!("{a}/{b}/{p}")),
        (M::DELETE, ["project", a, b, p, "envvar", name]) => {
            delete_project_var(c, &format!("{a}/{b}/{p}"), name)
        }
        (M::GET, ["project", a, b, p, "pipeline"]) => {
            with_project(c, &format!("{a}/{b}/{p}"), |w, p| {
                page(
                    p.pipelines
                        .iter()
                        .rev()
                        .map(|pl| pipeline_json(w, p, pl))
                        .collect(),
                )
            })
        }
        (M::GET, ["projects", id, "pipeline-definitions"]) => {
            let world = c.app.world();
            match world.circleci.projects.iter().find(|p| p.id == *id) {
                Some(p) => Ok(page(vec![definition_json(p)])),
                None => Err(not_found("Project")),
            }
        }
        (M::GET, ["pipeline", id]) => {
            with_pipeline(c, id, |w, p, pl| http::ok(&pipeline_json(w, p, pl)))
        }
        (M::GET, ["pipeline", id, "config"]) => with_pipeline(c, id, |_, _, pl| {
            http::ok(&json!({
                "source": pl.config,
                "compiled": pl.config,
                "setup-config": pl.setup_config,
                "compiled-setup-config": pl.setup_config,
            }))
        }),
        _ => Err(not_found("Endpoint")),
    }
}

fn with_context(c: &Ctx<'_>, id: &str, f: impl FnOnce(&World, &Context) -> Response) -> Handled {
    let world = c.app.world();
    match world.circleci.contexts.iter().find(|x| x.id == id) {
        Some(ctx) => Ok(f(&world, ctx)),
        None => Err(not_found("Context")),
    }
}

fn with_project(c: &Ctx<'_>, slug: &str, f: impl FnOnce(&World, &Project) -> Response) -> Handled {
    let world = c.app.world();
    let slug = slug.replacen("github/", "gh/", 1);
    match world.circleci.projects.iter().find(|p| p.slug == slug) {
        Some(p) => Ok(f(&world, p)),
        None => Err(not_found("Project")),
    }
}

fn with_pipeline(
    c: &Ctx<'_>,
    id: &str,
    f: impl FnOnce(&World, &Project, &Pipeline) -> Response,
) -> Handled {
    let world = c.app.world();
    for p in &world.circleci.projects {
        if let Some(pl) = p.pipelines.iter().find(|pl| pl.id == id) {
            return Ok(f(&world, p, pl));
        }
    }
    Err(not_found("Pipeline"))
}

fn context_json(ctx: &Context) -> Value {
    json!({
        "id": ctx.id,
        "name": ctx.name,
        "created_at": rfc3339(ctx.created),
        "environment_variables": ctx.env.iter().map(|e| context_var(ctx, e)).collect::<Vec<_>>(),
        "restrictions": ctx.restrictions.iter().map(|r| restriction_json(ctx, r)).collect::<Vec<_>>(),
    })
}

fn context_var(ctx: &Context, e: &EnvVar) -> Value {
    json!({
        "variable": e.name,
        "created_at": rfc3339(e.created),
        "updated_at": rfc3339(e.created),
        "context_id": ctx.id,
    })
}

fn restriction_json(ctx: &Context, r: &Restriction) -> Value {
    json!({
        "id": r.id,
        "context_id": ctx.id,
        "name": r.name,
        "restriction_type": r.restriction_type,
        "restriction_value": r.restriction_value,
    })
}

fn masked(value: &str) -> String {
    let tail: String = value
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("xxxx{tail}")
}

fn project_var(e: &EnvVar) -> Value {
    json!({"name": e.name, "value": masked(&e.value), "created_at": rfc3339(e.created)})
}

fn project_json(world: &World, p: &Project) -> Value {
    let repo = p
        .vcs_origin
        .split_once('/')
        .map(|x| x.1)
        .unwrap_or_default();
    json!({
        "id": p.id,
        "slug": p.slug,
        "name": p.name,
        "organization_name": world.org,
        "organization_slug": world.circleci.org_slug,
        "organization_id": world.circleci.org_id,
        "vcs_info": {
            "vcs_url": format!("https://{}", p.vcs_origin),
            "provider": "GitHub",
            "default_branch": "main",
        },
        "vcs_origin": p.vcs_origin,
        "repository": repo,
    })
}

fn definition_json(p: &Project) -> Value {
    let repo = p
        .vcs_origin
        .split_once('/')
        .map(|x| x.1)
        .unwrap_or_default();
    json!({
        "id": p.pipeline_definition_id,
        "name": "Build and release",
        "description": "",
        "config_source": {"provider": "github_app", "repo": {"full_name": repo}, "file_path": ".circleci/config.yml"},
        "checkout_source": {"provider": "github_app", "repo": {"full_name": repo}},
        "created_at": rfc3339(0),
    })
}

fn pipeline_json(world: &World, p: &Project, pl: &Pipeline) -> Value {
    json!({
        "id": pl.id,
        "errors": [],
        "project_slug": p.slug,
        "number": pl.number,
        "state": "created",
        "created_at": rfc3339(pl.created),
        "updated_at": rfc3339(pl.created),
        "trigger": {"type": "webhook", "received_at": rfc3339(pl.created), "actor": {"login": world.org, "avatar_url": null}},
        "vcs": {
            "provider_name": "GitHub",
            "origin_repository_url": format!("https://{}", p.vcs_origin),
            "target_repository_url": format!("https://{}", p.vcs_origin),
            "revision": pl.revision,
            "branch": pl.branch,
            "tag": pl.tag,
        },
        "pipeline_definition_id": p.pipeline_definition_id,
    })
}

fn list_contexts(c: &Ctx<'_>) -> Handled {
    let world = c.app.world();
    let owner_id = http::query_param(c.query, "owner-id");
    let owner_slug = http::query_param(c.query, "owner-slug");
    let ours = owner_id.as_deref() == Some(world.circleci.org_id.as_str())
        || owner_slug
            .as_deref()
            .is_some_and(|s| s.replacen("github/", "gh/", 1) == world.circleci.org_slug);
    if owner_id.is_none() && owner_slug.is_none() {
        return Err(msg(
            StatusCode::BAD_REQUEST,
            "owner-id or owner-slug is required.",
        ));
    }
    if !ours {
        return Err(not_found("Organization"));
    }
    Ok(page(
        world
            .circleci
            .contexts
            .iter()
            .map(|x| json!({"id": x.id, "name": x.name, "created_at": rfc3339(x.created)}))
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
struct NewContext {
    name: String,
    owner: Owner,
}

#[derive(Debug, Deserialize)]
struct Owner {
    id: Option<String>,
    slug: Option<String>,
}

fn parse<T: serde::de::DeserializeOwned>(c: &Ctx<'_>) -> Result<T, SandboxError> {
    serde_json::from_slice(c.body)
        .map_err(|e| msg(StatusCode::BAD_REQUEST, format!("malformed JSON body: {e}")))
}

fn create_context(c: &Ctx<'_>) -> Handled {
    let body: NewContext = parse(c)?;
    let mut world = c.app.write();
    let ours = body.owner.id.as_deref() == Some(world.circleci.org_id.as_str())
        || body
            .owner
            .slug
            .as_deref()
            .is_some_and(|s| s.replacen("github/", "gh/", 1) == world.circleci.org_slug);
    if !ours {
        return Err(not_found("Organization"));
    }
    limits::text("context name", &body.name, limits::NAME)?;
    limits::room("contexts", world.circleci.contexts.len(), limits::CONTEXTS)?;
    if body.name.trim().is_empty() || world.circleci.contexts.iter().any(|x| x.name == body.name) {
        return Err(msg(
            StatusCode::BAD_REQUEST,
            "A context needs a unique, non-empty name.",
        ));
    }
    let ctx = Context {
        id: crate::ids::random_uuid(),
        name: body.name,
        created: now_secs(),
        env: Vec::new(),
        restrictions: Vec::new(),
    };
    let out = json!({"id": ctx.id, "name": ctx.name, "created_at": rfc3339(ctx.created)});
    world.circleci.contexts.push(ctx);
    Ok(http::ok(&out))
}

fn delete_context(c: &Ctx<'_>, id: &str) -> Handled {
    let mut world = c.app.write();
    let before = world.circleci.contexts.len();
    world.circleci.contexts.retain(|x| x.id != id);
    if world.circleci.contexts.len() == before {
        return Err(not_found("Context"));
    }
    Ok(http::ok(&json!({"message": "Context deleted."})))
}

#[derive(Debug, Deserialize)]
struct Value_ {
    value: String,
}

fn valid_var_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 256
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit()
}

fn put_context_var(c: &Ctx<'_>, id: &str, name: &str) -> Handled {
    let body: Value_ = parse(c)?;
    if !valid_var_name(name) {
        return Err(msg(
            StatusCode::BAD_REQUEST,
            format!("Invalid environment variable name {name:?}."),
        ));
    }
    limits::text("value", &body.value, limits::VALUE)?;
    let mut world = c.app.write();
    let Some(ctx) = world.circleci.contexts.iter_mut().find(|x| x.id == id) else {
        return Err(not_found("Context"));
    };
    ctx.env.retain(|e| e.name != name);
    limits::room("environment variables", ctx.env.len(), limits::VARIABLES)?;
    ctx.env.push(EnvVar {
        name: name.to_owned(),
        value: body.value,
        created: now_secs(),
    });
    let out = ctx
        .env
        .last()
        .map(|e| context_var(ctx, e))
        .unwrap_or_default();
    Ok(http::ok(&out))
}

fn delete_context_var(c: &Ctx<'_>, id: &str, name: &str) -> Handled {
    let mut world = c.app.write();
    let Some(ctx) = world.circleci.contexts.iter_mut().find(|x| x.id == id) else {
        return Err(not_found("Context"));
    };
    remove(&mut ctx.env, |e| e.name == name, "Environment variable")
}

/// Removes the items `matches` selects: `{"message": "<what> deleted."}`, or 404 naming
/// `what` when there was none.
fn remove<T>(items: &mut Vec<T>, matches: impl Fn(&T) -> bool, what: &str) -> Handled {
    if !http::remove_matching(items, matches) {
        return Err(not_found(what));
    }
    Ok(http::ok(&json!({"message": format!("{what} deleted.")})))
}

#[derive(Debug, Deserialize)]
struct NewRestriction {
    restriction_type: String,
    restriction_value: String,
}

fn create_restriction(c: &Ctx<'_>, id: &str) -> Handled {
    let body: NewRestriction = parse(c)?;
    limits::text("restriction_value", &body.restriction_value, limits::VALUE)?;
    let mut world = c.app.write();
    let valid = match body.restriction_type.as_str() {
        "expression" => crate::restrictions::validate_expression(&body.restriction_value),
        "project" => {
            if world
                .circleci
                .projects
                .iter()
                .any(|p| p.id == body.restriction_value)
            {
                Ok(())
            } else {
                Err(format!("project {} does not exist", body.restriction_value))
            }
        }
        "group" => Ok(()),
        other => Err(format!(
            "unknown restriction_type {other:?} (expression, project, group)"
        )),
    };
    if let Err(why) = valid {
        return Err(msg(
            StatusCode::BAD_REQUEST,
            format!("Invalid restriction: {why}."),
        ));
    }
    let Some(ctx) = world.circleci.contexts.iter_mut().find(|x| x.id == id) else {
        return Err(not_found("Context"));
    };
    limits::room("restrictions", ctx.restrictions.len(), limits::RESTRICTIONS)?;
    let r = Restriction {
        id: crate::ids::random_uuid(),
        name: body.restriction_value.clone(),
        restriction_type: body.restriction_type,
        restriction_value: body.restriction_value,
    };
    let out = restriction_json(ctx, &r);
    ctx.restrictions.push(r);
    Ok(http::json(StatusCode::CREATED, &out))
}

fn delete_restriction(c: &Ctx<'_>, id: &str, rid: &str) -> Handled {
    let mut world = c.app.write();
    let Some(ctx) = world.circleci.contexts.iter_mut().find(|x| x.id == id) else {
        return Err(not_found("Context"));
    };
    remove(
        &mut ctx.restrictions,
        |r| r.id == rid,
        "Context restriction",
    )
}

#[derive(Debug, Deserialize)]
struct NewVar {
    name: String,
    value: String,
}

fn put_project_var(c: &Ctx<'_>, slug: &str) -> Handled {
    let body: NewVar = parse(c)?;
    limits::text("value", &body.value, limits::VALUE)?;
    if !valid_var_name(&body.name) {
        return Err(msg(
            StatusCode::BAD_REQUEST,
            format!("Invalid environment variable name {:?}.", body.name),
        ));
    }
    let mut world = c.app.write();
    let slug = slug.replacen("github/", "gh/", 1);
    let Some(p) = world.circleci.projects.iter_mut().find(|p| p.slug == slug) else {
        return Err(not_found("Project"));
    };
    p.env.retain(|e| e.name != body.name);
    limits::room("environment variables", p.env.len(), limits::VARIABLES)?;
    let var = EnvVar {
        name: body.name,
        value: body.value,
        created: now_secs(),
    };
    let out = project_var(&var);
    p.env.push(var);
    Ok(http::json(StatusCode::CREATED, &out))
}

fn delete_project_var(c: &Ctx<'_>, slug: &str, name: &str) -> Handled {
    let mut world = c.app.write();
    let slug = slug.replacen("github/", "gh/", 1);
    let Some(p) = world.circleci.projects.iter_mut().find(|p| p.slug == slug) else {
        return Err(not_found("Project"));
    };
    remove(&mut p.env, |e| e.name == name, "Environment variable")
}
