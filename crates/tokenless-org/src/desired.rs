//! The desired state: the tables of `tokenless.toml` that say what the org should look
//! like once migrated. Every value is checked while the file is read, so a mistake is
//! reported with the key and the line (the TOML parser adds the position); nothing here
//! talks to a registry.
//!
//! ```toml
//! [[publisher]]
//! packages = ["@acme/*"]
//! except = ["@acme/site"]
//! provider = "circleci"
//! org_id = "6f1d…"
//! project_id = "…"
//! pipeline_definition_id = "…"
//! vcs_origin = "github.com/acme/monorepo"
//! contexts = ["npm-publish"]      # names are created if missing; ids are bound as they are
//! actions = ["publish"]
//!
//! [access]
//! mfa = "publish"
//! ```

use std::collections::BTreeMap;

use globset::{Glob, GlobBuilder, GlobMatcher};
use schemars::JsonSchema;
use serde::Deserialize;
use tokenless_trust::{
    CircleCiPublisher, GitHubPublisher, GitLabPublisher, Permission, Publisher, TrustConfig,
};

/// CircleCI's default restriction for a context that may publish: the main branch, and no
/// SSH rerun (a person with a shell in the job could take its token).
pub const DEFAULT_RESTRICTION: &str = "pipeline.git.branch == \"main\" and not job.ssh.enabled";

/// One `[[publisher]]` table: a trusted publisher for every package its patterns match.
/// A package matched by several tables gets several trust configs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(try_from = "RawPublisher")]
#[schemars(with = "RawPublisher")]
pub struct PublisherSpec {
    /// `packages` as written, for messages.
    pub patterns: Vec<String>,
    packages: Vec<GlobMatcher>,
    except: Vec<GlobMatcher>,
    /// Exact names (no glob characters): packages that must exist; a missing one needs a
    /// first publish by a person.
    pub exact: Vec<String>,
    /// The config to create, with `context_ids` still naming contexts (see `contexts`).
    pub template: TrustConfig,
    /// CircleCI contexts as written: a UUID is bound as is; a name is looked up (and
    /// created when missing) and its id bound.
    pub contexts: Vec<String>,
}

impl PublisherSpec {
    /// Whether this table covers `package`.
    pub fn matches(&self, package: &str) -> bool {
        self.packages.iter().any(|g| g.is_match(package))
            && !self.except.iter().any(|g| g.is_match(package))
    }

    /// The config for a package, given the ids of the contexts named in `contexts`
    /// (in the same order).
    pub fn config_with_contexts(&self, context_ids: Vec<String>) -> TrustConfig {
        let mut config = self.template.clone();
        if let Publisher::CircleCi(p) = &mut config.publisher {
            p.context_ids = context_ids;
        }
        config
    }
}

/// `[[publisher]]` as written.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawPublisher {
    /// Package names or globs (`@acme/*`; `*` does not cross `/`).
    packages: Vec<String>,
    /// Names or globs left out of `packages`.
    #[serde(default)]
    except: Vec<String>,
    /// `circleci`, `github` or `gitlab`.
    provider: ProviderName,
    /// Allowed actions: `publish`, `stage-publish` (default: `["publish"]`).
    #[serde(default = "default_actions")]
    actions: Vec<ActionName>,
    /// CircleCI organization id (UUID).
    org_id: Option<String>,
    /// CircleCI project id (UUID).
    project_id: Option<String>,
    /// CircleCI pipeline definition id (UUID).
    pipeline_definition_id: Option<String>,
    /// CircleCI VCS origin, `github.com/owner/repo` (no scheme).
    vcs_origin: Option<String>,
    /// CircleCI contexts the publish job uses: ids, or names (created when missing).
    #[serde(default)]
    contexts: Vec<String>,
    /// GitHub `owner/repo`.
    repository: Option<String>,
    /// GitHub workflow file name, `publish.yml` (no directory).
    workflow: Option<String>,
    /// GitLab project path, `group/project`.
    project: Option<String>,
    /// GitLab CI config file name, `.gitlab-ci.yml` (no directory).
    config_file: Option<String>,
    /// GitHub or GitLab deployment environment the publish job runs in.
    environment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum ProviderName {
    Circleci,
    Github,
    Gitlab,
}

/// An allowed action, as npm's website names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ActionName {
    Publish,
    StagePublish,
}

impl ActionName {
    fn permission(self) -> Permission {
        match self {
            ActionName::Publish => Permission::CreatePackage,
            ActionName::StagePublish => Permission::CreateStagedPackage,
        }
    }
}

