//! Minting after an exchange: one package, one action, short-lived, recording the trust
//! config; nothing minted for a refusal.

mod common;

use common::*;
use tokenless_trust::{Action, MintError, Minter, Provider, Verifier};

#[test]
fn accepted_exchange_mints_a_scoped_short_lived_token() {
    let decision = Verifier::new(production()).verify_exchange(
        &sign(&circleci_claims()),
        &circleci_configs(),
        PKG,
        Action::Publish,
        HOST,
        NOW,
    );
    let minted = Minter::default().mint(&decision, NOW).expect("accepted");
    assert_eq!(minted.package, PKG);
    assert_eq!(minted.action, Action::Publish);
    assert_eq!(minted.provider, Provider::CircleCi);
    assert_eq!(minted.trust_config_id.as_deref(), Some("tc-circle"));
    assert_eq!(minted.expires_at, NOW + 300);
    assert!(minted.authorizes(PKG, Action::Publish, NOW + 299));
    assert!(
        !minted.authorizes(PKG, Action::Publish, NOW + 300),
        "expired"
    );
    assert!(
        !minted.authorizes("@acme/other", Action::Publish, NOW),
        "another package"
    );
    assert!(
        !minted.authorizes(PKG, Action::Stage, NOW),
        "another action"
    );
    let raw = minted.secret.expose();
    assert!(raw.starts_with("npm_") && raw.len() == 40);
    assert!(
        !format!("{minted:?}").contains(raw),
        "Debug must redact the token"
    );

    let short = Minter::with_ttl(60).mint(&decision, NOW).expect("accepted");
    assert_eq!(short.expires_at, NOW + 60);
    assert_ne!(short.secret.expose(), raw, "every mint is a new secret");
}

#[test]
fn refused_exchange_mints_nothing() {
    let decision = Verifier::new(production()).verify_exchange(
        &sign(&circleci_claims()),
        &circleci_configs(),
        PKG,
        Action::Stage,
        HOST,
        NOW,
    );
    assert!(!decision.accepted);
    assert_eq!(
        Minter::default().mint(&decision, NOW).map(|m| m.package),
        Err(MintError::Refused)
    );
}
