//! A subset of GitHub's REST API (below `/api/v3/`, where GitHub Enterprise Server serves it):
//! repositories, deployment environments and their branch policies, Actions secrets (names
//! only) and variables at repository, environment and organisation level, the OIDC subject
//! customisation, and file contents. Shapes follow GitHub's OpenAPI description
//! (`@octokit/openapi` 23.0.2, `generated/api.github.com.json`); the contract tests validate
//! responses against it. Bearer-token auth, `per_page`/`page` pagination with `Link`
//! headers, `x-ratelimit-*` headers and 403 once the hourly budget is spent.

use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clock::{now_secs, rfc3339};
use crate::error::{Handled, SandboxError};
use crate::github::{BranchPolicy, BranchPolicySettings, Environment, GitHub, RefKind, Repo};
use crate::router::Ctx;
use crate::{http, limits};

const DOCS: &str = "https://docs.github.com/rest";

fn gh_error(status: StatusCode, message: &str) -> SandboxError {
    SandboxError::new(status, message).with_fields(json!({
        "documentation_url": DOCS,
        "status": status.as_u16().to_string(),
    }))
}

fn not_found() -> SandboxError {
    gh_error(StatusCode::NOT_FOUND, "Not Found")
}

/// Routes below `/api/v3/`.
pub fn route(c: &Ctx<'_>, rest: &[&str]) -> Handled {
    let limit = {
        let world = c.app.world();
        let expected = &world.github.token;
        match http::bearer(c.headers) {
            Some(t) if !expected.is_empty() && t == expected => world.github.rate_limit,
            _ => return Err(gh_error(StatusCode::UNAUTHORIZED, "Bad credentials")),
        }
    };
    let budget = c.app.spend_github_request(limit);
    if budget.exceeded() {
        let mut err = gh_error(
            StatusCode::FORBIDDEN,
            "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID.",
        );
        for (name, value) in budget.headers() {
            err = err.with_header(axum::http::HeaderName::from_static(name), &value);
        }
        return Err(err);
    }
    let decoded: Vec<String> = rest.iter().map(|s| http::decode(s)).collect();
    let r: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let mut resp = dispatch(c, &r)?;
    for (name, value) in budget.headers() {
        if let Ok(v) = HeaderValue::from_str(&value) {
            resp.headers_mut().insert(name, v);
        }
    }
    Ok(resp)
}

