//! A subset of GitLab's REST API (below `/api/v4/`, as GitLab serves it): projects, their
//! environments and protected environments, project and group CI/CD variables (keys and
//! flags; values are never served, as for GitLab's hidden variables) and repository files.
//! Shapes follow `@gitbeaker/core` 43.8.0's schema types (`dist/index.d.ts`), which the
//! contract tests check responses against. `PRIVATE-TOKEN` (or bearer) auth; `page`/
//! `per_page` pagination with `x-next-page`, `x-total` and friends.

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clock::rfc3339;
use crate::error::{Handled, SandboxError};
use crate::gitlab::{GitLab, Project, ProtectedEnvironment, Variable, access_level_name};
use crate::router::Ctx;
use crate::{http, limits};

fn gl_error(status: StatusCode, message: &str) -> SandboxError {
    SandboxError::new(status, message)
}

fn not_found(what: &str) -> SandboxError {
    gl_error(StatusCode::NOT_FOUND, &format!("404 {what} Not Found"))
}

/// Routes below `/api/v4/`.
pub fn route(c: &Ctx<'_>, rest: &[&str]) -> Handled {
    {
        let world = c.app.world();
        let token = c
            .headers
            .get("private-token")
            .and_then(|v| v.to_str().ok())
            .or_else(|| http::bearer(c.headers));
        match token {
            Some(t) if !world.gitlab.token.is_empty() && t == world.gitlab.token => {}
            _ => return Err(gl_error(StatusCode::UNAUTHORIZED, "401 Unauthorized")),
        }
    }
    let decoded: Vec<String> = rest.iter().map(|s| http::decode(s)).collect();
    let r: Vec<&str> = decoded.iter().map(String::as_str).collect();
    use Method as M;
    match (c.method.clone(), r.as_slice()) {
        (M::GET, ["projects", id]) => read(c, id, |_, gl, p| Ok(http::ok(&project_json(gl, p)))),
        (M::GET, ["projects", id, "environments"]) => read(c, id, |c, _, p| {
            let items = p
                .environments
                .iter()
                .enumerate()
                .map(|(i, name)| environment_json(p, i, name))
                .collect();
            Ok(page(c, items))
        }),
        (M::GET, ["projects", id, "protected_environments"]) => read(c, id, |c, gl, p| {
            premium(gl)?;
            Ok(page(
                c,
                p.protected_environments
                    .iter()
                    .map(protected_json)
                    .collect(),
            ))
        }),
        (M::GET, ["projects", id, "protected_environments", name]) => read(c, id, |_, gl, p| {
            premium(gl)?;
            let pe = p
                .protected_environments
                .iter()
                .find(|e| e.name == *name)
                .ok_or_else(|| not_found("Protected environment"))?;
            Ok(http::ok(&protected_json(pe)))
        }),
        (M::POST, ["projects", id, "protected_environments"]) => protect(c, id),
        (M::DELETE, ["projects", id, "protected_environments", name]) => write(c, id, |gl, p| {
            premium(gl)?;
            remove(
                &mut p.protected_environments,
                |e| e.name == *name,
                "Protected environment",
            )
        }),
        (M::GET, ["projects", id, "variables"]) => read(c, id, |c, _, p| {
            Ok(page(c, p.variables.iter().map(variable_json).collect()))
        }),
        (M::POST, ["projects", id, "variables"]) => create_variable(c, id),
        (M::DELETE, ["projects", id, "variables", key]) => write(c, id, |_, p| {
            remove(&mut p.variables, |v| v.key == *key, "Variable")
        }),
        (M::GET, ["groups", group, "variables"]) => {
            let world = c.app.world();
            group_of(&world.gitlab, group)?;
            Ok(page(
                c,
                world.gitlab.variables.iter().map(variable_json).collect(),
            ))
        }
        (M::DELETE, ["groups", group, "variables", key]) => {
            let mut world = c.app.write();
            group_of(&world.gitlab, group)?;
            remove(&mut world.gitlab.variables, |v| v.key == *key, "Variable")
        }
        (M::GET, ["projects", id, "repository", "files", path]) => {
            read(c, id, |c, _, p| file(c, p, path))
        }
        _ => Err(gl_error(StatusCode::NOT_FOUND, "404 Not Found")),
    }
}