fn default_actions() -> Vec<ActionName> {
    vec![ActionName::Publish]
}

fn glob(pattern: &str) -> Result<GlobMatcher, String> {
    if pattern.is_empty() {
        return Err("an empty package pattern".into());
    }
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map(|g: Glob| g.compile_matcher())
        .map_err(|e| format!("package pattern `{pattern}`: {e}"))
}

fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', '{'])
}

/// A UUID as CircleCI and npm's CLI require them.
pub fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn required(value: Option<String>, key: &str, provider: &str) -> Result<String, String> {
    match value {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(format!("`{key}` is required for provider = \"{provider}\"")),
    }
}

fn uuid(value: Option<String>, key: &str) -> Result<String, String> {
    let v = required(value, key, "circleci")?;
    if is_uuid(&v) {
        Ok(v)
    } else {
        Err(format!(
            "`{key}` must be a UUID (as npm trust circleci requires), got `{v}`"
        ))
    }
}

fn file_name(value: Option<String>, key: &str, provider: &str) -> Result<String, String> {
    let v = required(value, key, provider)?;
    if v.contains('/') {
        return Err(format!(
            "`{key}` must be a file name without a directory (npm matches the name only), got `{v}`"
        ));
    }
    if provider == "github" && !(v.ends_with(".yml") || v.ends_with(".yaml")) {
        return Err(format!("`{key}` must end in .yml or .yaml, got `{v}`"));
    }
    Ok(v)
}

fn not_for(provider: &str, keys: &[(&str, bool)]) -> Result<(), String> {
    match keys.iter().find(|(_, set)| *set) {
        Some((key, _)) => Err(format!(
            "`{key}` does not apply to provider = \"{provider}\""
        )),
        None => Ok(()),
    }
}

impl TryFrom<RawPublisher> for PublisherSpec {
    type Error = String;

    fn try_from(raw: RawPublisher) -> Result<Self, String> {
        if raw.packages.is_empty() {
            return Err("`packages` must name at least one package or pattern".into());
        }
        if raw.actions.is_empty() {
            return Err("`actions` must list `publish`, `stage-publish` or both".into());
        }
        let packages = raw
            .packages
            .iter()
            .map(|p| glob(p))
            .collect::<Result<_, _>>()?;
        let except = raw
            .except
            .iter()
            .map(|p| glob(p))
            .collect::<Result<_, _>>()?;
        let mut permissions: Vec<Permission> = Vec::new();
        for a in &raw.actions {
            if !permissions.contains(&a.permission()) {
                permissions.push(a.permission());
            }
        }
        let env = raw.environment.clone().filter(|e| !e.trim().is_empty());
        let (publisher, contexts) = match raw.provider {
            ProviderName::Circleci => {
                not_for(
                    "circleci",
                    &[
                        ("repository", raw.repository.is_some()),
                        ("workflow", raw.workflow.is_some()),
                        ("project", raw.project.is_some()),
                        ("config_file", raw.config_file.is_some()),
                        ("environment", raw.environment.is_some()),
                    ],
                )?;
                let org_id = uuid(raw.org_id, "org_id")?;
                let project_id = uuid(raw.project_id, "project_id")?;
                let pipeline_definition_id =
                    uuid(raw.pipeline_definition_id, "pipeline_definition_id")?;
                let vcs_origin = required(raw.vcs_origin, "vcs_origin", "circleci")?;
                if vcs_origin.contains("://") || vcs_origin.split('/').count() < 3 {
                    return Err(format!(
                        "`vcs_origin` must look like `github.com/owner/repo` (no scheme), got `{vcs_origin}`"
                    ));
                }
                if let Some(empty) = raw.contexts.iter().find(|c| c.trim().is_empty()) {
                    return Err(format!("`contexts` holds an empty name ({empty:?})"));
                }
                let publisher = Publisher::CircleCi(CircleCiPublisher {
                    org_id,
                    project_id,
                    pipeline_definition_id,
                    vcs_origin,
                    context_ids: Vec::new(),
                });
                (publisher, raw.contexts)
            }
            ProviderName::Github => {
                not_for(
                    "github",
                    &[
                        ("org_id", raw.org_id.is_some()),
                        ("project_id", raw.project_id.is_some()),
                        (
                            "pipeline_definition_id",
                            raw.pipeline_definition_id.is_some(),
                        ),
                        ("vcs_origin", raw.vcs_origin.is_some()),
                        ("contexts", !raw.contexts.is_empty()),
                        ("project", raw.project.is_some()),
                        ("config_file", raw.config_file.is_some()),
                    ],
                )?;
                let repository = required(raw.repository, "repository", "github")?;
                if repository.split('/').count() != 2 || repository.split('/').any(str::is_empty) {
                    return Err(format!(
                        "`repository` must be `owner/repo`, got `{repository}`"
                    ));
                }
                let publisher = Publisher::GitHub(GitHubPublisher {
                    repository,
                    workflow_file: file_name(raw.workflow, "workflow", "github")?,
                    environment: env,
                });
                (publisher, Vec::new())
            }
            ProviderName::Gitlab => {
                not_for(
                    "gitlab",
                    &[
                        ("org_id", raw.org_id.is_some()),
                        ("project_id", raw.project_id.is_some()),
                        (
                            "pipeline_definition_id",
                            raw.pipeline_definition_id.is_some(),
                        ),
                        ("vcs_origin", raw.vcs_origin.is_some()),
                        ("contexts", !raw.contexts.is_empty()),
                        ("repository", raw.repository.is_some()),
                        ("workflow", raw.workflow.is_some()),
                    ],
                )?;
                let project = required(raw.project, "project", "gitlab")?;
                if project.split('/').count() < 2 || project.split('/').any(str::is_empty) {
                    return Err(format!(
                        "`project` must be `group/project` (or deeper), got `{project}`"
                    ));
                }
                let publisher = Publisher::GitLab(GitLabPublisher {
                    project_path: project,
                    ci_config_file: file_name(raw.config_file, "config_file", "gitlab")?,
                    environment: env,
                });
                (publisher, Vec::new())
            }
        };
        Ok(PublisherSpec {
            exact: raw
                .packages
                .iter()
                .filter(|p| !is_glob(p))
                .cloned()
                .collect(),
            patterns: raw.packages,
            packages,
            except,
            template: TrustConfig {
                id: None,
                publisher,
                permissions,
            },
            contexts,
        })
    }
}

