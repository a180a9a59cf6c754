//! Lint, as oidc-publish-job counts it: only the rules that mean "this publish job uses
//! a stored credential or cannot get an id token".

use tokenless_ci::{Document, FileSource, Location, NoFiles, Provider, lines::LineIndex};

use super::{
    checks::RULES,
    snapshot::{ConfigLint, LintHit},
};

/// Lint one configuration; `label` names it in `file:line` locations. `expects_publish`:
/// a trust config names it, so it must hold a publish job.
pub fn lint_one(
    origin: String,
    label: &str,
    source: &str,
    provider: Provider,
    files: &dyn FileSource,
    expects_publish: bool,
) -> ConfigLint {
    let doc = Document {
        path: label,
        source,
        provider,
    };
    // Follow the publish path into the repository when `files` can read it: a publish
    // lint cannot see is a box passed wrongly.
    let analysis = tokenless_ci::analyse(doc, files, true);
    let mut publish_jobs: Vec<String> = analysis
        .as_ref()
        .map(|a| {
            a.publishes
                .iter()
                .filter(|p| p.registry == tokenless_ci::publish::NPMJS)
                .map(|p| p.job.clone())
                .collect()
        })
        .unwrap_or_default();
    publish_jobs.sort();
    publish_jobs.dedup();
    let index = LineIndex::new(source);
    let findings = analysis
        .map(|a| {
            a.findings
                .into_iter()
                .filter(|f| RULES.contains(&f.rule.as_str()))
                .map(|f| {
                    // Findings in included files point into those files; without their
                    // text only the path is certain.
                    let location = if f.path == label {
                        let at = index.position(source, f.span.start);
                        Location::file(label, at.line, at.column)
                    } else {
                        Location::file(f.path.clone(), 0, 0)
                    };
                    LintHit {
                        rule: f.rule.as_str(),
                        location,
                        message: f.message,
                    }
                })
                .collect()
        })
        .map_err(|e| e.to_string());
    ConfigLint {
        origin,
        findings,
        publish_jobs,
        expects_publish,
    }
}

/// The compiled CircleCI config of a pipeline (orbs expanded: what actually ran).
pub fn lint_compiled(origin: String, label: &str, compiled: &str) -> ConfigLint {
    lint_one(origin, label, compiled, Provider::CircleCi, &NoFiles, true)
}
