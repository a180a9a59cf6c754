//! `oidc-publish-job`: lint of what actually ran (each project's latest compiled config)
//! and of `--repo` paths, plus npm-token-like CI variables (the silent fallback).

use tokenless_ci::facts::is_token_name;

use crate::audit::{
    report::{CheckId, CheckResult, Evidence},
    snapshot::{ConfigLint, Snapshot},
};

/// The lint rules whose findings fail the box.
pub const RULES: [&str; 4] = [
    "static-token-publish",
    "oidc-token-missing",
    "oidc-token-misused",
    "token-fallback",
];

/// Judge one linted config; returns the number of publish jobs it speaks for.
fn lint_evidence(
    lint: &ConfigLint,
    fails: &mut Vec<Evidence>,
    unknowns: &mut Vec<Evidence>,
) -> usize {
    match &lint.findings {
        Err(e) => {
            unknowns.push(Evidence::new(&lint.origin, format!("cannot lint: {e}")));
            0
        }
        Ok(hits) => {
            for h in hits {
                fails.push(Evidence::new(
                    h.location.clone(),
                    format!("{}: {} ({})", h.rule, h.message, lint.origin),
                ));
            }
            if lint.expects_publish && lint.publish_jobs.is_empty() {
                // A trust config names it, so it publishes somewhere lint could not see
                // (a script file the config does not contain, an orb): not a pass.
                unknowns.push(Evidence::new(
                    &lint.origin,
                    "a trust config names this pipeline, but lint recognises no npm publish job in it: the publish runs where the config does not show it (a script file, an orb); lint the repository with --repo PATH",
                ));
            }
            lint.publish_jobs.len()
        }
    }
}

pub fn oidc_publish_job(s: &Snapshot) -> CheckResult {
    let id = CheckId::OidcPublishJob;
    let (mut fails, mut unknowns) = (Vec::new(), Vec::new());
    let (mut jobs, mut var_sets) = (0usize, 0usize);
    if s.circleci.is_none() && s.repos.is_empty() && s.forge_variables.is_empty() {
        unknowns.push(Evidence::new(
            "arguments",
            "nothing to inspect: give a CircleCI API and projects (--circleci-api, --circleci-project), a GitHub or GitLab token, or --repo paths",
        ));
    }
    for set in &s.forge_variables {
        match &set.names {
            Err(e) => unknowns.push(Evidence::new(&set.source, format!("cannot read: {e}"))),
            Ok(names) => {
                var_sets += 1;
                for v in names.iter().filter(|v| is_token_name(v)) {
                    fails.push(Evidence::new(
                        &set.source,
                        format!("{} include {v}: a job that reads it can publish with it, and npm falls back to it silently when the OIDC exchange fails", set.what),
                    ));
                }
            }
        }
    }
    if let Some(circle) = &s.circleci {
        if circle.projects.is_empty() {
            unknowns.push(Evidence::new(
                &circle.api,
                "no CircleCI project to inspect: name them with --circleci-project or [audit] circleci_projects",
            ));
        }
        for p in &circle.projects {
            let source = format!("GET /project/{}/envvar", p.slug);
            match &p.variables {
                Err(e) => unknowns.push(Evidence::new(source, format!("cannot read: {e}"))),
                Ok(vars) => {
                    var_sets += 1;
                    for v in vars.iter().filter(|v| is_token_name(v)) {
                        fails.push(Evidence::new(
                            &source,
                            format!("project {} has the variable {v}: npm falls back to it silently when the OIDC exchange fails", p.slug),
                        ));
                    }
                }
            }
            match &p.latest {
                Err(e) => unknowns.push(Evidence::new(
                    format!("GET /project/{}/pipeline", p.slug),
                    format!("cannot read the latest pipeline's config: {e}"),
                )),
                Ok(None) => unknowns.push(Evidence::new(
                    format!("GET /project/{}/pipeline", p.slug),
                    format!(
                        "project {} has no pipeline: nothing shows how it publishes",
                        p.slug
                    ),
                )),
                Ok(Some(lint)) => jobs += lint_evidence(lint, &mut fails, &mut unknowns),
            }
        }
        match &circle.contexts {
            Err(e) => unknowns.push(Evidence::new(
                "GET /context",
                format!("cannot list contexts: {e}"),
            )),
            Ok(contexts) => {
                for c in contexts {
                    let source = format!("GET /context/{}/environment-variable", c.id);
                    match &c.variables {
                        Err(e) => unknowns.push(Evidence::new(source, format!("cannot read: {e}"))),
                        Ok(vars) => {
                            var_sets += 1;
                            for v in vars.iter().filter(|v| is_token_name(v)) {
                                fails.push(Evidence::new(
                                    &source,
                                    format!("context {} has the variable {v}: any job attaching it can publish with it", c.name),
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    let repo_jobs: usize = s
        .repos
        .iter()
        .map(|lint| lint_evidence(lint, &mut fails, &mut unknowns))
        .sum();
    let repo_paths = s.repos.iter().filter(|l| !l.expects_publish).count();
    if repo_paths > 0
        && s.repos
            .iter()
            .filter(|l| !l.expects_publish)
            .all(|l| l.publish_jobs.is_empty())
    {
        unknowns.push(Evidence::new(
            "--repo",
            "lint recognises no npm publish job in the given repositories: nothing shows how they publish",
        ));
    }
    jobs += repo_jobs;
    // The pass speaks for the publish jobs lint recognised, not for config files.
    let passes = if jobs == 0 && var_sets == 0 {
        Vec::new()
    } else {
        vec![Evidence::new(
            "lint + CI variables",
            format!(
                "{jobs} publish job(s) recognised, none with {}; no npm token variable in {var_sets} project, context, repository, organisation or group variable set(s)",
                RULES.join("/")
            ),
        )]
    };
    CheckResult::from_items(id, fails, unknowns, passes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_variable_names() {
        for yes in [
            "NPM_TOKEN",
            "NODE_AUTH_TOKEN",
            "npm_auth_token",
            "MY_NPM_PUBLISH_TOKEN",
            "NPM_CONFIG__AUTHTOKEN",
        ] {
            assert!(is_token_name(yes), "{yes}");
        }
        for no in [
            "NPM_ID_TOKEN",
            "SLACK_WEBHOOK",
            "GITHUB_TOKEN",
            "DOCKER_PASSWORD",
        ] {
            assert!(!is_token_name(no), "{no}");
        }
    }
}
