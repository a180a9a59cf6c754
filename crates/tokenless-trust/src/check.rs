//! Checks: the data a verification produces, one per rule, in a fixed order.

use serde::Serialize;

/// The stable id of a check. The kebab-case strings appear in `explain --format json` and
/// are documented in `docs/explain.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckId {
    /// The token is at most 16 KiB.
    TokenSize,
    /// Three base64url segments.
    TokenFormat,
    /// The header is a JSON object without duplicate keys.
    Header,
    /// `alg` is RS256 or ES256 (`none`, `HS*`, everything else refused).
    Alg,
    /// No `jku`, `x5u`, `jwk` or `x5c` header.
    KeyInjection,
    /// No `crit` header.
    Crit,
    /// `kid` present and made of safe characters.
    Kid,
    /// The payload is a JSON object without duplicate keys, no claim over 4 KiB.
    Claims,
    /// `iss` is in the issuer table (and, for CircleCI, names the configured org).
    Issuer,
    /// `alg` is allowed for this issuer.
    IssuerAlg,
    /// The issuer has a key with this `kid` (and of this algorithm).
    SigningKey,
    /// The signature verifies.
    Signature,
    /// `exp` present and not past (60 s leeway).
    Exp,
    /// `nbf`, when present, reached (60 s leeway).
    Nbf,
    /// `iat` present and not in the future (60 s leeway).
    Iat,
    /// `exp - iat` is at most the issuer's longest token lifetime.
    Lifetime,
    /// `aud` is exactly `npm:<registry host>`.
    Audience,
    /// The package has a trust config for this provider.
    TrustConfig,
    /// The config allows the action (publish → createPackage, stage → createStagedPackage).
    Action,
    /// CircleCI `oidc.circleci.com/org-id`.
    CircleciOrgId,
    /// CircleCI `oidc.circleci.com/project-id`.
    CircleciProjectId,
    /// CircleCI `oidc.circleci.com/pipeline-definition-id`.
    CircleciPipelineDefinitionId,
    /// CircleCI `oidc.circleci.com/vcs-origin`.
    CircleciVcsOrigin,
    /// CircleCI: every configured context id in `oidc.circleci.com/context-ids`.
    CircleciContextIds,
    /// CircleCI: `oidc.circleci.com/ssh-rerun` not true.
    CircleciSshRerun,
    /// GitHub `repository`.
    GithubRepository,
    /// GitHub `sub` is not in the immutable form `repo:owner@<id>/repo@<id>:…`, which npm's
    /// exchange refuses (cause [`Cause::GithubImmutableSubject`]).
    GithubSubject,
    /// GitHub calling workflow file from `workflow_ref`.
    GithubWorkflowRef,
    /// GitHub `environment` when configured.
    GithubEnvironment,
    /// GitHub `event_name` is not `pull_request_target` (tokenless policy).
    GithubEventName,
    /// GitLab `project_path`.
    GitlabProjectPath,
    /// GitLab CI file from `ci_config_ref_uri`.
    GitlabCiConfigRefUri,
    /// GitLab `environment` when configured.
    GitlabEnvironment,
    /// `jti` present and not exchanged before for this package.
    Jti,
}

impl CheckId {
    /// The stable kebab-case id.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::TokenSize => "token-size",
            CheckId::TokenFormat => "token-format",
            CheckId::Header => "header",
            CheckId::Alg => "alg",
            CheckId::KeyInjection => "key-injection",
            CheckId::Crit => "crit",
            CheckId::Kid => "kid",
            CheckId::Claims => "claims",
            CheckId::Issuer => "issuer",
            CheckId::IssuerAlg => "issuer-alg",
            CheckId::SigningKey => "signing-key",
            CheckId::Signature => "signature",
            CheckId::Exp => "exp",
            CheckId::Nbf => "nbf",
            CheckId::Iat => "iat",
            CheckId::Lifetime => "lifetime",
            CheckId::Audience => "audience",
            CheckId::TrustConfig => "trust-config",
            CheckId::Action => "action",
            CheckId::CircleciOrgId => "circleci-org-id",
            CheckId::CircleciProjectId => "circleci-project-id",
            CheckId::CircleciPipelineDefinitionId => "circleci-pipeline-definition-id",
            CheckId::CircleciVcsOrigin => "circleci-vcs-origin",
            CheckId::CircleciContextIds => "circleci-context-ids",
            CheckId::CircleciSshRerun => "circleci-ssh-rerun",
            CheckId::GithubRepository => "github-repository",
            CheckId::GithubSubject => "github-subject",
            CheckId::GithubWorkflowRef => "github-workflow-ref",
            CheckId::GithubEnvironment => "github-environment",
            CheckId::GithubEventName => "github-event-name",
            CheckId::GitlabProjectPath => "gitlab-project-path",
            CheckId::GitlabCiConfigRefUri => "gitlab-ci-config-ref-uri",
            CheckId::GitlabEnvironment => "gitlab-environment",
            CheckId::Jti => "jti",
        }
    }
}

