//! `oidc-token-reused`: one CircleCI id token minted for a publish that goes package
//! after package; npm reportedly accepts a CircleCI token only for a few minutes.

use super::{FileCx, Out};
use crate::finding::{RuleId, RuleMeta, Severity};
use crate::provider::Provider;

pub const META: RuleMeta = RuleMeta {
    id: RuleId::OidcTokenReused,
    default_severity: Severity::Info,
    summary: "One id token minted for a multi-package publish that may outlive its exchange window.",
};

pub fn check(cx: &FileCx<'_>, out: &mut Out<'_>) {
    if cx.provider != Provider::CircleCi {
        return;
    }
    for j in &cx.jobs {
        out.job(j.index);
        if j.publishes.is_empty() || !j.all_reach {
            continue;
        }
        for p in &j.publishes {
            if p.client.publishes_many() || p.recursive {
                out.push(
                    META.id,
                    None,
                    p.loc,
                    format!("job `{}` mints one id token and then runs {}, which publishes package after package; npm reportedly accepts a CircleCI token in the exchange only for a few minutes", j.name(), p.what),
                    "mint a fresh NPM_ID_TOKEN before each package's publish in long monorepo releases",
                );
            }
        }
    }
}
