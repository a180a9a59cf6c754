//! `npm-too-old`: a job that relies on the exchange (an id token reaches the publish, no
//! stored token is wired) runs an npm, Node or release tool that cannot perform it.

use super::{FileCx, Npm, Out, provider_label};
use crate::clients::{self, Oidc};
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
        // A client that cannot exchange at all on this provider (clients.rs).
        let mut without_oidc = false;
        for p in &j.publishes {
            if let Oidc::None { why } = clients::oidc(p.client, provider) {
                without_oidc = true;
                out.push(
                    ID,
                    Some(Severity::High),
                    p.loc,
                    format!("job `{}` relies on trusted publishing, but publishes with {}: {why}, so every publish needs a stored token", j.name(), p.client.as_str()),
                    "publish with npm (`npm publish`, npm >= 11.5.1; >= 11.11.0 on CircleCI) or yarn berry >= 4.10.1 instead",
                );
            }
        }
        // "pnpm publishes through npm, and …" when the client is not npm itself.
        let through = match j.publishes.first().map(|p| p.client.as_str()) {
            Some(c) if c != "npm" => format!("{c} publishes through npm, and "),
            _ => String::new(),
        };
        let floor = clients::npm_floor(provider);
        // A client that exchanges itself (yarn berry, @semantic-release/npm) does not need
        // npm to: its own floor is judged below where its version is known.
        let own_exchange = j.publishes.first().is_some_and(|p| {
            matches!(clients::oidc(p.client, provider), Oidc::Native { tool, .. } if tool != "npm")
        });
        match &j.npm {
            _ if without_oidc || own_exchange => {}
            Npm::Ok => {}
            Npm::TooOld { what, loc } => {
                out.push(
                    ID,
                    None,
                    *loc,
                    format!("job `{}` relies on trusted publishing, but {what}; {through}{} needs npm >= {floor}, so no exchange happens", j.name(), provider_label(provider)),
                    clients::npm_help(provider),
                );
            }
            Npm::Unknown { what, loc } => out.push(
                ID,
                Some(Severity::Low),
                *loc,
                format!("job `{}` relies on trusted publishing, but tokenless {what}; {through}{} needs npm >= {floor}", j.name(), provider_label(provider)),
                clients::npm_help(provider),
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
            if tool == "changesets/action"
                && let Some(v) = clients::exact_version(ver)
                && v < clients::CHANGESETS_ACTION_MIN
            {
                out.push(
                    ID,
                    None,
                    *loc,
                    format!("job `{}` runs changesets/action {ver}, which predates trusted publishing: from {} it leaves NPM_TOKEN out and lets npm exchange the id token", j.name(), clients::CHANGESETS_ACTION_MIN),
                    "use changesets/action@v1 (1.8.0 or newer)",
                );
            }
            if tool == "semantic-release"
                && let Some(major) = ver
                    .trim_start_matches(['^', '~', 'v'])
                    .split('.')
                    .next()
                    .and_then(|m| m.parse::<u32>().ok())
                && major < 25
            {
                let need = match clients::oidc(crate::publish::Client::SemanticRelease, provider) {
                    Oidc::Native { min, .. } => min.to_string(),
                    _ => "13.1.0".to_owned(),
                };
                out.push(
                    ID,
                    None,
                    *loc,
                    format!("job `{}` runs semantic-release {ver}, whose @semantic-release/npm predates trusted publishing (on {} it needs @semantic-release/npm >= {need}) and insists on NPM_TOKEN", j.name(), provider_label(provider)),
                    "use semantic-release 25 or newer (it brings @semantic-release/npm 13)",
                );
            }
        }
    }
}
