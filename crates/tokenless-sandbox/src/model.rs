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
    /// The role in the org; `None` once the account has left it (accounts are never deleted
    /// by org changes).
    pub role: Option<Role>,
    pub password: String,
    pub totp_secret: String,
    /// The login sessions (like `npm login`'s; not listed among granular tokens), oldest
    /// first: the scenario's own ([`Session::initial`]) and one per login since, each valid
    /// for [`SESSION_SECS`]. Expired ones stay (so they are refused as expired, not unknown)
    /// until they are pushed out by [`MAX_SESSIONS`].
    #[serde(default)]
    pub sessions: Vec<Session>,
    /// The account's second factor is a security key: OTP challenges offer npm's web 2FA
    /// flow (`authUrl`/`doneUrl`) instead of asking for a code.
    #[serde(default)]
    pub security_key: bool,
}

/// How long a login session lasts (npm's web sessions: 2 hours).
pub const SESSION_SECS: u64 = 2 * 3600;
/// Login sessions kept per account besides the scenario's own: the newest.
pub const MAX_SESSIONS: usize = 16;

/// One login session.
#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    pub token: String,
    /// Unix seconds; the session is refused from then on.
    pub expires: u64,
    /// The scenario's session, the one `/-/sandbox/info` lists while it lasts: its two hours
    /// start again whenever the sandbox starts or loads its state (until it is ended by
    /// logout or `POST /-/sandbox/expire`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub initial: bool,
}

impl Session {
    pub fn live(&self, now: u64) -> bool {
        self.expires > now
    }
}

impl User {
    /// The session `/-/sandbox/info` lists: the scenario's own while it lasts, else the
    /// newest live one.
    pub fn current_session(&self, now: u64) -> Option<&Session> {
        let live = || self.sessions.iter().filter(|s| s.live(now));
        live()
            .find(|s| s.initial)
            .or_else(|| live().max_by_key(|s| s.expires))
    }

    /// A fresh session (a login): valid for [`SESSION_SECS`], older ones untouched, at most
    /// [`MAX_SESSIONS`] besides the scenario's own (the oldest give way).
    pub fn new_session(&mut self, now: u64) -> String {
        let token = crate::ids::npm_token();
        while self.sessions.iter().filter(|s| !s.initial).count() >= MAX_SESSIONS {
            let oldest = self
                .sessions
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.initial)
                .min_by_key(|(_, s)| s.expires)
                .map(|(i, _)| i);
            match oldest {
                Some(i) => drop(self.sessions.remove(i)),
                None => break,
            }
        }
        self.sessions.push(Session {
            token: token.clone(),
            expires: now + SESSION_SECS,
            initial: false,
        });
        token
    }
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
    /// `read-write-stage-only` (npm CLI 11.20.0): may stage, move dist-tags and deprecate,
    /// never publish directly.
    #[serde(default)]
    pub stage_only: bool,
    pub orgs_permission: Option<Permission>,
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

/// Several trusted publishers per package (npm since 2026-09-03); each is its own way in.
/// Stored as tokenless-trust's typed model (the one trust-config model), written to the state
/// file in npm's JSON shape.
pub type TrustConfigs = Vec<tokenless_trust::TrustConfig>;

/// Who published a version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Publisher {
    pub name: String,
    pub email: String,
    /// `{"id": provider, "oidcConfigId": trust config id}` for OIDC publishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_publisher: Option<TrustedPublisher>,
    /// The account that approved a staged publish (shown as `_npmUser.approvedBy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
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
    /// The tarball is kept once in [`World::blobs`], under this digest.
    pub shasum: String,
    pub integrity: String,
}

/// A tarball, shared (cloning the world for a save copies a pointer, not the bytes).
#[derive(Debug, Clone)]
pub struct Blob(pub std::sync::Arc<Vec<u8>>);