fn dispatch(c: &Ctx<'_>, r: &[&str]) -> Handled {
    use Method as M;
    match (c.method.clone(), r) {
        (M::GET, ["repos", o, n]) => read(c, o, n, |_, repo| Ok(http::ok(&repo_json(repo)))),
        (M::GET, ["repos", o, n, "environments"]) => read(c, o, n, |c, repo| {
            let items: Vec<Value> = repo
                .environments
                .iter()
                .map(|e| env_json(repo, e))
                .collect();
            Ok(page(c, "environments", items))
        }),
        (M::GET, ["repos", o, n, "environments", env]) => read(c, o, n, |_, repo| {
            let e = repo.environment(env).ok_or_else(not_found)?;
            Ok(http::ok(&env_json(repo, e)))
        }),
        (M::PUT, ["repos", o, n, "environments", env]) => put_environment(c, o, n, env),
        (M::DELETE, ["repos", o, n, "environments", env]) => write(c, o, n, |repo| {
            let before = repo.environments.len();
            repo.environments
                .retain(|e| !e.name.eq_ignore_ascii_case(env));
            if repo.environments.len() == before {
                return Err(not_found());
            }
            Ok(http::no_content())
        }),
        (
            M::GET,
            [
                "repos",
                o,
                n,
                "environments",
                env,
                "deployment-branch-policies",
            ],
        ) => read(c, o, n, |c, repo| {
            let e = repo.environment(env).ok_or_else(not_found)?;
            let items: Vec<Value> = e.policies.iter().map(policy_json).collect();
            Ok(page(c, "branch_policies", items))
        }),
        (
            M::POST,
            [
                "repos",
                o,
                n,
                "environments",
                env,
                "deployment-branch-policies",
            ],
        ) => create_policy(c, o, n, env),
        (
            M::DELETE,
            [
                "repos",
                o,
                n,
                "environments",
                env,
                "deployment-branch-policies",
                id,
            ],
        ) => write(c, o, n, |repo| {
            let e = env_mut(repo, env)?;
            let before = e.policies.len();
            e.policies.retain(|p| p.id.to_string() != *id);
            if e.policies.len() == before {
                return Err(not_found());
            }
            Ok(http::no_content())
        }),
        (M::GET, ["repos", o, n, "actions", "secrets"]) => {
            read(c, o, n, |c, repo| Ok(secrets_page(c, &repo.secrets, None)))
        }
        (M::GET, ["repos", o, n, "actions", "secrets", "public-key"]) => {
            read(c, o, n, |_, _| Ok(http::ok(&public_key())))
        }
        (M::PUT, ["repos", o, n, "actions", "secrets", name]) => put_secret(c, o, n, name),
        (M::DELETE, ["repos", o, n, "actions", "secrets", name]) => write(c, o, n, |repo| {
            remove(&mut repo.secrets, |s| s.name == *name)
        }),
        (M::GET, ["repos", o, n, "environments", env, "secrets"]) => read(c, o, n, |c, repo| {
            let e = repo.environment(env).ok_or_else(not_found)?;
            Ok(secrets_page(c, &e.secrets, None))
        }),
        (M::DELETE, ["repos", o, n, "environments", env, "secrets", name]) => {
            write(c, o, n, |repo| {
                remove(&mut env_mut(repo, env)?.secrets, |s| s.name == *name)
            })
        }
        (M::GET, ["repos", o, n, "actions", "variables"]) => read(c, o, n, |c, repo| {
            Ok(variables_page(c, &repo.variables, None))
        }),
        (M::DELETE, ["repos", o, n, "actions", "variables", name]) => write(c, o, n, |repo| {
            remove(&mut repo.variables, |v| v.name == *name)
        }),
        (M::GET, ["repos", o, n, "environments", env, "variables"]) => read(c, o, n, |c, repo| {
            let e = repo.environment(env).ok_or_else(not_found)?;
            Ok(variables_page(c, &e.variables, None))
        }),
        (M::DELETE, ["repos", o, n, "environments", env, "variables", name]) => {
            write(c, o, n, |repo| {
                remove(&mut env_mut(repo, env)?.variables, |v| v.name == *name)
            })
        }
        (M::GET, ["repos", o, n, "actions", "oidc", "customization", "sub"]) => {
            read(c, o, n, |_, repo| Ok(http::ok(&json!(repo.oidc_sub))))
        }
        (M::GET, ["repos", o, n, "contents", path @ ..]) if !path.is_empty() => {
            let path = path.join("/");
            read(c, o, n, |_, repo| contents(repo, &path))
        }
        (M::GET, ["orgs", org, "actions", "secrets"]) => {
            let world = c.app.world();
            org_of(&world.github, org)?;
            Ok(secrets_page(c, &world.github.org_secrets, Some("private")))
        }
        (M::DELETE, ["orgs", org, "actions", "secrets", name]) => {
            let mut world = c.app.write();
            org_of(&world.github, org)?;
            remove(&mut world.github.org_secrets, |s| s.name == *name)
        }
        (M::GET, ["orgs", org, "actions", "variables"]) => {
            let world = c.app.world();
            org_of(&world.github, org)?;
            Ok(variables_page(
                c,
                &world.github.org_variables,
                Some("private"),
            ))
        }
        (M::DELETE, ["orgs", org, "actions", "variables", name]) => {
            let mut world = c.app.write();
            org_of(&world.github, org)?;
            remove(&mut world.github.org_variables, |v| v.name == *name)
        }
        _ => Err(not_found()),
    }
}

fn org_of(gh: &GitHub, org: &str) -> Result<(), SandboxError> {
    if gh.org.eq_ignore_ascii_case(org) {
        Ok(())
    } else {
        Err(not_found())
    }
}

