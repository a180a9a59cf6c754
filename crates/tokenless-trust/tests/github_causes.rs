//! GitHub refusals npm users trip on, named: immutable subject claims (npm answers 404,
//! npm/cli#9969) and enterprise-scoped issuers (npm answers 401, npm/cli#9203).

mod common;

use common::*;
use serde_json::json;
use tokenless_trust::{
    Action, Cause, CheckId, CheckStatus, Decision, Provider, Verifier, policy::is_immutable_subject,
};

/// The production verifier's decision on a publish of PKG with these claims, against the
/// GitHub trust config.
fn decide(claims: &serde_json::Value) -> Decision {
    Verifier::new(production()).verify_exchange(
        &sign(claims),
        &github_configs(None),
        PKG,
        Action::Publish,
        HOST,
        NOW,
    )
}

#[test]
fn immutable_subjects_are_told_apart_from_classic_ones() {
    for sub in [
        "repo:acme@1234/widgets@5678:ref:refs/heads/main",
        "repo:acme@1/widgets@2:environment:npm",
        "repo:acme@1/widgets@2",
    ] {
        assert!(is_immutable_subject(sub), "{sub}");
    }
    for sub in [
        "repo:acme/widgets:ref:refs/heads/main",
        "repo:acme@x/widgets@2:ref:refs/heads/main",
        "repo:acme@1/widgets:ref:refs/heads/main",
        "repo:@1/widgets@2:ref:x",
        "repo_owner_id:1:repo:acme@1/widgets@2",
        "",
        "repo:",
    ] {
        assert!(!is_immutable_subject(sub), "{sub}");
    }
}

#[test]
fn an_immutable_subject_is_refused_as_npm_refuses_it_with_404() {
    let claims = with(
        github_claims(),
        "sub",
        json!("repo:acme@1234/widgets@5678:ref:refs/heads/main"),
    );
    let d = decide(&claims);
    assert!(!d.accepted);
    let c = d.check(CheckId::GithubSubject).expect("subject check");
    assert_eq!(c.status, CheckStatus::Fail);
    assert_eq!(c.cause, Some(Cause::GithubImmutableSubject));
    assert!(c.detail.contains("npm/cli#9969"), "{}", c.detail);
    assert!(
        c.fix
            .as_deref()
            .is_some_and(|f| f.contains("use_immutable_subject"))
    );
    assert_eq!(d.causes(), vec![Cause::GithubImmutableSubject]);
    assert_eq!(d.refusal_status(), 404);
    // Everything else matches: the subject alone is why.
    let failed: Vec<CheckId> = d
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .map(|c| c.id)
        .collect();
    assert_eq!(failed, vec![CheckId::GithubSubject]);
    let json = serde_json::to_value(c).expect("json");
    assert_eq!(json["cause"]["id"], "github-immutable-subject");
    assert_eq!(json["cause"]["npm_status"], 404);
    assert_eq!(json["cause"]["issue"], "npm/cli#9969");
}

#[test]
fn a_classic_or_absent_subject_names_no_cause() {
    for claims in [github_claims(), without(github_claims(), "sub")] {
        let d = decide(&claims);
        assert!(d.accepted, "{}", d.summary());
        assert!(d.causes().is_empty());
    }
    let d = decide(&with(github_claims(), "sub", json!(7)));
    assert!(!d.accepted);
    assert_eq!(d.refusal_status(), 404);
}

#[test]
fn an_enterprise_issuer_is_recognised_and_refused_as_npm_refuses_it_with_401() {
    let claims = with(
        github_claims(),
        "iss",
        json!("https://token.actions.githubusercontent.com/acme-corp"),
    );
    let d = decide(&claims);
    assert!(!d.accepted);
    assert_eq!(d.provider, Some(Provider::GitHub));
    let c = d.check(CheckId::Issuer).expect("issuer check");
    assert_eq!(c.status, CheckStatus::Fail);
    assert_eq!(c.cause, Some(Cause::GithubEnterpriseIssuer));
    assert!(c.detail.contains("enterprise-scoped"), "{}", c.detail);
    assert!(!c.detail.contains("not a trusted issuer"), "{}", c.detail);
    assert!(c.detail.contains("npm/cli#9203"), "{}", c.detail);
    assert!(
        c.fix
            .as_deref()
            .is_some_and(|f| f.contains("include_enterprise_slug"))
    );
    assert_eq!(d.refusal_status(), 401);
    // Nothing from the token is trusted past the issuer: the GitHub checks are skipped.
    let subject = d.check(CheckId::GithubSubject).expect("listed");
    assert_eq!(subject.status, CheckStatus::Skip);
    // Another unknown issuer stays a plain unknown issuer (404, no cause).
    let d = decide(&with(
        github_claims(),
        "iss",
        json!("https://token.actions.githubusercontent.com/a/b"),
    ));
    assert!(d.causes().is_empty());
    assert_eq!(d.refusal_status(), 404);
    assert!(
        d.check(CheckId::Issuer)
            .is_some_and(|c| c.detail.contains("not a trusted issuer"))
    );
}
