//! The audit's result as data: nine checks, each `pass`, `fail` or `unknown`, each with
//! evidence that names where it came from. Renderers read this; they never decide.

use serde::Serialize;
use tokenless_ci::Location;

/// A box of the Definition of Done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum CheckId {
    #[serde(rename = "trusted-publisher")]
    TrustedPublisher,
    #[serde(rename = "context-bound")]
    ContextBound,
    #[serde(rename = "oidc-publish-job")]
    OidcPublishJob,
    #[serde(rename = "release-verified")]
    ReleaseVerified,
    #[serde(rename = "no-static-tokens")]
    NoStaticTokens,
    #[serde(rename = "no-service-accounts")]
    NoServiceAccounts,
    #[serde(rename = "disallow-tokens")]
    DisallowTokens,
    #[serde(rename = "read-only-teams")]
    ReadOnlyTeams,
    #[serde(rename = "temp-token-deleted")]
    TempTokenDeleted,
}

impl CheckId {
    /// Every check, in the order of DESIGN.md's table.
    pub const ALL: [CheckId; 9] = [
        CheckId::TrustedPublisher,
        CheckId::ContextBound,
        CheckId::OidcPublishJob,
        CheckId::ReleaseVerified,
        CheckId::NoStaticTokens,
        CheckId::NoServiceAccounts,
        CheckId::DisallowTokens,
        CheckId::ReadOnlyTeams,
        CheckId::TempTokenDeleted,
    ];

    /// The stable id, as in `--format json`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckId::TrustedPublisher => "trusted-publisher",
            CheckId::ContextBound => "context-bound",
            CheckId::OidcPublishJob => "oidc-publish-job",
            CheckId::ReleaseVerified => "release-verified",
            CheckId::NoStaticTokens => "no-static-tokens",
            CheckId::NoServiceAccounts => "no-service-accounts",
            CheckId::DisallowTokens => "disallow-tokens",
            CheckId::ReadOnlyTeams => "read-only-teams",
            CheckId::TempTokenDeleted => "temp-token-deleted",
        }
    }

    /// The box, in words.
    pub fn title(self) -> &'static str {
        match self {
            CheckId::TrustedPublisher => "Every publishing package has a trusted publisher",
            CheckId::ContextBound => {
                "Every trusted publisher is bound: a CircleCI context restricted to main without SSH reruns, or a protected GitHub/GitLab environment"
            }
            CheckId::OidcPublishJob => {
                "Publish jobs fetch an OIDC token at run time; no NPM_TOKEN anywhere in CI"
            }
            CheckId::ReleaseVerified => {
                "Every release since the migration went through a current trust config"
            }
            CheckId::NoStaticTokens => "No static npm token remains on the account",
            CheckId::NoServiceAccounts => "No member exists only to hold a publish token",
            CheckId::DisallowTokens => {
                "Every package is at \"require 2FA and disallow tokens\" (mfa=publish)"
            }
            CheckId::ReadOnlyTeams => "Publish teams are read-only; only owners can write",
            CheckId::TempTokenDeleted => "No bulk-hardening token outlived its operation",
        }
    }

    /// What to do when the box is not checked.
    pub fn next_step(self) -> &'static str {
        match self {
            CheckId::TrustedPublisher => {
                "add a trusted publisher to each listed package: `npm trust circleci <pkg> --org-id … --project-id … --pipeline-definition-id … --vcs-origin … --context-id … --allow-publish`"
            }
            CheckId::ContextBound => {
                "bind a context with the restriction `pipeline.git.branch == \"main\" and not job.ssh.enabled` by its id (`--context-id`) and attach it to the publish job; add project and security-group restrictions too, since org admins bypass context restrictions"
            }
            CheckId::OidcPublishJob => {
                "run `tokenless fix --write` on the listed configs (mint `NPM_ID_TOKEN` with `circleci run oidc get --claims '{\"aud\": \"npm:registry.npmjs.org\"}'`), then delete every npm token variable from the listed projects and contexts"
            }
            CheckId::ReleaseVerified => {
                "publish a release through the CI job (OIDC) so that its `_npmUser.trustedPublisher` names the current trust config"
            }
            CheckId::NoStaticTokens => {
                "delete the listed tokens (`npm token revoke <key>`, or `tokenless tokens revoke`); each listed member runs `tokenless tokens revoke` and `tokenless tokens attest` under their own login, and the audit reads the statements with --attestations DIR"
            }
            CheckId::NoServiceAccounts => {
                "remove the listed accounts from the org (`npm org rm <org> <user>`) after deleting their tokens; classify every member in `[members]` of tokenless.toml"
            }
            CheckId::DisallowTokens => {
                "run `tokenless apply` (it sets mfa=publish and records the registry's acknowledgement, which the audit reads), or check \"Require two-factor authentication and disallow tokens\" under each listed package's Settings → Publishing access"
            }
            CheckId::ReadOnlyTeams => {
                "make the listed teams read-only (`npm access grant read-only <scope:team> <pkg>`); write belongs to owners only"
            }
            CheckId::TempTokenDeleted => {
                "delete the listed temporary tokens now (`npm token revoke <key>`)"
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Could not be determined; never shown as a pass.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Unknown => "unknown",
        }
    }
}

/// One fact behind a status: where it came from (`GET /-/package/@acme%2fa/trust`,
/// `.circleci/config.yml:12:7`, `tokenless.toml [members]`) and what it says. In JSON,
/// `source` is the location as text and `location` the typed one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub source: Location,
    pub detail: String,
}

