//! The sandbox's world: the org, its people, tokens, packages, teams and CircleCI side. This is
//! what `--state FILE` persists (as JSON) and what a scenario builds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tokenless_trust::secret::redact;

/// A member's role in the org, as `npm org ls` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Developer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Developer => "developer",
        }
    }
}

/// A person or service account with a login session and a TOTP secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub email: String,
    pub role: Role,
    pub password: String,
    pub totp_secret: String,
    /// The login session token (like `npm login`'s; not listed among granular tokens).
    pub session_token: String,
}

/// `read-only` / `read-write` as npm's token and team APIs spell them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Permission {
    #[serde(rename = "read-only")]
    ReadOnly,
    #[serde(rename = "read-write")]
    ReadWrite,
}

impl Permission {
    /// The short form of `GET /-/org/<scope>/package` (`read` / `write`).
    pub fn short(self) -> &'static str {
        match self {
            Permission::ReadOnly => "read",
            Permission::ReadWrite => "write",
        }
    }
}

/// A granular access token.
#[derive(Clone, Serialize, Deserialize)]
pub struct GranularToken {
    pub key: String,
    pub token: String,
    pub name: String,
    pub description: Option<String>,
    pub owner: String,
    pub created: u64,
    /// Unix seconds; `None` = no expiry.
    pub expires: Option<u64>,
    pub bypass_2fa: bool,
    pub packages: Vec<String>,
    pub scopes: Vec<String>,
    pub orgs: Vec<String>,
    pub packages_all: bool,
    pub permission: Permission,
    pub cidr_whitelist: Option<Vec<String>>,
}

impl GranularToken {
    /// Whether the token's package selection covers `package`.
    pub fn covers(&self, package: &str) -> bool {
        self.packages_all
            || self.packages.iter().any(|p| p == package)
            || self.scopes.iter().any(|s| {
                package
                    .strip_prefix(s.as_str())
                    .is_some_and(|r| r.starts_with('/'))
            })
    }

    pub fn expired(&self, now: u64) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }
}

/// The package's publishing-access (2FA) setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mfa {
    /// `{"publish_requires_tfa": false}`.
    None,
    /// "Require 2FA or a granular token with bypass 2FA" (npm's default).
    Automation,
    /// "Require 2FA and disallow tokens".
    Publish,
}

impl Mfa {
    /// `(publish_requires_tfa, automation_token_overrides_tfa)`.
    pub fn flags(self) -> (bool, bool) {
        match self {
            Mfa::None => (false, false),
            Mfa::Automation => (true, true),
            Mfa::Publish => (true, false),
        }
    }
}

/// One trusted-publisher configuration, in npm's wire shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrustConfig {
    pub id: String,
    #[serde(rename = "type")]
    pub provider: String,
    pub claims: serde_json::Value,
    pub permissions: Vec<String>,
}

/// Who published a version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Publisher {
    pub name: String,
    pub email: String,
    /// `{"id": provider, "oidcConfigId": trust config id}` for OIDC publishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_publisher: Option<TrustedPublisher>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrustedPublisher {
    pub id: String,
    #[serde(rename = "oidcConfigId")]
    pub oidc_config_id: String,
}

/// A published version: its manifest as uploaded plus registry-side metadata.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    pub manifest: serde_json::Value,
    pub published: u64,
    pub publisher: Publisher,
    #[serde(with = "base64_bytes")]
    pub tarball: Vec<u8>,
    pub shasum: String,
    pub integrity: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub created: u64,
    pub modified: u64,
    pub public: bool,
    pub mfa: Mfa,
    pub trust: Option<TrustConfig>,
    pub dist_tags: BTreeMap<String, String>,
    pub versions: BTreeMap<String, Version>,
}

/// A team of the org and the packages it may read or write.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Team {
    pub name: String,
    pub description: String,
    pub members: Vec<String>,
    pub packages: BTreeMap<String, Permission>,
}

