//! The GitHub side of the sandbox's world: repositories with their Actions secrets and
//! variables, deployment environments (reviewers, wait timer, deployment branch policy) and
//! workflow files, plus the organisation's secrets and variables. Served as a subset of
//! GitHub's REST API (`handlers/github.rs`) and consulted by the GitHub issuer's mint, which
//! refuses a job that its environment would not let run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A secret: its value is kept (a stand-in for the encrypted one) and never served.
#[derive(Clone, Serialize, Deserialize)]
pub struct Secret {
    pub name: String,
    pub value: String,
    pub created: u64,
    pub updated: u64,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// An Actions variable (GitHub serves variable values).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Variable {
    pub name: String,
    pub value: String,
    pub created: u64,
    pub updated: u64,
}

/// Which refs an environment admits (`deployment_branch_policy`); `None` on the environment
/// means every ref.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchPolicySettings {
    /// Only the repository's protected branches.
    pub protected_branches: bool,
    /// Only refs matching the environment's named policies.
    pub custom_branch_policies: bool,
}

/// `branch` or `tag`, as GitHub's deployment branch policies type them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefKind {
    Branch,
    Tag,
}

/// One named deployment branch (or tag) policy: a name pattern with `*` wildcards.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BranchPolicy {
    pub id: u64,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: RefKind,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    pub id: u64,
    pub name: String,
    pub created: u64,
    pub updated: u64,
    #[serde(default)]
    pub wait_timer: u32,
    /// Logins of required reviewers.
    #[serde(default)]
    pub reviewers: Vec<String>,
    #[serde(default)]
    pub branch_policy: Option<BranchPolicySettings>,
    #[serde(default)]
    pub policies: Vec<BranchPolicy>,
    #[serde(default)]
    pub secrets: Vec<Secret>,
    #[serde(default)]
    pub variables: Vec<Variable>,
}

/// The OIDC subject customisation of a repository.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OidcSub {
    pub use_default: bool,
    #[serde(default)]
    pub include_claim_keys: Vec<String>,
    #[serde(default)]
    pub use_immutable_subject: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Repo {
    pub id: u64,
    pub owner: String,
    pub name: String,
    pub private: bool,
    pub default_branch: String,
    /// Branches with branch protection.
    #[serde(default)]
    pub protected_branches: Vec<String>,
    #[serde(default)]
    pub environments: Vec<Environment>,
    #[serde(default)]
    pub secrets: Vec<Secret>,
    #[serde(default)]
    pub variables: Vec<Variable>,
    /// Files by path (workflow files, `package.json`).
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    #[serde(default)]
    pub oidc_sub: OidcSub,
}

impl Repo {
    /// `owner/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    pub fn environment(&self, name: &str) -> Option<&Environment> {
        // GitHub environment names are case-insensitive.
        self.environments
            .iter()
            .find(|e| e.name.eq_ignore_ascii_case(name))
    }
}

/// The GitHub organisation (or user) of the scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GitHub {
    pub org: String,
    /// The API token a client must send (`Authorization: Bearer`).
    pub token: String,
    pub repos: Vec<Repo>,
    #[serde(default)]
    pub org_secrets: Vec<Secret>,
    #[serde(default)]
    pub org_variables: Vec<Variable>,
    /// Next numeric id for environments and policies.
    #[serde(default)]
    pub next_id: u64,
    /// API requests per hour (GitHub's is 5,000 for a token).
    #[serde(default = "hourly")]
    pub rate_limit: u32,
}

fn hourly() -> u32 {
    5000
}

impl Default for GitHub {
    fn default() -> Self {
        GitHub {
            org: String::new(),
            token: String::new(),
            repos: Vec::new(),
            org_secrets: Vec::new(),
            org_variables: Vec::new(),
            next_id: 0,
            rate_limit: hourly(),
        }
    }
}

impl GitHub {
    pub fn repo(&self, owner: &str, name: &str) -> Option<&Repo> {
        self.repos
            .iter()
            .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
    }

    pub fn repo_mut(&mut self, owner: &str, name: &str) -> Option<&mut Repo> {
        self.repos
            .iter_mut()
            .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
    }

    pub fn fresh_id(&mut self) -> u64 {
        self.next_id = self.next_id.max(1000) + 1;
        self.next_id
    }
}

/// The numeric id of an owner (the sandbox keeps none): stable, derived from its login.
pub fn owner_id(owner: &str) -> u64 {
    let uuid = crate::ids::stable_uuid("github-owner", &owner.to_ascii_lowercase());
    u64::from_str_radix(uuid.get(..8).unwrap_or("1"), 16).unwrap_or(1)
}