fn premium(gl: &GitLab) -> Result<(), SandboxError> {
    if gl.has_protected_environments() {
        Ok(())
    } else {
        // What gitlab.com answers for a Premium feature on a Free-tier namespace.
        Err(gl_error(StatusCode::FORBIDDEN, "403 Forbidden"))
    }
}

fn group_of(gl: &GitLab, group: &str) -> Result<(), SandboxError> {
    if gl.group == group || gl.group_id.to_string() == group {
        Ok(())
    } else {
        Err(not_found("Group"))
    }
}

fn read(c: &Ctx<'_>, id: &str, f: impl FnOnce(&Ctx<'_>, &GitLab, &Project) -> Handled) -> Handled {
    let world = c.app.world();
    let p = world
        .gitlab
        .project(id)
        .ok_or_else(|| not_found("Project"))?;
    f(c, &world.gitlab, p)
}

fn write(c: &Ctx<'_>, id: &str, f: impl FnOnce(&GitLab, &mut Project) -> Handled) -> Handled {
    let mut world = c.app.write();
    let gl = world.gitlab.clone();
    let p = world
        .gitlab
        .project_mut(id)
        .ok_or_else(|| not_found("Project"))?;
    f(&gl, p)
}

fn remove<T>(items: &mut Vec<T>, matches: impl Fn(&T) -> bool, what: &str) -> Handled {
    if http::remove_matching(items, matches) {
        Ok(http::no_content())
    } else {
        Err(not_found(what))
    }
}

