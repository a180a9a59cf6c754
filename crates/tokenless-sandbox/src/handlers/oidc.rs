//! The OIDC issuers' HTTP side: discovery, JWKS, the mint endpoint for tests and demos, and a
//! GitHub Actions id-token request endpoint (what `ACTIONS_ID_TOKEN_REQUEST_URL` points at).

use crate::error::{Handled, SandboxError};
use axum::http::{Method, StatusCode};
use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::clock::now_secs;
use crate::issuers::{Provider, discovery, issuer_url};
use crate::restrictions;
use crate::router::Ctx;
use crate::{http, limits};

/// Routes below `/-/sandbox/oidc/`.
pub fn route(c: &Ctx<'_>, rest: &[&str]) -> Handled {
    let org_id = c.app.world().circleci.org_id.clone();
    match (c.method, rest) {
        (
            &Method::GET,
            [
                "circleci",
                "org",
                org,
                ".well-known",
                "openid-configuration",
            ],
        ) if *org == org_id => Ok(http::ok(&discovery(
            &issuer_url(&c.app.base, Provider::CircleCi, &org_id),
            Provider::CircleCi,
        ))),
        (&Method::GET, ["circleci", "org", org, ".well-known", "jwks-pub.json"])
            if *org == org_id =>
        {
            jwks(c, Provider::CircleCi)
        }
        (
            &Method::GET,
            [
                p @ ("github" | "gitlab"),
                ".well-known",
                "openid-configuration",
            ],
        ) => {
            let provider = Provider::parse(p).unwrap_or(Provider::GitHub);
            Ok(http::ok(&discovery(
                &issuer_url(&c.app.base, provider, &org_id),
                provider,
            )))
        }
        (&Method::GET, ["github", ".well-known", "jwks"]) => jwks(c, Provider::GitHub),
        (&Method::GET, ["gitlab", "oauth", "discovery", "keys"]) => jwks(c, Provider::GitLab),
        (&Method::POST, [p, "token"]) => match Provider::parse(p) {
            Some(provider) => mint_endpoint(c, provider),
            None => Err(SandboxError::not_found(format!(
                "No sandbox issuer {p:?}; use circleci, github or gitlab."
            ))),
        },
        (&Method::GET, ["github", "actions-token"]) => actions_token(c),
        _ => Err(SandboxError::not_found(
            "Not found: no such sandbox issuer endpoint.",
        )),
    }
}

fn jwks(c: &Ctx<'_>, provider: Provider) -> Handled {
    Ok(http::ok(
        &json!({"keys": [c.app.issuers.key(provider).public_jwk()]}),
    ))
}

fn refuse(status: StatusCode, msg: impl Into<String>) -> SandboxError {
    SandboxError::new(status, msg)
}

fn mint_endpoint(c: &Ctx<'_>, provider: Provider) -> Handled {
    let body: Value = match serde_json::from_slice(c.body) {
        Ok(v) => v,
        Err(e) => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!("malformed JSON body: {e}"),
            ));
        }
    };
    if c.body.len() > limits::CLAIMS_BYTES {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            format!("claims are limited to {} bytes", limits::CLAIMS_BYTES),
        ));
    }
    let Value::Object(claims) = body else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object of claims",
        ));
    };
    match mint(c, provider, claims) {
        Ok(token) => Ok(http::ok(&json!({"token": token}))),
        Err(resp) => Err(resp),
    }
}

