//! `GET /-/sandbox/info`: everything a client needs to drive the sandbox, including the whole
//! made-up secrets (the one place tokenless shows them). Typed, so clients can deserialize it.

use serde::{Deserialize, Serialize};

use crate::clock::rfc3339;
use crate::issuers::{Provider, issuer_url};
use crate::model::Role;
use crate::state::App;
use tokenless_trust::secret::redact;

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SandboxInfo {
    /// The registry URL, with a trailing slash.
    pub registry: String,
    /// The CircleCI API v2 base URL (`…/api/v2`).
    pub circleci_api: String,
    pub issuers: IssuerUrls,
    /// Every OIDC audience the exchange accepts: npm's `npm:<hostname>` first, then the
    /// aliases other clients derive from the registry URL (yarn keeps the port).
    pub audiences: Vec<String>,
    pub org: String,
    pub scope: String,
    pub users: Vec<InfoUser>,
    pub tokens: Vec<InfoToken>,
    pub circleci: InfoCircleCi,
    /// The GitHub REST subset, when the scenario has a GitHub organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<InfoGitHub>,
    /// The GitLab REST subset, when the scenario has a GitLab group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitlab: Option<InfoGitLab>,
}

/// The GitLab REST subset: base URL (`…/api/v4`), group, tier, token and projects.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InfoGitLab {
    pub api: String,
    pub group: String,
    pub tier: String,
    pub token: String,
    pub projects: Vec<String>,
}

impl std::fmt::Debug for InfoGitLab {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InfoGitLab")
            .field("api", &self.api)
            .field("group", &self.group)
            .field("tier", &self.tier)
            .field("token", &redact(&self.token))
            .field("projects", &self.projects)
            .finish()
    }
}

/// The GitHub REST subset: base URL (`…/api/v3`, as GitHub Enterprise Server serves it), the
/// organisation, the API token and the repositories.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InfoGitHub {
    pub api: String,
    pub org: String,
    pub token: String,
    pub repos: Vec<String>,
}

impl std::fmt::Debug for InfoGitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InfoGitHub")
            .field("api", &self.api)
            .field("org", &self.org)
            .field("token", &redact(&self.token))
            .field("repos", &self.repos)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IssuerUrls {
    pub circleci: String,
    pub github: String,
    pub gitlab: String,
}

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InfoUser {
    pub name: String,
    /// `None` once the account has left the org.
    pub role: Option<Role>,
    /// A live login session of the user: the scenario's own while it lasts, else the newest
    /// from a login; empty when the user has none (all expired or ended, e.g. after
    /// `POST /-/sandbox/expire`).
    pub token: String,
    /// When `token` expires (RFC 3339); `null` when there is none.
    #[serde(default)]
    pub session_expires: Option<String>,
    pub totp_secret: String,
    pub password: String,
}

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InfoToken {
    pub key: String,
    /// The full secret of the granular token.
    pub token: String,
    pub owner: String,
    pub name: String,
    pub bypass_2fa: bool,
    /// RFC 3339, or `null` for no expiry.
    pub expires: Option<String>,
}

#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InfoCircleCi {
    pub org_id: String,
    /// A member's personal API token (`Circle-Token`).
    pub token: String,
    pub projects: Vec<InfoProject>,
    pub contexts: Vec<InfoContext>,
}

impl std::fmt::Debug for InfoCircleCi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InfoCircleCi")
            .field("org_id", &self.org_id)
            .field("token", &redact(&self.token))
            .field("projects", &self.projects)
            .field("contexts", &self.contexts)
            .finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InfoProject {
    pub id: String,
    pub slug: String,
    pub vcs_origin: String,
    pub pipeline_definition_id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InfoContext {
    pub id: String,
    pub name: String,
    pub restrictions: Vec<InfoRestriction>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InfoRestriction {
    pub id: String,
    pub restriction_type: String,
    pub restriction_value: String,
}

impl std::fmt::Debug for SandboxInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxInfo")
            .field("registry", &self.registry)
            .field("org", &self.org)
            .field("users", &self.users)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for InfoUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InfoUser")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("token", &redact(&self.token))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for InfoToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InfoToken")
            .field("key", &self.key)
            .field("token", &redact(&self.token))
            .field("owner", &self.owner)
            .field("name", &self.name)
            .field("bypass_2fa", &self.bypass_2fa)
            .field("expires", &self.expires)
            .finish()
    }
}