impl Serialize for Blob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        base64_bytes::serialize(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Blob, D::Error> {
        base64_bytes::deserialize(d).map(|b| Blob(std::sync::Arc::new(b)))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub created: u64,
    pub modified: u64,
    pub public: bool,
    pub mfa: Mfa,
    #[serde(with = "trust_serde")]
    pub trust: TrustConfigs,
    pub dist_tags: BTreeMap<String, String>,
    pub versions: BTreeMap<String, Version>,
    /// Versions removed by `npm unpublish`: never publishable again.
    #[serde(default)]
    pub unpublished: Vec<String>,
    /// Revision counter behind `_rev` (bumped by every change of the document).
    #[serde(default)]
    pub rev: u64,
}

impl Package {
    /// `_rev` as the packument shows it and unpublish sends it back.
    pub fn rev_string(&self) -> String {
        format!(
            "{}-{:016x}",
            self.rev + 1,
            self.created ^ (self.rev.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        )
    }
}

/// A team of the org and the packages it may read or write.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Team {
    pub name: String,
    pub description: String,
    pub members: Vec<String>,
    pub packages: BTreeMap<String, Permission>,
}

/// A staged publish awaiting approval: the version as it will be published, and who staged it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stage {
    pub id: String,
    pub package: String,
    pub version: String,
    pub tag: String,
    pub created: u64,
    pub manifest: serde_json::Value,
    pub shasum: String,
    pub integrity: String,
    pub public: bool,
    /// The account, or the CI provider's publisher name for OIDC stages.
    pub actor: String,
    /// `user` or `oidc`.
    pub actor_type: String,
    /// The trust config a stage made through OIDC came through; kept on approval.
    pub trusted_publisher: Option<TrustedPublisher>,
}

/// Registry policy switches a scenario can set (to rehearse npm's announced changes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Policy {
    /// Granular tokens with bypass 2FA may publish directly (true until npm's phase 2,
    /// targeted for January 2027; set false to rehearse it).
    #[serde(default = "yes")]
    pub bypass_tokens_publish: bool,
    /// Trusted publishers per package.
    #[serde(default = "ten")]
    pub max_trust_configs: usize,
}

fn yes() -> bool {
    true
}

fn ten() -> usize {
    10
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            bypass_tokens_publish: true,
            max_trust_configs: 10,
        }
    }
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

#[derive(Clone, Serialize, Deserialize)]
pub struct CircleCi {
    pub org_id: String,
    pub org_slug: String,
    /// The personal API token a member of the org would pass as `Circle-Token`; every
    /// `/api/v2` request needs it (npm sessions are not CircleCI credentials).
    #[serde(default = "circleci_token")]
    pub token: String,
    pub projects: Vec<Project>,
    pub contexts: Vec<Context>,
}

impl std::fmt::Debug for CircleCi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircleCi")
            .field("org_id", &self.org_id)
            .field("org_slug", &self.org_slug)
            .field("token", &redact(&self.token))
            .field("projects", &self.projects)
            .field("contexts", &self.contexts)
            .finish()
    }
}

fn circleci_token() -> String {
    format!("CCIPAT_{}", crate::ids::opaque())
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
    /// Tarballs by `integrity` digest.
    #[serde(default)]
    pub blobs: BTreeMap<String, Blob>,
    #[serde(default)]
    pub policy: Policy,
    pub circleci: CircleCi,
    #[serde(default)]
    pub github: crate::github::GitHub,
    #[serde(default)]
    pub gitlab: crate::gitlab::GitLab,
}

impl World {
    /// `@<org>`.
    pub fn scope(&self) -> String {
        format!("@{}", self.org)
    }

    /// The account and session of a session token, live or expired.
    pub fn session(&self, token: &str) -> Option<(&User, &Session)> {
        self.users
            .values()
            .find_map(|u| u.sessions.iter().find(|s| s.token == token).map(|s| (u, s)))
    }

    /// At start and after a state load: the scenario's sessions last [`SESSION_SECS`] from
    /// `now`.
    pub fn start_sessions(&mut self, now: u64) {
        for s in self.users.values_mut().flat_map(|u| u.sessions.iter_mut()) {
            if s.initial {
                s.expires = now + SESSION_SECS;
            }
        }
    }

    /// Ends every session of every account now (the scenario's too, for good): they are
    /// refused as expired from here on. Returns how many were live.
    pub fn end_sessions(&mut self, now: u64) -> usize {
        let mut ended = 0;
        for s in self.users.values_mut().flat_map(|u| u.sessions.iter_mut()) {
            if s.live(now) {
                ended += 1;
                s.expires = now;
            }
            s.initial = false;
        }
        ended
    }

    pub fn token_by_secret(&self, token: &str) -> Option<&GranularToken> {
        self.tokens.values().find(|t| t.token == token)
    }

    /// The org role of `user`, if a member.
    pub fn role(&self, user: &str) -> Option<Role> {
        self.users.get(user).and_then(|u| u.role)
    }

