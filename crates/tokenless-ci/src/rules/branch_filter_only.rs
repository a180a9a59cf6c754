//! `branch-filter-only`: a CircleCI publish job guarded only by workflow `filters` (or by
//! nothing), with no context. npm's CircleCI trust config does not pin the branch, and
//! anyone who can push a branch can edit the filters.

use std::collections::HashMap;

use super::{FileCx, Model, Out};
use crate::finding::{RuleId, RuleMeta, Severity};
use crate::model::Loc;

pub const META: RuleMeta = RuleMeta {
    id: RuleId::BranchFilterOnly,
    default_severity: Severity::Medium,
    summary: "A CircleCI publish job guarded only by workflow filters, with no context.",
};

pub fn check(cx: &FileCx<'_>, out: &mut Out<'_>) {
    let Model::CircleCi(cfg) = cx.model else {
        return;
    };
    let by_name: HashMap<&str, usize> = cx.jobs.iter().map(|j| (j.name(), j.index)).collect();
    for e in &cfg.entries {
        if e.is_approval || !e.contexts.is_empty() {
            continue;
        }
        let Some(j) = by_name.get(e.job.as_str()).and_then(|i| cx.jobs.get(*i)) else {
            continue;
        };
        let Some(p) = j.first() else { continue };
        out.job(j.index);
        let guard = match e.filters {
            Some(_) => "guarded only by workflow `filters`",
            None => "not guarded by any context",
        };
        out.push(
            META.id,
            None,
            Loc::of(cx.forest, e.node),
            format!(
                "publish job `{}` (runs {}) in workflow `{}` is {guard}: anyone who can push a branch can edit the filters and publish",
                e.name, p.what, e.workflow
            ),
            "attach a context whose expression restriction pins the branch (`pipeline.git.branch == \"main\" and not job.ssh.enabled`) and bind its id in the trusted publisher",
        );
    }
}