fn read(
    c: &Ctx<'_>,
    owner: &str,
    name: &str,
    f: impl FnOnce(&Ctx<'_>, &Repo) -> Handled,
) -> Handled {
    let world = c.app.world();
    let repo = world.github.repo(owner, name).ok_or_else(not_found)?;
    f(c, repo)
}

fn write(c: &Ctx<'_>, owner: &str, name: &str, f: impl FnOnce(&mut Repo) -> Handled) -> Handled {
    let mut world = c.app.write();
    let repo = world.github.repo_mut(owner, name).ok_or_else(not_found)?;
    f(repo)
}

fn env_mut<'a>(repo: &'a mut Repo, name: &str) -> Result<&'a mut Environment, SandboxError> {
    repo.environments
        .iter_mut()
        .find(|e| e.name.eq_ignore_ascii_case(name))
        .ok_or_else(not_found)
}

fn remove<T>(items: &mut Vec<T>, matches: impl Fn(&T) -> bool) -> Handled {
    if http::remove_matching(items, matches) {
        Ok(http::no_content())
    } else {
        Err(not_found())
    }
}

/// `…/repos/<full>/<suffix>` link fields every repository document carries.
const REPO_LINKS: &[(&str, &str)] = &[
    ("archive_url", "{archive_format}{/ref}"),
    ("assignees_url", "assignees{/user}"),
    ("blobs_url", "git/blobs{/sha}"),
    ("branches_url", "branches{/branch}"),
    ("collaborators_url", "collaborators{/collaborator}"),
    ("comments_url", "comments{/number}"),
    ("commits_url", "commits{/sha}"),
    ("compare_url", "compare/{base}...{head}"),
    ("contents_url", "contents/{+path}"),
    ("contributors_url", "contributors"),
    ("deployments_url", "deployments"),
    ("downloads_url", "downloads"),
    ("events_url", "events"),
    ("forks_url", "forks"),
    ("git_commits_url", "git/commits{/sha}"),
    ("git_refs_url", "git/refs{/sha}"),
    ("git_tags_url", "git/tags{/sha}"),
    ("hooks_url", "hooks"),
    ("issue_comment_url", "issues/comments{/number}"),
    ("issue_events_url", "issues/events{/number}"),
    ("issues_url", "issues{/number}"),
    ("keys_url", "keys{/key_id}"),
    ("labels_url", "labels{/name}"),
    ("languages_url", "languages"),
    ("merges_url", "merges"),
    ("milestones_url", "milestones{/number}"),
    (
        "notifications_url",
        "notifications{?since,all,participating}",
    ),
    ("pulls_url", "pulls{/number}"),
    ("releases_url", "releases{/id}"),
    ("stargazers_url", "stargazers"),
    ("statuses_url", "statuses/{sha}"),
    ("subscribers_url", "subscribers"),
    ("subscription_url", "subscription"),
    ("tags_url", "tags"),
    ("teams_url", "teams"),
    ("trees_url", "git/trees{/sha}"),
];

/// A user or organisation as GitHub's `simple-user` shapes it.
fn account_json(login: &str, kind: &str) -> Value {
    let api = format!("https://api.github.com/users/{login}");
    json!({
        "login": login, "id": 1, "node_id": format!("U_{login}"), "type": kind, "site_admin": false,
        "avatar_url": format!("https://avatars.githubusercontent.com/{login}"), "gravatar_id": "",
        "url": api, "html_url": format!("https://github.com/{login}"),
        "events_url": format!("{api}/events{{/privacy}}"), "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"), "gists_url": format!("{api}/gists{{/gist_id}}"),
        "organizations_url": format!("{api}/orgs"), "received_events_url": format!("{api}/received_events"),
        "repos_url": format!("{api}/repos"), "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
    })
}

