//! Per-provider claim policies: the token's claims against one trust config.
//!
//! Each function returns its checks in a fixed order. Values are compared exactly
//! (case-sensitive, no normalisation), types are checked (a string where an array is
//! expected fails, it is not coerced), and every detail names both values compared.

use crate::borrowed_json::{Json, Object};

use crate::check::{Cause, Check, CheckId, Quoted};

/// A pass check's detail, built only when details are on (`$on`); failures always build
/// theirs.
macro_rules! detail {
    ($on:expr, $($arg:tt)*) => {
        if $on {
            format!($($arg)*)
        } else {
            String::new()
        }
    };
}

use crate::trust_config::{
    CIRCLECI_CONTEXT_IDS, CIRCLECI_ORG_ID, CIRCLECI_PIPELINE_DEFINITION_ID, CIRCLECI_PROJECT_ID,
    CIRCLECI_SSH_RERUN, CIRCLECI_VCS_ORIGIN, CircleCiPublisher, GitHubPublisher, GitLabPublisher,
    Provider, Publisher,
};

/// The check ids a provider's policy yields, in order.
pub fn check_ids(provider: Provider) -> &'static [CheckId] {
    match provider {
        Provider::CircleCi => &[
            CheckId::CircleciOrgId,
            CheckId::CircleciProjectId,
            CheckId::CircleciPipelineDefinitionId,
            CheckId::CircleciVcsOrigin,
            CheckId::CircleciContextIds,
            CheckId::CircleciSshRerun,
        ],
        Provider::GitHub => &[
            CheckId::GithubRepository,
            CheckId::GithubSubject,
            CheckId::GithubWorkflowRef,
            CheckId::GithubEnvironment,
            CheckId::GithubEventName,
        ],
        Provider::GitLab => &[
            CheckId::GitlabProjectPath,
            CheckId::GitlabCiConfigRefUri,
            CheckId::GitlabEnvironment,
        ],
    }
}

/// The claim checks of `publisher` against `claims`. `config_host` is the host a GitLab
/// token's `ci_config_ref_uri` must name (the issuer's; see
/// [`IssuerEntry::config_host`](crate::IssuerEntry::config_host)).
/// `details`: whether pass checks carry a detail (see
/// [`Verifier::with_pass_details`](crate::Verifier::with_pass_details)).
pub fn evaluate(
    publisher: &Publisher,
    claims: &Object<'_>,
    config_host: Option<&str>,
    details: bool,
) -> Vec<Check> {
    let mut checks = Vec::with_capacity(6);
    evaluate_into(&mut checks, publisher, claims, config_host, details);
    checks
}

/// [`evaluate`], appending to `checks` (the verifier's per-config list, without a second
/// vector per config).
pub fn evaluate_into(
    checks: &mut Vec<Check>,
    publisher: &Publisher,
    claims: &Object<'_>,
    config_host: Option<&str>,
    details: bool,
) {
    match publisher {
        Publisher::CircleCi(p) => circleci(checks, p, claims, details),
        Publisher::GitHub(p) => github(checks, p, claims, details),
        Publisher::GitLab(p) => gitlab(checks, p, claims, config_host, details),
    }
}

fn shown(value: &Json<'_>) -> String {
    value.to_string()
}

/// A required string claim, or a failed check saying what was found instead.
fn string_claim<'a>(claims: &'a Object<'_>, id: CheckId, name: &str) -> Result<&'a str, Check> {
    match claims.get(name) {
        Some(Json::String(s)) => Ok(s),
        Some(other) => Err(Check::fail(
            id,
            format!("claim {name} is {} (expected a string)", shown(other)),
        )),
        None => Err(Check::fail(id, format!("claim {name} is missing"))),
    }
}

fn exact(
    claims: &Object<'_>,
    id: CheckId,
    name: &str,
    expected: &str,
    fix: &str,
    d: bool,
) -> Check {
    match string_claim(claims, id, name) {
        Err(check) => check.with_fix(fix.to_owned()),
        Ok(actual) if actual == expected => Check::pass(
            id,
            detail!(d, "{name} {} equals the configured value", Quoted(actual)),
        ),
        Ok(actual) => {
            let hint = if actual.eq_ignore_ascii_case(expected) {
                " (differs only in case; the comparison is case-sensitive)"
            } else if actual.trim_end_matches('/') == expected.trim_end_matches('/') {
                " (differs only by a trailing slash; the comparison is exact)"
            } else {
                ""
            };
            Check::fail(
                id,
                format!("{name} {actual:?} does not equal the configured {expected:?}{hint}"),
            )
            .with_fix(fix.to_owned())
        }
    }
}