    /// Whether `package` is in this org's scope.
    pub fn in_scope(&self, package: &str) -> bool {
        package
            .strip_prefix('@')
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(scope, _)| scope == self.org)
    }

    /// The scope of `package` (`@acme/web` → `acme`), if scoped.
    pub fn scope_of(package: &str) -> Option<&str> {
        package
            .strip_prefix('@')
            .and_then(|rest| rest.split_once('/'))
            .map(|(scope, _)| scope)
    }

    /// Whether `user` may publish `package` (existing or new). Scoped packages: only this org's
    /// scope, by owners, admins and members of a team with write access (any member for a
    /// new package); another scope is never writable. Unscoped packages: a new name by anyone,
    /// an existing one by its maintainers (those who published it).
    pub fn can_write(&self, user: &str, package: &str) -> bool {
        if !self.users.contains_key(user) {
            return false;
        }
        let existing = self.packages.get(package);
        if Self::scope_of(package).is_some() {
            let Some(role) = self.role(user) else {
                return false;
            };
            if !self.in_scope(package) {
                return false;
            }
            return existing.is_none()
                || matches!(role, Role::Owner | Role::Admin)
                || self.teams.values().any(|t| {
                    t.members.iter().any(|m| m == user)
                        && t.packages.get(package) == Some(&Permission::ReadWrite)
                });
        }
        existing.is_none_or(|p| p.versions.values().any(|v| v.publisher.name == user))
    }

    /// Whether `user` may change settings (trust, access, tags) of an existing `package`:
    /// org owners and admins for the org's scope, maintainers for unscoped packages.
    pub fn can_manage(&self, user: &str, package: &str) -> bool {
        if !self.packages.contains_key(package) {
            return false;
        }
        if self.in_scope(package) {
            return matches!(self.role(user), Some(Role::Owner | Role::Admin));
        }
        Self::scope_of(package).is_none() && self.can_write(user, package)
    }

    /// Drops the tarballs no version and no stage refers to any more (after a reject or an
    /// unpublish), so rejected stages cannot grow the store.
    pub fn drop_unused_blobs(&mut self) {
        let used: std::collections::BTreeSet<&str> = self
            .packages
            .values()
            .flat_map(|p| p.versions.values().map(|v| v.integrity.as_str()))
            .chain(self.stages.values().map(|s| s.integrity.as_str()))
            .collect();
        let unused: Vec<String> = self
            .blobs
            .keys()
            .filter(|d| !used.contains(d.as_str()))
            .cloned()
            .collect();
        for digest in unused {
            self.blobs.remove(&digest);
        }
    }

    /// The owners of the org.
    pub fn owners(&self) -> usize {
        self.users
            .values()
            .filter(|u| u.role == Some(Role::Owner))
            .count()
    }
}

// Secrets never reach logs: these Debug impls redact them as `npm_…abcd`.
impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("email", &self.email)
            .field("role", &self.role)
            .field("sessions", &self.sessions.len())
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

mod trust_serde {
    use serde::{Deserialize, Deserializer, Serializer};
    use tokenless_trust::TrustConfig;

    pub fn serialize<S: Serializer>(configs: &[TrustConfig], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(configs.iter().map(TrustConfig::to_json))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<TrustConfig>, D::Error> {
        let values = Vec::<serde_json::Value>::deserialize(d)?;
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                TrustConfig::from_json(v, &format!("trust[{i}]")).map_err(serde::de::Error::custom)
            })
            .collect()
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
    fn unused_tarballs_are_dropped_and_used_ones_kept() {
        let mut world = crate::scenario::Scenario::Legacy
            .load()
            .unwrap_or_else(|e| panic!("{e}"));
        let used = world.blobs.len();
        assert!(used > 0);
        world.blobs.insert(
            "sha512-orphan".into(),
            super::Blob(std::sync::Arc::new(vec![1, 2, 3])),
        );
        world.drop_unused_blobs();
        assert_eq!(world.blobs.len(), used);
        assert!(!world.blobs.contains_key("sha512-orphan"));
    }

    #[test]
    fn debug_output_redacts_secrets() {
        let world = crate::scenario::Scenario::Legacy
            .load()
            .unwrap_or_else(|e| panic!("{e}"));
        let printed = format!("{world:?}");
        for u in world.users.values() {
            assert!(
                u.sessions.iter().all(|s| !printed.contains(&s.token))
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
