//! Scenario files: the starting state of a sandbox, as JSON (format in `docs/sandbox.md`).
//! Ids (org, projects, contexts, pipeline definitions, trust configs, token keys) are derived
//! from names, so they are stable across runs; secrets (passwords, TOTP secrets, session and
//! granular tokens, environment variable values) are random per start.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::json;

use crate::clock::now_secs;
use crate::ids::{self, stable_uuid};
use crate::model::{
    Blob, CircleCi, Context, EnvVar, GranularToken, Mfa, Package, Permission, Pipeline, Project,
    Publisher, Restriction, Role, SESSION_SECS, Session, Team, TrustedPublisher, User, World,
};
use tokenless_trust::TrustConfig;

use crate::packages::{synthesize_version, valid_version, validate_name};

/// The built-in "before migration" organisation.
pub const LEGACY: &str = include_str!("../scenarios/legacy.json");
/// The built-in "after a correct migration" organisation.
pub const MIGRATED: &str = include_str!("../scenarios/migrated.json");

/// Largest scenario file read.
pub const MAX_SCENARIO_BYTES: u64 = 64 * 1024 * 1024;

/// Why a scenario could not be loaded; messages name the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("scenario: {0}")]
    Read(#[source] tokenless_trust::ReadError),
    #[error("scenario {path} is not UTF-8 text")]
    NotText { path: String },
    #[error("scenario {origin}: line {line}, column {column}: {message}")]
    Parse {
        origin: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("scenario {origin}: {field}: {message}")]
    Invalid {
        origin: String,
        field: String,
        message: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    org: String,
    #[serde(default)]
    users: Vec<UserSpec>,
    #[serde(default)]
    teams: Vec<TeamSpec>,
    #[serde(default)]
    packages: Vec<PackageSpec>,
    #[serde(default)]
    tokens: Vec<TokenSpec>,
    #[serde(default)]
    circleci: CircleCiSpec,
    /// Registry policy switches (e.g. `{"bypass_tokens_publish": false}` for January 2027).
    #[serde(default)]
    policy: crate::model::Policy,
    /// The GitHub organisation and its repositories.
    github: Option<GitHubSpec>,
    /// The GitLab group and its projects.
    gitlab: Option<GitLabSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GitLabSpec {
    group: String,
    #[serde(default = "premium")]
    tier: crate::gitlab::Tier,
    #[serde(default)]
    projects: Vec<GlProjectSpec>,
    #[serde(default)]
    variables: Vec<GlVariableSpec>,
}

fn premium() -> crate::gitlab::Tier {
    crate::gitlab::Tier::Premium
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GlProjectSpec {
    /// Path below the group (`lib` or `sub/lib`).
    path: String,
    default_branch: Option<String>,
    #[serde(default)]
    protected_branches: Vec<String>,
    #[serde(default)]
    environments: Vec<String>,
    #[serde(default)]
    protected_environments: Vec<GlProtectedSpec>,
    #[serde(default)]
    variables: Vec<GlVariableSpec>,
    #[serde(default)]
    files: BTreeMap<String, Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GlProtectedSpec {
    name: String,
    /// `developer`, `maintainer` or `owner`.
    deploy_access_level: String,
    #[serde(default)]
    required_approval_count: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GlVariableSpec {
    key: String,
    #[serde(default)]
    protected: bool,
    #[serde(default)]
    masked: bool,
    #[serde(default = "any_scope")]
    environment_scope: String,
}

fn any_scope() -> String {
    "*".to_owned()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GitHubSpec {
    org: String,
    #[serde(default)]
    repos: Vec<GhRepoSpec>,
    /// Organisation secret names (values are generated).
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    rate_limit: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GhRepoSpec {
    name: String,
    #[serde(default)]
    private: bool,
    default_branch: Option<String>,
    #[serde(default)]
    protected_branches: Vec<String>,
    #[serde(default)]
    environments: Vec<GhEnvSpec>,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    /// Path → content (a string or an array of lines).
    #[serde(default)]
    files: BTreeMap<String, Text>,
    /// The repository uses immutable subject claims (`sub` is
    /// `repo:owner@<id>/repo@<id>:…`), as repositories created after GitHub's 2026 cutover.
    #[serde(default)]
    use_immutable_subject: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GhEnvSpec {
    name: String,
    /// `protected` (protected branches only), `custom` (the listed `policies`), or absent (any ref).
    branch_policy: Option<String>,
    #[serde(default)]
    policies: Vec<GhPolicySpec>,
    #[serde(default)]
    reviewers: Vec<String>,
    #[serde(default)]
    wait_timer: u32,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GhPolicySpec {
    name: String,
    #[serde(rename = "type", default = "branch_kind")]
    kind: crate::github::RefKind,
}

fn branch_kind() -> crate::github::RefKind {
    crate::github::RefKind::Branch
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserSpec {
    name: String,
    role: Role,
    email: Option<String>,
    /// The account uses a security key: 2FA goes through npm's web flow.
    #[serde(default)]
    security_key: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamSpec {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    members: Vec<String>,
    /// Package name (or `"*"` for every package of the scenario) → permission.
    #[serde(default)]
    packages: BTreeMap<String, Permission>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackageSpec {
    name: String,
    #[serde(default = "default_versions")]
    versions: Vec<VersionSpec>,
    #[serde(default = "default_mfa")]
    mfa: Mfa,
    #[serde(default = "default_true")]
    public: bool,
    /// Default publisher of the versions: a user name, or `"oidc"` (needs `trust`).
    published_by: Option<String>,
    /// `repository.url` of its package.json (`git+https://github.com/acme/web.git`).
    #[serde(default)]
    repository: Option<String>,
    /// One trusted publisher, or a list of them.
    #[serde(default)]
    trust: TrustSpecs,
}

#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum TrustSpecs {
    #[default]
    None,
    One(TrustSpec),
    Many(Vec<TrustSpec>),
}

impl TrustSpecs {
    fn iter(&self) -> std::slice::Iter<'_, TrustSpec> {
        match self {
            TrustSpecs::None => [].iter(),
            TrustSpecs::One(t) => std::slice::from_ref(t).iter(),
            TrustSpecs::Many(ts) => ts.iter(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum VersionSpec {
    Plain(String),
    Detailed {
        version: String,
        published_by: Option<String>,
        /// When it was published, in days before the sandbox started (default: a week
        /// apart, the last a week ago).
        #[serde(default)]
        days_ago: Option<u64>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase", deny_unknown_fields)]
enum TrustSpec {
    Circleci {
        /// Project name (as in `circleci.projects[].name`).
        project: String,
        #[serde(default)]
        contexts: Vec<String>,
        #[serde(default = "default_permissions")]
        permissions: Vec<String>,
    },
    Github {
        repository: String,
        file: String,
        environment: Option<String>,
        #[serde(default = "default_permissions")]
        permissions: Vec<String>,
    },
    Gitlab {
        project_path: String,
        file: String,
        environment: Option<String>,
        #[serde(default = "default_permissions")]
        permissions: Vec<String>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenSpec {
    name: String,
    owner: String,
    #[serde(default)]
    bypass_2fa: bool,
    expires_in_days: Option<u64>,
    #[serde(default)]
    created_days_ago: u64,
    #[serde(default)]
    packages: Vec<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    packages_all: bool,
    #[serde(default = "default_permission")]
    permission: Permission,
    description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CircleCiSpec {
    org_slug: Option<String>,
    #[serde(default)]
    projects: Vec<ProjectSpec>,
    #[serde(default)]
    contexts: Vec<ContextSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectSpec {
    name: String,
    vcs_origin: String,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    pipelines: Vec<PipelineSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PipelineSpec {
    branch: Option<String>,
    tag: Option<String>,
    config: Text,
}

/// A string, or an array of lines joined with `\n` (readable multi-line YAML in JSON).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Text {
    One(String),
    Lines(Vec<String>),
}

impl Text {
    fn into_string(self) -> String {
        match self {
            Text::One(s) => s,
            Text::Lines(lines) => {
                let mut s = lines.join("\n");
                s.push('\n');
                s
            }
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContextSpec {
    name: String,
    #[serde(default)]
    env: Vec<String>,
    #[serde(default)]
    restrictions: Vec<RestrictionSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RestrictionSpec {
    #[serde(rename = "type")]
    kind: String,
    value: String,
}

fn default_versions() -> Vec<VersionSpec> {
    vec![VersionSpec::Plain("1.0.0".into())]
}
fn default_mfa() -> Mfa {
    Mfa::Automation
}
fn default_true() -> bool {
    true
}
fn default_permissions() -> Vec<String> {
    vec!["createPackage".into()]
}
fn default_permission() -> Permission {
    Permission::ReadWrite
}

/// Where a scenario comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scenario {
    Legacy,
    Migrated,
    File(std::path::PathBuf),
    /// JSON text given directly (tests, generated benchmarks).
    Inline(String),
}

impl std::str::FromStr for Scenario {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "legacy" => Scenario::Legacy,
            "migrated" => Scenario::Migrated,
            path => Scenario::File(path.into()),
        })
    }
}

impl Scenario {
    /// Builds the world this scenario describes.
    pub fn load(&self) -> Result<World, ScenarioError> {
        match self {
            Scenario::Legacy => build("legacy", LEGACY),
            Scenario::Migrated => build("migrated", MIGRATED),
            Scenario::Inline(text) => build("(inline)", text),
            Scenario::File(path) => {
                let bytes = tokenless_trust::read_capped(path, MAX_SCENARIO_BYTES)
                    .map_err(ScenarioError::Read)?;
                let text = String::from_utf8(bytes).map_err(|_| ScenarioError::NotText {
                    path: path.display().to_string(),
                })?;
                build(&path.display().to_string(), &text)
            }
        }
    }

    pub fn load_path(path: &Path) -> Result<World, ScenarioError> {
        Scenario::File(path.to_owned()).load()
    }
}

fn env_value(name: &str) -> String {
    if name.contains("NPM") {
        ids::npm_token()
    } else {
        ids::password()
    }
}

fn build(origin: &str, text: &str) -> Result<World, ScenarioError> {
    let spec: ScenarioFile = serde_json::from_str(text).map_err(|e| ScenarioError::Parse {
        origin: origin.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let invalid = |field: String, message: String| ScenarioError::Invalid {
        origin: origin.to_owned(),
        field,
        message,
    };
    if !spec
        .org
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || spec.org.is_empty()
    {
        return Err(invalid(
            "org".into(),
            format!("{:?} must be lower-case letters, digits and '-'", spec.org),
        ));
    }
    let now = now_secs();
    let org = spec.org.clone();

    let mut users = BTreeMap::new();
    for (i, u) in spec.users.iter().enumerate() {
        if users.contains_key(&u.name) || u.name.is_empty() {
            return Err(invalid(
                format!("users[{i}].name"),
                format!("{:?} is empty or a duplicate", u.name),
            ));
        }
        users.insert(
            u.name.clone(),
            User {
                name: u.name.clone(),
                email: u
                    .email
                    .clone()
                    .unwrap_or_else(|| format!("{}@{org}.example", u.name)),
                role: Some(u.role),
                password: ids::password(),
                totp_secret: ids::totp_secret(),
                sessions: vec![Session {
                    token: ids::npm_token(),
                    expires: now + SESSION_SECS,
                    initial: true,
                }],
                security_key: u.security_key,
            },
        );
    }
    let first_owner = spec
        .users
        .iter()
        .find(|u| u.role == Role::Owner)
        .map(|u| u.name.clone())
        .ok_or_else(|| {
            invalid(
                "users".into(),
                "at least one user with role \"owner\" is required".into(),
            )
        })?;

    // CircleCI first: trust configs refer to its ids.
    let org_id = stable_uuid("circleci-org", &org);
    let mut projects = Vec::new();
    for (i, p) in spec.circleci.projects.iter().enumerate() {
        if p.vcs_origin.contains("://") || p.vcs_origin.split('/').count() < 3 {
            return Err(invalid(
                format!("circleci.projects[{i}].vcs_origin"),
                "expected `host/owner/repo` without a scheme".into(),
            ));
        }
        let repo = p
            .vcs_origin
            .split_once('/')
            .map_or(p.name.as_str(), |x| x.1)
            .to_owned();
        let slug = format!("gh/{repo}");
        let pipelines = p
            .pipelines
            .iter()
            .enumerate()
            .map(|(n, pl)| {
                let config = match &pl.config {
                    Text::One(s) => s.clone(),
                    Text::Lines(l) => Text::Lines(l.clone()).into_string(),
                };
                Pipeline {
                    id: stable_uuid("pipeline", &format!("{slug}#{n}")),
                    number: n as u64 + 1,
                    created: now.saturating_sub(86_400 * (p.pipelines.len() - n) as u64),
                    branch: pl.branch.clone(),
                    tag: pl.tag.clone(),
                    revision: stable_uuid("revision", &format!("{slug}#{n}")).replace('-', "")
                        [..32]
                        .to_owned()
                        + "00000000",
                    config,
                    setup_config: String::new(),
                }
            })
            .collect();
        projects.push(Project {
            id: stable_uuid("project", &slug),
            slug: slug.clone(),
            name: p.name.clone(),
            vcs_origin: p.vcs_origin.clone(),
            pipeline_definition_id: stable_uuid("pipeline-definition", &slug),
            env: p
                .env
                .iter()
                .map(|n| EnvVar {
                    name: n.clone(),
                    value: env_value(n),
                    created: now,
                })
                .collect(),
            pipelines,
        });
    }
    let mut contexts = Vec::new();
    for (i, c) in spec.circleci.contexts.iter().enumerate() {
        let id = stable_uuid("context", &format!("{org}/{}", c.name));
        let mut restrictions = Vec::new();
        for (j, r) in c.restrictions.iter().enumerate() {
            if !matches!(r.kind.as_str(), "expression" | "project" | "group") {
                return Err(invalid(
                    format!("circleci.contexts[{i}].restrictions[{j}].type"),
                    format!("{:?} is not one of expression, project, group", r.kind),
                ));
            }
            restrictions.push(Restriction {
                id: stable_uuid("restriction", &format!("{id}#{j}")),
                restriction_type: r.kind.clone(),
                restriction_value: r.value.clone(),
                name: r.value.clone(),
            });
        }
        contexts.push(Context {
            id,
            name: c.name.clone(),
            created: now,
            env: c
                .env
                .iter()
                .map(|n| EnvVar {
                    name: n.clone(),
                    value: env_value(n),
                    created: now,
                })
                .collect(),
            restrictions,
        });
    }

    let github = build_github(spec.github, now).map_err(|(f, m)| invalid(f, m))?;
    let gitlab = build_gitlab(spec.gitlab).map_err(|(f, m)| invalid(f, m))?;
    let mut packages = BTreeMap::new();
    let mut blobs = BTreeMap::new();
    for (i, p) in spec.packages.iter().enumerate() {
        let field = |f: &str| format!("packages[{i}].{f}");
        validate_name(&p.name).map_err(|e| invalid(field("name"), e.to_string()))?;
        if packages.contains_key(&p.name) {
            return Err(invalid(
                field("name"),
                format!("duplicate package {:?}", p.name),
            ));
        }
        let trust = p
            .trust
            .iter()
            .enumerate()
            .map(|(k, t)| {
                let key = if k == 0 {
                    p.name.clone()
                } else {
                    format!("{}#{k}", p.name)
                };
                trust_config(t, &org_id, &projects, &contexts, &key)
                    .map_err(|m| invalid(field("trust"), m))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if trust.len() > spec.policy.max_trust_configs {
            return Err(invalid(
                field("trust"),
                format!(
                    "{} trusted publishers; the policy allows {}",
                    trust.len(),
                    spec.policy.max_trust_configs
                ),
            ));
        }
        let mut versions = BTreeMap::new();
        let mut latest: Option<String> = None;
        let count = p.versions.len() as u64;
        for (j, v) in p.versions.iter().enumerate() {
            let (version, by, days_ago) = match v {
                VersionSpec::Plain(s) => (s.clone(), None, None),
                VersionSpec::Detailed {
                    version,
                    published_by,
                    days_ago,
                } => (version.clone(), published_by.clone(), *days_ago),
            };
            if !valid_version(&version) {
                return Err(invalid(
                    format!("packages[{i}].versions[{j}]"),
                    format!("{version:?} is not a semver version"),
                ));
            }
            let by = by
                .or_else(|| p.published_by.clone())
                .unwrap_or_else(|| first_owner.clone());
            let publisher = if by == "oidc" {
                let t = trust.first().ok_or_else(|| {
                    invalid(
                        format!("packages[{i}].versions[{j}]"),
                        "published_by \"oidc\" needs a trust config".into(),
                    )
                })?;
                Publisher {
                    name: crate::handlers::registry::provider_publisher(t.publisher.provider())
                        .to_owned(),
                    email: "npm-oidc-no-reply@github.com".into(),
                    trusted_publisher: Some(TrustedPublisher {
                        id: t.publisher.provider().as_str().to_owned(),
                        oidc_config_id: t.id.clone().unwrap_or_default(),
                    }),
                    approved_by: None,
                }
            } else {
                let u = users.get(&by).ok_or_else(|| {
                    invalid(
                        format!("packages[{i}].published_by"),
                        format!("unknown user {by:?}"),
                    )
                })?;
                Publisher {
                    name: u.name.clone(),
                    email: u.email.clone(),
                    trusted_publisher: None,
                    approved_by: None,
                }
            };
            let published = now.saturating_sub(86_400 * days_ago.unwrap_or(7 * (count - j as u64)));
            let (built, tarball) = synthesize_version(
                &p.name,
                &version,
                published,
                publisher,
                p.repository.as_deref(),
            )
            .map_err(|e| invalid(format!("packages[{i}].versions[{j}]"), e.to_string()))?;
            blobs.insert(built.integrity.clone(), Blob(std::sync::Arc::new(tarball)));
            latest = Some(version.clone());
            versions.insert(version, built);
        }
        let created = versions.values().map(|v| v.published).min().unwrap_or(now);
        let mut dist_tags = BTreeMap::new();
        if let Some(l) = latest {
            dist_tags.insert("latest".to_owned(), l);
        }
        packages.insert(
            p.name.clone(),
            Package {
                name: p.name.clone(),
                created,
                modified: versions.values().map(|v| v.published).max().unwrap_or(now),
                public: p.public,
                mfa: p.mfa,
                trust,
                dist_tags,
                versions,
                unpublished: Vec::new(),
                rev: 0,
            },
        );
    }

    let mut teams = BTreeMap::new();
    for (i, t) in spec.teams.iter().enumerate() {
        for m in &t.members {
            if !users.contains_key(m) {
                return Err(invalid(
                    format!("teams[{i}].members"),
                    format!("unknown user {m:?}"),
                ));
            }
        }
        let mut perms = BTreeMap::new();
        for (name, perm) in &t.packages {
            if name == "*" {
                for p in packages.keys() {
                    perms.insert(p.clone(), *perm);
                }
            } else if packages.contains_key(name) {
                perms.insert(name.clone(), *perm);
            } else {
                return Err(invalid(
                    format!("teams[{i}].packages"),
                    format!("unknown package {name:?}"),
                ));
            }
        }
        teams.insert(
            t.name.clone(),
            Team {
                name: t.name.clone(),
                description: t.description.clone(),
                members: t.members.clone(),
                packages: perms,
            },
        );
    }

    let mut tokens = BTreeMap::new();
    for (i, t) in spec.tokens.iter().enumerate() {
        if !users.contains_key(&t.owner) {
            return Err(invalid(
                format!("tokens[{i}].owner"),
                format!("unknown user {:?}", t.owner),
            ));
        }
        let key = stable_uuid("token", &format!("{}/{}", t.owner, t.name));
        let created = now.saturating_sub(86_400 * t.created_days_ago);
        tokens.insert(
            key.clone(),
            GranularToken {
                key,
                token: ids::npm_token(),
                name: t.name.clone(),
                description: t.description.clone(),
                owner: t.owner.clone(),
                created,
                expires: t.expires_in_days.map(|d| created + 86_400 * d),
                bypass_2fa: t.bypass_2fa,
                packages: t.packages.clone(),
                scopes: t.scopes.clone(),
                orgs: Vec::new(),
                packages_all: t.packages_all,
                permission: t.permission,
                stage_only: false,
                orgs_permission: None,
                cidr_whitelist: None,
            },
        );
    }

    Ok(World {
        org: org.clone(),
        users,
        tokens,
        packages,
        teams,
        stages: BTreeMap::new(),
        blobs,
        policy: spec.policy,
        circleci: CircleCi {
            org_id,
            org_slug: spec
                .circleci
                .org_slug
                .unwrap_or_else(|| format!("gh/{org}")),
            token: format!("CCIPAT_{}", ids::opaque()),
            projects,
            contexts,
        },
        github,
        gitlab,
    })
}

fn build_gitlab(spec: Option<GitLabSpec>) -> Result<crate::gitlab::GitLab, (String, String)> {
    use crate::gitlab::{GitLab, Project, ProtectedEnvironment, Variable, access_level};
    let Some(spec) = spec else {
        return Ok(GitLab::default());
    };
    let variables = |vars: &[GlVariableSpec]| -> Vec<Variable> {
        vars.iter()
            .map(|v| Variable {
                key: v.key.clone(),
                value: env_value(&v.key),
                protected: v.protected,
                masked: v.masked,
                environment_scope: v.environment_scope.clone(),
            })
            .collect()
    };
    let mut gl = GitLab {
        group: spec.group.clone(),
        group_id: 0,
        tier: spec.tier,
        token: format!("glpat-{}", ids::opaque()),
        variables: variables(&spec.variables),
        ..GitLab::default()
    };
    gl.group_id = gl.fresh_id();
    for (i, p) in spec.projects.into_iter().enumerate() {
        let field = |f: &str| format!("gitlab.projects[{i}].{f}");
        if p.path.is_empty() || p.path.starts_with('/') || p.path.contains("..") {
            return Err((field("path"), format!("{:?} is not a project path", p.path)));
        }
        let mut protected = Vec::new();
        for (j, pe) in p.protected_environments.into_iter().enumerate() {
            let level = access_level(&pe.deploy_access_level)
                .filter(|l| *l >= crate::gitlab::DEVELOPER)
                .ok_or_else(|| {
                    (
                        field(&format!("protected_environments[{j}].deploy_access_level")),
                        format!(
                            "{:?}: expected developer, maintainer or owner",
                            pe.deploy_access_level
                        ),
                    )
                })?;
            protected.push(ProtectedEnvironment {
                name: pe.name,
                deploy_access_level: level,
                required_approval_count: pe.required_approval_count,
            });
        }
        let mut environments = p.environments;
        for pe in &protected {
            if !environments.contains(&pe.name) {
                environments.push(pe.name.clone());
            }
        }
        let id = gl.fresh_id();
        gl.projects.push(Project {
            id,
            path_with_namespace: format!("{}/{}", spec.group, p.path),
            default_branch: p.default_branch.unwrap_or_else(|| "main".to_owned()),
            protected_branches: p.protected_branches,
            environments,
            protected_environments: protected,
            variables: variables(&p.variables),
            files: p
                .files
                .into_iter()
                .map(|(path, text)| (path, text.into_string()))
                .collect(),
        });
    }
    Ok(gl)
}

fn build_github(
    spec: Option<GitHubSpec>,
    now: u64,
) -> Result<crate::github::GitHub, (String, String)> {
    use crate::github::{
        BranchPolicy, BranchPolicySettings, Environment, GitHub, OidcSub, Repo, Secret, Variable,
    };
    let Some(spec) = spec else {
        return Ok(GitHub::default());
    };
    let secret = |name: &str| Secret {
        name: name.to_owned(),
        value: env_value(name),
        created: now,
        updated: now,
    };
    let variables = |vars: &BTreeMap<String, String>| -> Vec<Variable> {
        vars.iter()
            .map(|(k, v)| Variable {
                name: k.clone(),
                value: v.clone(),
                created: now,
                updated: now,
            })
            .collect()
    };
    let mut gh = GitHub {
        org: spec.org.clone(),
        token: format!("ghp_{}", ids::opaque()),
        org_secrets: spec.secrets.iter().map(|n| secret(n)).collect(),
        org_variables: variables(&spec.variables),
        rate_limit: spec.rate_limit.unwrap_or(5000),
        ..GitHub::default()
    };
    for (i, r) in spec.repos.into_iter().enumerate() {
        let field = |f: &str| format!("github.repos[{i}].{f}");
        if r.name.is_empty() || r.name.contains('/') {
            return Err((
                field("name"),
                format!("{:?} is not a repository name", r.name),
            ));
        }
        let mut environments = Vec::new();
        for (j, e) in r.environments.into_iter().enumerate() {
            let branch_policy = match e.branch_policy.as_deref() {
                None => None,
                Some("protected") => Some(BranchPolicySettings {
                    protected_branches: true,
                    custom_branch_policies: false,
                }),
                Some("custom") => Some(BranchPolicySettings {
                    protected_branches: false,
                    custom_branch_policies: true,
                }),
                Some(other) => {
                    return Err((
                        field(&format!("environments[{j}].branch_policy")),
                        format!("{other:?}: expected \"protected\" or \"custom\""),
                    ));
                }
            };
            let id = gh.fresh_id();
            let mut policies = Vec::new();
            for p in e.policies {
                policies.push(BranchPolicy {
                    id: gh.fresh_id(),
                    name: p.name,
                    kind: p.kind,
                });
            }
            environments.push(Environment {
                id,
                name: e.name,
                created: now,
                updated: now,
                wait_timer: e.wait_timer,
                reviewers: e.reviewers,
                branch_policy,
                policies,
                secrets: e.secrets.iter().map(|n| secret(n)).collect(),
                variables: variables(&e.variables),
            });
        }
        let id = gh.fresh_id();
        gh.repos.push(Repo {
            id,
            owner: spec.org.clone(),
            name: r.name,
            private: r.private,
            default_branch: r.default_branch.unwrap_or_else(|| "main".to_owned()),
            protected_branches: r.protected_branches,
            environments,
            secrets: r.secrets.iter().map(|n| secret(n)).collect(),
            variables: variables(&r.variables),
            files: r
                .files
                .into_iter()
                .map(|(path, text)| (path, text.into_string()))
                .collect(),
            oidc_sub: OidcSub {
                use_default: true,
                use_immutable_subject: r.use_immutable_subject,
                ..OidcSub::default()
            },
        });
    }
    Ok(gh)
}

fn trust_config(
    t: &TrustSpec,
    org_id: &str,
    projects: &[Project],
    contexts: &[Context],
    package: &str,
) -> Result<TrustConfig, String> {
    let id = stable_uuid("trust", package);
    let wire = match t {
        TrustSpec::Circleci {
            project,
            contexts: ctx,
            permissions,
        } => {
            let p = projects
                .iter()
                .find(|p| &p.name == project)
                .ok_or_else(|| format!("unknown CircleCI project {project:?}"))?;
            let mut claims = json!({
                "oidc.circleci.com/org-id": org_id,
                "oidc.circleci.com/project-id": p.id,
                "oidc.circleci.com/pipeline-definition-id": p.pipeline_definition_id,
                "oidc.circleci.com/vcs-origin": p.vcs_origin,
            });
            if !ctx.is_empty() {
                let ids = ctx
                    .iter()
                    .map(|c| {
                        contexts
                            .iter()
                            .find(|x| &x.name == c)
                            .map(|x| x.id.clone())
                            .ok_or_else(|| format!("unknown context {c:?}"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if let Some(obj) = claims.as_object_mut() {
                    obj.insert("oidc.circleci.com/context-ids".into(), json!(ids));
                }
            }
            json!({"id": id, "type": "circleci", "claims": claims, "permissions": permissions})
        }
        TrustSpec::Github {
            repository,
            file,
            environment,
            permissions,
        } => {
            let mut claims = json!({"repository": repository, "workflow_ref": {"file": file}});
            if let (Some(env), Some(obj)) = (environment, claims.as_object_mut()) {
                obj.insert("environment".into(), json!(env));
            }
            json!({"id": id, "type": "github", "claims": claims, "permissions": permissions})
        }
        TrustSpec::Gitlab {
            project_path,
            file,
            environment,
            permissions,
        } => {
            let mut claims =
                json!({"project_path": project_path, "ci_config_ref_uri": {"file": file}});
            if let (Some(env), Some(obj)) = (environment, claims.as_object_mut()) {
                obj.insert("environment".into(), json!(env));
            }
            json!({"id": id, "type": "gitlab", "claims": claims, "permissions": permissions})
        }
    };
    TrustConfig::from_json(&wire, "trust").map_err(|e| e.to_string())
}
