//! The issuer table: which `iss` values are trusted, for which provider, with which
//! algorithms and key source.
//!
//! [`IssuerTable::production`] pins exactly the three real issuers. Nothing (no flag, no
//! environment variable) loosens it; a test or the sandbox builds its own table with
//! [`IssuerTable::new`] or [`IssuerTable::sandbox`] and hands it to the same verifier.
//! Matching is byte-exact: `http://`, a trailing slash, other case or another path are
//! different issuers and are refused.

use std::sync::Arc;

use crate::jwks::JwksSource;
use crate::keys::Algorithm;
use crate::trust_config::Provider;

/// The GitHub Actions issuer.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The gitlab.com issuer.
pub const GITLAB_ISSUER: &str = "https://gitlab.com";
/// CircleCI issuers are this prefix + `/org/<org-id>`.
pub const CIRCLECI_ISSUER_PREFIX: &str = "https://oidc.circleci.com";

/// Longest lifetime (`exp - iat`) of a GitHub Actions id token: 5 minutes. GitHub does not
/// document it, but every token its OIDC provider issues has `exp - iat = 300` and there is
/// no parameter to request longer (observed and reported in
/// <https://github.com/google-github-actions/auth/issues/474>,
/// <https://github.com/actions/toolkit/issues/2048> and
/// <https://github.com/Azure/login/issues/441>).
pub const GITHUB_MAX_LIFETIME_SECS: u64 = 300;

/// Longest lifetime of a GitLab `id_tokens` token: GitLab sets `exp` to the job's timeout
/// ("The expiry time for the token is set to the job's timeout if specified, or 5 minutes if
/// no timeout is specified", `doc/ci/secrets/id_token_authentication.md` in
/// gitlabhq/gitlabhq), and a project's timeout is at most `Project::MAX_BUILD_TIMEOUT =
/// 1.month` (`app/models/project.rb`; Rails' month is 2,629,746 s). GitLab-hosted runners
/// stop jobs after 3 hours, but a project's own runners may run to that maximum.
pub const GITLAB_MAX_LIFETIME_SECS: u64 = 2_629_746;

/// Longest lifetime of a CircleCI OIDC token: 1 hour ("`exp`: The expiration time. Its value
/// is one hour after the time of issuance", CircleCI's OpenID Connect tokens page,
/// `openid-connect-tokens.adoc` in circleci/circleci-docs; the same holds for tokens minted
/// with `circleci run oidc get`).
pub const CIRCLECI_MAX_LIFETIME_SECS: u64 = 3600;

/// The longest id-token lifetime `provider` issues: [`GITHUB_MAX_LIFETIME_SECS`],
/// [`GITLAB_MAX_LIFETIME_SECS`] or [`CIRCLECI_MAX_LIFETIME_SECS`]. The default of
/// [`IssuerEntry::max_lifetime_secs`]; an issuer imitating a provider (the sandbox) should
/// mint tokens living no longer.
pub fn default_max_lifetime_secs(provider: Provider) -> u64 {
    match provider {
        Provider::GitHub => GITHUB_MAX_LIFETIME_SECS,
        Provider::GitLab => GITLAB_MAX_LIFETIME_SECS,
        Provider::CircleCi => CIRCLECI_MAX_LIFETIME_SECS,
    }
}

/// `host` or `host:port` of a URL, as GitLab writes it at the start of `ci_config_ref_uri`.
fn authority_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let host = parsed.host_str()?;
    Some(match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// How an entry matches `iss`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerPattern {
    /// `iss` equals this string exactly.
    Exact(String),
    /// `iss` is this prefix + `/org/<org-id>`; `<org-id>` is 1 to 64 characters of
    /// `[A-Za-z0-9-]` and is returned for comparison with the trust config.
    CircleCiOrg {
        /// e.g. `https://oidc.circleci.com`.
        prefix: String,
    },
}

/// One trusted issuer.
#[derive(Clone)]
pub struct IssuerEntry {
    provider: Provider,
    pattern: IssuerPattern,
    algorithms: Vec<Algorithm>,
    keys: Arc<dyn JwksSource>,
    max_lifetime_secs: u64,
    config_host: Option<String>,
}