/// `[circleci]`: what every context a trust config binds must enforce.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CircleCiRules {
    /// The expression restriction each bound context must carry.
    #[serde(default = "default_restriction")]
    pub restriction: String,
}

fn default_restriction() -> String {
    DEFAULT_RESTRICTION.to_owned()
}

impl Default for CircleCiRules {
    fn default() -> Self {
        CircleCiRules {
            restriction: default_restriction(),
        }
    }
}

/// `[github]`: what every environment a GitHub trust config pins must enforce.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitHubRules {
    /// Branch name patterns the environment's deployment branch policy admits.
    #[serde(default = "default_branches")]
    pub deployment_branches: Vec<String>,
}

fn default_branches() -> Vec<String> {
    vec!["main".to_owned()]
}

impl Default for GitHubRules {
    fn default() -> Self {
        GitHubRules {
            deployment_branches: default_branches(),
        }
    }
}

/// `[gitlab]`: what every environment a GitLab trust config pins must enforce.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitLabRules {
    /// Who may deploy to the protected environment: `maintainer` (40) or `owner` (50).
    #[serde(default = "default_level")]
    pub deploy_access_level: DeployLevel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeployLevel {
    Maintainer,
    Owner,
}

impl DeployLevel {
    /// GitLab's numeric access level.
    pub fn level(self) -> u32 {
        match self {
            DeployLevel::Maintainer => 40,
            DeployLevel::Owner => 50,
        }
    }
}

fn default_level() -> DeployLevel {
    DeployLevel::Maintainer
}

impl Default for GitLabRules {
    fn default() -> Self {
        GitLabRules {
            deploy_access_level: default_level(),
        }
    }
}

/// `[access]`: publishing access of every package in the scope.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessSpec {
    /// `publish`: "Require two-factor authentication and disallow tokens". Unset: left alone.
    pub mfa: Option<MfaSetting>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MfaSetting {
    Publish,
}

/// A team's permission on the scope's packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TeamPermission {
    ReadOnly,
}

/// `[teams]`: team name → the permission it keeps on every package (`read-only`).
pub type TeamsSpec = BTreeMap<String, TeamPermission>;

