//! Everything the audit read, as plain data. `collect` fills it over HTTP (and from
//! files); the checks are pure functions of it. A read that failed keeps its error text,
//! which becomes `unknown` evidence rather than a pass.

use std::collections::BTreeMap;

use tokenless_api::{
    circleci::ContextDetail,
    npm::{Token, TrustConfig},
};

use crate::members::MembersConfig;

use super::record::Record;

/// A read that may have failed: the error is kept as text for the evidence.
pub type Fetched<T> = Result<T, String>;

/// The audit's own credential: excluded from token findings, named in the evidence.
#[derive(Debug, Clone, Default)]
pub struct OwnCredential {
    /// How it was obtained: `web login session`, `token from $NPM_TOKEN`, `sandbox session of alice`.
    pub kind: String,
    /// Its redacted form, `npm_…abcd`.
    pub shown: String,
    /// Its token-list key, when it is a granular token.
    pub key: Option<String>,
    /// Whose it is (whoami).
    pub user: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub scope: String,
    /// The registry base URL, for sources.
    pub registry: String,
    pub own_credential: OwnCredential,
    /// `GET /-/org/<org>/package` and what was read for each package.
    pub packages: Fetched<Vec<PackageState>>,
    /// Token lists of every account the audit could sign in as.
    pub token_accounts: Vec<AccountTokens>,
    /// Org members whose tokens could not be listed.
    pub unlisted_accounts: Vec<String>,
    /// Why a member's attestation was not used (too old), one line each.
    pub stale_attestations: Vec<String>,
    /// `GET /-/org/<org>/user`: member → role.
    pub members: Fetched<BTreeMap<String, String>>,
    /// `[members]` of tokenless.toml, when given.
    pub members_config: Option<MembersConfig>,
    /// `[[publisher]]` of tokenless.toml (empty without one): what each package's trust
    /// configs should allow.
    pub publishers: Vec<crate::desired::PublisherSpec>,
    pub teams: Fetched<Vec<TeamState>>,
    /// `None` when no CircleCI API was configured.
    pub circleci: Option<CircleState>,
    /// The environments GitHub trust configs pin, read through the GitHub API; `None` when
    /// no GitHub API was configured.
    pub github: Option<ForgeState<GitHubEnvironment>>,
    /// Per GitHub repository a trust config names: whether it uses immutable subject claims
    /// (`GET /repos/{o}/{r}/actions/oidc/customization/sub` → `use_immutable_subject`). Empty
    /// when no GitHub API was configured (`github` is then `None`).
    pub github_subjects: BTreeMap<String, Fetched<bool>>,
    /// The GitLab environments trust configs pin; `None` when no GitLab API was configured.
    pub gitlab: Option<ForgeState<GitLabEnvironment>>,
    /// Findings of lint over `--repo` paths, or (without `--repo`) over the workflow files
    /// GitHub and GitLab trust configs name, fetched through their APIs.
    pub repos: Vec<ConfigLint>,
    /// Secret and variable names of the GitHub repositories and GitLab projects (and their
    /// org or group) that trust configs name.
    pub forge_variables: Vec<VariableSet>,
    /// What tokenless itself recorded about earlier changes.
    pub record: Record,
}

#[derive(Debug, Clone)]
pub struct PackageState {
    pub name: String,
    pub trust: Fetched<Vec<TrustConfig>>,
    /// Read only for packages with a trust config: the packument's versions.
    pub releases: Option<Fetched<Releases>>,
}

/// What the packument says of a package's releases.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Releases {
    /// The `latest` dist-tag.
    pub latest: Option<String>,
    /// Every version, oldest first by publish time (versions without one first).
    pub versions: Vec<Release>,
}

/// One published version and how it was published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub version: String,
    /// `time[version]`.
    pub published: Option<String>,
    /// `_npmUser.name`.
    pub publisher: Option<String>,
    /// `_npmUser.trustedPublisher.oidcConfigId`: absent when published with a token.
    pub oidc_config_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AccountTokens {
    pub user: String,
    pub tokens: Fetched<Vec<Token>>,
    /// The member's own attestation the list comes from (file and time), when the audit
    /// could not sign in as them.
    pub via: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TeamState {
    pub name: String,
    pub members: Fetched<Vec<String>>,
    /// package → `read`/`write`.
    pub packages: Fetched<BTreeMap<String, String>>,
}

#[derive(Debug, Clone)]
pub struct CircleState {
    pub api: String,
    /// Every context of the org with its variable names.
    pub contexts: Fetched<Vec<ContextVars>>,
    pub projects: Vec<ProjectState>,
    /// `GET /context/{id}` for every context id a trust config pins.
    pub pinned: BTreeMap<String, Fetched<ContextDetail>>,
}

#[derive(Debug, Clone)]
pub struct ContextVars {
    pub id: String,
    pub name: String,
    pub variables: Fetched<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct ProjectState {
    pub slug: String,
    pub variables: Fetched<Vec<String>>,
    /// The latest pipeline's compiled config, linted. `Ok(None)`: no pipeline yet.
    pub latest: Fetched<Option<ConfigLint>>,
}

/// Lint over one configuration (a compiled pipeline config or a file under `--repo`).
#[derive(Debug, Clone)]
pub struct ConfigLint {
    /// Where it came from: `GET /pipeline/<id>/config (compiled, gh/acme/web #12)` or a path.
    pub origin: String,
    /// Findings of the rules the audit counts, or why the config could not be linted.
    pub findings: Fetched<Vec<LintHit>>,
    /// The jobs in which lint recognised an npm publish (the lint inventory).
    pub publish_jobs: Vec<String>,
    /// A trust config names it (or it is the pipeline of a project one pins), so it must
    /// publish: a config with no recognised publish job is not a pass.
    pub expects_publish: bool,
}

impl ConfigLint {
    /// A config that could not be linted at all.
    pub fn unreadable(origin: String, why: String, expects_publish: bool) -> ConfigLint {
        ConfigLint {
            origin,
            findings: Err(why),
            publish_jobs: Vec::new(),
            expects_publish,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintHit {
    pub rule: &'static str,
    pub location: tokenless_ci::Location,
    pub message: String,
}

/// What was read from a forge (GitHub or GitLab) about the environments trust configs pin:
/// keyed by (`owner/repo` or `group/project`, environment).
#[derive(Debug, Clone)]
pub struct ForgeState<T> {
    /// The API base URL, for sources.
    pub api: String,
    pub environments: BTreeMap<(String, String), Fetched<T>>,
}

/// A GitHub deployment environment with its branch policies; `None` when the repository
/// has no such environment (GitHub creates it unprotected at the first job that names it).
#[derive(Debug, Clone)]
pub struct GitHubEnvironment {
    pub found: Option<(
        tokenless_api::github::Environment,
        Vec<tokenless_api::github::BranchPolicy>,
    )>,
}

/// A GitLab environment's protection: `NotOnThisTier` when the namespace has no protected
/// environments (a Premium feature); `Listed` with this environment's entry, if protected.
#[derive(Debug, Clone)]
pub enum GitLabEnvironment {
    NotOnThisTier,
    Unprotected,
    Protected(tokenless_api::gitlab::ProtectedEnvironment),
}

/// The names in one secret or variable store of a forge.
#[derive(Debug, Clone)]
pub struct VariableSet {
    /// The request that listed them.
    pub source: String,
    /// What the store is, for messages: `GitHub repository acme/site secrets`.
    pub what: String,
    pub names: Fetched<Vec<String>>,
}