impl std::fmt::Debug for IssuerEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerEntry")
            .field("provider", &self.provider)
            .field("pattern", &self.pattern)
            .field("algorithms", &self.algorithms)
            .field("max_lifetime_secs", &self.max_lifetime_secs)
            .finish_non_exhaustive()
    }
}

impl IssuerEntry {
    /// A GitHub Actions issuer at exactly `issuer`, RS256 only, tokens living at most
    /// [`GITHUB_MAX_LIFETIME_SECS`].
    pub fn github(issuer: impl Into<String>, keys: Arc<dyn JwksSource>) -> IssuerEntry {
        IssuerEntry {
            provider: Provider::GitHub,
            pattern: IssuerPattern::Exact(issuer.into()),
            algorithms: vec![Algorithm::Rs256],
            keys,
            max_lifetime_secs: GITHUB_MAX_LIFETIME_SECS,
            config_host: None,
        }
    }

    /// A GitLab issuer at exactly `issuer`, RS256 only, tokens living at most
    /// [`GITLAB_MAX_LIFETIME_SECS`], whose `ci_config_ref_uri` must name the issuer's host
    /// (`gitlab.com` for `https://gitlab.com`; see [`IssuerEntry::with_config_host`]).
    pub fn gitlab(issuer: impl Into<String>, keys: Arc<dyn JwksSource>) -> IssuerEntry {
        let issuer: String = issuer.into();
        let config_host = authority_of(&issuer);
        IssuerEntry {
            provider: Provider::GitLab,
            pattern: IssuerPattern::Exact(issuer),
            algorithms: vec![Algorithm::Rs256],
            keys,
            max_lifetime_secs: GITLAB_MAX_LIFETIME_SECS,
            config_host,
        }
    }

    /// CircleCI per-org issuers `prefix/org/<org-id>`, RS256 only, tokens living at most
    /// [`CIRCLECI_MAX_LIFETIME_SECS`].
    pub fn circleci(prefix: impl Into<String>, keys: Arc<dyn JwksSource>) -> IssuerEntry {
        IssuerEntry {
            provider: Provider::CircleCi,
            pattern: IssuerPattern::CircleCiOrg {
                prefix: prefix.into(),
            },
            algorithms: vec![Algorithm::Rs256],
            keys,
            max_lifetime_secs: CIRCLECI_MAX_LIFETIME_SECS,
            config_host: None,
        }
    }

    /// Replaces the longest token lifetime (`exp - iat`, seconds) accepted from this issuer.
    /// Longer-lived tokens are refused (check `lifetime`): the replay store must remember a
    /// token's `jti` until it expires, so the lifetime bounds how long each entry is held.
    pub fn with_max_lifetime(mut self, secs: u64) -> IssuerEntry {
        self.max_lifetime_secs = secs;
        self
    }

    /// Replaces the host a GitLab token's `ci_config_ref_uri` must name (by default the
    /// issuer URL's host, with its port when one is given). For an issuer that imitates
    /// gitlab.com from another address, such as a sandbox minting
    /// `gitlab.com/<project>//<file>@<ref>`.
    pub fn with_config_host(mut self, host: impl Into<String>) -> IssuerEntry {
        self.config_host = Some(host.into());
        self
    }

    /// For GitLab: the host `ci_config_ref_uri` must name (`None` when the issuer URL has
    /// none, and for other providers).
    pub fn config_host(&self) -> Option<&str> {
        self.config_host.as_deref()
    }

    /// The longest token lifetime accepted, in seconds.
    pub fn max_lifetime_secs(&self) -> u64 {
        self.max_lifetime_secs
    }

    /// Replaces the allowed algorithms (e.g. a sandbox issuer that signs ES256).
    pub fn with_algorithms(mut self, algorithms: &[Algorithm]) -> IssuerEntry {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// The provider whose tokens this issuer signs.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// How `iss` is matched.
    pub fn pattern(&self) -> &IssuerPattern {
        &self.pattern
    }

    /// Algorithms accepted from this issuer.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// Where its keys come from.
    pub fn keys(&self) -> &Arc<dyn JwksSource> {
        &self.keys
    }

    fn matches(&self, iss: &str) -> Option<Option<String>> {
        match &self.pattern {
            IssuerPattern::Exact(exact) => (iss == exact).then_some(None),
            IssuerPattern::CircleCiOrg { prefix } => {
                let org = iss.strip_prefix(prefix.as_str())?.strip_prefix("/org/")?;
                let well_formed = !org.is_empty()
                    && org.len() <= 64
                    && org.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
                well_formed.then(|| Some(org.to_owned()))
            }
        }
    }
}

/// An `iss` matched against the table.
#[derive(Debug, Clone)]
pub struct ResolvedIssuer<'a> {
    /// The matching entry.
    pub entry: &'a IssuerEntry,
    /// For CircleCI: the org id taken from the issuer URL.
    pub circleci_org: Option<String>,
}