/// Why a job may not use an environment (`None`: it may).
pub fn refusal(repo: &Repo, env: &Environment, git_ref: &str) -> Option<String> {
    // No policy: every ref may deploy.
    let policy = env.branch_policy?;
    let (kind, short) = if let Some(b) = git_ref.strip_prefix("refs/heads/") {
        (RefKind::Branch, b)
    } else if let Some(t) = git_ref.strip_prefix("refs/tags/") {
        (RefKind::Tag, t)
    } else {
        return Some(format!(
            "ref {git_ref:?} is neither a branch nor a tag; environment {:?} admits only the refs its deployment branch policy names",
            env.name
        ));
    };
    if policy.protected_branches {
        return if kind == RefKind::Branch && repo.protected_branches.iter().any(|b| b == short) {
            None
        } else {
            Some(format!(
                "environment {:?} admits only protected branches, and {git_ref:?} is not one",
                env.name
            ))
        };
    }
    if env
        .policies
        .iter()
        .any(|p| p.kind == kind && glob(&p.name, short))
    {
        None
    } else {
        Some(format!(
            "environment {:?} admits only {}, not {git_ref:?}",
            env.name,
            if env.policies.is_empty() {
                "no ref (no deployment branch policy is listed)".to_owned()
            } else {
                env.policies
                    .iter()
                    .map(|p| {
                        format!(
                            "{} {:?}",
                            if p.kind == RefKind::Tag {
                                "tag"
                            } else {
                                "branch"
                            },
                            p.name
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ))
    }
}

/// `fnmatch`-style matching as GitHub's deployment branch policies use it: `*` matches any
/// run of characters except `/`, `**` any run including `/`, `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8], depth: u32) -> bool {
        if depth > 64 {
            return false;
        }
        match p {
            [] => t.is_empty(),
            [b'*', b'*', rest @ ..] => (0..=t.len()).any(|i| go(rest, &t[i..], depth + 1)),
            [b'*', rest @ ..] => {
                let stop = t.iter().position(|c| *c == b'/').unwrap_or(t.len());
                (0..=stop).any(|i| go(rest, &t[i..], depth + 1))
            }
            [b'?', rest @ ..] => !t.is_empty() && go(rest, &t[1..], depth + 1),
            [c, rest @ ..] => t.first() == Some(c) && go(rest, &t[1..], depth + 1),
        }
    }
    pattern.len() <= 255 && go(pattern.as_bytes(), text.as_bytes(), 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("main", "main"));
        assert!(glob("release/*", "release/1.x"));
        assert!(!glob("release/*", "release/1/x"));
        assert!(glob("release/**", "release/1/x"));
        assert!(glob("v*", "v1.2.3"));
        assert!(!glob("main", "main2"));
        assert!(!glob(&"*".repeat(300), "x"));
    }

    fn env(policy: Option<BranchPolicySettings>, policies: Vec<BranchPolicy>) -> Environment {
        Environment {
            id: 1,
            name: "npm".into(),
            created: 0,
            updated: 0,
            wait_timer: 0,
            reviewers: vec![],
            branch_policy: policy,
            policies,
            secrets: vec![],
            variables: vec![],
        }
    }

    #[test]
    fn environments_admit_only_their_refs() {
        let repo = Repo {
            id: 1,
            owner: "acme".into(),
            name: "web".into(),
            private: false,
            default_branch: "main".into(),
            protected_branches: vec!["main".into()],
            environments: vec![],
            secrets: vec![],
            variables: vec![],
            files: BTreeMap::new(),
            oidc_sub: OidcSub::default(),
        };
        let open = env(None, vec![]);
        assert_eq!(refusal(&repo, &open, "refs/heads/feature"), None);
        let protected = env(
            Some(BranchPolicySettings {
                protected_branches: true,
                custom_branch_policies: false,
            }),
            vec![],
        );
        assert_eq!(refusal(&repo, &protected, "refs/heads/main"), None);
        assert!(refusal(&repo, &protected, "refs/heads/feature").is_some());
        assert!(refusal(&repo, &protected, "refs/tags/v1.0.0").is_some());
        let custom = env(
            Some(BranchPolicySettings {
                protected_branches: false,
                custom_branch_policies: true,
            }),
            vec![BranchPolicy {
                id: 2,
                name: "v*".into(),
                kind: RefKind::Tag,
            }],
        );
        assert_eq!(refusal(&repo, &custom, "refs/tags/v1.0.0"), None);
        assert!(refusal(&repo, &custom, "refs/heads/v1").is_some());
        assert!(refusal(&repo, &custom, "refs/pull/1/merge").is_some());
    }
}
