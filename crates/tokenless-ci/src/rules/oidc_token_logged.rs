//! `oidc-token-logged`: the id token is printed to the job log (`echo`, `set -x` in
//! the minting step, `circleci run oidc get` to stdout).

use super::{FileCx, Out};
use crate::facts::{TokenPrinted, Xtrace};
use crate::finding::{RuleId, RuleMeta, Severity};

pub const META: RuleMeta = RuleMeta {
    id: RuleId::OidcTokenLogged,
    default_severity: Severity::Medium,
    summary: "The OIDC id token is printed to the job log.",
};

pub fn check(cx: &FileCx<'_>, out: &mut Out<'_>) {
    for j in &cx.jobs {
        out.job(j.index);
        let f = j.facts;
        for TokenPrinted { loc, how, .. } in &f.logged {
            out.push(
                META.id,
                None,
                *loc,
                format!("job `{}`: {how}; anyone who can read the log can replay it within its lifetime", j.name()),
                "capture the token in a variable and never print it (log its length with ${#NPM_ID_TOKEN} if needed)",
            );
        }
        for Xtrace { step, loc } in &f.xtrace {
            if f.mints.iter().any(|m| m.step == *step) {
                out.push(
                    META.id,
                    None,
                    *loc,
                    format!("job `{}` traces the step that mints the id token (`set -x`), which prints the token to the log", j.name()),
                    "remove `set -x` from the minting step (or `set +x` around the mint)",
                );
            }
        }
    }
}
