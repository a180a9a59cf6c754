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
}

impl Packument {
    /// The `latest` dist-tag and its version metadata.
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

/// `GET /-/npm/v1/tokens`: one token. `token` is only a short prefix of the secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub key: String,
    #[serde(default)]
    pub token: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub readonly: Option<bool>,
    #[serde(default)]
    pub bypass_2fa: Option<bool>,
    #[serde(default)]
    pub expires: Option<String>,
}

impl Token {
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
