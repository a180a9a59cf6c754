//! `oidc-audience-mismatch`: the id token's audience is not exactly `npm:<registry
//! hostname>`, the `--claims` JSON is invalid after shell quoting, a CircleCI org-audience
//! token is used as NPM_ID_TOKEN, or an npmjs id token is sent to another registry.

use super::{FileCx, Out, mint_is_npm, target_of};
use crate::facts::{AudienceError, Claims, NPMJS, is_npmjs};
use crate::finding::{RuleId, RuleMeta, Severity};
use crate::model::Loc;
use crate::provider::Provider;

pub const META: RuleMeta = RuleMeta {
    id: RuleId::OidcAudienceMismatch,
    default_severity: Severity::High,
    summary: "The id token's audience is not exactly npm:<registry hostname>, or an npm id token is sent to another registry.",
};

const ID: RuleId = META.id;

pub fn check(cx: &FileCx<'_>, out: &mut Out<'_>) {
    for j in &cx.jobs {
        out.job(j.index);
        let (job, f) = (j.job, j.facts);
        let mut npm_aud_minted = f.mints.iter().any(|m| {
            m.claims
                .as_ref()
                .is_some_and(|c| c.text.contains("npm:registry.npmjs.org"))
        });
        npm_aud_minted |= job
            .id_token
            .gitlab
            .iter()
            .any(|g| g.aud.trim() == "npm:registry.npmjs.org");

        // An npm-audience id token sent to another registry.
        if npm_aud_minted && cx.provider != Provider::GitHub {
            for p in &f.publishes {
                let target = target_of(f, p);
                if !is_npmjs(&target) {
                    out.push(
                        ID,
                        None,
                        p.loc,
                        format!("job `{}` mints an id token for npm:registry.npmjs.org and {} sends it to `{target}`, which could replay it to npm", job.name, p.what),
                        "do not mint NPM_ID_TOKEN in jobs that publish to other registries, or unset it before the publish",
                    );
                }
            }
        }

        // Audience and JSON of every npm mint.
        let mut allowed: Vec<String> = vec![format!("npm:{NPMJS}")];
        for r in &f.registries {
            allowed.push(format!("npm:{}", r.host));
        }
        for m in &f.mints {
            if !mint_is_npm(m) && m.claims.is_some() {
                continue;
            }
            match &m.claims {
                None => {
                    if m.var.as_deref() == Some("NPM_ID_TOKEN") {
                        out.push(
                            ID,
                            None,
                            m.loc,
                            format!("job `{}` runs `circleci run oidc get` without `--claims`: the token's audience is the organization id, not npm:registry.npmjs.org", job.name),
                            "pass --claims '{\"aud\":\"npm:registry.npmjs.org\"}'",
                        );
                    }
                }
                Some(Claims { loc, text }) => match serde_json::from_str::<serde_json::Value>(text) {
                    Err(e) => out.push(
                        ID,
                        None,
                        *loc,
                        format!("job `{}`: after shell quoting the `--claims` argument is `{}`, which is not valid JSON ({e}); the fetch fails and NPM_ID_TOKEN is empty", job.name, text),
                        "write the claims in single quotes without backslashes: --claims '{\"aud\":\"npm:registry.npmjs.org\"}'",
                    ),
                    Ok(v) => {
                        let aud = v.get("aud");
                        // An audience taken from a variable is decided at run time.
                        let ok = match aud.and_then(|a| a.as_str()) {
                            Some(a) => a.contains('$') || allowed.iter().any(|x| x == a),
                            None => false,
                        };
                        if !ok {
                            let shown = aud.map(|a| a.to_string()).unwrap_or_else(|| "missing".into());
                            out.push(
                                ID,
                                None,
                                *loc,
                                format!("job `{}` requests audience {shown}; npm accepts only exactly \"npm:registry.npmjs.org\" (npm: + the registry hostname, no scheme or port)", job.name),
                                "use --claims '{\"aud\":\"npm:registry.npmjs.org\"}'",
                            );
                        }
                    }
                },
            }
        }
        for g in &job.id_token.gitlab {
            if g.var == "NPM_ID_TOKEN" && !allowed.iter().any(|a| a == g.aud.trim()) {
                out.push(
                    ID,
                    None,
                    Loc::of(cx.forest, g.aud_node),
                    format!("job `{}` requests NPM_ID_TOKEN with audience `{}`; npm accepts only exactly `npm:registry.npmjs.org`", job.name, g.aud.trim()),
                    "set `aud: npm:registry.npmjs.org` under id_tokens.NPM_ID_TOKEN",
                );
            }
        }
        for AudienceError { loc, message: msg } in &f.audience_errors {
            out.push(
                ID,
                None,
                *loc,
                format!("job `{}`: {msg}", job.name),
                "mint a token for npm with circleci run oidc get --claims '{\"aud\":\"npm:registry.npmjs.org\"}'",
            );
        }
    }
}
