//! What the registry sends, as far as tokenless reads it. Fields npm does not always
//! send (token expiry, `bypass_2fa`, a version's `_npmUser`) are optional.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET /-/package/<pkg>/trust`: one trusted-publisher configuration, in tokenless-trust's
/// model (the one the verifier, explain and the sandbox use). The client parses the wire
/// JSON into it at the HTTP edge ([`NpmClient::trust_configs`](super::NpmClient::trust_configs)).
pub use tokenless_trust::TrustConfig;

/// A package's publishing access (`POST /-/package/<pkg>/access` bodies; the sandbox also
/// answers a `GET`, npm does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishingAccess {
    pub publish_requires_tfa: bool,
    #[serde(default)]
    pub automation_token_overrides_tfa: bool,
}

impl PublishingAccess {
    /// `npm access set mfa=publish`: "Require two-factor authentication and disallow tokens".
    pub const DISALLOW_TOKENS: PublishingAccess = PublishingAccess {
        publish_requires_tfa: true,
        automation_token_overrides_tfa: false,
    };
    /// `mfa=automation`, npm's default.
    pub const ALLOW_BYPASS_TOKENS: PublishingAccess = PublishingAccess {
        publish_requires_tfa: true,
        automation_token_overrides_tfa: true,
    };

    pub fn disallows_tokens(&self) -> bool {
        self.publish_requires_tfa && !self.automation_token_overrides_tfa
    }

    /// The `npm access set mfa=…` value this corresponds to.
    pub fn mfa_name(&self) -> &'static str {
        match (
            self.publish_requires_tfa,
            self.automation_token_overrides_tfa,
        ) {
            (false, _) => "none",
            (true, false) => "publish",
            (true, true) => "automation",
        }
    }
}

/// A packument, reduced to what tokenless reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Packument {
    #[serde(default)]
    pub name: String,
    #[serde(rename = "dist-tags", default)]
    pub dist_tags: BTreeMap<String, String>,
    #[serde(default)]
    pub versions: BTreeMap<String, VersionMeta>,
    /// `time`: version → when it was published (RFC 3339), plus `created`/`modified`;
    /// other shapes (`unpublished`) are kept as they are.
    #[serde(default)]
    pub time: BTreeMap<String, serde_json::Value>,
    /// `repository` of the latest package.json: a URL string or `{type, url}`.
    #[serde(default)]
    pub repository: Option<Repository>,
}

/// package.json `repository`, in either of its shapes.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Repository {
    Url(String),
    Object {
        #[serde(default)]
        url: Option<String>,
    },
}

impl Repository {
    pub fn url(&self) -> Option<&str> {
        match self {
            Repository::Url(u) => Some(u),
            Repository::Object { url } => url.as_deref(),
        }
    }

    /// `github.com/owner/repo` from any of npm's spellings: `git+https://github.com/o/r.git`,
    /// `git@github.com:o/r.git`, `github:o/r`, `o/r` (GitHub), `gitlab:g/p`.
    pub fn origin(&self) -> Option<String> {
        let url = self.url()?.trim();
        let (host, path) = if let Some(rest) = url.strip_prefix("github:") {
            ("github.com".to_owned(), rest.to_owned())
        } else if let Some(rest) = url.strip_prefix("gitlab:") {
            ("gitlab.com".to_owned(), rest.to_owned())
        } else if let Some(rest) = url.strip_prefix("git@") {
            let (h, p) = rest.split_once(':')?;
            (h.to_owned(), p.to_owned())
        } else if let Some((_, rest)) = url.split_once("://") {
            let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
            let (h, p) = rest.split_once('/')?;
            (h.to_owned(), p.to_owned())
        } else if url.split('/').count() == 2 && !url.contains(':') {
            ("github.com".to_owned(), url.to_owned())
        } else {
            return None;
        };
        let path = path
            .split(['#', '?'])
            .next()
            .unwrap_or_default()
            .trim_end_matches('/')
            .trim_end_matches(".git");
        let host = host
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        (!host.is_empty() && path.split('/').filter(|s| !s.is_empty()).count() >= 2)
            .then(|| format!("{host}/{path}"))
    }
}

impl Packument {
    /// The `latest` dist-tag and its version metadata.
    /// When `version` was published, if the packument says.
    pub fn published(&self, version: &str) -> Option<&str> {
        self.time.get(version).and_then(serde_json::Value::as_str)
    }

    pub fn latest(&self) -> Option<(&str, Option<&VersionMeta>)> {
        let v = self.dist_tags.get("latest")?;
        Some((v.as_str(), self.versions.get(v)))
    }
}

/// One version of a packument.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct VersionMeta {
    #[serde(rename = "_npmUser", default)]
    pub npm_user: Option<NpmUser>,
}

#[cfg(test)]
mod repository_tests {
    use super::Repository;

    #[test]
    fn every_spelling_gives_the_same_origin() {
        for url in [
            "git+https://github.com/acme/web.git",
            "https://github.com/acme/web",
            "git://github.com/acme/web.git",
            "git@github.com:acme/web.git",
            "github:acme/web",
            "acme/web",
            "git+ssh://git@github.com/acme/web.git#main",
        ] {
            assert_eq!(
                Repository::Url(url.into()).origin().as_deref(),
                Some("github.com/acme/web"),
                "{url}"
            );
        }
        assert_eq!(
            Repository::Url("gitlab:acme/sub/lab".into())
                .origin()
                .as_deref(),
            Some("gitlab.com/acme/sub/lab")
        );
        assert_eq!(Repository::Url("not a url".into()).origin(), None);
        assert_eq!(Repository::Object { url: None }.origin(), None);
    }
}

