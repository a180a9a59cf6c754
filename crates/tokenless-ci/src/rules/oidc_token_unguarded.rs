//! `oidc-token-unguarded`: a failed `circleci run oidc get` is masked (its status
//! replaced by `echo`, `export`, a pipeline, `|| true`) and nothing checks the value.

use super::{FileCx, Out, mint_is_npm};
use crate::finding::{RuleId, RuleMeta, Severity};

pub const META: RuleMeta = RuleMeta {
    id: RuleId::OidcTokenUnguarded,
    default_severity: Severity::Medium,
    summary: "A failed id-token fetch is masked and the job carries on.",
};

pub fn check(cx: &FileCx<'_>, out: &mut Out<'_>) {
    for j in &cx.jobs {
        out.job(j.index);
        let f = j.facts;
        // Masked fetches of the npm id token (a JWT mis-stored in NPM_TOKEN is misuse).
        for m in &f.mints {
            let npm_var = match m.var.as_deref() {
                Some(v) => v == "NPM_ID_TOKEN",
                None => mint_is_npm(m),
            };
            if !npm_var {
                continue;
            }
            let Some(reason) = &m.masked else { continue };
            let var = m.var.clone().unwrap_or_else(|| "NPM_ID_TOKEN".into());
            if f.guards.iter().any(|g| g.step >= m.step && g.var == var) {
                continue;
            }
            out.push(
                META.id,
                None,
                m.loc,
                format!("job `{}`: a failed `circleci run oidc get` goes unnoticed: {reason}, and nothing checks that {var} is non-empty", j.name()),
                "assign on its own line under `set -e` (NPM_ID_TOKEN=\"$(…)\"), then `[ -n \"$NPM_ID_TOKEN\" ] || exit 1`, then export it",
            );
        }
    }
}
