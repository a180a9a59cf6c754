//! `oidc-token-missing`: a publish job with no way to obtain an id token (CircleCI: no
//! `circleci run oidc get` into NPM_ID_TOKEN reaching the publish step; GitHub: no
//! `id-token: write`; GitLab: no `id_tokens: NPM_ID_TOKEN`), or `CI=false`.

use super::{FileCx, Out};
use crate::finding::{RuleId, RuleMeta, Severity};
use crate::model::Loc;
use crate::provider::Provider;

pub const META: RuleMeta = RuleMeta {
    id: RuleId::OidcTokenMissing,
    default_severity: Severity::Medium,
    summary: "A publish job with no way to obtain an OIDC id token.",
};

const ID: RuleId = META.id;

const HELP_MINT_CIRCLE: &str = "mint the token in the publish step: NPM_ID_TOKEN=\"$(circleci run oidc get --claims '{\"aud\":\"npm:registry.npmjs.org\"}')\", check it is not empty, then export it";

pub fn check(cx: &FileCx<'_>, out: &mut Out<'_>) {
    for j in &cx.jobs {
        out.job(j.index);
        let Some(first) = j.first() else { continue };
        let f = j.facts;
        if let Some(ci) = f.ci_false {
            out.push(
                ID,
                None,
                ci,
                format!(
                    "job `{}` sets CI=false: npm then detects no CI provider and skips OIDC entirely",
                    j.name()
                ),
                "do not set CI=false in the publish job (set the build tool's own option instead)",
            );
        }
        if j.all_reach {
            continue;
        }
        let stranded = if cx.provider == Provider::CircleCi {
            f.mints
                .iter()
                .find(|m| m.var.as_deref() == Some("NPM_ID_TOKEN"))
        } else {
            None
        };
        let p = first;
        match (cx.provider, stranded) {
            (Provider::CircleCi, Some(m)) => out.push(
                ID,
                None,
                m.loc,
                format!("job `{}` mints NPM_ID_TOKEN in one step but {} runs in another: each `run` step is a new shell, and the token is not written to $BASH_ENV", j.name(), p.what),
                "mint in the publish step, or append `printf 'export NPM_ID_TOKEN=%q\\n' \"$NPM_ID_TOKEN\" >> \"$BASH_ENV\"` after checking it",
            ),
            (Provider::CircleCi, None) => out.push(
                ID,
                None,
                p.loc,
                format!("job `{}` runs {} but never mints an id token into NPM_ID_TOKEN (`circleci run oidc get`)", j.name(), p.what),
                HELP_MINT_CIRCLE,
            ),
            (Provider::GitHub, _) => {
                let (loc, why) = match j.job.id_token.github_denied {
                    Some(n) => (Loc::of(cx.forest, n), "its `permissions` do not grant `id-token: write`"),
                    None => (p.loc, "it has no `permissions: id-token: write`"),
                };
                out.push(
                    ID,
                    None,
                    loc,
                    format!("job `{}` runs {} but {why}, so npm cannot request an id token", j.name(), p.what),
                    "add `permissions: { id-token: write, contents: read }` to the publish job",
                );
            }
            (Provider::GitLab, _) => out.push(
                ID,
                None,
                p.loc,
                format!("job `{}` runs {} but declares no `id_tokens: NPM_ID_TOKEN`", j.name(), p.what),
                "add `id_tokens: { NPM_ID_TOKEN: { aud: \"npm:registry.npmjs.org\" } }` to the publish job",
            ),
        }
    }
}