/// Who published a version; `trustedPublisher` when it went through OIDC.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NpmUser {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "trustedPublisher", default)]
    pub trusted_publisher: Option<TrustedPublisherRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TrustedPublisherRef {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(rename = "oidcConfigId", default)]
    pub oidc_config_id: Option<String>,
}

/// `GET /-/npm/v1/tokens`: one token. `token` is only a short prefix of the secret. Fields
/// npm sends for granular tokens only (and the website's) are optional; both spellings
/// seen in the wild are read (`expiry`/`expires`, `cidr`/`cidr_whitelist`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub key: String,
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub updated: Option<String>,
    /// Last use.
    #[serde(default)]
    pub accessed: Option<String>,
    #[serde(default)]
    pub readonly: Option<bool>,
    #[serde(default)]
    pub bypass_2fa: Option<bool>,
    #[serde(default, alias = "expiry")]
    pub expires: Option<String>,
    #[serde(default, alias = "cidr")]
    pub cidr_whitelist: Option<Vec<String>>,
    /// `[{name, action}]` (npm) .
    #[serde(default)]
    pub permissions: Option<Vec<serde_json::Value>>,
    /// Packages the token covers.
    #[serde(default)]
    pub packages: Option<Vec<serde_json::Value>>,
    /// Scopes: names (`@acme`) or `{name, type}`.
    #[serde(default)]
    pub scopes: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub orgs: Option<Vec<serde_json::Value>>,
    /// `read-only`, `read-write` or `read-write-stage-only`.
    #[serde(default)]
    pub packages_and_scopes_permission: Option<String>,
}

impl Token {
    /// A stage-only token: it can stage, never publish directly.
    pub fn stage_only(&self) -> bool {
        self.packages_and_scopes_permission.as_deref() == Some("read-write-stage-only")
            || self.permissions.as_ref().is_some_and(|ps| {
                ps.iter().any(|p| {
                    p.get("action")
                        .and_then(|a| a.as_str())
                        .is_some_and(|a| a.contains("stage"))
                })
            })
    }

    /// Whether it can write (publish or stage) at all.
    pub fn writes(&self) -> bool {
        self.readonly != Some(true)
            && self.packages_and_scopes_permission.as_deref() != Some("read-only")
    }

    /// A bypass-2FA token that still publishes directly: npm removes that around January
    /// 2027 (stage-only tokens keep working).
    pub fn loses_direct_publishing(&self) -> bool {
        self.bypass_2fa == Some(true) && self.writes() && !self.stage_only()
    }

    /// A short, non-secret label: the name if any, else the key's first 8 characters.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) if !n.is_empty() => n.clone(),
            _ => self.key.chars().take(8).collect(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct TokenPage {
    #[serde(default)]
    pub objects: Vec<Token>,
    #[serde(default)]
    pub urls: TokenPageUrls,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct TokenPageUrls {
    #[serde(default)]
    pub next: Option<String>,
}

/// What to create with `POST /-/npm/v1/tokens`.
#[derive(Debug, Clone, Serialize)]
pub struct NewToken {
    pub name: String,
    pub password: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<String>,
    /// `read-only` or `read-write`.
    pub packages_and_scopes_permission: String,
    /// Days.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<u32>,
    pub bypass_2fa: bool,
}

/// The answer to a token creation: the only time the secret is seen.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedToken {
    #[serde(default)]
    pub key: String,
    #[serde(rename = "token")]
    pub(crate) secret: String,
}

/// A team permission on a package: `read` or `write` (npm also says `read-only`/`read-write`).
pub fn permission_is_write(permission: &str) -> bool {
    matches!(permission, "write" | "read-write")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packument_latest_and_trusted_publisher() {
        let p: Packument = serde_json::from_str(
            r#"{"name":"@a/b","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"_npmUser":{"name":"GitHub Actions","trustedPublisher":{"id":"circleci","oidcConfigId":"t1"}}}}}"#,
        )
        .expect("packument");
        let (v, meta) = p.latest().expect("latest");
        assert_eq!(v, "1.0.0");
        let tp = meta
            .and_then(|m| m.npm_user.as_ref())
            .and_then(|u| u.trusted_publisher.as_ref())
            .and_then(|t| t.oidc_config_id.as_deref());
        assert_eq!(tp, Some("t1"));
    }

    #[test]
    fn access_names_match_the_cli() {
        assert_eq!(PublishingAccess::DISALLOW_TOKENS.mfa_name(), "publish");
        assert!(PublishingAccess::DISALLOW_TOKENS.disallows_tokens());
        assert_eq!(
            PublishingAccess::ALLOW_BYPASS_TOKENS.mfa_name(),
            "automation"
        );
        let none: PublishingAccess =
            serde_json::from_str(r#"{"publish_requires_tfa":false}"#).expect("none");
        assert_eq!(none.mfa_name(), "none");
        assert!(!none.disallows_tokens());
    }
}