/// The issuers a verifier trusts.
#[derive(Debug, Clone)]
pub struct IssuerTable {
    entries: Vec<IssuerEntry>,
}

impl IssuerTable {
    /// A table of exactly these entries.
    pub fn new(entries: Vec<IssuerEntry>) -> IssuerTable {
        IssuerTable { entries }
    }

    /// The real issuers: CircleCI `https://oidc.circleci.com/org/<org-id>`, GitHub
    /// `https://token.actions.githubusercontent.com`, GitLab `https://gitlab.com`, all RS256,
    /// all with keys from `keys`.
    pub fn production(keys: Arc<dyn JwksSource>) -> IssuerTable {
        IssuerTable::production_with(keys.clone(), keys.clone(), keys)
    }

    /// The real issuers with one key source per provider.
    pub fn production_with(
        circleci: Arc<dyn JwksSource>,
        github: Arc<dyn JwksSource>,
        gitlab: Arc<dyn JwksSource>,
    ) -> IssuerTable {
        IssuerTable::new(vec![
            IssuerEntry::circleci(CIRCLECI_ISSUER_PREFIX, circleci),
            IssuerEntry::github(GITHUB_ISSUER, github),
            IssuerEntry::gitlab(GITLAB_ISSUER, gitlab),
        ])
    }

    /// A sandbox's issuers under `base` (e.g. `http://127.0.0.1:4873`, no trailing slash):
    /// CircleCI `base/-/sandbox/oidc/circleci/org/<org-id>`, GitHub `base/-/sandbox/oidc/github`,
    /// GitLab `base/-/sandbox/oidc/gitlab`; RS256 and ES256 accepted.
    pub fn sandbox(base: &str, keys: Arc<dyn JwksSource>) -> IssuerTable {
        let base = base.trim_end_matches('/');
        let both = [Algorithm::Rs256, Algorithm::Es256];
        IssuerTable::new(vec![
            IssuerEntry::circleci(format!("{base}/-/sandbox/oidc/circleci"), keys.clone())
                .with_algorithms(&both),
            IssuerEntry::github(format!("{base}/-/sandbox/oidc/github"), keys.clone())
                .with_algorithms(&both),
            IssuerEntry::gitlab(format!("{base}/-/sandbox/oidc/gitlab"), keys)
                .with_algorithms(&both),
        ])
    }

    /// The entries, in matching order.
    pub fn entries(&self) -> &[IssuerEntry] {
        &self.entries
    }