fn circleci(checks: &mut Vec<Check>, p: &CircleCiPublisher, claims: &Object<'_>, d: bool) {
    checks.extend([
        exact(
            claims,
            CheckId::CircleciOrgId,
            CIRCLECI_ORG_ID,
            &p.org_id,
            "the token comes from another CircleCI organization; publish from the configured org or update the trust config's org id",
            d,
        ),
        exact(
            claims,
            CheckId::CircleciProjectId,
            CIRCLECI_PROJECT_ID,
            &p.project_id,
            "the job runs in another CircleCI project; publish from the configured project or update `--project-id` in the trust config",
            d,
        ),
        exact(
            claims,
            CheckId::CircleciPipelineDefinitionId,
            CIRCLECI_PIPELINE_DEFINITION_ID,
            &p.pipeline_definition_id,
            "the pipeline was created by another pipeline definition (Project Settings → Project Setup); trigger the configured one or update `--pipeline-definition-id`",
            d,
        ),
        exact(
            claims,
            CheckId::CircleciVcsOrigin,
            CIRCLECI_VCS_ORIGIN,
            &p.vcs_origin,
            "the pipeline was built from another repository (a fork or a renamed repo); `vcs-origin` must match exactly, without scheme or trailing slash",
            d,
        ),
    ]);
    checks.push(circleci_contexts(p, claims, d));
    checks.push(match claims.get(CIRCLECI_SSH_RERUN) {
        None => Check::pass(
            CheckId::CircleciSshRerun,
            detail!(d, "{CIRCLECI_SSH_RERUN} is absent (not an SSH rerun)"),
        ),
        Some(Json::Bool(false)) => Check::pass(
            CheckId::CircleciSshRerun,
            detail!(d, "{CIRCLECI_SSH_RERUN} is false"),
        ),
        Some(Json::Bool(true)) => Check::fail(
            CheckId::CircleciSshRerun,
            format!("{CIRCLECI_SSH_RERUN} is true: npm refuses tokens from jobs rerun with SSH"),
        )
        .with_fix(
            "rerun the workflow without SSH (\"Rerun job with SSH\" always yields a refused token)",
        ),
        Some(other) => Check::fail(
            CheckId::CircleciSshRerun,
            format!(
                "{CIRCLECI_SSH_RERUN} is {} (expected a boolean)",
                shown(other)
            ),
        )
        .with_fix("mint the token with `circleci run oidc get` inside the job"),
    });
}

fn circleci_contexts(p: &CircleCiPublisher, claims: &Object<'_>, d: bool) -> Check {
    let id = CheckId::CircleciContextIds;
    if p.context_ids.is_empty() {
        return Check::skip(
            id,
            "the trust config binds no context id, so any branch of the project can publish (bind a restricted context to close that)",
        );
    }
    let attached: &[Json<'_>] = match claims.get(CIRCLECI_CONTEXT_IDS) {
        None => &[],
        Some(Json::Array(items)) => {
            if let Some(other) = items.iter().find(|i| !matches!(i, Json::String(_))) {
                return Check::fail(
                    id,
                    format!(
                        "{CIRCLECI_CONTEXT_IDS} holds {} (expected strings only)",
                        shown(other)
                    ),
                );
            }
            items
        }
        Some(other) => {
            return Check::fail(id, format!("{CIRCLECI_CONTEXT_IDS} is {} (expected an array of context ids)", shown(other)))
                .with_fix("mint the token with `circleci run oidc get` inside a job that attaches the bound context");
        }
    };
    let is_attached = |c: &str| attached.iter().any(|a| a.as_str() == Some(c));
    if !d && p.context_ids.iter().all(|c| is_attached(c)) {
        return Check::pass(id, String::new());
    }
    let mut attached_text = String::with_capacity(40 * attached.len().max(1));
    for (i, a) in attached.iter().filter_map(Json::as_str).enumerate() {
        if i > 0 {
            attached_text.push_str(", ");
        }
        attached_text.push_str(a);
    }
    if attached_text.is_empty() {
        attached_text.push_str("none");
    }
    let mut configured = String::with_capacity(40 * p.context_ids.len());
    let mut missing = String::new();
    let mut first_missing = None;
    for c in &p.context_ids {
        if !configured.is_empty() {
            configured.push_str(", ");
        }
        configured.push_str(c);
        if !is_attached(c) {
            if !missing.is_empty() {
                missing.push_str(", ");
            }
            missing.push_str(c);
            first_missing.get_or_insert(c.as_str());
        }
    }
    match first_missing {
        None => Check::pass(
            id,
            detail!(d,
                "every configured context id ({configured}) is attached (token: {attached_text})"
            ),
        ),
        Some(first) => Check::fail(id, format!("configured context id(s) {missing} not attached to the job (token carries: {attached_text})"))
            .with_fix(format!("the job did not attach context {first}; add `context: [<name of context {first}>]` to the publish job in the workflow")),
    }
}

