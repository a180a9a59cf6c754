//! Findings are data: a rule id, a severity, a location in a file, and words for the
//! user. Renderers turn them into text, JSON or SARIF; rules never format output.

use std::fmt;

/// How bad a finding is. Ordered: `Info < Low < Medium < High`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A byte range `[start, end)` into a file's source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start,
            end: end.max(start),
        }
    }
}

/// One problem found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// A stable rule id from [`RULES`].
    pub rule: &'static str,
    pub severity: Severity,
    /// The file the span points into (the linted file, or a file it includes).
    pub path: String,
    /// The exact span the caret goes under.
    pub span: Span,
    /// What is wrong, specific to this occurrence.
    pub message: String,
    /// One line on how to fix it.
    pub help: String,
}

/// An input that cannot be analysed at all. `line`/`column` are 1-based; 0 means unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}")]
pub struct LintError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Static description of a rule (for `docs/rules.md`, SARIF `rules`, `--help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleMeta {
    pub id: &'static str,
    pub default_severity: Severity,
    /// One sentence: what the rule catches.
    pub summary: &'static str,
}

/// Every rule tokenless lint implements, in documentation order. Ids are stable.
pub const RULES: &[RuleMeta] = &[
    RuleMeta {
        id: "static-token-publish",
        default_severity: Severity::High,
        summary: "A publish authenticated by a stored npm credential.",
    },
    RuleMeta {
        id: "oidc-token-missing",
        default_severity: Severity::Medium,
        summary: "A publish job with no way to obtain an OIDC id token.",
    },
    RuleMeta {
        id: "oidc-audience-mismatch",
        default_severity: Severity::High,
        summary: "The id token's audience is not exactly npm:<registry hostname>, or an npm id token is sent to another registry.",
    },
    RuleMeta {
        id: "oidc-token-misused",
        default_severity: Severity::High,
        summary: "The OIDC id token is put where a registry token goes.",
    },
    RuleMeta {
        id: "oidc-token-unguarded",
        default_severity: Severity::Medium,
        summary: "A failed id-token fetch is masked and the job carries on.",
    },
    RuleMeta {
        id: "token-fallback",
        default_severity: Severity::High,
        summary: "The job fetches an id token and still has a static token that npm silently falls back to.",
    },
    RuleMeta {
        id: "branch-filter-only",
        default_severity: Severity::Medium,
        summary: "A CircleCI publish job guarded only by workflow filters, with no context.",
    },
    RuleMeta {
        id: "npm-too-old",
        default_severity: Severity::Medium,
        summary: "A job that relies on the OIDC exchange runs an npm or Node too old to perform it.",
    },
    RuleMeta {
        id: "untrusted-trigger-publish",
        default_severity: Severity::High,
        summary: "A publish reachable from pull requests, forks or other untrusted triggers.",
    },
    RuleMeta {
        id: "provenance-unsupported",
        default_severity: Severity::Medium,
        summary: "Provenance requested in a CircleCI publish job, where npm refuses to generate it.",
    },
    RuleMeta {
        id: "literal-env-reference",
        default_severity: Severity::Medium,
        summary: "A CircleCI `environment:` value that references a variable, which CircleCI does not expand.",
    },
    RuleMeta {
        id: "oidc-token-logged",
        default_severity: Severity::Medium,
        summary: "The OIDC id token is printed to the job log.",
    },
    RuleMeta {
        id: "oidc-token-reused",
        default_severity: Severity::Info,
        summary: "One id token minted for a multi-package publish that may outlive its exchange window.",
    },
];

/// The metadata of a rule id, if it exists.
pub fn rule_meta(id: &str) -> Option<&'static RuleMeta> {
    RULES.iter().find(|r| r.id == id)
}