    /// The first entry matching `iss`, byte-exact.
    pub fn resolve(&self, iss: &str) -> Option<ResolvedIssuer<'_>> {
        self.entries.iter().find_map(|entry| {
            entry.matches(iss).map(|circleci_org| ResolvedIssuer {
                entry,
                circleci_org,
            })
        })
    }

    /// For an `iss` no entry matches: whether it is the enterprise-scoped form of a GitHub
    /// issuer of this table (`<issuer>/<enterprise-slug>`, what GitHub issues when an
    /// enterprise sets `include_enterprise_slug`), and then the GitHub entry's issuer and the
    /// slug. npm does not trust that form (it answers 401, npm/cli#9203), so neither does
    /// the verifier; this only names why.
    pub fn github_enterprise_slug<'a>(&self, iss: &'a str) -> Option<(&str, &'a str)> {
        self.entries
            .iter()
            .find_map(|e| match (&e.provider, &e.pattern) {
                (Provider::GitHub, IssuerPattern::Exact(base)) => {
                    let slug = iss.strip_prefix(base.as_str())?.strip_prefix('/')?;
                    let well_formed = !slug.is_empty()
                        && slug.len() <= 100
                        && slug
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                    well_formed.then_some((base.as_str(), slug))
                }
                _ => None,
            })
    }

    /// Human description of what the table trusts, for error messages.
    pub fn describe(&self) -> String {
        self.entries
            .iter()
            .map(|e| match &e.pattern {
                IssuerPattern::Exact(s) => s.clone(),
                IssuerPattern::CircleCiOrg { prefix } => format!("{prefix}/org/<org-id>"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwks::StaticJwks;
    use crate::keys::KeySet;

    fn table() -> IssuerTable {
        IssuerTable::production(Arc::new(StaticJwks::new(KeySet::default())))
    }

    #[test]
    fn production_pins_exact_issuers() {
        let t = table();
        let org = "1f0e8a5b-7c1d-4e2f-9a3b-5c6d7e8f9a0b";
        let r = t
            .resolve(&format!("https://oidc.circleci.com/org/{org}"))
            .expect("circleci");
        assert_eq!(r.entry.provider(), Provider::CircleCi);
        assert_eq!(r.circleci_org.as_deref(), Some(org));
        assert_eq!(
            t.resolve(GITHUB_ISSUER).map(|r| r.entry.provider()),
            Some(Provider::GitHub)
        );
        assert_eq!(
            t.resolve(GITLAB_ISSUER).map(|r| r.entry.provider()),
            Some(Provider::GitLab)
        );
        for bad in [
            "http://token.actions.githubusercontent.com",
            "https://token.actions.githubusercontent.com/",
            "https://TOKEN.actions.githubusercontent.com",
            "https://gitlab.example.com",
            "https://gitlab.com/",
            "https://oidc.circleci.com",
            "https://oidc.circleci.com/org/",
            "https://oidc.circleci.com/org/abc/extra",
            "https://oidc.circleci.com/org/abc/",
            "http://oidc.circleci.com/org/abc",
            "https://oidc.circleci.com.evil.example/org/abc",
        ] {
            assert!(t.resolve(bad).is_none(), "{bad} must not resolve");
        }
    }

    #[test]
    fn enterprise_issuers_are_named_but_not_trusted() {
        let t = table();
        let iss = "https://token.actions.githubusercontent.com/acme-corp";
        assert!(t.resolve(iss).is_none());
        assert_eq!(
            t.github_enterprise_slug(iss),
            Some((GITHUB_ISSUER, "acme-corp"))
        );
        for not in [
            GITHUB_ISSUER,
            "https://token.actions.githubusercontent.com/",
            "https://token.actions.githubusercontent.com/a/b",
            "https://token.actions.githubusercontent.com/a.b",
            "https://token.actions.githubusercontent.comacme",
            "https://gitlab.com/acme",
            "https://oidc.circleci.com/acme",
        ] {
            assert_eq!(t.github_enterprise_slug(not), None, "{not}");
        }
    }

    #[test]
    fn sandbox_table_uses_its_own_base() {
        let t = IssuerTable::sandbox(
            "http://127.0.0.1:4873/",
            Arc::new(StaticJwks::new(KeySet::default())),
        );
        let r = t
            .resolve("http://127.0.0.1:4873/-/sandbox/oidc/circleci/org/o-1")
            .expect("resolves");
        assert_eq!(r.circleci_org.as_deref(), Some("o-1"));
        assert!(
            t.resolve("http://127.0.0.1:4873/-/sandbox/oidc/github")
                .is_some()
        );
        assert!(t.resolve(GITHUB_ISSUER).is_none());
    }

    #[test]
    fn gitlab_config_host_is_the_issuer_host() {
        let keys: Arc<dyn JwksSource> = Arc::new(StaticJwks::new(KeySet::default()));
        assert_eq!(
            IssuerEntry::gitlab(GITLAB_ISSUER, keys.clone()).config_host(),
            Some("gitlab.com")
        );
        assert_eq!(
            IssuerEntry::gitlab("http://127.0.0.1:4873/-/sandbox/oidc/gitlab", keys.clone())
                .config_host(),
            Some("127.0.0.1:4873")
        );
        assert_eq!(
            IssuerEntry::gitlab("http://127.0.0.1:4873/x", keys.clone())
                .with_config_host("gitlab.com")
                .config_host(),
            Some("gitlab.com")
        );
        assert_eq!(IssuerEntry::github(GITHUB_ISSUER, keys).config_host(), None);
    }
}