/// A staged publish awaiting approval.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stage {
    pub id: String,
    pub package: String,
    pub version: String,
    pub created: u64,
    pub body: serde_json::Value,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct EnvVar {
    pub name: String,
    /// Only the last 4 characters are ever shown (as CircleCI's masked values).
    pub value: String,
    pub created: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pipeline {
    pub id: String,
    pub number: u64,
    pub created: u64,
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub revision: String,
    pub config: String,
    pub setup_config: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub vcs_origin: String,
    pub pipeline_definition_id: String,
    pub env: Vec<EnvVar>,
    pub pipelines: Vec<Pipeline>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Restriction {
    pub id: String,
    pub restriction_type: String,
    pub restriction_value: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Context {
    pub id: String,
    pub name: String,
    pub created: u64,
    pub env: Vec<EnvVar>,
    pub restrictions: Vec<Restriction>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CircleCi {
    pub org_id: String,
    pub org_slug: String,
    pub projects: Vec<Project>,
    pub contexts: Vec<Context>,
}

/// Everything the sandbox knows. Persisted as one JSON document with `--state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct World {
    pub org: String,
    pub users: BTreeMap<String, User>,
    pub tokens: BTreeMap<String, GranularToken>,
    pub packages: BTreeMap<String, Package>,
    pub teams: BTreeMap<String, Team>,
    pub stages: BTreeMap<String, Stage>,
    pub circleci: CircleCi,
}

impl World {
    /// `@<org>`.
    pub fn scope(&self) -> String {
        format!("@{}", self.org)
    }

    pub fn user_by_session(&self, token: &str) -> Option<&User> {
        self.users.values().find(|u| u.session_token == token)
    }

    pub fn token_by_secret(&self, token: &str) -> Option<&GranularToken> {
        self.tokens.values().find(|t| t.token == token)
    }

    /// The write permission `user` has on `package` through role or teams.
    pub fn can_write(&self, user: &str, package: &str) -> bool {
        let Some(u) = self.users.get(user) else {
            return false;
        };
        if !self.packages.contains_key(package) {
            // Anyone may create an unscoped package; org members may create scope packages.
            return true;
        }
        if !package.starts_with(&format!("{}/", self.scope())) {
            // Unscoped packages: whoever published them first, recorded as maintainer.
            return self
                .packages
                .get(package)
                .is_none_or(|p| p.versions.values().any(|v| v.publisher.name == user))
                || matches!(u.role, Role::Owner | Role::Admin);
        }
        matches!(u.role, Role::Owner | Role::Admin)
            || self.teams.values().any(|t| {
                t.members.iter().any(|m| m == user)
                    && t.packages.get(package) == Some(&Permission::ReadWrite)
            })
    }

    /// Whether `user` may change settings (trust, access, teams) of `package`.
    pub fn can_manage(&self, user: &str, package: &str) -> bool {
        self.users
            .get(user)
            .is_some_and(|u| matches!(u.role, Role::Owner | Role::Admin))
            || (!package.starts_with(&format!("{}/", self.scope()))
                && self.can_write(user, package))
    }
}

// Secrets never reach logs: these Debug impls redact them as `npm_…abcd`.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("session_token", &redact(&self.session_token))
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for GranularToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GranularToken")
            .field("key", &self.key)
            .field("token", &redact(&self.token))
            .field("name", &self.name)
            .field("owner", &self.owner)
            .field("expires", &self.expires)
            .field("bypass_2fa", &self.bypass_2fa)
            .field("permission", &self.permission)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for EnvVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvVar")
            .field("name", &self.name)
            .field("value", &redact(&self.value))
            .finish_non_exhaustive()
    }
}

mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_output_redacts_secrets() {
        let world = crate::scenario::Scenario::Legacy
            .load()
            .unwrap_or_else(|e| panic!("{e}"));
        let printed = format!("{world:?}");
        for u in world.users.values() {
            assert!(
                !printed.contains(&u.session_token)
                    && !printed.contains(&u.password)
                    && !printed.contains(&u.totp_secret)
            );
        }
        for t in world.tokens.values() {
            assert!(!printed.contains(&t.token));
        }
        for p in &world.circleci.projects {
            for e in &p.env {
                assert!(!printed.contains(&e.value));
            }
        }
        assert!(printed.contains("npm_…"));
    }
}
