//! What the plan compares the desired state with: the parts of the registry and the CI
//! providers that `tokenless.toml` speaks about, read through `tokenless-api`. Unlike the
//! audit, the plan cannot work around a failed read (it would plan a change it cannot
//! justify), so every read here either succeeds or fails the collection with the request
//! it was.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, TryStreamExt, stream};
use tokenless_api::{
    ApiError,
    circleci::CircleCiClient,
    github::{BranchPolicy, Environment, GitHubClient},
    gitlab::{GitLabClient, Protection},
    npm::{NpmClient, Token, TrustConfig},
};
use tokenless_trust::Publisher;

use crate::config::Config;

/// Reads in flight at once.
const CONCURRENCY: usize = 32;

/// One package as the plan needs it.
#[derive(Debug, Clone)]
pub struct PackageNow {
    pub name: String,
    pub trust: Vec<TrustConfig>,
    /// The latest version and the trust config id it was published through, if any.
    pub latest: Option<(String, Option<String>)>,
    /// Whether the packument was read (it is not for a package without a trust config:
    /// none of its releases can have gone through one).
    pub latest_read: bool,
}

/// A GitHub environment with its branch policies (`None`: the repository lacks it).
pub type GitHubEnv = Option<(Environment, Vec<BranchPolicy>)>;

/// The org as the plan sees it.
#[derive(Debug, Clone, Default)]
pub struct Actual {
    /// The signed-in account.
    pub user: String,
    /// Every package of the scope, by name.
    pub packages: BTreeMap<String, PackageNow>,
    /// CircleCI contexts by name → (id, expression restrictions).
    pub contexts: BTreeMap<String, (String, Vec<String>)>,
    /// CircleCI variables: (`project <slug>` | `context <name>`) → names.
    pub circleci_vars: BTreeMap<String, BTreeSet<String>>,
    /// GitHub environments the desired publishers pin: (repo, env) → state.
    pub github_envs: BTreeMap<(String, String), GitHubEnv>,
    /// GitHub secrets: (repo | repo:env | org:<org>) → names.
    pub github_secrets: BTreeMap<String, BTreeSet<String>>,
    /// GitLab protected environments the desired publishers pin: (project, env) →
    /// deploy access levels (`None`: not protected; `Some(vec![])` never happens).
    pub gitlab_envs: BTreeMap<(String, String), Option<Vec<u32>>>,
    /// GitLab projects whose namespace has no protected environments (tier).
    pub gitlab_no_tier: BTreeSet<String>,
    /// GitLab variables: (project | group:<group>) → keys.
    pub gitlab_vars: BTreeMap<String, BTreeSet<String>>,
    /// The signed-in account's tokens.
    pub tokens: Vec<Token>,
    /// Org members → role.
    pub members: BTreeMap<String, String>,
    /// Teams → package → `read`/`write`.
    pub teams: BTreeMap<String, BTreeMap<String, String>>,
}

/// Why the state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("{0}")]
    Api(#[from] ApiError),
    #[error("{0}")]
    Missing(String),
}

/// The clients a collection (and an apply) works through.
#[derive(Debug, Clone)]
pub struct Clients {
    pub npm: NpmClient,
    pub circleci: Option<CircleCiClient>,
    pub github: Option<GitHubClient>,
    pub gitlab: Option<GitLabClient>,
}

impl Clients {
    pub fn circleci(&self) -> Result<&CircleCiClient, CollectError> {
        self.circleci.as_ref().ok_or_else(|| {
            CollectError::Missing(
                "tokenless.toml names CircleCI publishers or variables, but no CircleCI API is configured ([org] circleci_api / --circleci-token-env)".into(),
            )
        })
    }
    pub fn github(&self) -> Result<&GitHubClient, CollectError> {
        self.github.as_ref().ok_or_else(|| {
            CollectError::Missing(
                "tokenless.toml names GitHub publishers or secrets, but no GitHub API is configured ([org] github_api / --github-token-env)".into(),
            )
        })
    }
    pub fn gitlab(&self) -> Result<&GitLabClient, CollectError> {
        self.gitlab.as_ref().ok_or_else(|| {
            CollectError::Missing(
                "tokenless.toml names GitLab publishers or variables, but no GitLab API is configured ([org] gitlab_api / --gitlab-token-env)".into(),
            )
        })
    }
}