impl Evidence {
    pub fn new(source: impl Into<Location>, detail: impl Into<String>) -> Self {
        Evidence {
            source: source.into(),
            detail: detail.into(),
        }
    }
}

impl Serialize for Evidence {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut e = s.serialize_struct("Evidence", 3)?;
        e.serialize_field("source", &self.source.to_string())?;
        e.serialize_field("location", &self.source)?;
        e.serialize_field("detail", &self.detail)?;
        e.end()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub id: CheckId,
    pub status: Status,
    pub title: &'static str,
    pub evidence: Vec<Evidence>,
}

impl CheckResult {
    /// A result whose status is the worst of its parts: any failing item fails the box,
    /// else any unknown item makes it unknown, else it passes on the `passes` evidence.
    /// No evidence at all is not a pass (the evidence rule): the box is unknown.
    pub fn from_items(
        id: CheckId,
        fails: Vec<Evidence>,
        mut unknowns: Vec<Evidence>,
        passes: Vec<Evidence>,
    ) -> Self {
        if fails.is_empty() && unknowns.is_empty() && passes.is_empty() {
            unknowns.push(Evidence::new(
                "audit",
                format!(
                    "nothing was observed that {} could pass on; {}",
                    id.as_str(),
                    id.next_step()
                ),
            ));
        }
        let status = if !fails.is_empty() {
            Status::Fail
        } else if !unknowns.is_empty() {
            Status::Unknown
        } else {
            Status::Pass
        };
        let all: Vec<Evidence> = match status {
            Status::Fail => fails.into_iter().chain(unknowns).collect(),
            Status::Unknown => unknowns,
            Status::Pass => passes,
        };
        // The same fact reached through several packages is said once.
        let mut seen = std::collections::HashSet::new();
        let evidence = all
            .into_iter()
            .filter(|e| seen.insert((e.source.clone(), e.detail.clone())))
            .collect();
        CheckResult {
            id,
            status,
            title: id.title(),
            evidence,
        }
    }
}

/// The whole audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub version: u32,
    pub scope: String,
    pub checks: Vec<CheckResult>,
    pub passed: bool,
    /// One row per package, for tables (the HTML report); facts, not verdicts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackageRow>,
}

/// What the audit read of one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageRow {
    pub name: String,
    /// The provider of each trust config (`circleci`, `github`, `gitlab`); empty when none,
    /// `None` when they could not be read.
    pub providers: Option<Vec<String>>,
    /// The `latest` version and the trust config it came through (`None`: a token).
    pub latest: Option<(String, Option<String>)>,
    /// When tokenless's record shows the registry acknowledged "disallow tokens".
    pub access_acknowledged: Option<String>,
}

impl Report {
    pub fn new(scope: impl Into<String>, checks: Vec<CheckResult>) -> Self {
        let passed = checks.iter().all(|c| c.status == Status::Pass);
        Report {
            version: 1,
            scope: scope.into(),
            checks,
            passed,
            packages: Vec::new(),
        }
    }

    /// 0 every box passes, 1 one fails, 3 none fails but one is unknown.
    pub fn exit_code(&self) -> u8 {
        if self.checks.iter().any(|c| c.status == Status::Fail) {
            1
        } else if self.checks.iter().any(|c| c.status == Status::Unknown) {
            3
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev() -> Vec<Evidence> {
        vec![Evidence::new("s", "d")]
    }

    #[test]
    fn repeated_evidence_is_said_once() {
        let twice = vec![
            Evidence::new("s", "d"),
            Evidence::new("s", "d"),
            Evidence::new("s", "e"),
        ];
        let r = CheckResult::from_items(CheckId::ContextBound, vec![], twice, vec![]);
        assert_eq!(r.evidence.len(), 2);
    }

    #[test]
    fn fail_beats_unknown_beats_pass() {
        let unknown = vec![Evidence::new("u", "d")];
        let r = CheckResult::from_items(CheckId::TrustedPublisher, ev(), unknown, ev());
        assert_eq!((r.status, r.evidence.len()), (Status::Fail, 2));
        let r = CheckResult::from_items(CheckId::TrustedPublisher, vec![], ev(), ev());
        assert_eq!((r.status, r.evidence.len()), (Status::Unknown, 1));
        let r = CheckResult::from_items(CheckId::TrustedPublisher, vec![], vec![], ev());
        assert_eq!(r.status, Status::Pass);
    }

    #[test]
    fn exit_codes_follow_the_worst_box() {
        let pass = CheckResult::from_items(CheckId::NoStaticTokens, vec![], vec![], ev());
        let unknown = CheckResult::from_items(CheckId::DisallowTokens, vec![], ev(), vec![]);
        let fail = CheckResult::from_items(CheckId::ReadOnlyTeams, ev(), vec![], vec![]);
        assert_eq!(Report::new("@a", vec![pass.clone()]).exit_code(), 0);
        assert_eq!(
            Report::new("@a", vec![pass.clone(), unknown.clone()]).exit_code(),
            3
        );
        assert_eq!(Report::new("@a", vec![pass, unknown, fail]).exit_code(), 1);
    }

    #[test]
    fn ids_serialize_as_the_stable_strings() {
        for id in CheckId::ALL {
            assert_eq!(serde_json::to_value(id).expect("json"), id.as_str());
        }
    }
}