/// Fills `iss`, `iat`, `exp` (the provider's token lifetime, at most 1 hour), `jti` (and provider defaults) unless set, checks
/// CircleCI contexts and their restrictions, and signs.
pub fn mint(
    c: &Ctx<'_>,
    provider: Provider,
    mut claims: Map<String, Value>,
) -> Result<String, SandboxError> {
    let now = now_secs();
    let org_id = c.app.world().circleci.org_id.clone();
    let config_source = claims.remove("config_source");
    if provider == Provider::CircleCi {
        let org = claims
            .entry("oidc.circleci.com/org-id")
            .or_insert_with(|| json!(org_id))
            .clone();
        if org.as_str() != Some(org_id.as_str()) {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                format!("unknown CircleCI organization {org}"),
            ));
        }
        let source = match config_source {
            None => "github".to_owned(),
            Some(Value::String(s)) => s,
            Some(_) => {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "config_source must be a string",
                ));
            }
        };
        check_contexts(c, &claims, &source)?;
        let project = claims
            .get("oidc.circleci.com/project-id")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_owned();
        claims.entry("sub").or_insert_with(|| {
            json!(format!(
                "org/{org_id}/project/{project}/user/{}",
                crate::ids::stable_uuid("user", "sandbox")
            ))
        });
        claims.entry("aud").or_insert_with(|| json!(org_id));
    } else {
        match provider {
            Provider::GitHub => {
                check_github_environment(c, &claims)?;
                github_subject(c, &mut claims);
            }
            Provider::GitLab => check_gitlab_environment(c, &claims)?,
            Provider::CircleCi => {}
        }
        claims
            .entry("aud")
            .or_insert_with(|| json!(c.app.audiences.first()));
    }
    claims
        .entry("iss")
        .or_insert_with(|| json!(issuer_url(&c.app.base, provider, &org_id)));
    let iat = claims
        .entry("iat")
        .or_insert_with(|| json!(now))
        .as_u64()
        .unwrap_or(now);
    claims.entry("exp").or_insert_with(|| {
        json!(iat + tokenless_trust::issuer::default_max_lifetime_secs(provider).min(3600))
    });
    claims.entry("nbf").or_insert_with(|| json!(iat));
    claims
        .entry("jti")
        .or_insert_with(|| json!(crate::ids::random_uuid()));
    c.app
        .issuers
        .key(provider)
        .sign_jwt(&Value::Object(claims))
        .map_err(|e| refuse(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// GitHub refuses to run a job in an environment whose deployment branch policy does not
/// admit the job's ref (the run fails before any step, so no token is ever issued).
fn check_github_environment(c: &Ctx<'_>, claims: &Map<String, Value>) -> Result<(), SandboxError> {
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    let (Some(env), Some((owner, name))) = (
        text("environment"),
        text("repository").and_then(|r| r.split_once('/')),
    ) else {
        return Ok(());
    };
    let world = c.app.world();
    let Some(repo) = world.github.repo(owner, name) else {
        return Ok(());
    };
    // A job naming an environment the repository lacks creates it, unprotected.
    let Some(environment) = repo.environment(env) else {
        return Ok(());
    };
    let git_ref = text("ref").unwrap_or("");
    match crate::github::refusal(repo, environment, git_ref) {
        None => Ok(()),
        Some(why) => Err(refuse(
            StatusCode::FORBIDDEN,
            format!(
                "Branch \"{git_ref}\" is not allowed to deploy to {env} due to environment protection rules: {why}"
            ),
        )),
    }
}

/// GitHub's default `sub` unless one is given: `repo:<owner>/<repo>:environment:<env>` (or
/// `:ref:<ref>`), or, for a repository with `use_immutable_subject`, the immutable form
/// `repo:<owner>@<owner id>/<repo>@<repo id>:…`.
fn github_subject(c: &Ctx<'_>, claims: &mut Map<String, Value>) {
    if claims.contains_key("sub") {
        return;
    }
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    let Some((owner, name)) = text("repository").and_then(|r| r.split_once('/')) else {
        return;
    };
    let context = match (text("environment"), text("ref")) {
        (Some(env), _) => format!("environment:{env}"),
        (None, Some(r)) => format!("ref:{r}"),
        (None, None) => "ref:refs/heads/main".to_owned(),
    };
    let immutable = {
        let world = c.app.world();
        world
            .github
            .repo(owner, name)
            .filter(|r| r.oidc_sub.use_immutable_subject)
            .map(|r| {
                format!(
                    "{}@{}/{}@{}",
                    r.owner,
                    crate::github::owner_id(&r.owner),
                    r.name,
                    r.id
                )
            })
    };
    let sub = match immutable {
        Some(repo) => format!("repo:{repo}:{context}"),
        None => format!("repo:{owner}/{name}:{context}"),
    };
    claims.insert("sub".into(), json!(sub));
}

/// GitLab refuses to run a job deploying to a protected environment unless the user who
/// runs it may deploy there; the sandbox also requires a protected ref (`ref_protected`).
fn check_gitlab_environment(c: &Ctx<'_>, claims: &Map<String, Value>) -> Result<(), SandboxError> {
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    let (Some(env), Some(path)) = (text("environment"), text("project_path")) else {
        return Ok(());
    };
    let world = c.app.world();
    let Some(project) = world.gitlab.project(path) else {
        return Ok(());
    };
    let level = text("user_access_level")
        .and_then(crate::gitlab::access_level)
        .unwrap_or(crate::gitlab::DEVELOPER);
    let ref_protected = text("ref_protected") == Some("true");
    match crate::gitlab::refusal(&world.gitlab, project, env, ref_protected, level) {
        None => Ok(()),
        Some(why) => Err(refuse(
            StatusCode::FORBIDDEN,
            format!(
                "This job could not be executed because of insufficient permissions to deploy: {why}"
            ),
        )),
    }
}

/// CircleCI refuses to start a job whose context does not exist or whose restrictions do
/// not admit it; the sandbox refuses to mint its token.
fn check_contexts(
    c: &Ctx<'_>,
    claims: &Map<String, Value>,
    config_source: &str,
) -> Result<(), SandboxError> {
    let Some(ids) = claims.get("oidc.circleci.com/context-ids") else {
        return Ok(());
    };
    let Some(ids) = ids.as_array() else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "oidc.circleci.com/context-ids must be an array of context ids",
        ));
    };
    let vcs_ref = claims
        .get("oidc.circleci.com/vcs-ref")
        .and_then(Value::as_str);
    let job = restrictions::Job {
        branch: vcs_ref
            .and_then(|r| r.strip_prefix("refs/heads/"))
            .map(str::to_owned),
        tag: vcs_ref
            .and_then(|r| r.strip_prefix("refs/tags/"))
            .map(str::to_owned),
        ssh: claims
            .get("oidc.circleci.com/ssh-rerun")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        config_source: config_source.to_owned(),
        project_id: claims
            .get("oidc.circleci.com/project-id")
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    let world = c.app.world();
    for id in ids {
        let Some(id) = id.as_str() else {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "context ids must be strings",
            ));
        };
        let Some(ctx) = world.circleci.contexts.iter().find(|x| x.id == id) else {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                format!("context {id} does not exist in this organization"),
            ));
        };
        for r in &ctx.restrictions {
            if let Err(why) = restrictions::admits(r, &job) {
                return Err(refuse(
                    StatusCode::FORBIDDEN,
                    format!(
                        "Unauthorized: the job may not use context {:?} ({}): {why}",
                        ctx.name, ctx.id
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `GET /-/sandbox/oidc/github/actions-token?claims=<base64url JSON>&audience=<aud>` →
/// `{"value": jwt}`: point `ACTIONS_ID_TOKEN_REQUEST_URL` here and npm's GitHub flow works.
fn actions_token(c: &Ctx<'_>) -> Handled {
    let mut claims = Map::new();
    if let Some(encoded) = http::query_param(c.query, "claims") {
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(encoded.trim_end_matches('=').as_bytes())
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        match decoded {
            Some(Value::Object(m)) => claims = m,
            _ => {
                return Err(refuse(
                    StatusCode::BAD_REQUEST,
                    "claims must be base64url-encoded JSON object",
                ));
            }
        }
    }
    if let Some(aud) = http::query_param(c.query, "audience") {
        claims.insert("aud".into(), json!(aud));
    }
    match mint(c, Provider::GitHub, claims) {
        Ok(token) => Ok(http::ok(&json!({"value": token}))),
        Err(e) => Err(e),
    }
}
