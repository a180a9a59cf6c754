//! The nine checks, each a pure function of the [`Snapshot`].

mod ci;
mod members;
mod publisher;
pub mod tokens;

pub use ci::RULES;

use tokenless_api::npm::escape_name;

use super::{
    report::{self, CheckId, CheckResult},
    snapshot::Snapshot,
};

/// Run every check, in the order of [`CheckId::ALL`].
pub fn run_all(s: &Snapshot) -> Vec<CheckResult> {
    CheckId::ALL.iter().map(|id| run(*id, s)).collect()
}

pub fn run(id: CheckId, s: &Snapshot) -> CheckResult {
    match id {
        CheckId::TrustedPublisher => publisher::trusted_publisher(s),
        CheckId::ContextBound => publisher::context_bound(s),
        CheckId::ReleaseVerified => publisher::release_verified(s),
        CheckId::OidcPublishJob => ci::oidc_publish_job(s),
        CheckId::NoStaticTokens => tokens::no_static_tokens(s),
        CheckId::TempTokenDeleted => tokens::temp_token_deleted(s),
        CheckId::DisallowTokens => tokens::disallow_tokens(s),
        CheckId::NoServiceAccounts => members::no_service_accounts(s),
        CheckId::ReadOnlyTeams => members::read_only_teams(s),
    }
}

/// `GET /-/package/@acme%2fa/<what>`.
fn package_source(name: &str, what: &str) -> String {
    format!("GET /-/package/{}/{what}", escape_name(name))
}

/// `GET /-/org/acme/<what>`.
fn org_source(scope: &str, what: &str) -> String {
    format!("GET /-/org/{}/{what}", scope.trim_start_matches('@'))
}

/// `unknown` for a box that speaks for packages when the scope shows none: nothing was
/// observed, so nothing passes (or fails).
fn empty_scope(id: CheckId, s: &Snapshot) -> Option<CheckResult> {
    s.packages.as_ref().is_ok_and(Vec::is_empty).then(|| {
        CheckResult::from_items(
            id,
            vec![],
            vec![report::Evidence::new(
                org_source(&s.scope, "package"),
                format!(
                    "{} has no packages this credential can see; check the scope and the credential",
                    s.scope
                ),
            )],
            vec![],
        )
    })
}

/// `a, b, c and 7 more`.
fn list_some(items: &[&str], max: usize) -> String {
    let shown: Vec<&str> = items.iter().take(max).copied().collect();
    let mut s = shown.join(", ");
    if items.len() > max {
        s.push_str(&format!(" and {} more", items.len() - max));
    }
    s
}

#[cfg(any(test, feature = "test-fixtures"))]
pub mod fixtures;
#[cfg(test)]
mod tests;

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn lists_are_cut_with_a_count() {
        assert_eq!(list_some(&["a", "b", "c"], 2), "a, b and 1 more");
        assert_eq!(list_some(&["a"], 2), "a");
    }
}