impl SandboxInfo {
    /// The user named `name`.
    pub fn user(&self, name: &str) -> Option<&InfoUser> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The first owner.
    pub fn owner(&self) -> Option<&InfoUser> {
        self.users.iter().find(|u| u.role == Some(Role::Owner))
    }

    /// The granular token named `name`.
    pub fn token(&self, name: &str) -> Option<&InfoToken> {
        self.tokens.iter().find(|t| t.name == name)
    }
}

/// Builds the info document from the current state.
pub fn snapshot(app: &App) -> SandboxInfo {
    let now = crate::clock::now_secs();
    let world = app.world();
    let org_id = world.circleci.org_id.clone();
    SandboxInfo {
        registry: app.registry(),
        circleci_api: format!("{}/api/v2", app.base),
        issuers: IssuerUrls {
            circleci: issuer_url(&app.base, Provider::CircleCi, &org_id),
            github: issuer_url(&app.base, Provider::GitHub, &org_id),
            gitlab: issuer_url(&app.base, Provider::GitLab, &org_id),
        },
        audiences: app.audiences.clone(),
        org: world.org.clone(),
        scope: world.scope(),
        users: world
            .users
            .values()
            .map(|u| InfoUser {
                name: u.name.clone(),
                role: u.role,
                token: u
                    .current_session(now)
                    .map(|s| s.token.clone())
                    .unwrap_or_default(),
                session_expires: u.current_session(now).map(|s| rfc3339(s.expires)),
                totp_secret: u.totp_secret.clone(),
                password: u.password.clone(),
            })
            .collect(),
        tokens: world
            .tokens
            .values()
            .map(|t| InfoToken {
                key: t.key.clone(),
                token: t.token.clone(),
                owner: t.owner.clone(),
                name: t.name.clone(),
                bypass_2fa: t.bypass_2fa,
                expires: t.expires.map(rfc3339),
            })
            .collect(),
        circleci: InfoCircleCi {
            org_id,
            token: world.circleci.token.clone(),
            projects: world
                .circleci
                .projects
                .iter()
                .map(|p| InfoProject {
                    id: p.id.clone(),
                    slug: p.slug.clone(),
                    vcs_origin: p.vcs_origin.clone(),
                    pipeline_definition_id: p.pipeline_definition_id.clone(),
                })
                .collect(),
            contexts: world
                .circleci
                .contexts
                .iter()
                .map(|x| InfoContext {
                    id: x.id.clone(),
                    name: x.name.clone(),
                    restrictions: x
                        .restrictions
                        .iter()
                        .map(|r| InfoRestriction {
                            id: r.id.clone(),
                            restriction_type: r.restriction_type.clone(),
                            restriction_value: r.restriction_value.clone(),
                        })
                        .collect(),
                })
                .collect(),
        },
        github: (!world.github.org.is_empty()).then(|| InfoGitHub {
            api: format!("{}/api/v3", app.base),
            org: world.github.org.clone(),
            token: world.github.token.clone(),
            repos: world.github.repos.iter().map(|r| r.full_name()).collect(),
        }),
        gitlab: (!world.gitlab.group.is_empty()).then(|| InfoGitLab {
            api: format!("{}/api/v4", app.base),
            group: world.gitlab.group.clone(),
            tier: format!("{:?}", world.gitlab.tier).to_ascii_lowercase(),
            token: world.gitlab.token.clone(),
            projects: world
                .gitlab
                .projects
                .iter()
                .map(|p| p.path_with_namespace.clone())
                .collect(),
        }),
    }
}
