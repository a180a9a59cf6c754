//! `no-static-tokens`, `temp-token-deleted`, `disallow-tokens`.

use tokenless_api::npm::Token;

use super::{list_some, package_source};
use crate::audit::{
    report::{CheckId, CheckResult, Evidence},
    snapshot::{AccountTokens, Snapshot},
};

const TOKENS: &str = "GET /-/npm/v1/tokens";

fn source(account: &AccountTokens) -> String {
    match &account.via {
        Some(via) => format!("{TOKENS} (as {}, by their {via})", account.user),
        None => format!("{TOKENS} (as {})", account.user),
    }
}

/// `npm_…` keys are not secret, but show only a prefix anyway.
fn short_key(key: &str) -> String {
    key.chars().take(8).collect()
}

fn describe(t: &Token) -> String {
    let mut parts = vec![format!("key {}…", short_key(&t.key))];
    match t.readonly {
        Some(true) => parts.push("read-only".into()),
        Some(false) => parts.push("read-write".into()),
        None => {}
    }
    if t.bypass_2fa == Some(true) {
        parts.push("bypass 2FA".into());
    }
    if t.loses_direct_publishing() {
        parts.push("loses direct publishing around January 2027".into());
    }
    if let Some(e) = &t.expires {
        parts.push(format!("expires {e}"));
    }
    if let Some(c) = &t.created {
        parts.push(format!("created {c}"));
    }
    format!("token `{}` ({})", t.label(), parts.join(", "))
}

/// Tokens of an account other than the audit's own credential.
fn foreign<'a>(s: &Snapshot, tokens: &'a [Token]) -> impl Iterator<Item = &'a Token> {
    let own = s.own_credential.key.clone();
    tokens
        .iter()
        .filter(move |t| own.as_deref() != Some(t.key.as_str()))
}

fn own_credential_note(s: &Snapshot) -> Evidence {
    let c = &s.own_credential;
    let whose = c
        .user
        .as_deref()
        .map(|u| format!(" of {u}"))
        .unwrap_or_default();
    let key = c
        .key
        .as_deref()
        .map(|k| format!(", token key {}…, excluded from the findings", short_key(k)))
        .unwrap_or_else(|| ", not in any token list".into());
    Evidence::new(
        "audit credential",
        format!(
            "the audit signed in to {} with {} {}{whose}{key}",
            s.registry, c.kind, c.shown
        ),
    )
}

/// The accounts whose tokens were not seen: members not listed, or every member when the
/// member list itself could not be read (then nobody knows whose tokens to check).
fn unlisted(s: &Snapshot) -> Vec<Evidence> {
    let mut out: Vec<Evidence> = s
        .unlisted_accounts
        .iter()
        .map(|u| {
            Evidence::new(
                TOKENS,
                format!("{u}: the registry lists only the signed-in account's tokens; {u} runs `tokenless tokens attest --scope {} --out {u}.json` under their own login, and the audit reads it with --attestations DIR", s.scope),
            )
        })
        .collect();
    out.extend(
        s.stale_attestations
            .iter()
            .map(|why| Evidence::new("--attestations", why.clone())),
    );
    if let Err(e) = &s.members {
        out.push(Evidence::new(
            super::org_source(&s.scope, "user"),
            format!("cannot list the org's members ({e}), so the accounts whose tokens must be checked are unknown; rerun when the member list can be read"),
        ));
    }
    out
}

pub fn no_static_tokens(s: &Snapshot) -> CheckResult {
    let id = CheckId::NoStaticTokens;
    let (mut fails, mut unknowns) = (Vec::new(), unlisted(s));
    let mut listed: Vec<String> = Vec::new();
    for account in &s.token_accounts {
        match &account.tokens {
            Err(e) => unknowns.push(Evidence::new(
                source(account),
                format!("cannot list tokens: {e}"),
            )),
            Ok(tokens) => {
                listed.push(match &account.via {
                    Some(via) => format!("{} (by their {via})", account.user),
                    None => account.user.clone(),
                });
                for t in foreign(s, tokens) {
                    fails.push(Evidence::new(
                        source(account),
                        format!("{} holds {}", account.user, describe(t)),
                    ));
                }
            }
        }
    }
    if s.token_accounts.is_empty() {
        unknowns.push(Evidence::new(TOKENS, "no account's tokens could be listed"));
    }
    // A pass speaks only for the accounts whose lists were read.
    let passes = if listed.is_empty() {
        Vec::new()
    } else {
        vec![Evidence::new(
            TOKENS,
            format!(
                "no token on {}",
                list_some(&listed.iter().map(String::as_str).collect::<Vec<_>>(), 20)
            ),
        )]
    };
    let mut result = CheckResult::from_items(id, fails, unknowns, passes);
    result.evidence.push(own_credential_note(s));
    result
}

/// A name in the style of a temporary bulk-hardening token.
pub fn looks_temporary(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "temp",
        "tmp",
        "delete-me",
        "deleteme",
        "delete me",
        "bulk",
        "throwaway",
    ]
    .iter()
    .any(|w| n.contains(w))
}