/// One page as GitLab's offset pagination answers it (a bare JSON array plus headers).
fn page(c: &Ctx<'_>, items: Vec<Value>) -> Response {
    let per_page = http::query_param(c.query, "per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 100);
    let page = http::query_param(c.query, "page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total = items.len();
    let pages = total.div_ceil(per_page).max(1);
    let shown: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    let mut resp = http::ok(&Value::Array(shown));
    let next = if page < pages {
        (page + 1).to_string()
    } else {
        String::new()
    };
    let prev = if page > 1 {
        (page - 1).to_string()
    } else {
        String::new()
    };
    for (name, value) in [
        ("x-page", page.to_string()),
        ("x-per-page", per_page.to_string()),
        ("x-next-page", next),
        ("x-prev-page", prev),
        ("x-total", total.to_string()),
        ("x-total-pages", pages.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
    resp
}

fn project_json(gl: &GitLab, p: &Project) -> Value {
    let web = format!("https://gitlab.com/{}", p.path_with_namespace);
    json!({
        "id": p.id,
        "name": p.name(),
        "path": p.name(),
        "name_with_namespace": p.path_with_namespace.replace('/', " / "),
        "path_with_namespace": p.path_with_namespace,
        "description": null,
        "description_html": "",
        "created_at": rfc3339(0),
        "last_activity_at": rfc3339(0),
        "default_branch": p.default_branch,
        "topics": [],
        "ssh_url_to_repo": format!("git@gitlab.com:{}.git", p.path_with_namespace),
        "http_url_to_repo": format!("{web}.git"),
        "web_url": web,
        "readme_url": null,
        "avatar_url": null,
        "forks_count": 0,
        "star_count": 0,
        "visibility": "public",
        "empty_repo": p.files.is_empty(),
        "namespace": {
            "id": gl.group_id,
            "name": p.namespace(),
            "path": p.namespace().rsplit('/').next().unwrap_or_default(),
            "kind": "group",
            "full_path": p.namespace(),
            "avatar_url": null,
            "web_url": format!("https://gitlab.com/groups/{}", p.namespace()),
        },
    })
}

fn environment_json(p: &Project, i: usize, name: &str) -> Value {
    json!({
        "id": p.id * 1000 + i as u64,
        "name": name,
        "slug": name.to_ascii_lowercase().replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
        "external_url": "",
        "state": "available",
        "tier": if name.contains("prod") || name == "npm" { "production" } else { "other" },
        "created_at": rfc3339(0),
        "updated_at": rfc3339(0),
        "auto_stop_at": null,
    })
}

fn protected_json(e: &ProtectedEnvironment) -> Value {
    json!({
        "name": e.name,
        "deploy_access_levels": [{
            "id": 1,
            "access_level": e.deploy_access_level,
            "access_level_description": access_level_name(e.deploy_access_level),
            "user_id": null,
            "group_id": null,
            "group_inheritance_type": 0,
        }],
        "required_approval_count": e.required_approval_count,
        "approval_rules": [],
    })
}

#[derive(Deserialize)]
struct VariableBody {
    key: String,
    value: String,
    #[serde(default)]
    protected: bool,
    #[serde(default)]
    masked: bool,
    #[serde(default)]
    environment_scope: Option<String>,
}

/// `POST /projects/:id/variables`: 201 with the variable (its value not served back).
fn create_variable(c: &Ctx<'_>, id: &str) -> Handled {
    let body: VariableBody = http::parse(c.body)?;
    limits::text("key", &body.key, limits::NAME)?;
    limits::text("value", &body.value, 64 * 1024)?;
    if body.key.is_empty()
        || !body
            .key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(SandboxError::new(
            StatusCode::BAD_REQUEST,
            "key can contain only letters, digits and '_'.",
        ));
    }
    let scope = body.environment_scope.unwrap_or_else(|| "*".into());
    write(c, id, |_, p| {
        if p.variables
            .iter()
            .any(|v| v.key == body.key && v.environment_scope == scope)
        {
            return Err(SandboxError::new(
                StatusCode::BAD_REQUEST,
                format!("{} has already been taken", body.key),
            ));
        }
        let v = Variable {
            key: body.key,
            value: body.value,
            protected: body.protected,
            masked: body.masked,
            environment_scope: scope,
        };
        let doc = variable_json(&v);
        p.variables.push(v);
        Ok(http::created(&doc))
    })
}

fn variable_json(v: &Variable) -> Value {
    json!({
        "key": v.key,
        "variable_type": "env_var",
        "value": null,
        "protected": v.protected,
        "masked": v.masked,
        "hidden": true,
        "raw": false,
        "environment_scope": v.environment_scope,
        "description": null,
    })
}

fn file(c: &Ctx<'_>, p: &Project, path: &str) -> Handled {
    let text = p.files.get(path).ok_or_else(|| not_found("File"))?;
    let git_ref = http::query_param(c.query, "ref").unwrap_or_else(|| p.default_branch.clone());
    let blob = crate::ids::stable_uuid("blob", text).replace('-', "");
    let commit = crate::ids::stable_uuid("commit", &p.path_with_namespace).replace('-', "");
    let sha256 = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    Ok(http::ok(&json!({
        "file_name": path.rsplit('/').next().unwrap_or(path),
        "file_path": path,
        "size": text.len(),
        "encoding": "base64",
        "content": base64::engine::general_purpose::STANDARD.encode(text),
        "content_sha256": sha256.as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "ref": git_ref,
        "blob_id": blob,
        "commit_id": commit,
        "last_commit_id": commit,
    })))
}

#[derive(Debug, Deserialize)]
struct ProtectBody {
    name: String,
    deploy_access_levels: Vec<AccessLevelBody>,
    #[serde(default)]
    required_approval_count: u32,
}

#[derive(Debug, Deserialize)]
struct AccessLevelBody {
    access_level: Option<u32>,
}

fn protect(c: &Ctx<'_>, id: &str) -> Handled {
    let body: ProtectBody = http::parse(c.body)?;
    limits::text("name", &body.name, limits::NAME)?;
    let level = body
        .deploy_access_levels
        .iter()
        .filter_map(|l| l.access_level)
        .min()
        .ok_or_else(|| {
            gl_error(
                StatusCode::BAD_REQUEST,
                "400 Bad request - deploy_access_levels is missing",
            )
        })?;
    if ![30, 40, 60].contains(&level) {
        return Err(gl_error(
            StatusCode::BAD_REQUEST,
            "400 Bad request - access_level does not have a valid value",
        ));
    }
    write(c, id, |gl, p| {
        premium(gl)?;
        if p.protected_environments.iter().any(|e| e.name == body.name) {
            return Err(gl_error(
                StatusCode::CONFLICT,
                "409 Conflict: Protected environment already exists",
            ));
        }
        limits::room(
            "protected environments",
            p.protected_environments.len(),
            limits::RESTRICTIONS,
        )?;
        let pe = ProtectedEnvironment {
            name: body.name,
            deploy_access_level: level,
            required_approval_count: body.required_approval_count,
        };
        let out = protected_json(&pe);
        if !p.environments.contains(&pe.name) {
            p.environments.push(pe.name.clone());
        }
        p.protected_environments.push(pe);
        Ok(http::created(&out))
    })
}
