//! `npm-too-old`: a job that relies on the exchange (an id token reaches the publish, no
//! stored token is wired) runs an npm, Node or release tool that cannot perform it.

use super::{FileCx, Npm, Out, provider_label};
use crate::facts::ToolVersion;
use crate::finding::{RuleId, RuleMeta, Severity};
use crate::model::Loc;
use crate::provider::Provider;
use crate::versions;

pub const META: RuleMeta = RuleMeta {
    id: RuleId::NpmTooOld,
    default_severity: Severity::Medium,
    summary: "A job that relies on the OIDC exchange runs an npm or Node too old to perform it.",
};

const ID: RuleId = META.id;

pub fn check(cx: &FileCx<'_>, out: &mut Out<'_>) {
    let provider = cx.provider;
    for j in &cx.jobs {
        out.job(j.index);
        if j.publishes.is_empty() || !j.all_reach || !j.statics.is_empty() {
            continue;
        }
        let f = j.facts;
        match &j.npm {
            Npm::Ok => {}
            Npm::TooOld { what, loc } => {
                let min = if provider == Provider::CircleCi { "11.11.0" } else { "11.5.1" };
                out.push(
                    ID,
                    None,
                    *loc,
                    format!("job `{}` relies on trusted publishing, but {what}; {} needs npm >= {min}, so no exchange happens", j.name(), provider_label(provider)),
                    "use an image with npm >= 11.11.0 (e.g. cimg/node:24.16) or run `npm install -g npm@^11.11.0` before publishing",
                );
            }
            Npm::Unknown { what, loc } => out.push(
                ID,
                Some(Severity::Low),
                *loc,
                format!("job `{}` relies on trusted publishing, but tokenless {what}", j.name()),
                "pin a Node image known to ship npm >= 11.11.0, or run `npm install -g npm@^11.11.0` before publishing",
            ),
        }
        // Node policy floor (GitHub/GitLab).
        if provider != Provider::CircleCi {
            let node = f.node_versions.last().map(|n| (n.spec, n.loc)).or_else(|| {
                j.job.images.first().and_then(|(i, n)| {
                    versions::node_of_image(i).map(|s| (s, Loc::of(cx.forest, *n)))
                })
            });
            if let Some((spec, loc)) = node
                && let Some(v) = versions::node_version(spec)
                && v < versions::NODE_MIN
            {
                out.push(
                    ID,
                    Some(Severity::Low),
                    loc,
                    format!("job `{}` publishes on Node {}.{}; npm documents Node >= 22.14.0 for trusted publishing", j.name(), v.0, if v.1 == 99 { "x".to_string() } else { v.1.to_string() }),
                    "use Node 22.14.0 or newer in the publish job",
                );
            }
        }
        for ToolVersion {
            tool,
            version: ver,
            loc,
        } in &f.tool_versions
        {
            if tool == "semantic-release"
                && let Some(major) = ver
                    .trim_start_matches(['^', '~', 'v'])
                    .split('.')
                    .next()
                    .and_then(|m| m.parse::<u32>().ok())
                && major < 25
            {
                out.push(
                    ID,
                    None,
                    *loc,
                    format!("job `{}` runs semantic-release {ver}, whose npm plugin predates trusted publishing and insists on NPM_TOKEN", j.name()),
                    "use semantic-release 25 or newer",
                );
            }
        }
    }
}
