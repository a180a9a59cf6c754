//! `trusted-publisher`, `context-bound`, `release-verified`: the packages' trust configs,
//! the contexts they pin, and whether every release since the migration went through them.

use std::collections::BTreeMap;

use tokenless_api::npm::TrustConfig;
use tokenless_trust::{Action, Provider, Publisher};

use super::{list_some, package_source};
use crate::audit::{
    report::{CheckId, CheckResult, Evidence},
    restrictions,
    snapshot::{GitLabEnvironment, PackageState, Snapshot},
};

fn packages_unreadable(id: CheckId, s: &Snapshot, err: &str) -> CheckResult {
    CheckResult::from_items(
        id,
        vec![],
        vec![Evidence::new(
            super::org_source(&s.scope, "package"),
            format!("cannot list the scope's packages: {err}"),
        )],
        vec![],
    )
}

pub fn trusted_publisher(s: &Snapshot) -> CheckResult {
    let id = CheckId::TrustedPublisher;
    let packages = match &s.packages {
        Ok(p) => p,
        Err(e) => return packages_unreadable(id, s, e),
    };
    if let Some(nothing) = super::empty_scope(id, s) {
        return nothing;
    }
    let (mut fails, mut unknowns) = (Vec::new(), Vec::new());
    let mut good: Vec<&str> = Vec::new();
    for p in packages {
        let source = package_source(&p.name, "trust");
        // tokenless.toml asks for stage-only (CI stages, a person approves with 2FA):
        // a config that also allows direct publish defeats it.
        let desired: Vec<&crate::desired::PublisherSpec> =
            s.publishers.iter().filter(|d| d.matches(&p.name)).collect();
        let stage_only = !desired.is_empty()
            && desired
                .iter()
                .all(|d| !d.template.allows(Action::Publish) && d.template.allows(Action::Stage));
        if stage_only && let Ok(configs) = &p.trust {
            let direct: Vec<&str> = configs
                .iter()
                .filter(|c| c.allows(Action::Publish))
                .map(TrustConfig::display_id)
                .collect();
            if !direct.is_empty() {
                fails.push(Evidence::new(
                    &source,
                    format!(
                        "{}: trust config {} allows direct publish, but tokenless.toml asks for stage-only (CI stages, a person approves with 2FA)",
                        p.name,
                        direct.join(", ")
                    ),
                ));
                continue;
            }
            if configs.iter().any(|c| c.allows(Action::Stage)) {
                match github_subject_verdict(s, &p.name, configs) {
                    Verdict::Works => good.push(&p.name),
                    Verdict::Fails(e) => fails.push(e),
                    Verdict::Unread(e) => unknowns.push(e),
                }
                continue;
            }
        }
        match &p.trust {
            Err(e) => unknowns.push(Evidence::new(source, format!("cannot read: {e}"))),
            Ok(configs) if configs.is_empty() => fails.push(Evidence::new(
                source,
                format!("{} has no trusted publisher", p.name),
            )),
            Ok(configs) if !configs.iter().any(|c| c.allows(Action::Publish)) => {
                fails.push(Evidence::new(
                    source,
                    format!(
                        "{}: trust config {} does not allow publish (permissions: {})",
                        p.name,
                        configs
                            .iter()
                            .map(TrustConfig::display_id)
                            .collect::<Vec<_>>()
                            .join(", "),
                        configs
                            .iter()
                            .flat_map(|c| c.permissions.iter().map(|p| p.as_str()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))
            }
            Ok(configs) => match github_subject_verdict(s, &p.name, configs) {
                Verdict::Works => good.push(&p.name),
                Verdict::Fails(e) => fails.push(e),
                Verdict::Unread(e) => unknowns.push(e),
            },
        }
    }
    let mut passes = vec![Evidence::new(
        "GET /-/package/<pkg>/trust",
        format!(
            "{} of {} packages have a trust config allowing publish (stage only, where tokenless.toml asks for it): {}",
            good.len(),
            packages.len(),
            list_some(&good, 10)
        ),
    )];
    // Each package's configs, and the one its latest version came through.
    for p in packages.iter().filter(|p| good.contains(&p.name.as_str())) {
        let Ok(configs) = &p.trust else { continue };
        let listed: Vec<String> = configs
            .iter()
            .map(|c| format!("{} {}", c.provider().as_str(), c.display_id()))
            .collect();
        let latest = match &p.releases {
            Some(Ok(r)) => r
                .latest
                .as_deref()
                .and_then(|v| r.versions.iter().find(|x| x.version == v))
                .map(|x| match &x.oidc_config_id {
                    Some(id) => format!("; latest {} came through {id}", x.version),
                    None => format!("; latest {} came through no trust config", x.version),
                })
                .unwrap_or_default(),
            _ => String::new(),
        };
        passes.push(Evidence::new(
            package_source(&p.name, "trust"),
            format!("{}: {}{latest}", p.name, listed.join(", ")),
        ));
    }
    let classic: Vec<&str> = s
        .github_subjects
        .iter()
        .filter(|(_, read)| matches!(read, Ok(false)))
        .map(|(repo, _)| repo.as_str())
        .collect();
    if let (Some(gh), false) = (&s.github, classic.is_empty()) {
        passes.push(Evidence::new(
            format!("GET {}repos/<repo>/actions/oidc/customization/sub", gh.api),
            format!(
                "GitHub repositories with the classic subject claims (not immutable, which npm's exchange refuses): {}",
                list_some(&classic, 10)
            ),
        ));
    }
    CheckResult::from_items(id, fails, unknowns, passes)
}

/// Whether a package's trust configs can be exchanged at all, as far as its GitHub
/// repositories' subject claims tell.
enum Verdict {
    Works,
    Fails(Evidence),
    Unread(Evidence),
}

/// A GitHub trust config whose repository uses immutable subject claims cannot be
/// exchanged: npm answers 404 although the config matches (npm/cli#9969). A repository whose
/// setting could not be read (or no GitHub API) leaves the package unknown.
fn github_subject_verdict(s: &Snapshot, name: &str, configs: &[TrustConfig]) -> Verdict {
    let mut unread = None;
    for config in configs {
        let Publisher::GitHub(g) = &config.publisher else {
            continue;
        };
        let repo = &g.repository;
        let Some(gh) = &s.github else {
            unread.get_or_insert_with(|| Evidence::new(
                format!("GitHub repository {repo}"),
                format!(
                    "{name}: trust config {} trusts GitHub repository {repo}, but no GitHub API was given (--github-token-env, GITHUB_TOKEN) to read whether it uses immutable subject claims, which npm's exchange refuses (npm/cli#9969)",
                    config.display_id()
                ),
            ));
            continue;
        };
        let source = format!("GET {}repos/{repo}/actions/oidc/customization/sub", gh.api);
        match s.github_subjects.get(repo) {
            Some(Ok(false)) => {}
            Some(Ok(true)) => {
                let cause = tokenless_trust::Cause::GithubImmutableSubject;
                return Verdict::Fails(Evidence::new(
                    source,
                    format!(
                        "{name}: trust config {} trusts GitHub repository {repo}, which uses immutable subject claims (`sub` is repo:owner@<id>/repo@<id>:…); {}, so no publish through it can succeed. Follow {}; until npm accepts them, switch {repo} back to the classic subject where GitHub allows it (`PUT /repos/{repo}/actions/oidc/customization/sub` without `use_immutable_subject`), or publish from a repository that still gets repo:owner/repo:…",
                        config.display_id(),
                        cause.describe(),
                        cause.issue()
                    ),
                ));
            }
            Some(Err(e)) => {
                unread.get_or_insert_with(|| {
                    Evidence::new(
                        &source,
                        format!("{name}: cannot read the subject claims of {repo}: {e}"),
                    )
                });
            }
            None => {
                unread.get_or_insert_with(|| {
                    Evidence::new(
                        &source,
                        format!("{name}: the subject claims of {repo} were not read"),
                    )
                });
            }
        }
    }
    unread.map_or(Verdict::Works, Verdict::Unread)
}

/// Packages with at least one trust config (the domain of context-bound and release-verified).
fn trusted(s: &Snapshot) -> Result<Vec<(&PackageState, &[TrustConfig])>, String> {
    let packages = s.packages.as_ref().map_err(Clone::clone)?;
    Ok(packages
        .iter()
        .filter_map(|p| match &p.trust {
            Ok(c) if !c.is_empty() => Some((p, c.as_slice())),
            _ => None,
        })
        .collect())
}

/// No package has a trust config: a failure, unless there is no package at all (then
/// there is nothing to judge).
fn no_trusted_publisher(id: CheckId, s: &Snapshot) -> CheckResult {
    if let Some(nothing) = super::empty_scope(id, s) {
        return nothing;
    }
    CheckResult::from_items(
        id,
        vec![Evidence::new(
            "GET /-/package/<pkg>/trust",
            format!("no package of {} has a trusted publisher", s.scope),
        )],
        vec![],
        vec![],
    )
}

/// What the environment a GitHub or GitLab trust config pins lets through, with the request
/// that showed it.
enum EnvVerdict {
    /// Only the release branch(es) or tags, or only Maintainers from protected refs.
    Bound(String, String),
    Open(String, String),
    /// Not read, or could not be read.
    Unread(String, String),
}

fn environment_verdict(s: &Snapshot, publisher: &Publisher, env: &str) -> EnvVerdict {
    match publisher {
        Publisher::GitHub(g) => github_verdict(s, &g.repository, env),
        Publisher::GitLab(g) => gitlab_verdict(s, &g.project_path, env),
        Publisher::CircleCi(_) => EnvVerdict::Unread(String::new(), "not an environment".into()),
    }
}

fn github_verdict(s: &Snapshot, repo: &str, env: &str) -> EnvVerdict {
    let Some(gh) = &s.github else {
        return EnvVerdict::Unread(
            format!("GitHub repository {repo}"),
            format!(
                "pins environment `{env}` of {repo}, but no GitHub API was given (--github-token-env, GITHUB_TOKEN) to read its deployment branch policy"
            ),
        );
    };
    let source = format!("GET {}repos/{repo}/environments/{env}", gh.api);
    match gh.environments.get(&(repo.to_owned(), env.to_owned())) {
        None => EnvVerdict::Unread(source, "not read".into()),
        Some(Err(e)) => EnvVerdict::Unread(source, format!("cannot read environment `{env}`: {e}")),
        Some(Ok(read)) => match &read.found {
            None => EnvVerdict::Open(
                source,
                format!(
                    "{repo} has no environment `{env}`: GitHub creates it unprotected when a job names it, so any branch can publish"
                ),
            ),
            Some((e, policies)) => {
                let reviewers: Vec<&str> = e
                    .protection_rules
                    .iter()
                    .flat_map(|r| r.reviewers.iter().map(String::as_str))
                    .collect();
                let note = if reviewers.is_empty() {
                    String::new()
                } else {
                    format!("; required reviewers: {}", reviewers.join(", "))
                };
                match e.deployment_branch_policy {
                    None => EnvVerdict::Open(
                        source,
                        format!(
                            "environment `{env}` of {repo} has no deployment branch policy: every branch and tag can deploy to it, so any branch can publish"
                        ),
                    ),
                    Some(p) if p.protected_branches => EnvVerdict::Bound(
                        source,
                        format!(
                            "environment `{env}` of {repo} admits only protected branches{note}"
                        ),
                    ),
                    Some(_) => {
                        let open: Vec<&str> = policies
                            .iter()
                            .filter(|p| p.name.starts_with('*'))
                            .map(|p| p.name.as_str())
                            .collect();
                        let named: Vec<String> = policies
                            .iter()
                            .map(|p| format!("{} `{}`", p.kind, p.name))
                            .collect();
                        if open.is_empty() {
                            EnvVerdict::Bound(
                                source,
                                format!(
                                    "environment `{env}` of {repo} admits only {}{note}",
                                    if named.is_empty() {
                                        "no ref".to_owned()
                                    } else {
                                        named.join(", ")
                                    }
                                ),
                            )
                        } else {
                            EnvVerdict::Open(
                                source,
                                format!(
                                    "environment `{env}` of {repo} admits any ref matching `{}`",
                                    open.join("`, `")
                                ),
                            )
                        }
                    }
                }
            }
        },
    }
}

fn gitlab_verdict(s: &Snapshot, project: &str, env: &str) -> EnvVerdict {
    let Some(gl) = &s.gitlab else {
        return EnvVerdict::Unread(
            format!("GitLab project {project}"),
            format!(
                "pins environment `{env}` of {project}, but no GitLab API was given (--gitlab-token-env, GITLAB_TOKEN) to read its protection"
            ),
        );
    };
    let source = format!("GET {}projects/{project}/protected_environments", gl.api);
    match gl.environments.get(&(project.to_owned(), env.to_owned())) {
        None => EnvVerdict::Unread(source, "not read".into()),
        Some(Err(e)) => {
            EnvVerdict::Unread(source, format!("cannot read protected environments: {e}"))
        }
        Some(Ok(GitLabEnvironment::NotOnThisTier)) => EnvVerdict::Open(
            source,
            format!(
                "protected environments are a GitLab Premium feature {project} does not have, so `{env}` cannot be protected and any Developer can deploy (publish) to it"
            ),
        ),
        Some(Ok(GitLabEnvironment::Unprotected)) => EnvVerdict::Open(
            source,
            format!(
                "environment `{env}` of {project} is not protected: any Developer who can push a branch can run the publish job"
            ),
        ),
        Some(Ok(GitLabEnvironment::Protected(pe))) => {
            let developers = pe
                .deploy_access_levels
                .iter()
                .any(|l| l.access_level.is_some_and(|a| a < 40));
            if developers {
                EnvVerdict::Open(
                    source,
                    format!(
                        "environment `{env}` of {project} is protected, but Developers may deploy to it"
                    ),
                )
            } else {
                EnvVerdict::Bound(
                    source,
                    format!(
                        "environment `{env}` of {project} is protected: only Maintainers (or named users and groups) may deploy"
                    ),
                )
            }
        }
    }
}

pub fn context_bound(s: &Snapshot) -> CheckResult {
    let id = CheckId::ContextBound;
    let trusted = match trusted(s) {
        Ok(t) => t,
        Err(e) => return packages_unreadable(id, s, &e),
    };
    if trusted.is_empty() {
        return no_trusted_publisher(id, s);
    }
    let (mut fails, mut unknowns) = (Vec::new(), Vec::new());
    // the request that showed a binding (a CircleCI context, a GitHub or GitLab
    // environment) → (verdict, packages that pin it and rely on it)
    let mut bindings: BTreeMap<String, (String, Vec<&str>)> = BTreeMap::new();
    let mut saw_circleci = false;
    for (p, configs) in trusted {
        let source = package_source(&p.name, "trust");
        for config in configs {
            match config.provider() {
                Provider::CircleCi => {
                    saw_circleci = true;
                    let ids = config.context_ids();
                    if ids.is_empty() {
                        fails.push(Evidence::new(
                            &source,
                            format!(
                                "{}: trust config {} pins no context (oidc.circleci.com/context-ids), so any branch of the project can publish",
                                p.name,
                                config.display_id()
                            ),
                        ));
                        continue;
                    }
                    let Some(circle) = &s.circleci else {
                        unknowns.push(Evidence::new(
                            &source,
                            format!(
                                "{}: pins context {}, but no CircleCI API was given (--circleci-api, --circleci-token-env) to read its restrictions",
                                p.name,
                                ids.join(", ")
                            ),
                        ));
                        continue;
                    };
                    let mut reasons = Vec::new();
                    let mut unreadable = Vec::new();
                    let mut good = None;
                    for cid in ids {
                        let csource = format!("GET /context/{cid}");
                        match circle.pinned.get(cid) {
                            None => unreadable.push(Evidence::new(&csource, "not read")),
                            Some(Err(e)) if e.contains("HTTP 404") => reasons.push(format!(
                                "context {cid} does not exist (or this token cannot see it)"
                            )),
                            Some(Err(e)) => unreadable.push(Evidence::new(&csource, format!("cannot read: {e}"))),
                            Some(Ok(detail)) => {
                                let exprs: Vec<&str> = detail
                                    .restrictions
                                    .iter()
                                    .filter(|r| r.restriction_type == "expression")
                                    .map(|r| r.restriction_value.as_str())
                                    .collect();
                                match restrictions::main_only_no_ssh(&exprs) {
                                    restrictions::Verdict::Guaranteed(why) => {
                                        good = Some((cid.clone(), format!("context {} ({cid}): {why}", detail.name)));
                                    }
                                    restrictions::Verdict::NotGuaranteed(why) => {
                                        reasons.push(format!("context {} ({cid}): {why}", detail.name))
                                    }
                                }
                            }
                        }
                    }
                    if let Some((cid, why)) = good {
                        bindings
                            .entry(format!("GET /context/{cid}"))
                            .or_insert_with(|| (why, Vec::new()))
                            .1
                            .push(&p.name);
                    } else if !unreadable.is_empty() {
                        unknowns.extend(unreadable);
                    } else {
                        fails.push(Evidence::new(
                            &source,
                            format!(
                                "{}: no pinned context admits only main without SSH reruns: {}",
                                p.name,
                                reasons.join("; ")
                            ),
                        ));
                    }
                }
                provider @ (Provider::GitHub | Provider::GitLab) => match config.environment() {
                    None => fails.push(Evidence::new(
                        &source,
                        format!(
                            "{}: {provider} trust config {} pins no environment, so any branch or workflow run of the repository can publish",
                            p.name,
                            config.display_id()
                        ),
                    )),
                    Some(env) => match environment_verdict(s, &config.publisher, env) {
                        EnvVerdict::Bound(src, why) => {
                            bindings.entry(src).or_insert_with(|| (why, Vec::new())).1.push(&p.name)
                        }
                        EnvVerdict::Open(src, why) => {
                            fails.push(Evidence::new(src, format!("{}: {why}", p.name)))
                        }
                        EnvVerdict::Unread(src, why) => {
                            unknowns.push(Evidence::new(src, format!("{}: {why}", p.name)))
                        }
                    },
                },
            }
        }
    }
    let passes = bindings
        .iter()
        .map(|(source, (why, pkgs))| {
            Evidence::new(
                source.clone(),
                format!("{why}; pinned by {}", list_some(pkgs, 10)),
            )
        })
        .collect();
    let mut result = CheckResult::from_items(id, fails, unknowns, passes);
    if saw_circleci {
        result.evidence.push(Evidence::new(
            "circleci.md §3.1",
            format!(
                "{}; add a project restriction (the publishing project) and a security group (release managers) to the context as well",
                restrictions::ADMIN_BYPASS
            ),
        ));
    }
    result
}

/// Where release-verified starts looking: the migration tokenless recorded (the first
/// publishing-access change the registry acknowledged), else 90 days back.
fn window_start(s: &Snapshot) -> (String, String) {
    let recorded = s
        .record
        .is_for(&s.registry, &s.scope)
        .then(|| s.record.mfa_steps().map(|m| m.at.as_str()).min())
        .flatten();
    match recorded {
        Some(at) => (
            at.to_string(),
            format!("since the migration recorded at {at}"),
        ),
        None => {
            let since = tokenless_trust::clock::rfc3339(
                tokenless_trust::clock::now_secs().saturating_sub(90 * 86_400),
            );
            (
                since.clone(),
                format!("in the last 90 days (since {since}; no migration recorded)"),
            )
        }
    }
}

pub fn release_verified(s: &Snapshot) -> CheckResult {
    let id = CheckId::ReleaseVerified;
    let trusted = match trusted(s) {
        Ok(t) => t,
        Err(e) => return packages_unreadable(id, s, &e),
    };
    if trusted.is_empty() {
        return no_trusted_publisher(id, s);
    }
    let (since, window) = window_start(s);
    let (mut fails, mut unknowns) = (Vec::new(), Vec::new());
    let mut good: Vec<String> = Vec::new();
    for (p, configs) in trusted {
        let source = format!("GET /{}", tokenless_api::npm::escape_name(&p.name));
        let releases = match &p.releases {
            None => {
                unknowns.push(Evidence::new(
                    source,
                    format!("{}: packument not read", p.name),
                ));
                continue;
            }
            Some(Err(e)) => {
                unknowns.push(Evidence::new(source, format!("cannot read: {e}")));
                continue;
            }
            Some(Ok(r)) => r,
        };
        let Some(latest) = releases.latest.as_deref() else {
            fails.push(Evidence::new(
                source,
                format!(
                    "{} has no `latest` version: nothing has been released under the trust config",
                    p.name
                ),
            ));
            continue;
        };
        // Every version of the window (one with no publish time counts: it cannot be
        // shown to be older), and the latest whatever its age.
        let current: Vec<&str> = configs.iter().map(TrustConfig::display_id).collect();
        for rel in releases.versions.iter().filter(|r| {
            r.version == latest || r.published.as_deref().is_none_or(|t| t >= since.as_str())
        }) {
            let at = rel
                .published
                .as_deref()
                .map(|t| format!(" at {t}"))
                .unwrap_or_default();
            let tag = if rel.version == latest {
                " (latest)"
            } else {
                ""
            };
            match rel.oidc_config_id.as_deref() {
                Some(used) if current.contains(&used) => {
                    good.push(format!("{}@{} via {used}", p.name, rel.version));
                }
                Some(used) => fails.push(Evidence::new(
                    &source,
                    format!(
                        "{}@{}{tag}{at} went through trust config {used}, which is no longer the package's (current: {})",
                        p.name,
                        rel.version,
                        current.join(", ")
                    ),
                )),
                None => fails.push(Evidence::new(
                    &source,
                    format!(
                        "{}@{}{tag}{at} was published by {} with a token, not through a trusted publisher (_npmUser.trustedPublisher absent)",
                        p.name,
                        rel.version,
                        rel.publisher.as_deref().unwrap_or("an unnamed publisher")
                    ),
                )),
            }
        }
    }
    let good_refs: Vec<&str> = good.iter().map(String::as_str).collect();
    let passes = if good.is_empty() {
        Vec::new()
    } else {
        vec![Evidence::new(
            "GET /<pkg> versions[]._npmUser.trustedPublisher, time[]",
            format!(
                "{} release(s) {window} went through a current trust config: {}",
                good.len(),
                list_some(&good_refs, 10)
            ),
        )]
    };
    CheckResult::from_items(id, fails, unknowns, passes)
}
