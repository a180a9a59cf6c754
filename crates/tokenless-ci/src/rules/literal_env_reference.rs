//! `literal-env-reference`: a CircleCI `environment:` value that references a variable.
//! CircleCI does not expand it, and the literal overrides any context or project value.

use super::{FileCx, Model, Out};
use crate::facts;
use crate::finding::{RuleId, RuleMeta, Severity};
use crate::model::Loc;

pub const META: RuleMeta = RuleMeta {
    id: RuleId::LiteralEnvReference,
    default_severity: Severity::Medium,
    summary: "A CircleCI `environment:` value that references a variable, which CircleCI does not expand.",
};

pub fn check(cx: &FileCx<'_>, out: &mut Out<'_>) {
    let Model::CircleCi(_) = cx.model else { return };
    let forest = cx.forest;
    for j in &cx.jobs {
        out.job(j.index);
        let job = j.job;
        let step_env = job.steps.iter().flat_map(|s| s.env.iter());
        for e in job.env.iter().chain(step_env) {
            let raw = forest.text(e.value);
            if !facts::references_variable(raw) {
                continue;
            }
            out.push(
                META.id,
                None,
                Loc::of(forest, e.value),
                format!("job `{}` sets {} to the literal text `{}`: CircleCI does not expand variables in `environment:`, and this value overrides any context or project variable of that name", job.name, e.name, facts::redact(raw.trim())),
                "remove the entry and let the context or project variable through, or set it in a `run` step (`export X=\"$Y\"`)",
            );
        }
    }
}
