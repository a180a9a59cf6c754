//! The GitLab side of the sandbox's world: a group with projects, their environments,
//! protected environments (`deploy_access_levels`; a Premium feature on gitlab.com, so a
//! Free-tier group answers as GitLab does), CI/CD variables (flags, never values) and
//! repository files. Served as a subset of GitLab's REST API (`handlers/gitlab.rs`) and
//! consulted by the GitLab issuer's mint, which refuses a job its protected environment
//! would not let run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// GitLab's access levels.
pub const DEVELOPER: u32 = 30;
pub const MAINTAINER: u32 = 40;
pub const OWNER: u32 = 50;

/// `developer` → 30, `maintainer` → 40, `owner` → 50 (as `user_access_level` claims say it).
pub fn access_level(name: &str) -> Option<u32> {
    match name {
        "guest" => Some(10),
        "reporter" => Some(20),
        "developer" => Some(DEVELOPER),
        "maintainer" => Some(MAINTAINER),
        "owner" => Some(OWNER),
        _ => None,
    }
}

pub fn access_level_name(level: u32) -> &'static str {
    match level {
        OWNER.. => "Owners",
        MAINTAINER.. => "Maintainers",
        DEVELOPER.. => "Developers + Maintainers",
        _ => "Reporters",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Free,
    Premium,
    Ultimate,
}

/// A CI/CD variable; its value is kept and never served.
#[derive(Clone, Serialize, Deserialize)]
pub struct Variable {
    pub key: String,
    pub value: String,
    pub protected: bool,
    pub masked: bool,
    pub environment_scope: String,
}

impl std::fmt::Debug for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Variable")
            .field("key", &self.key)
            .field("protected", &self.protected)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProtectedEnvironment {
    pub name: String,
    /// Minimum access level allowed to deploy.
    pub deploy_access_level: u32,
    #[serde(default)]
    pub required_approval_count: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Project {
    pub id: u64,
    /// `group/sub/project`.
    pub path_with_namespace: String,
    pub default_branch: String,
    #[serde(default)]
    pub protected_branches: Vec<String>,
    #[serde(default)]
    pub environments: Vec<String>,
    #[serde(default)]
    pub protected_environments: Vec<ProtectedEnvironment>,
    #[serde(default)]
    pub variables: Vec<Variable>,
    #[serde(default)]
    pub files: BTreeMap<String, String>,
}

impl Project {
    pub fn name(&self) -> &str {
        self.path_with_namespace
            .rsplit('/')
            .next()
            .unwrap_or(&self.path_with_namespace)
    }

    pub fn namespace(&self) -> &str {
        self.path_with_namespace
            .rsplit_once('/')
            .map_or("", |(ns, _)| ns)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GitLab {
    pub group: String,
    pub group_id: u64,
    pub tier: Tier,
    pub token: String,
    pub projects: Vec<Project>,
    #[serde(default)]
    pub variables: Vec<Variable>,
    #[serde(default)]
    pub next_id: u64,
}

impl Default for GitLab {
    fn default() -> Self {
        GitLab {
            group: String::new(),
            group_id: 0,
            tier: Tier::Free,
            token: String::new(),
            projects: Vec::new(),
            variables: Vec::new(),
            next_id: 0,
        }
    }
}

impl GitLab {
    /// A project by numeric id or full path.
    pub fn project(&self, id: &str) -> Option<&Project> {
        self.projects
            .iter()
            .find(|p| p.id.to_string() == id || p.path_with_namespace == id)
    }

    pub fn project_mut(&mut self, id: &str) -> Option<&mut Project> {
        self.projects
            .iter_mut()
            .find(|p| p.id.to_string() == id || p.path_with_namespace == id)
    }

    /// Whether protected environments exist on this tier.
    pub fn has_protected_environments(&self) -> bool {
        self.tier != Tier::Free
    }

    pub fn fresh_id(&mut self) -> u64 {
        self.next_id = self.next_id.max(100) + 1;
        self.next_id
    }
}

/// Why GitLab would not run a job deploying to `environment` (`None`: it would).
pub fn refusal(
    gl: &GitLab,
    project: &Project,
    environment: &str,
    ref_protected: bool,
    user_level: u32,
) -> Option<String> {
    if !gl.has_protected_environments() {
        return None;
    }
    let pe = project
        .protected_environments
        .iter()
        .find(|e| e.name == environment)?;
    if user_level < pe.deploy_access_level {
        return Some(format!(
            "environment {environment:?} is protected: only {} may deploy to it",
            access_level_name(pe.deploy_access_level)
        ));
    }
    if !ref_protected {
        return Some(format!(
            "environment {environment:?} is protected and the job's ref is not a protected ref"
        ));
    }
    None
}
