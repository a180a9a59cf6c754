//! The `[audit]` table: what `tokenless audit` reads when the command line does not say.
//!
//! ```toml
//! [audit]
//! scope = "@acme"
//! registry = "https://registry.npmjs.org/"
//! circleci_api = "https://circleci.com/api/v2"
//! circleci_org = "6f1d…"                    # org UUID
//! circleci_projects = ["gh/acme/monorepo"]  # project slugs
//! github_api = "https://api.github.com"
//! github_repos = ["acme/web"]               # beside those trust configs name
//! gitlab_api = "https://gitlab.com/api/v4"
//! gitlab_projects = ["acme/lib"]
//! ```

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    pub scope: Option<String>,
    pub registry: Option<String>,
    pub circleci_api: Option<String>,
    pub circleci_org: Option<String>,
    #[serde(default)]
    pub circleci_projects: Vec<String>,
    pub github_api: Option<String>,
    #[serde(default)]
    pub github_repos: Vec<String>,
    pub gitlab_api: Option<String>,
    #[serde(default)]
    pub gitlab_projects: Vec<String>,
}