/// `[secrets]`: CI secrets and variables that hold npm tokens, and where to remove them.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretsSpec {
    /// Secret or variable names to remove (e.g. `NPM_TOKEN`).
    #[serde(default)]
    pub names: Vec<String>,
    /// CircleCI project slugs (`gh/acme/monorepo`) whose project variables are checked.
    #[serde(default)]
    pub circleci_projects: Vec<String>,
    /// CircleCI context names or ids whose variables are checked.
    #[serde(default)]
    pub circleci_contexts: Vec<String>,
    /// GitHub repositories (`acme/site`) whose Actions secrets are checked.
    #[serde(default)]
    pub github_repositories: Vec<String>,
    /// GitHub environments (`acme/site:npm`) whose secrets are checked.
    #[serde(default)]
    pub github_environments: Vec<String>,
    /// A GitHub organization whose Actions secrets are checked.
    pub github_organization: Option<String>,
    /// GitLab project paths whose CI/CD variables are checked.
    #[serde(default)]
    pub gitlab_projects: Vec<String>,
    /// A GitLab group whose CI/CD variables are checked.
    pub gitlab_group: Option<String>,
}

/// `[tokens]`: the signed-in owner's static tokens.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokensSpec {
    /// `all`: every static token of the account is deleted (the default once the table
    /// is present). Unset table: tokens are left alone.
    #[serde(default)]
    pub delete: TokenDeletion,
    /// Token names never deleted (a read-only token for installs, for example).
    #[serde(default)]
    pub keep: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenDeletion {
    /// Every static token except those in `keep`.
    #[default]
    All,
    /// Nothing.
    None,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publisher(text: &str) -> Result<PublisherSpec, String> {
        #[derive(Deserialize)]
        struct One {
            publisher: PublisherSpec,
        }
        toml::from_str::<One>(text)
            .map(|o| o.publisher)
            .map_err(|e| e.to_string())
    }

    const U: &str = "6f1d2c3b-1111-4222-8333-944455556666";

    #[test]
    fn circleci_publisher_builds_npm_config() {
        let p = publisher(&format!(
            "[publisher]\npackages = [\"@acme/*\"]\nexcept = [\"@acme/site\"]\nprovider = \"circleci\"\norg_id = \"{U}\"\nproject_id = \"{U}\"\npipeline_definition_id = \"{U}\"\nvcs_origin = \"github.com/acme/monorepo\"\ncontexts = [\"npm-publish\"]\nactions = [\"publish\", \"stage-publish\"]\n"
        ))
        .expect("valid");
        assert!(p.matches("@acme/core"));
        assert!(!p.matches("@acme/site"));
        assert!(!p.matches("@acme/a/b"), "* stays within one segment");
        assert_eq!(p.contexts, vec!["npm-publish"]);
        let c = p.config_with_contexts(vec![U.to_owned()]);
        assert_eq!(c.context_ids(), [U.to_owned()]);
        assert_eq!(
            c.permissions,
            vec![Permission::CreatePackage, Permission::CreateStagedPackage]
        );
        assert!(p.exact.is_empty());
    }

    #[test]
    fn mistakes_name_key_and_line() {
        let err = publisher(
            "[publisher]\npackages = [\"@acme/site\"]\nprovider = \"github\"\nrepository = \"acme/site\"\nworkflow = \".github/workflows/publish.yml\"\n",
        )
        .expect_err("directory in workflow");
        assert!(
            err.contains("`workflow`") && err.contains("line 1"),
            "{err}"
        );
        let err = publisher(
            "[publisher]\npackages = [\"x\"]\nprovider = \"circleci\"\norg_id = \"nope\"\n",
        )
        .expect_err("bad uuid");
        assert!(err.contains("org_id"), "{err}");
        let err =
            publisher("[publisher]\npackages = [\"x\"]\nprovider = \"github\"\nrepo = \"a/b\"\n")
                .expect_err("unknown key");
        assert!(err.contains("repo") && err.contains("line 4"), "{err}");
        let err = publisher(
            "[publisher]\npackages = [\"x\"]\nprovider = \"gitlab\"\nproject = \"a/b\"\nconfig_file = \".gitlab-ci.yml\"\ncontexts = [\"c\"]\n",
        )
        .expect_err("contexts on gitlab");
        assert!(err.contains("`contexts` does not apply"), "{err}");
        let err = publisher("[publisher]\npackages = [\"x\"]\nprovider = \"bitbucket\"\n")
            .expect_err("unknown provider");
        assert!(err.contains("bitbucket"), "{err}");
    }

    #[test]
    fn exact_names_are_kept_for_first_publish_notes() {
        let p = publisher(
            "[publisher]\npackages = [\"@acme/new\", \"@acme/x-*\"]\nprovider = \"gitlab\"\nproject = \"acme/lab\"\nconfig_file = \".gitlab-ci.yml\"\nenvironment = \"npm\"\n",
        )
        .expect("valid");
        assert_eq!(p.exact, vec!["@acme/new"]);
        assert_eq!(p.template.environment(), Some("npm"));
    }
}
