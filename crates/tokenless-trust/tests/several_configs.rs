//! Several trust configs per package, and actions decided after the exchange: which config
//! grants which action, every config's own evaluation, and what a minted token may do.

mod common;

use common::*;
use serde_json::{Value, json};
use tokenless_trust::{
    Action, CheckId, CheckStatus, Grant, Minter, Permission, Provider, TrustConfig, Verifier,
};

/// A CircleCI config with `id`, `permissions` and, optionally, another project id.
fn circle(id: &str, permissions: &[&str], project: &str) -> Value {
    let mut c = circleci_config_json();
    c["id"] = json!(id);
    c["permissions"] = json!(permissions);
    c["claims"]["oidc.circleci.com/project-id"] = json!(project);
    c
}

fn set(items: &[Value]) -> Vec<TrustConfig> {
    configs(&Value::Array(items.to_vec()))
}

const BOTH: [Action; 2] = [Action::Publish, Action::Stage];

#[test]
fn stage_only_config_and_publish_config_each_grant_their_action() {
    let configs = set(&[
        circle("A", &["createStagedPackage"], PROJECT),
        circle("B", &["createPackage"], PROJECT),
    ]);
    let d = Verifier::new(production()).verify_exchange(
        &sign(&circleci_claims()),
        &configs,
        PKG,
        BOTH,
        HOST,
        NOW,
    );
    assert!(d.accepted, "{}", d.summary());
    assert_eq!(d.actions, BOTH.to_vec());
    assert_eq!(
        d.grants,
        vec![
            Grant {
                action: Action::Publish,
                trust_config_id: Some("B".into())
            },
            Grant {
                action: Action::Stage,
                trust_config_id: Some("A".into())
            },
        ]
    );
    // The first grant's config.
    assert_eq!(d.trust_config_id.as_deref(), Some("B"));
    assert_eq!(d.configs.len(), 2);
    assert!(d.configs.iter().all(|c| c.matches && c.used));
    assert_eq!(d.configs[0].allows, vec![Action::Stage]);
    assert_eq!(
        d.configs[0].permissions,
        vec![Permission::CreateStagedPackage]
    );
    assert_eq!(d.configs[1].allows, vec![Action::Publish]);

    let minted = Minter::default().mint(&d, NOW).expect("accepted");
    assert_eq!(
        minted
            .grant_for(Action::Stage)
            .and_then(|g| g.trust_config_id.as_deref()),
        Some("A")
    );
    assert_eq!(
        minted
            .grant_for(Action::Publish)
            .and_then(|g| g.trust_config_id.as_deref()),
        Some("B")
    );
    assert!(minted.authorizes(PKG, Action::Publish, NOW));
    assert!(minted.authorizes(PKG, Action::Stage, NOW));
}

#[test]
fn a_token_may_perform_exactly_the_granted_actions() {
    let configs = set(&[circle("A", &["createStagedPackage"], PROJECT)]);
    let d = Verifier::new(production()).verify_exchange(
        &sign(&circleci_claims()),
        &configs,
        PKG,
        BOTH,
        HOST,
        NOW,
    );
    assert!(d.accepted, "{}", d.summary());
    assert_eq!(d.grants.len(), 1);
    let action = d.check(CheckId::Action).expect("action check");
    assert_eq!(action.status, CheckStatus::Pass);
    assert!(
        action.detail.contains("so not publish"),
        "{}",
        action.detail
    );
    let minted = Minter::default().mint(&d, NOW).expect("accepted");
    assert!(minted.authorizes(PKG, Action::Stage, NOW));
    assert!(!minted.authorizes(PKG, Action::Publish, NOW));
    assert!(minted.grant_for(Action::Publish).is_none());
    assert_eq!(minted.action, Action::Stage);
}

#[test]
fn asking_for_publish_only_skips_a_stage_only_config_that_matches() {
    let configs = set(&[
        circle("A", &["createStagedPackage"], PROJECT),
        circle("B", &["createPackage"], PROJECT),
    ]);
    let d = Verifier::new(production()).verify_exchange(
        &sign(&circleci_claims()),
        &configs,
        PKG,
        Action::Publish,
        HOST,
        NOW,
    );
    assert!(d.accepted, "{}", d.summary());
    assert_eq!(d.trust_config_id.as_deref(), Some("B"));
    assert!(!d.configs[0].used && d.configs[0].matches);
    assert!(d.configs[1].used);
    // The representative checks are those of the used config, all passing.
    assert!(d.checks.iter().all(|c| c.status != CheckStatus::Fail));
    let tc = d.check(CheckId::TrustConfig).expect("trust-config");
    assert!(
        tc.detail.contains("\"B\" (used of 2 circleci configs)"),
        "{}",
        tc.detail
    );
}

#[test]
fn a_matching_config_that_allows_nothing_asked_refuses_with_the_action_check() {
    let configs = set(&[circle("A", &["createStagedPackage"], PROJECT)]);
    let d = Verifier::new(production()).verify_exchange(
        &sign(&circleci_claims()),
        &configs,
        PKG,
        Action::Publish,
        HOST,
        NOW,
    );
    assert!(!d.accepted);
    assert!(d.grants.is_empty());
    assert_eq!(d.first_failure().map(|c| c.id), Some(CheckId::Action));
    assert!(d.configs[0].matches && !d.configs[0].used);
    assert!(Minter::default().mint(&d, NOW).is_err());
}

