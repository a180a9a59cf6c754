//! `provenance-unsupported`: provenance requested in a CircleCI publish job, where npm
//! refuses to generate it (EUSAGE).

use super::{FileCx, Out};
use crate::finding::{RuleId, RuleMeta, Severity};
use crate::provider::Provider;

pub const META: RuleMeta = RuleMeta {
    id: RuleId::ProvenanceUnsupported,
    default_severity: Severity::Medium,
    summary: "Provenance requested in a CircleCI publish job, where npm refuses to generate it.",
};

pub fn check(cx: &FileCx<'_>, out: &mut Out<'_>) {
    if cx.provider != Provider::CircleCi {
        return;
    }
    for j in &cx.jobs {
        out.job(j.index);
        if j.publishes.is_empty() {
            continue;
        }
        for loc in &j.facts.provenance {
            out.push(
                META.id,
                None,
                *loc,
                format!("job `{}` asks for provenance, which npm does not generate on CircleCI: the publish fails with EUSAGE", j.name()),
                "drop --provenance / NPM_CONFIG_PROVENANCE (and publishConfig.provenance) from the CircleCI publish",
            );
        }
    }
}