fn environment(
    claims: &Object<'_>,
    id: CheckId,
    expected: Option<&str>,
    fix: &str,
    d: bool,
) -> Check {
    match expected {
        None => Check::skip(
            id,
            "the trust config names no environment; any environment is accepted",
        ),
        Some(expected) => exact(claims, id, "environment", expected, fix, d),
    }
}

fn github(checks: &mut Vec<Check>, p: &GitHubPublisher, claims: &Object<'_>, d: bool) {
    checks.push(exact(
        claims,
        CheckId::GithubRepository,
        "repository",
        &p.repository,
        "publish from the configured repository, or update the trust config's repository (renamed or forked repositories do not match)",
        d,
    ));
    checks.push(subject(claims, d));
    let id = CheckId::GithubWorkflowRef;
    let fix = || {
        format!(
            "publish from `.github/workflows/{}` (the calling workflow) or update the trust config's workflow file",
            p.workflow_file
        )
    };
    checks.push(match string_claim(claims, id, "workflow_ref") {
        Err(c) => c.with_fix(fix()),
        Ok(wf) => {
            let prefix = format!("{}/.github/workflows/", p.repository);
            let file = wf
                .strip_prefix(&prefix)
                .and_then(|rest| rest.split_once('@'))
                .map(|(f, _)| f);
            match file {
                Some(f) if f == p.workflow_file => Check::pass(
                    id,
                    detail!(
                        d,
                        "workflow_ref {} names the configured workflow file {}",
                        Quoted(wf),
                        Quoted(&p.workflow_file)
                    ),
                ),
                Some(f) => Check::fail(
                    id,
                    format!(
                        "workflow_ref {wf:?} names workflow file {f:?}, the trust config {:?}",
                        p.workflow_file
                    ),
                )
                .with_fix(fix()),
                None => Check::fail(
                    id,
                    format!(
                        "workflow_ref {wf:?} is not {prefix}<file>@<ref> (configured file {:?})",
                        p.workflow_file
                    ),
                )
                .with_fix(fix()),
            }
        }
    });
    checks.push(environment(
        claims,
        CheckId::GithubEnvironment,
        p.environment.as_deref(),
        "add `environment: <name>` to the publish job, matching the trust config",
        d,
    ));
    let id = CheckId::GithubEventName;
    checks.push(match string_claim(claims, id, "event_name") {
        Err(c) => c.tokenless(),
        Ok(event) => event_name(event, d),
    });
}

/// Whether a GitHub `sub` is in the immutable form `repo:<owner>@<id>/<repo>@<id>:…` that
/// GitHub issues for repositories created, renamed or transferred after its 2026 cutover
/// (or that opt in with `use_immutable_subject`). Owner and repository names never hold an
/// `@`, so the classic `repo:<owner>/<repo>:…` is never taken for it.
pub fn is_immutable_subject(sub: &str) -> bool {
    let numbered = |part: &str| {
        part.split_once('@').is_some_and(|(name, id)| {
            !name.is_empty() && !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())
        })
    };
    sub.strip_prefix("repo:")
        .and_then(|rest| rest.split(':').next())
        .and_then(|repo| repo.split_once('/'))
        .is_some_and(|(owner, name)| numbered(owner) && numbered(name))
}

