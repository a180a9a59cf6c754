//! `no-static-tokens`, `temp-token-deleted`, `disallow-tokens`.

use tokenless_api::npm::Token;

use super::list_some;
use crate::audit::{
    report::{CheckId, CheckResult, Evidence},
    snapshot::{AccountTokens, Snapshot},
};
use crate::record::access_settings_url;

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

/// The accounts whose token lists were read, each with its tokens other than the audit's
/// own credential. An account whose list could not be read goes to `unknowns`, and so does
/// the absence of any account to read.
fn read_accounts<'s>(
    s: &'s Snapshot,
    unknowns: &mut Vec<Evidence>,
) -> Vec<(&'s AccountTokens, Vec<&'s Token>)> {
    let mut read = Vec::new();
    for account in &s.token_accounts {
        match &account.tokens {
            Err(e) => unknowns.push(Evidence::new(
                source(account),
                format!("cannot list tokens: {e}"),
            )),
            Ok(tokens) => read.push((account, foreign(s, tokens).collect())),
        }
    }
    if s.token_accounts.is_empty() {
        unknowns.push(Evidence::new(TOKENS, "no account's tokens could be listed"));
    }
    read
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

/// The accounts whose tokens were not seen and that `counts` for the box: members not
/// listed, or every member when the member list itself could not be read (then nobody
/// knows whose tokens to check).
fn unlisted(s: &Snapshot, counts: impl Fn(&str) -> bool) -> Vec<Evidence> {
    let mut out: Vec<Evidence> = s
        .unlisted_accounts
        .iter()
        .filter(|u| counts(u))
        .map(|u| {
            Evidence::new(
                TOKENS,
                format!("{u}: the registry lists only the signed-in account's tokens; {u} runs `tokenless tokens attest --scope {} --out {u}.json` under their own login, and the audit reads it with --attestations DIR", s.scope),
            )
        })
        .collect();
    if !out.is_empty() {
        out.extend(
            s.stale_attestations
                .iter()
                .map(|why| Evidence::new("--attestations", why.clone())),
        );
    }
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
    let mut unknowns = unlisted(s, |_| true);
    let read = read_accounts(s, &mut unknowns);
    let fails: Vec<Evidence> = read
        .iter()
        .flat_map(|(account, tokens)| {
            tokens.iter().map(|t| {
                Evidence::new(
                    source(account),
                    format!("{} holds {}", account.user, describe(t)),
                )
            })
        })
        .collect();
    let listed: Vec<String> = read
        .iter()
        .map(|(account, _)| match &account.via {
            Some(via) => format!("{} (by their {via})", account.user),
            None => account.user.clone(),
        })
        .collect();
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

/// The accounts a bulk change can have come from: owners and admins (changing trust and
/// publishing access across an org's packages takes their rights) and whoever tokenless's
/// record says made a change.
fn bulk_changers(s: &Snapshot) -> std::collections::BTreeSet<&str> {
    let mut out: std::collections::BTreeSet<&str> = match &s.members {
        Ok(m) => m
            .iter()
            .filter(|(_, role)| matches!(role.as_str(), "owner" | "admin"))
            .map(|(u, _)| u.as_str())
            .collect(),
        Err(_) => Default::default(),
    };
    out.extend(s.record.changes.iter().filter_map(|c| c.by.as_deref()));
    out
}

pub fn temp_token_deleted(s: &Snapshot) -> CheckResult {
    let id = CheckId::TempTokenDeleted;
    let changers = bulk_changers(s);
    // Only the unlisted accounts that could have made a bulk change leave this box open.
    let mut unknowns = unlisted(s, |u| changers.contains(u));
    let read = read_accounts(s, &mut unknowns);
    let mut fails = Vec::new();
    for (account, tokens) in &read {
        for t in tokens {
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
    let listed: Vec<&str> = read.iter().map(|(a, _)| a.user.as_str()).collect();
    let passes = if listed.is_empty() {
        Vec::new()
    } else {
        vec![Evidence::new(
            TOKENS,
            format!(
                "no token created for a bulk change, with bypass 2FA, or named like a temporary one remains on {} (bulk changes take an owner's or admin's rights: {})",
                list_some(&listed, 20),
                list_some(&changers.iter().copied().collect::<Vec<_>>(), 20)
            ),
        )]
    };
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
    if let Some(nothing) = super::empty_scope(id, s) {
        return nothing;
    }
    let record = &s.record;
    let shown = record.source.as_deref().unwrap_or("tokenless's record");
    let mut unknowns = Vec::new();
    // Only a record apply wrote for this registry and scope speaks for these packages.
    let usable = record.is_for(&s.registry, &s.scope);
    if !usable && !record.changes.is_empty() {
        unknowns.push(Evidence::new(
            shown,
            format!(
                "the record was written for {} on {}, not {} on {}: it is not used",
                record.scope.as_deref().unwrap_or("an unnamed scope"),
                record.registry.as_deref().unwrap_or("an unnamed registry"),
                s.scope,
                s.registry
            ),
        ));
    }
    let now = tokenless_trust::clock::rfc3339(tokenless_trust::clock::now_secs() + 300);
    let mut missing: Vec<&str> = Vec::new();
    let mut acknowledged = Vec::new();
    for p in packages {
        let Some(step) = usable.then(|| record.mfa_for(&p.name)).flatten() else {
            missing.push(&p.name);
            continue;
        };
        // The record is a local file: it counts only where it agrees with what the
        // registry shows (the account that made the change is an owner now) and itself.
        let doubt = match (&step.by, &s.members) {
            _ if step.at.is_empty() || step.at > now => {
                Some(format!("its date `{}` is not a past time", step.at))
            }
            (None, _) => Some("it names no account that made the change".to_string()),
            (Some(by), Ok(members)) => match members.get(by).map(String::as_str) {
                Some("owner" | "admin") => None,
                Some(role) => Some(format!(
                    "{by}, who made it, is a {role} of the org, and only owners and admins change publishing access"
                )),
                None => Some(format!("{by}, who made it, is not a member of the org now")),
            },
            (Some(by), Err(_)) => Some(format!(
                "the org's members could not be read to confirm {by}, who made it"
            )),
        };
        match doubt {
            Some(why) => unknowns.push(Evidence::new(
                shown,
                format!(
                    "{}: the record's acknowledgement is not used: {why}; check {}",
                    p.name,
                    access_settings_url(&s.registry, &p.name)
                ),
            )),
            None => acknowledged.push((p.name.as_str(), step)),
        }
    }
    if !missing.is_empty() {
        let urls: Vec<String> = missing
            .iter()
            .map(|p| access_settings_url(&s.registry, p))
            .collect();
        let urls: Vec<&str> = urls.iter().map(String::as_str).collect();
        unknowns.push(Evidence::new(
            "POST /-/package/<pkg>/access (npm has no read)",
            format!(
                "npm shows nobody a package's publishing access, and tokenless has no record of setting it for {} package(s): {}. `tokenless apply` sets it and records the registry's acknowledgement; or check \"Require two-factor authentication and disallow tokens\" at {}",
                missing.len(),
                list_some(&missing, 20),
                list_some(&urls, 5)
            ),
        ));
    }
    let mut passes: Vec<Evidence> = acknowledged
        .iter()
        .map(|(name, step)| {
            Evidence::new(
                shown,
                format!(
                    "{name}: mfa=publish acknowledged by the registry at {} (apply as {})",
                    step.at,
                    step.by.as_deref().unwrap_or("?")
                ),
            )
        })
        .collect();
    if !acknowledged.is_empty() {
        passes.insert(
            0,
            Evidence::new(
                shown,
                format!(
                    "{} of {} packages set to \"require 2FA and disallow tokens\" by tokenless apply, as the registry acknowledged (npm has no read to confirm it; a change on the website since would not show)",
                    acknowledged.len(),
                    packages.len()
                ),
            ),
        );
        passes.insert(1, canary_note(record, shown));
    }
    CheckResult::from_items(id, vec![], unknowns, passes)
}

/// Whether a person saw the setting on the canary's settings page (`apply` asks).
fn canary_note(record: &crate::record::Record, shown: &str) -> Evidence {
    let confirmed = record
        .canaries
        .iter()
        .rev()
        .find_map(|c| c.access_confirmed.map(|yes| (c, yes)));
    let detail = match confirmed {
        Some((c, true)) => format!(
            "a person confirmed the setting on the settings page of the canary {} at {}",
            c.package, c.at
        ),
        Some((c, false)) => format!(
            "nobody confirmed the setting on the canary {}'s settings page (apply --yes, or the answer was no)",
            c.package
        ),
        None => "no canary with publishing access was recorded".to_string(),
    };
    Evidence::new(shown, detail)
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
