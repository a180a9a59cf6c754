//! `static-token-publish`: a publish authenticated by a stored credential, a CircleCI
//! publish whose tool can only read NPM_TOKEN from a context or project variable, or a
//! token written for registry.npmjs.org in a job where no publish is recognised (the
//! token is there to be used; medium severity).

use std::collections::HashMap;

use super::{FileCx, Model, Out, abbreviate};
use crate::facts::{Source, is_npmjs};
use crate::finding::{Confidence, RuleId, RuleMeta, Severity};
use crate::model::Loc;
use crate::yaml::NodeId;

pub const META: RuleMeta = RuleMeta {
    id: RuleId::StaticTokenPublish,
    default_severity: Severity::High,
    summary: "A publish authenticated by a stored npm credential.",
};

const ID: RuleId = META.id;

pub fn check(cx: &FileCx<'_>, out: &mut Out<'_>) {
    for j in &cx.jobs {
        out.job(j.index);
        let Some(first) = j.first() else {
            token_without_publish(cx, j, out);
            continue;
        };
        if j.exchange {
            continue;
        }
        for w in &j.statics {
            let Source::Static(src) = &w.source else {
                continue;
            };
            out.push(
                ID,
                None,
                w.loc,
                format!("job `{}` runs {} with {} from `{}`, a stored credential", j.name(), first.what, w.what, abbreviate(src)),
                "delete the stored token and publish with trusted publishing (an OIDC id token exchanged by npm)",
            );
        }
    }
    if let Model::CircleCi(cfg) = cx.model {
        context_token(cx, cfg, out);
    }
}

/// A token written for registry.npmjs.org (any variable, any way) in a job with no
/// recognised publish.
fn token_without_publish(cx: &FileCx<'_>, j: &super::JobCx<'_>, out: &mut Out<'_>) {
    // A job that publishes elsewhere (GitHub Packages, a private registry) is not judged.
    if !j.facts.publishes.is_empty() {
        return;
    }
    for w in &j.facts.wires {
        let Source::Static(src) = &w.source else {
            continue;
        };
        if !w.host.as_deref().is_some_and(is_npmjs) {
            continue;
        }
        out.push_with_confidence(
            ID,
            Some(Severity::Medium),
            Confidence::Medium,
            w.loc,
            format!("job `{}` writes a token for registry.npmjs.org ({} from `{}`) although no publish is recognised in it: the token is there to be used, and anything the job runs can publish with it", j.name(), w.what, abbreviate(src)),
            "delete the stored token; publish with trusted publishing from a dedicated job",
        );
        let _ = cx;
        return;
    }
}

/// A CircleCI publish whose tool reads NPM_TOKEN by itself, with no token in the config
/// and no id token: the token can only come from a context or project variable.
fn context_token(cx: &FileCx<'_>, cfg: &crate::circleci::Config, out: &mut Out<'_>) {
    let mut entries_of: HashMap<&str, Vec<&crate::circleci::Entry>> = HashMap::new();
    for e in &cfg.entries {
        entries_of.entry(e.job.as_str()).or_default().push(e);
    }
    for j in &cx.jobs {
        out.job(j.index);
        let f = j.facts;
        let Some(p) = j.first() else { continue };
        if !f.mints.is_empty()
            || f.wires
                .iter()
                .any(|w| !matches!(w.source, Source::Placeholder))
        {
            continue;
        }
        if !p.reads_npm_token {
            continue;
        }
        let ctxs: Vec<&(String, NodeId)> = entries_of
            .get(j.name())
            .into_iter()
            .flatten()
            .filter(|e| !e.is_approval)
            .flat_map(|e| e.contexts.iter())
            .collect();
        let Some(first) = ctxs.first() else { continue };
        let names: Vec<&str> = ctxs.iter().map(|c| c.0.as_str()).collect();
        out.push(
            ID,
            Some(Severity::Medium),
            Loc::of(cx.forest, first.1),
            format!(
                "job `{}` runs {}, which reads NPM_TOKEN from the environment; with no id token it can only publish with a token from context `{}` or a project variable",
                j.name(),
                p.what,
                names.join("`, `")
            ),
            "mint an id token into NPM_ID_TOKEN in the publish step and delete NPM_TOKEN from the context and project variables",
        );
    }
}