pub fn temp_token_deleted(s: &Snapshot) -> CheckResult {
    let id = CheckId::TempTokenDeleted;
    let (mut fails, mut unknowns) = (Vec::new(), unlisted(s));
    for account in &s.token_accounts {
        match &account.tokens {
            Err(e) => unknowns.push(Evidence::new(
                source(account),
                format!("cannot list tokens: {e}"),
            )),
            Ok(tokens) => {
                for t in foreign(s, tokens) {
                    let mut why = Vec::new();
                    if let Some(r) = s.record.temporary_tokens.iter().find(|r| r.key == t.key) {
                        why.push(format!(
                            "created by tokenless for {}{} ({})",
                            r.operation.as_deref().unwrap_or("a bulk change"),
                            r.created_at
                                .as_deref()
                                .map(|c| format!(" at {c}"))
                                .unwrap_or_default(),
                            s.record.source.as_deref().unwrap_or("record")
                        ));
                    }
                    if t.bypass_2fa == Some(true) {
                        why.push("a bypass-2FA token, the kind bulk hardening used".to_string());
                    }
                    if t.name.as_deref().is_some_and(looks_temporary) {
                        why.push("named like a temporary bulk-hardening token".to_string());
                    }
                    if why.is_empty() {
                        continue;
                    }
                    let why = why.join("; ");
                    fails.push(Evidence::new(
                        source(account),
                        format!("{} still holds {}: {why}", account.user, describe(t)),
                    ));
                }
            }
        }
    }
    if s.token_accounts.is_empty() {
        unknowns.push(Evidence::new(TOKENS, "no account's tokens could be listed"));
    }
    let passes = vec![Evidence::new(
        TOKENS,
        "no token created for a bulk change, with bypass 2FA, or named like a temporary one remains",
    )];
    let mut result = CheckResult::from_items(id, fails, unknowns, passes);
    result.evidence.push(own_credential_note(s));
    result
}

pub fn disallow_tokens(s: &Snapshot) -> CheckResult {
    let id = CheckId::DisallowTokens;
    let packages = match &s.packages {
        Ok(p) => p,
        Err(e) => {
            return CheckResult::from_items(
                id,
                vec![],
                vec![Evidence::new(
                    super::org_source(&s.scope, "package"),
                    format!("cannot list the scope's packages: {e}"),
                )],
                vec![],
            );
        }
    };
    if packages.is_empty() {
        return CheckResult::from_items(
            id,
            vec![],
            vec![Evidence::new(
                super::org_source(&s.scope, "package"),
                format!(
                    "{} has no packages this credential can see: there is nothing to find at mfa=publish; check the scope and the credential",
                    s.scope
                ),
            )],
            vec![],
        );
    }
    let (mut fails, mut unknowns) = (Vec::new(), Vec::new());
    let mut unreadable: Vec<&str> = Vec::new();
    let (mut read_ok, mut recorded_ok) = (0usize, 0usize);
    for p in packages {
        let source = package_source(&p.name, "access");
        match &p.access {
            Err(e) => unknowns.push(Evidence::new(source, format!("cannot read: {e}"))),
            Ok(Some(a)) if a.disallows_tokens() => read_ok += 1,
            Ok(Some(a)) => fails.push(Evidence::new(
                source,
                format!(
                    "{} is at mfa={}: a granular token{} can publish it",
                    p.name,
                    a.mfa_name(),
                    if a.publish_requires_tfa {
                        " with bypass 2FA"
                    } else {
                        ""
                    }
                ),
            )),
            Ok(None) => match s.record.mfa_for(&p.name) {
                Some(r) if r.setting == "publish" => recorded_ok += 1,
                Some(r) => fails.push(Evidence::new(
                    s.record.source.clone().unwrap_or_else(|| "record".into()),
                    format!(
                        "{}: tokenless last set mfa={} (acknowledged {})",
                        p.name, r.setting, r.acknowledged_at
                    ),
                )),
                None => unreadable.push(&p.name),
            },
        }
    }
    if !unreadable.is_empty() {
        unknowns.push(Evidence::new(
            "POST /-/package/<pkg>/access (no read endpoint)",
            format!(
                "the registry offers no read of publishing access and tokenless has no record of setting it for {} package(s): {}; check each at https://www.npmjs.com/package/<pkg>/access (\"Require two-factor authentication and disallow tokens\")",
                unreadable.len(),
                list_some(&unreadable, 20)
            ),
        ));
    }
    let passes = vec![Evidence::new(
        "GET /-/package/<pkg>/access",
        format!(
            "{} of {} packages at mfa=publish ({read_ok} read from the registry, {recorded_ok} from tokenless's record)",
            read_ok + recorded_ok,
            packages.len()
        ),
    )];
    CheckResult::from_items(id, fails, unknowns, passes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_recognised() {
        assert!(looks_temporary("tmp-bulk-hardening"));
        assert!(looks_temporary("TEMPORARY-delete-me"));
        assert!(!looks_temporary("circleci-publish"));
        assert!(!looks_temporary("laptop-read"));
    }
}