fn repo_json(repo: &Repo) -> Value {
    let full = repo.full_name();
    let api = format!("https://api.github.com/repos/{full}");
    let html = format!("https://github.com/{full}");
    let mut doc = json!({
        "id": repo.id,
        "node_id": format!("R_{}", repo.id),
        "name": repo.name,
        "full_name": full,
        "private": repo.private,
        "visibility": if repo.private { "private" } else { "public" },
        "owner": account_json(&repo.owner, "Organization"),
        "html_url": html,
        "url": api,
        "description": null, "homepage": null, "language": null, "mirror_url": null, "license": null,
        "fork": false, "archived": false, "disabled": false,
        "clone_url": format!("{html}.git"), "git_url": format!("git://github.com/{full}.git"),
        "ssh_url": format!("git@github.com:{full}.git"), "svn_url": html,
        "default_branch": repo.default_branch,
        "has_issues": true, "has_projects": false, "has_wiki": false, "has_pages": false, "has_discussions": false,
        "forks": 0, "forks_count": 0, "open_issues": 0, "open_issues_count": 0, "size": 0,
        "stargazers_count": 0, "watchers": 0, "watchers_count": 0, "network_count": 0, "subscribers_count": 0,
        "pushed_at": rfc3339(0), "created_at": rfc3339(0), "updated_at": rfc3339(0),
    });
    if let Some(obj) = doc.as_object_mut() {
        for (key, suffix) in REPO_LINKS {
            obj.insert((*key).into(), json!(format!("{api}/{suffix}")));
        }
    }
    doc
}

fn env_json(repo: &Repo, e: &Environment) -> Value {
    let full = repo.full_name();
    let mut rules = Vec::new();
    if e.wait_timer > 0 {
        rules.push(json!({"id": e.id * 10 + 1, "node_id": format!("GA_{}_1", e.id), "type": "wait_timer", "wait_timer": e.wait_timer}));
    }
    if !e.reviewers.is_empty() {
        rules.push(json!({
            "id": e.id * 10 + 2, "node_id": format!("GA_{}_2", e.id), "type": "required_reviewers",
            "prevent_self_review": false,
            "reviewers": e.reviewers.iter().map(|login| json!({"type": "User", "reviewer": account_json(login, "User")})).collect::<Vec<_>>(),
        }));
    }
    if e.branch_policy.is_some() {
        rules.push(json!({"id": e.id * 10 + 3, "node_id": format!("GA_{}_3", e.id), "type": "branch_policy"}));
    }
    json!({
        "id": e.id,
        "node_id": format!("EN_{}", e.id),
        "name": e.name,
        "url": format!("https://api.github.com/repos/{full}/environments/{}", e.name),
        "html_url": format!("https://github.com/{full}/deployments/activity_log?environments_filter={}", e.name),
        "created_at": rfc3339(e.created),
        "updated_at": rfc3339(e.updated),
        "protection_rules": rules,
        "deployment_branch_policy": e.branch_policy,
    })
}

fn policy_json(p: &BranchPolicy) -> Value {
    json!({"id": p.id, "node_id": format!("DBP_{}", p.id), "name": p.name, "type": p.kind})
}

