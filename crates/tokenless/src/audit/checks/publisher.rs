//! `trusted-publisher`, `context-bound`, `release-verified`: the packages' trust configs,
//! the contexts they pin, and whether the latest release went through them.

use std::collections::BTreeMap;

use tokenless_api::npm::TrustConfig;
use tokenless_trust::{Action, Provider};

use super::{list_some, package_source};
use crate::audit::{
    report::{CheckId, CheckResult, Evidence},
    restrictions,
    snapshot::{PackageState, Snapshot},
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
    if packages.is_empty() {
        return CheckResult::from_items(
            id,
            vec![],
            vec![Evidence::new(
                super::org_source(&s.scope, "package"),
                format!("{} has no packages this credential can see", s.scope),
            )],
            vec![],
        );
    }
    let (mut fails, mut unknowns) = (Vec::new(), Vec::new());
    let mut good: Vec<&str> = Vec::new();
    for p in packages {
        let source = package_source(&p.name, "trust");
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
            Ok(_) => good.push(&p.name),
        }
    }
    let passes = vec![Evidence::new(
        "GET /-/package/<pkg>/trust",
        format!(
            "{} of {} packages have a trust config that allows publish: {}",
            good.len(),
            packages.len(),
            list_some(&good, 10)
        ),
    )];
    CheckResult::from_items(id, fails, unknowns, passes)
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

fn no_trusted_publisher(id: CheckId, s: &Snapshot) -> CheckResult {
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
    // context id → (verdict, packages that pin it and rely on it)
    let mut good_contexts: BTreeMap<String, (String, Vec<&str>)> = BTreeMap::new();
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
                        good_contexts.entry(cid).or_insert_with(|| (why, Vec::new())).1.push(&p.name);
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
                    Some(env) => unknowns.push(Evidence::new(
                        &source,
                        format!(
                            "{}: {provider} trust config pins environment `{env}`; tokenless cannot read that environment's branch protection yet: verify by hand that only main can deploy to it",
                            p.name
                        ),
                    )),
                },
            }
        }
    }
    let passes = good_contexts
        .iter()
        .map(|(cid, (why, pkgs))| {
            Evidence::new(
                format!("GET /context/{cid}"),
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

pub fn release_verified(s: &Snapshot) -> CheckResult {
    let id = CheckId::ReleaseVerified;
    let trusted = match trusted(s) {
        Ok(t) => t,
        Err(e) => return packages_unreadable(id, s, &e),
    };
    if trusted.is_empty() {
        return no_trusted_publisher(id, s);
    }
    let (mut fails, mut unknowns) = (Vec::new(), Vec::new());
    let mut good: Vec<String> = Vec::new();
    for (p, configs) in trusted {
        let source = format!("GET /{}", tokenless_api::npm::escape_name(&p.name));
        match &p.latest {
            None => unknowns.push(Evidence::new(
                source,
                format!("{}: packument not read", p.name),
            )),
            Some(Err(e)) => unknowns.push(Evidence::new(source, format!("cannot read: {e}"))),
            Some(Ok(None)) => fails.push(Evidence::new(
                source,
                format!(
                    "{} has no `latest` version: nothing has been released under the trust config",
                    p.name
                ),
            )),
            Some(Ok(Some(rel))) => {
                let current: Vec<&str> = configs.iter().map(TrustConfig::display_id).collect();
                let by = rel.publisher.as_deref().unwrap_or("an unnamed publisher");
                match rel.oidc_config_id.as_deref() {
                    Some(used) if current.contains(&used) => good.push(format!("{}@{}", p.name, rel.version)),
                    Some(used) => fails.push(Evidence::new(
                        source,
                        format!(
                            "{}@{} (latest) went through trust config {used}, which is no longer the package's (current: {})",
                            p.name,
                            rel.version,
                            current.join(", ")
                        ),
                    )),
                    None => fails.push(Evidence::new(
                        source,
                        format!(
                            "{}@{} (latest) was published by {by} without a trusted publisher (_npmUser.trustedPublisher absent)",
                            p.name, rel.version
                        ),
                    )),
                }
            }
        }
    }
    let good_refs: Vec<&str> = good.iter().map(String::as_str).collect();
    let passes = vec![Evidence::new(
        "GET /<pkg> versions[latest]._npmUser.trustedPublisher",
        format!(
            "{} latest releases went through the current trust config: {}",
            good.len(),
            list_some(&good_refs, 10)
        ),
    )];
    CheckResult::from_items(id, fails, unknowns, passes)
}