#[test]
fn the_first_matching_config_in_order_is_used_and_non_matching_ones_show_why() {
    let configs = set(&[
        circle("wrong-project", &["createPackage"], "other-project"),
        circle("first", &["createPackage"], PROJECT),
        circle("second", &["createPackage", "createStagedPackage"], PROJECT),
    ]);
    let d = Verifier::new(production()).verify_exchange(
        &sign(&circleci_claims()),
        &configs,
        PKG,
        BOTH,
        HOST,
        NOW,
    );
    assert!(d.accepted, "{}", d.summary());
    assert_eq!(
        d.grant_for(Action::Publish)
            .and_then(|g| g.trust_config_id.as_deref()),
        Some("first")
    );
    assert_eq!(
        d.grant_for(Action::Stage)
            .and_then(|g| g.trust_config_id.as_deref()),
        Some("second")
    );
    let wrong = &d.configs[0];
    assert!(!wrong.matches && !wrong.used);
    let failed: Vec<CheckId> = wrong.failures().map(|c| c.id).collect();
    assert_eq!(failed, vec![CheckId::CircleciProjectId]);
}

#[test]
fn a_token_matching_no_config_reports_every_config_and_the_closest_in_checks() {
    let mut ssh = circleci_claims();
    ssh["oidc.circleci.com/project-id"] = json!("p3");
    let configs = set(&[
        circle("A", &["createStagedPackage"], "p1"),
        circle("B", &["createPackage"], "p3"),
    ]);
    let mut claims = with(ssh, "oidc.circleci.com/ssh-rerun", json!(true));
    claims["oidc.circleci.com/pipeline-definition-id"] = json!("other-def");
    let d =
        Verifier::new(production()).verify_exchange(&sign(&claims), &configs, PKG, BOTH, HOST, NOW);
    assert!(!d.accepted);
    assert!(d.grants.is_empty() && d.trust_config_id.is_none());
    let a: Vec<CheckId> = d.configs[0].failures().map(|c| c.id).collect();
    let b: Vec<CheckId> = d.configs[1].failures().map(|c| c.id).collect();
    assert_eq!(
        a,
        vec![
            CheckId::CircleciProjectId,
            CheckId::CircleciPipelineDefinitionId,
            CheckId::CircleciSshRerun
        ]
    );
    assert_eq!(
        b,
        vec![
            CheckId::CircleciPipelineDefinitionId,
            CheckId::CircleciSshRerun
        ]
    );
    // `checks` shows the closest config (B, two failures).
    let tc = d.check(CheckId::TrustConfig).expect("trust-config");
    assert!(tc.detail.contains("\"B\" (closest of 2"), "{}", tc.detail);
    assert!(d.configs.iter().all(|c| !c.matches && !c.used));
}

#[test]
fn configs_of_another_provider_are_listed_as_not_applicable() {
    let mut all = github_configs(None);
    all.extend(circleci_configs());
    let d = Verifier::new(production()).verify_exchange(
        &sign(&circleci_claims()),
        &all,
        PKG,
        Action::Publish,
        HOST,
        NOW,
    );
    assert!(d.accepted, "{}", d.summary());
    assert_eq!(d.configs.len(), 2);
    assert_eq!(d.configs[0].provider, Provider::GitHub);
    assert!(!d.configs[0].matches);
    assert_eq!(
        d.configs[0].checks.first().map(|c| (c.id, c.status)),
        Some((CheckId::TrustConfig, CheckStatus::Fail))
    );
    assert_eq!(d.trust_config_id.as_deref(), Some("tc-circle"));
}

#[test]
fn a_refused_signature_evaluates_no_config() {
    let token = keys().rsa_other.sign_jwt(&circleci_claims()).expect("sign");
    let d = Verifier::new(production()).verify_exchange(
        &token,
        &circleci_configs(),
        PKG,
        BOTH,
        HOST,
        NOW,
    );
    assert!(!d.accepted);
    assert!(d.configs.is_empty() && d.grants.is_empty());
}

#[test]
fn repeated_actions_are_asked_once_and_no_action_is_a_refusal() {
    let v = Verifier::new(production());
    let token = sign(&circleci_claims());
    let d = v.verify_exchange(
        &token,
        &circleci_configs(),
        PKG,
        [Action::Publish, Action::Publish],
        HOST,
        NOW,
    );
    assert_eq!(d.actions, vec![Action::Publish]);
    assert_eq!(d.grants.len(), 1);
    let none: &[Action] = &[];
    let d = v.verify_exchange(&token, &circleci_configs(), PKG, none, HOST, NOW);
    assert!(!d.accepted);
    assert_eq!(d.first_failure().map(|c| c.id), Some(CheckId::Action));
}

#[test]
fn without_pass_details_the_decision_is_the_same_but_passes_carry_no_text() {
    let configs = set(&[
        circle("A", &["createStagedPackage"], PROJECT),
        circle("B", &["createPackage"], "other-project"),
    ]);
    let token = sign(&circleci_claims());
    let full = Verifier::new(production()).verify_exchange(&token, &configs, PKG, BOTH, HOST, NOW);
    let lean = Verifier::new(production())
        .with_pass_details(false)
        .verify_exchange(&token, &configs, PKG, BOTH, HOST, NOW);
    assert_eq!(full.accepted, lean.accepted);
    assert_eq!(full.grants, lean.grants);
    let statuses = |d: &tokenless_trust::Decision| {
        d.checks
            .iter()
            .map(|c| (c.id, c.status))
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses(&full), statuses(&lean));
    for c in &lean.checks {
        assert_eq!(c.detail.is_empty(), c.status == CheckStatus::Pass, "{c:?}");
    }
    // The non-matching config's failure keeps its detail and fix.
    let failed = lean.configs[1].failures().next().expect("project mismatch");
    assert!(failed.detail.contains("other-project"), "{}", failed.detail);
    assert!(failed.fix.is_some());
}