fn subject(claims: &Object<'_>, d: bool) -> Check {
    let id = CheckId::GithubSubject;
    match claims.get("sub") {
        None => Check::skip(id, "sub is absent"),
        Some(Json::String(sub)) if is_immutable_subject(sub) => Check::fail(
            id,
            format!(
                "sub {sub:?} is GitHub's immutable subject form (repo:owner@<id>/repo@<id>:…, the repository uses immutable subject claims); npm's exchange answers 404 \"package not found\" for it although the trust config matches (npm/cli#9969, open)"
            ),
        )
        .with_fix("follow npm/cli#9969; until npm accepts immutable subjects, switch the repository back to the classic subject where GitHub allows it (`PUT /repos/<owner>/<repo>/actions/oidc/customization/sub` without `use_immutable_subject`), or publish from a repository that still gets `repo:owner/repo:…`")
        .with_cause(Cause::GithubImmutableSubject),
        Some(Json::String(sub)) => Check::pass(
            id,
            detail!(d, "sub {} is not the immutable repo:owner@<id>/repo@<id> form", Quoted(sub)),
        ),
        Some(other) => Check::fail(
            id,
            format!("claim sub is {} (expected a string)", shown(other)),
        ),
    }
}

const PULL_REQUEST_TARGET: &str = "pull_request_target";

/// `event_name` compared exactly as GitHub emits it: event names are lowercase `[a-z_]`, so a
/// case variant of `pull_request_target` (or any other upper-case name) was not minted by
/// GitHub as-is and is refused rather than compared case-insensitively.
fn event_name(event: &str, d: bool) -> Check {
    let id = CheckId::GithubEventName;
    let fix =
        "publish from a push, release or workflow_dispatch workflow, never pull_request_target";
    if event == PULL_REQUEST_TARGET {
        Check::fail(id, "event_name is \"pull_request_target\": the job runs with the base repository's privileges on code a pull request controls (tokenless policy; npm itself would accept this token)")
            .with_fix(fix)
            .tokenless()
    } else if event.eq_ignore_ascii_case(PULL_REQUEST_TARGET) {
        Check::fail(id, format!("event_name {event:?} is a case variant of \"pull_request_target\"; GitHub emits event names in lowercase, so it is refused like pull_request_target (tokenless policy)"))
            .with_fix(fix)
            .tokenless()
    } else if event.is_empty() || !event.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
        Check::fail(id, format!("event_name {event:?} is not an event name as GitHub emits them (lowercase letters and _) (tokenless policy)"))
            .with_fix(fix)
            .tokenless()
    } else {
        Check::pass(
            id,
            detail!(d, "event_name {} is not pull_request_target", Quoted(event)),
        )
        .tokenless()
    }
}

fn gitlab(
    checks: &mut Vec<Check>,
    p: &GitLabPublisher,
    claims: &Object<'_>,
    config_host: Option<&str>,
    d: bool,
) {
    checks.push(exact(
        claims,
        CheckId::GitlabProjectPath,
        "project_path",
        &p.project_path,
        "publish from the configured project (merge-request pipelines from forks carry the fork's path), or update the trust config",
        d,
    ));
    let id = CheckId::GitlabCiConfigRefUri;
    let fix = || {
        format!(
            "run the publish job from the top-level CI file {:?} or update the trust config's file",
            p.ci_config_file
        )
    };
    checks.push(match string_claim(claims, id, "ci_config_ref_uri") {
        Err(c) => c.with_fix(fix()),
        Ok(uri) => {
            // <host>/<project_path>//<file>@<ref>
            let parsed = uri.split_once("//").and_then(|(left, right)| {
                let (host, project) = left.split_once('/')?;
                let (file, _) = right.split_once('@')?;
                (!host.is_empty()).then_some((host, project, file))
            });
            match parsed {
                Some((host, _, _)) if Some(host) != config_host => Check::fail(id, format!(
                    "ci_config_ref_uri {uri:?} names host {host:?}; the issuer's host is {} (tokenless policy: the CI file must come from the instance that signed the token)",
                    config_host.map_or("unknown".to_owned(), |h| format!("{h:?}"))
                )).with_fix(fix()).tokenless(),
                Some((_, project, file)) if project == p.project_path && file == p.ci_config_file => {
                    Check::pass(id, detail!(d, "ci_config_ref_uri {} names the configured file {} of {}", Quoted(uri), Quoted(&p.ci_config_file), Quoted(&p.project_path)))
                }
                Some((_, project, file)) => Check::fail(id, format!(
                    "ci_config_ref_uri {uri:?} names file {file:?} of project {project:?}, the trust config {:?} of {:?}",
                    p.ci_config_file, p.project_path
                )).with_fix(fix()),
                None => Check::fail(id, format!("ci_config_ref_uri {uri:?} is not <host>/<project>//<file>@<ref>")).with_fix(fix()),
            }
        }
    });
    checks.push(environment(
        claims,
        CheckId::GitlabEnvironment,
        p.environment.as_deref(),
        "add `environment: <name>` to the publish job, matching the trust config",
        d,
    ));
}
