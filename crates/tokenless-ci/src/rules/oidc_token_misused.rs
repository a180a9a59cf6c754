//! `oidc-token-misused`: the OIDC JWT is put where a registry token goes
//! (`NPM_TOKEN=`, `_authToken=`); only the exchange turns it into an npm token.

use super::{FileCx, Out, abbreviate};
use crate::facts::Source;
use crate::finding::{RuleId, RuleMeta, Severity};

pub const META: RuleMeta = RuleMeta {
    id: RuleId::OidcTokenMisused,
    default_severity: Severity::High,
    summary: "The OIDC id token is put where a registry token goes.",
};

pub fn check(cx: &FileCx<'_>, out: &mut Out<'_>) {
    for j in &cx.jobs {
        out.job(j.index);
        let f = j.facts;
        if j.publishes.is_empty() && f.mints.is_empty() && j.job.id_token.gitlab.is_empty() {
            continue;
        }
        for w in &f.wires {
            if let Source::Oidc(src) = &w.source {
                out.push(
                    META.id,
                    None,
                    w.loc,
                    format!("job `{}` puts an OIDC id token (`{}`) into {}; it is not an npm token, and only the exchange turns it into one", j.name(), abbreviate(src), w.what),
                    "export the token as NPM_ID_TOKEN and let npm exchange it; remove the NPM_TOKEN/_authToken wiring",
                );
            }
        }
    }
}