/// Read everything the desired state speaks about.
pub async fn collect(cfg: &Config, scope: &str, clients: &Clients) -> Result<Actual, CollectError> {
    // Independent reads run at once: on a large org the packages dominate, and the rest
    // (contexts, environments, secrets, tokens, members, teams) rides along.
    let (mut actual, circle, forges, secrets, people) = tokio::try_join!(
        read_packages(scope, clients),
        read_circleci(cfg, clients),
        read_forges(cfg, clients),
        read_secrets(cfg, clients),
        read_people(cfg, scope, clients),
    )?;
    actual.contexts = circle.contexts;
    actual.circleci_vars = circle.circleci_vars;
    actual.github_envs = forges.github_envs;
    actual.gitlab_envs = forges.gitlab_envs;
    actual.gitlab_no_tier = forges.gitlab_no_tier;
    actual.github_secrets = secrets.github_secrets;
    actual.gitlab_vars = secrets.gitlab_vars;
    actual.tokens = people.tokens;
    actual.members = people.members;
    actual.teams = people.teams;
    Ok(actual)
}

/// The signed-in user and every package with its trust configs and latest release.
async fn read_packages(scope: &str, clients: &Clients) -> Result<Actual, CollectError> {
    let npm = &clients.npm;
    let mut actual = Actual {
        user: npm.whoami().await?,
        ..Actual::default()
    };
    let names: Vec<String> = npm.org_packages(scope).await?.into_keys().collect();
    let packages: Vec<PackageNow> = stream::iter(names)
        .map(|name| async move {
            let trust = npm.trust_configs(&name).await?;
            // Without a trust config no release went through one: the packument (the
            // largest read) only matters once there is a config to verify.
            if trust.is_empty() {
                return Ok::<_, ApiError>(PackageNow {
                    name,
                    trust,
                    latest: None,
                    latest_read: false,
                });
            }
            let doc = npm.packument(&name).await?;
            let latest = doc.latest().map(|(v, meta)| {
                let via = meta
                    .and_then(|m| m.npm_user.as_ref())
                    .and_then(|u| u.trusted_publisher.as_ref())
                    .and_then(|t| t.oidc_config_id.clone());
                (v.to_owned(), via)
            });
            Ok(PackageNow {
                name,
                trust,
                latest,
                latest_read: true,
            })
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    actual.packages = packages.into_iter().map(|p| (p.name.clone(), p)).collect();

    Ok(actual)
}

async fn read_circleci(cfg: &Config, clients: &Clients) -> Result<Actual, CollectError> {
    let mut actual = Actual::default();
    let wants_circle = cfg
        .publishers
        .iter()
        .any(|p| p.template.provider() == tokenless_trust::Provider::CircleCi)
        || !cfg.secrets.circleci_projects.is_empty()
        || !cfg.secrets.circleci_contexts.is_empty();
    if wants_circle {
        let circle = clients.circleci()?;
        let org_id = circle_org(cfg)?;
        for ctx in circle.contexts(&org_id).await? {
            let detail = circle.context(&ctx.id).await?;
            let exprs = detail
                .restrictions
                .iter()
                .filter(|r| r.restriction_type == "expression")
                .map(|r| r.restriction_value.clone())
                .collect();
            actual
                .contexts
                .insert(ctx.name.clone(), (ctx.id.clone(), exprs));
        }
        for slug in &cfg.secrets.circleci_projects {
            let names = circle.project_variable_names(slug).await?;
            actual
                .circleci_vars
                .insert(format!("project {slug}"), names.into_iter().collect());
        }
        for name in &cfg.secrets.circleci_contexts {
            let id = context_id(&actual, name).ok_or_else(|| {
                CollectError::Missing(format!(
                    "[secrets] circleci_contexts names context `{name}`, which the CircleCI organization does not have"
                ))
            })?;
            let names = circle.context_variable_names(&id).await?;
            actual
                .circleci_vars
                .insert(format!("context {name}"), names.into_iter().collect());
        }
    }

    Ok(actual)
}

async fn read_forges(cfg: &Config, clients: &Clients) -> Result<Actual, CollectError> {
    let mut actual = Actual::default();
    for p in &cfg.publishers {
        match &p.template.publisher {
            Publisher::GitHub(g) => {
                let Some(env) = &g.environment else { continue };
                let key = (g.repository.clone(), env.clone());
                if actual.github_envs.contains_key(&key) {
                    continue;
                }
                let gh = clients.github()?;
                let found = match gh.environment(&g.repository, env).await {
                    Ok(e) => {
                        let policies = gh.branch_policies(&g.repository, env).await?;
                        Some((e, policies))
                    }
                    Err(e) if e.status() == Some(404) => None,
                    Err(e) => return Err(e.into()),
                };
                actual.github_envs.insert(key, found);
            }
            Publisher::GitLab(g) => {
                let Some(env) = &g.environment else { continue };
                let key = (g.project_path.clone(), env.clone());
                if actual.gitlab_envs.contains_key(&key) {
                    continue;
                }
                match clients
                    .gitlab()?
                    .protected_environments(&g.project_path)
                    .await?
                {
                    Protection::NotOnThisTier => {
                        actual.gitlab_no_tier.insert(g.project_path.clone());
                    }
                    Protection::Listed(list) => {
                        let found = list.iter().find(|e| &e.name == env).map(|e| {
                            e.deploy_access_levels
                                .iter()
                                .filter_map(|l| l.access_level)
                                .collect()
                        });
                        actual.gitlab_envs.insert(key, found);
                    }
                }
            }
            Publisher::CircleCi(_) => {}
        }
    }

    Ok(actual)
}

async fn read_secrets(cfg: &Config, clients: &Clients) -> Result<Actual, CollectError> {
    let mut actual = Actual::default();
    let s = &cfg.secrets;
    for repo in &s.github_repositories {
        let names = clients.github()?.repository_secret_names(repo).await?;
        actual
            .github_secrets
            .insert(repo.clone(), names.into_iter().collect());
    }
    for spec in &s.github_environments {
        let (repo, env) = split_env(spec)?;
        let names = clients
            .github()?
            .environment_secret_names(repo, env)
            .await?;
        actual
            .github_secrets
            .insert(spec.clone(), names.into_iter().collect());
    }
    if let Some(org) = &s.github_organization {
        let names = clients.github()?.organization_secret_names(org).await?;
        actual
            .github_secrets
            .insert(format!("org:{org}"), names.into_iter().collect());
    }
    for project in &s.gitlab_projects {
        let vars = clients.gitlab()?.project_variables(project).await?;
        actual
            .gitlab_vars
            .insert(project.clone(), vars.into_iter().map(|v| v.key).collect());
    }
    if let Some(group) = &s.gitlab_group {
        let vars = clients.gitlab()?.group_variables(group).await?;
        actual.gitlab_vars.insert(
            format!("group:{group}"),
            vars.into_iter().map(|v| v.key).collect(),
        );
    }

    Ok(actual)
}

async fn read_people(cfg: &Config, scope: &str, clients: &Clients) -> Result<Actual, CollectError> {
    let mut actual = Actual::default();
    let npm = &clients.npm;
    actual.tokens = npm.tokens().await?;
    actual.members = npm.org_members(scope).await?;
    for team in &cfg.teams_names() {
        let packages = npm.team_packages(scope, team).await?;
        actual.teams.insert(team.clone(), packages);
    }
    Ok(actual)
}

/// `owner/repo:env` → (`owner/repo`, `env`).
pub fn split_env(spec: &str) -> Result<(&str, &str), CollectError> {
    spec.rsplit_once(':')
        .filter(|(r, e)| !r.is_empty() && !e.is_empty())
        .ok_or_else(|| {
            CollectError::Missing(format!(
                "[secrets] github_environments entry `{spec}` must be `owner/repo:environment`"
            ))
        })
}

/// The CircleCI organization id the desired state works in: `[org] circleci_org`, else
/// the one every CircleCI publisher names.
pub fn circle_org(cfg: &Config) -> Result<String, CollectError> {
    if let Some(org) = &cfg.org.circleci_org {
        return Ok(org.clone());
    }
    let ids: BTreeSet<&str> = cfg
        .publishers
        .iter()
        .filter_map(|p| match &p.template.publisher {
            Publisher::CircleCi(c) => Some(c.org_id.as_str()),
            _ => None,
        })
        .collect();
    match ids.len() {
        1 => Ok(ids.into_iter().next().unwrap_or_default().to_owned()),
        0 => Err(CollectError::Missing(
            "CircleCI variables are listed but no CircleCI organization is known: set [org] circleci_org".into(),
        )),
        _ => Err(CollectError::Missing(
            "CircleCI publishers name several organizations; set [org] circleci_org to the one whose contexts tokenless manages".into(),
        )),
    }
}

/// A context reference (`contexts = [...]`): a UUID as is, a name through the org's list.
pub fn context_id(actual: &Actual, reference: &str) -> Option<String> {
    if crate::desired::is_uuid(reference) {
        return Some(reference.to_owned());
    }
    actual.contexts.get(reference).map(|(id, _)| id.clone())
}
