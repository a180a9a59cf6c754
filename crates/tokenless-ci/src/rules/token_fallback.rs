//! `token-fallback`: the job obtains an id token and still has a stored token wired (or
//! runs a command only a stored token can authenticate). When the exchange fails, npm
//! silently publishes with the token. It replaces `static-token-publish` for such jobs.

use super::{FileCx, Out, abbreviate};
use crate::facts::{Source, TokenCommand};
use crate::finding::{RuleId, RuleMeta, Severity};
use crate::publish::Client;

pub const META: RuleMeta = RuleMeta {
    id: RuleId::TokenFallback,
    default_severity: Severity::High,
    summary: "The job fetches an id token and still has a static token that npm silently falls back to.",
};

pub fn check(cx: &FileCx<'_>, out: &mut Out<'_>) {
    for j in &cx.jobs {
        out.job(j.index);
        if !j.exchange {
            continue;
        }
        let yarn = j.publishes.iter().any(|p| p.client == Client::YarnBerry);
        for w in &j.statics {
            let Source::Static(src) = &w.source else {
                continue;
            };
            let message = if yarn {
                format!(
                    "job `{}` obtains an id token but still wires {} from `{}`: yarn berry uses a configured token before it tries the exchange, so trusted publishing never runs while the token is set",
                    j.name(),
                    w.what,
                    abbreviate(src)
                )
            } else {
                format!(
                    "job `{}` obtains an id token but still wires {} from `{}`: when the exchange fails npm silently publishes with the stored token",
                    j.name(),
                    w.what,
                    abbreviate(src)
                )
            };
            out.push(
                META.id,
                None,
                w.loc,
                message,
                "remove the stored token from the job (and from its contexts/secrets) so a failed exchange fails the publish",
            );
        }
        for TokenCommand { loc, what, .. } in &j.facts.token_commands {
            out.push(
                META.id,
                Some(Severity::Medium),
                *loc,
                format!("job `{}` runs {what}, which OIDC does not cover: it needs a stored token that npm would also fall back to", j.name()),
                "remove token-only commands (npm whoami, token checks, dist-tag, access) from the publish job",
            );
        }
    }
}
