//! The `[members]` table: who in the org is an owner, a person, or a service account.
//! The registry cannot tell a human from a robot; this table says which is which.
//!
//! ```toml
//! [members]
//! owners = ["alice"]               # may hold write on packages
//! humans = ["alice", "bob"]        # people (owners are people too)
//! service_accounts = ["acme-ci-bot"]
//! ```

use std::collections::BTreeSet;

#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersConfig {
    /// Org members allowed to write to packages.
    #[serde(default)]
    pub owners: BTreeSet<String>,
    /// People. Owners count as people whether or not they are repeated here.
    #[serde(default)]
    pub humans: BTreeSet<String>,
    /// Accounts that exist to hold a credential for a machine.
    #[serde(default)]
    pub service_accounts: BTreeSet<String>,
}

/// How `[members]` classifies one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    Owner,
    Human,
    ServiceAccount,
    Unclassified,
}

impl MembersConfig {
    pub fn kind(&self, user: &str) -> MemberKind {
        if self.service_accounts.contains(user) {
            MemberKind::ServiceAccount
        } else if self.owners.contains(user) {
            MemberKind::Owner
        } else if self.humans.contains(user) {
            MemberKind::Human
        } else {
            MemberKind::Unclassified
        }
    }

    /// Names listed both as a person and as a service account: a contradiction.
    pub fn contradictions(&self) -> Vec<&str> {
        self.service_accounts
            .iter()
            .filter(|s| self.owners.contains(*s) || self.humans.contains(*s))
            .map(String::as_str)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_classified_and_unknown_keys_refused() {
        let m: MembersConfig = toml::from_str(
            "owners = [\"alice\"]\nhumans = [\"bob\"]\nservice_accounts = [\"bot\"]\n",
        )
        .expect("members");
        assert_eq!(m.kind("alice"), MemberKind::Owner);
        assert_eq!(m.kind("bob"), MemberKind::Human);
        assert_eq!(m.kind("bot"), MemberKind::ServiceAccount);
        assert_eq!(m.kind("eve"), MemberKind::Unclassified);
        let err = toml::from_str::<MembersConfig>("robots = []").expect_err("unknown key");
        assert!(err.to_string().contains("robots"), "{err}");
    }

    #[test]
    fn a_name_in_two_lists_is_a_contradiction() {
        let m: MembersConfig =
            toml::from_str("humans = [\"x\"]\nservice_accounts = [\"x\"]").expect("members");
        assert_eq!(m.contradictions(), vec!["x"]);
    }
}