/// One page of `items` as `{"total_count", "<key>": [...]}` with a `Link` header.
fn page(c: &Ctx<'_>, key: &str, items: Vec<Value>) -> Response {
    let per_page = http::query_param(c.query, "per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = http::query_param(c.query, "page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let total = items.len();
    let last = total.div_ceil(per_page).max(1);
    let shown: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    let mut resp = http::ok(&json!({"total_count": total, key: shown}));
    if page < last {
        let path = c.path;
        let link = format!(
            "<{base}{path}?per_page={per_page}&page={next}>; rel=\"next\", <{base}{path}?per_page={per_page}&page={last}>; rel=\"last\"",
            base = c.app.base,
            next = page + 1,
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            resp.headers_mut().insert("link", v);
        }
    }
    resp
}

/// The repository's public key for sealing secret values. The sandbox never opens them
/// (values are never served), so the key is a fixed 32 bytes.
fn public_key() -> Value {
    json!({
        "key_id": "sandbox-key-1",
        "key": base64::engine::general_purpose::STANDARD.encode([7u8; 32]),
    })
}

#[derive(Deserialize)]
struct SecretBody {
    encrypted_value: String,
    key_id: String,
}

/// `PUT …/actions/secrets/{name}`: 201 when created, 204 when updated.
fn put_secret(c: &Ctx<'_>, owner: &str, name: &str, secret: &str) -> Handled {
    let body: SecretBody =
        http::parse(c.body).map_err(|e| gh_error(StatusCode::UNPROCESSABLE_ENTITY, &e.message))?;
    limits::text("secret name", secret, limits::NAME)?;
    limits::text("encrypted_value", &body.encrypted_value, 64 * 1024)?;
    let valid_name = secret
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && secret
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !secret.to_ascii_uppercase().starts_with("GITHUB_");
    if !valid_name || body.key_id != "sandbox-key-1" {
        return Err(gh_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request: secret name or key_id.",
        ));
    }
    let now = now_secs();
    write(c, owner, name, |repo| {
        match repo.secrets.iter_mut().find(|s| s.name == secret) {
            Some(s) => {
                s.value = body.encrypted_value;
                s.updated = now;
                Ok(http::no_content())
            }
            None => {
                repo.secrets.push(crate::github::Secret {
                    name: secret.to_owned(),
                    value: body.encrypted_value,
                    created: now,
                    updated: now,
                });
                Ok(http::created(&json!({})))
            }
        }
    })
}

fn secrets_page(
    c: &Ctx<'_>,
    secrets: &[crate::github::Secret],
    visibility: Option<&str>,
) -> Response {
    let items = secrets
        .iter()
        .map(|s| {
            let mut v = json!({"name": s.name, "created_at": rfc3339(s.created), "updated_at": rfc3339(s.updated)});
            if let (Some(vis), Some(o)) = (visibility, v.as_object_mut()) {
                o.insert("visibility".into(), json!(vis));
            }
            v
        })
        .collect();
    page(c, "secrets", items)
}

fn variables_page(
    c: &Ctx<'_>,
    vars: &[crate::github::Variable],
    visibility: Option<&str>,
) -> Response {
    let items = vars
        .iter()
        .map(|s| {
            let mut v = json!({"name": s.name, "value": s.value, "created_at": rfc3339(s.created), "updated_at": rfc3339(s.updated)});
            if let (Some(vis), Some(o)) = (visibility, v.as_object_mut()) {
                o.insert("visibility".into(), json!(vis));
            }
            v
        })
        .collect();
    page(c, "variables", items)
}