impl std::fmt::Display for CheckId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A known reason npm refuses an exchange that a generic mismatch would not explain, named
/// with a stable id (in `explain --format json` and the audit's evidence), npm's answer and
/// the issue that reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// The GitHub repository uses immutable subject claims (`sub` is
    /// `repo:owner@<id>/repo@<id>:…`, repositories created, renamed or transferred after
    /// GitHub's 2026 cutover): npm answers 404 "package not found" although the trust config
    /// matches (npm/cli#9969, open).
    GithubImmutableSubject,
    /// The GitHub token comes from an enterprise-scoped issuer
    /// (`https://token.actions.githubusercontent.com/<enterprise-slug>`,
    /// `include_enterprise_slug`): npm answers 401 "OIDC token exchange error -
    /// unauthorized" (npm/cli#9203).
    GithubEnterpriseIssuer,
}

impl Cause {
    /// The stable id: `github-immutable-subject` or `github-enterprise-issuer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::GithubImmutableSubject => "github-immutable-subject",
            Cause::GithubEnterpriseIssuer => "github-enterprise-issuer",
        }
    }

    /// The HTTP status npm's exchange answers with.
    pub fn npm_status(self) -> u16 {
        match self {
            Cause::GithubImmutableSubject => 404,
            Cause::GithubEnterpriseIssuer => 401,
        }
    }

    /// What npm answers, as users report it.
    pub fn npm_says(self) -> &'static str {
        match self {
            Cause::GithubImmutableSubject => {
                "404 \"package not found\" although the trust config matches"
            }
            Cause::GithubEnterpriseIssuer => "401 \"OIDC token exchange error - unauthorized\"",
        }
    }

    /// The issue that reports it.
    pub fn issue(self) -> &'static str {
        match self {
            Cause::GithubImmutableSubject => "npm/cli#9969",
            Cause::GithubEnterpriseIssuer => "npm/cli#9203",
        }
    }

    /// One line: the id, npm's answer and the issue.
    pub fn describe(self) -> String {
        format!(
            "{}: npm's OIDC exchange answers {} ({})",
            self.as_str(),
            self.npm_says(),
            self.issue()
        )
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Cause {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut s = serializer.serialize_struct("Cause", 4)?;
        s.serialize_field("id", self.as_str())?;
        s.serialize_field("npm_status", &self.npm_status())?;
        s.serialize_field("npm_says", self.npm_says())?;
        s.serialize_field("issue", self.issue())?;
        s.end()
    }
}

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// The rule holds.
    Pass,
    /// The rule is broken: the exchange is refused.
    Fail,
    /// Not evaluated (an earlier check failed, nothing is configured, or explain does not
    /// evaluate it); the detail says which.
    Skip,
}

/// Whose rule a check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// What registry.npmjs.org checks.
    Npm,
    /// tokenless's own stricter rule; npm itself would accept.
    Tokenless,
}

/// One check's result: id, status, the exact values compared (never the token), whose rule,
/// and for a failure the most likely fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable id.
    pub id: CheckId,
    /// pass, fail or skip.
    pub status: CheckStatus,
    /// The values compared and the reason.
    pub detail: String,
    /// npm's rule or tokenless's.
    pub policy: Policy,
    /// For a failure: what most likely fixes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// For a failure with a known npm behaviour: the named cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
}

impl Check {
    pub(crate) fn pass(id: CheckId, detail: impl Into<String>) -> Check {
        Check {
            id,
            status: CheckStatus::Pass,
            detail: detail.into(),
            policy: Policy::Npm,
            fix: None,
            cause: None,
        }
    }
    pub(crate) fn fail(id: CheckId, detail: impl Into<String>) -> Check {
        Check {
            id,
            status: CheckStatus::Fail,
            detail: detail.into(),
            policy: Policy::Npm,
            fix: None,
            cause: None,
        }
    }
    pub(crate) fn skip(id: CheckId, detail: impl Into<String>) -> Check {
        Check {
            id,
            status: CheckStatus::Skip,
            detail: detail.into(),
            policy: Policy::Npm,
            fix: None,
            cause: None,
        }
    }
    pub(crate) fn with_fix(mut self, fix: impl Into<String>) -> Check {
        if self.status == CheckStatus::Fail {
            self.fix = Some(fix.into());
        }
        self
    }
    pub(crate) fn with_cause(mut self, cause: Cause) -> Check {
        if self.status == CheckStatus::Fail {
            self.cause = Some(cause);
        }
        self
    }
    pub(crate) fn tokenless(mut self) -> Check {
        self.policy = Policy::Tokenless;
        self
    }
}

/// A string shown as `{:?}` shows it (quoted, escaped), without the per-character escape
/// work when it is plain printable ASCII, as every value of a real token is. Details are
/// built on every verification, so this is on the hot path.
pub(crate) struct Quoted<'a>(pub(crate) &'a str);

impl std::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plain = self
            .0
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
        if plain {
            f.write_str("\"")?;
            f.write_str(self.0)?;
            f.write_str("\"")
        } else {
            std::fmt::Debug::fmt(self.0, f)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Quoted;

    #[test]
    fn quoted_shows_what_debug_shows() {
        for s in [
            "",
            "plain value/with:punct@1",
            "a\"b",
            "back\\slash",
            "tab\t",
            "é",
            "\u{0}",
            "'single'",
        ] {
            assert_eq!(Quoted(s).to_string(), format!("{s:?}"), "{s}");
        }
    }
}