fn contents(repo: &Repo, path: &str) -> Handled {
    let text = repo.files.get(path).ok_or_else(not_found)?;
    let full = repo.full_name();
    let sha = crate::ids::stable_uuid("blob", text).replace('-', "");
    let name = path.rsplit('/').next().unwrap_or(path);
    let url = format!("https://api.github.com/repos/{full}/contents/{path}");
    let html = format!(
        "https://github.com/{full}/blob/{}/{path}",
        repo.default_branch
    );
    let git = format!("https://api.github.com/repos/{full}/git/blobs/{sha}");
    let download = format!(
        "https://raw.githubusercontent.com/{full}/{}/{path}",
        repo.default_branch
    );
    Ok(http::ok(&json!({
        "type": "file",
        "encoding": "base64",
        "size": text.len(),
        "name": name,
        "path": path,
        "content": base64::engine::general_purpose::STANDARD.encode(text),
        "sha": sha,
        "url": url,
        "git_url": git,
        "html_url": html,
        "download_url": download,
        "_links": {"self": url, "git": git, "html": html},
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvBody {
    wait_timer: Option<u32>,
    prevent_self_review: Option<bool>,
    reviewers: Option<Vec<Reviewer>>,
    deployment_branch_policy: Option<BranchPolicySettings>,
}

#[derive(Debug, Deserialize)]
struct Reviewer {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: u64,
}

fn put_environment(c: &Ctx<'_>, owner: &str, name: &str, env: &str) -> Handled {
    let body: EnvBody = if c.body.is_empty() {
        EnvBody::default()
    } else {
        http::parse(c.body).map_err(|e| gh_error(StatusCode::UNPROCESSABLE_ENTITY, &e.message))?
    };
    limits::text("environment name", env, limits::NAME)?;
    if env.is_empty() || env.contains('/') {
        return Err(gh_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid environment name.",
        ));
    }
    if body.wait_timer.is_some_and(|w| w > 43_200) {
        return Err(gh_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "wait_timer must be at most 43200 minutes.",
        ));
    }
    if let Some(p) = body.deployment_branch_policy
        && p.protected_branches == p.custom_branch_policies
    {
        return Err(gh_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Exactly one of protected_branches and custom_branch_policies must be true.",
        ));
    }
    if body.reviewers.as_ref().is_some_and(|r| r.len() > 6) {
        return Err(gh_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "At most six reviewers.",
        ));
    }
    let _ = body.prevent_self_review;
    let now = now_secs();
    let mut world = c.app.write();
    let id = world.github.fresh_id();
    let Some(repo) = world.github.repo_mut(owner, name) else {
        return Err(not_found());
    };
    let reviewers: Option<Vec<String>> = body.reviewers.map(|rs| {
        rs.iter()
            .map(|r| format!("{}:{}", r.kind.as_deref().unwrap_or("User"), r.id))
            .collect()
    });
    let pos = repo
        .environments
        .iter()
        .position(|e| e.name.eq_ignore_ascii_case(env));
    let e = match pos {
        Some(i) => &mut repo.environments[i],
        None => {
            limits::room("environments", repo.environments.len(), limits::VARIABLES)?;
            repo.environments.push(Environment {
                id,
                name: env.to_owned(),
                created: now,
                updated: now,
                wait_timer: 0,
                reviewers: Vec::new(),
                branch_policy: None,
                policies: Vec::new(),
                secrets: Vec::new(),
                variables: Vec::new(),
            });
            let last = repo.environments.len() - 1;
            &mut repo.environments[last]
        }
    };
    e.updated = now;
    if let Some(w) = body.wait_timer {
        e.wait_timer = w;
    }
    if let Some(r) = reviewers {
        e.reviewers = r;
    }
    // GitHub replaces the policy setting with what the body says (absent or null: none).
    e.branch_policy = body.deployment_branch_policy;
    if !e.branch_policy.is_some_and(|p| p.custom_branch_policies) {
        e.policies.clear();
    }
    let out = {
        let e = e.clone();
        env_json(repo, &e)
    };
    Ok(http::ok(&out))
}

#[derive(Debug, Deserialize)]
struct PolicyBody {
    name: String,
    #[serde(rename = "type", default = "branch")]
    kind: RefKind,
}

fn branch() -> RefKind {
    RefKind::Branch
}

fn create_policy(c: &Ctx<'_>, owner: &str, name: &str, env: &str) -> Handled {
    let body: PolicyBody =
        http::parse(c.body).map_err(|e| gh_error(StatusCode::UNPROCESSABLE_ENTITY, &e.message))?;
    limits::text("name", &body.name, limits::NAME)?;
    if body.name.is_empty() {
        return Err(gh_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "name is required.",
        ));
    }
    let mut world = c.app.write();
    let id = world.github.fresh_id();
    let Some(repo) = world.github.repo_mut(owner, name) else {
        return Err(not_found());
    };
    let e = env_mut(repo, env)?;
    if !e.branch_policy.is_some_and(|p| p.custom_branch_policies) {
        // GitHub answers 404 when the environment does not use custom branch policies.
        return Err(not_found());
    }
    if e.policies
        .iter()
        .any(|p| p.name == body.name && p.kind == body.kind)
    {
        return Err(gh_error(
            StatusCode::SEE_OTHER,
            "A policy with this name already exists.",
        ));
    }
    limits::room("branch policies", e.policies.len(), limits::RESTRICTIONS)?;
    let p = BranchPolicy {
        id,
        name: body.name,
        kind: body.kind,
    };
    let out = policy_json(&p);
    e.policies.push(p);
    Ok(http::ok(&out))
}
