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

/// How sure the engine is that the finding's job really publishes to npm the way it
/// says. `High`: a publish command seen in the config or followed through files of the
/// repository; `Medium`: inferred from names (a job named `release` that wires an npm
/// token) or from a token written for npmjs with no publish seen; `Low`: read from a
/// JS/TS file as text.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One link of a publish chain: a place in a file and what happens there
/// (`package.json:14 "release": "semantic-release"`). `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Hop {
    pub file: String,
    pub line: usize,
    pub what: String,
}

/// One problem found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: RuleId,
    pub severity: Severity,
    /// The file the span points into (the linted file, or a file it includes).
    pub path: String,
    /// The exact span the caret goes under.
    pub span: Span,
    /// What is wrong, specific to this occurrence.
    pub message: String,
    /// One line on how to fix it.
    pub help: String,
    /// The id of the job the finding is about (the key in the config), if any.
    pub job: Option<String>,
    /// How the job reaches its publish, from the CI step to the command that publishes
    /// (empty when the finding is not about a publish).
    pub chain: Vec<Hop>,
    pub confidence: Confidence,
    /// The rewrite that resolves it, when `tokenless fix` planned one.
    pub fix: Option<std::sync::Arc<crate::fix::Fix>>,
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
    pub id: RuleId,
    pub default_severity: Severity,
    /// One sentence: what the rule catches.
    pub summary: &'static str,
}

impl RuleMeta {
    /// The anchor of the rule's section in `docs/rules.md` (the id itself).
    pub fn docs_anchor(&self) -> &'static str {
        self.id.as_str()
    }
}

macro_rules! rule_ids {
    ($($variant:ident => $id:literal,)*) => {
        /// Every rule id. A rule that does not exist cannot be named in code; ids read
        /// from users (suppression comments, `[lint] disable`) go through [`RuleId::parse`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RuleId {
            $($variant,)*
        }

        impl RuleId {
            pub const ALL: &[RuleId] = &[$(RuleId::$variant,)*];

            /// The stable kebab-case id.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(RuleId::$variant => $id,)*
                }
            }

            pub fn parse(id: &str) -> Option<RuleId> {
                match id {
                    $($id => Some(RuleId::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

rule_ids! {
    StaticTokenPublish => "static-token-publish",
    OidcTokenMissing => "oidc-token-missing",
    OidcAudienceMismatch => "oidc-audience-mismatch",
    OidcTokenMisused => "oidc-token-misused",
    OidcTokenUnguarded => "oidc-token-unguarded",
    TokenFallback => "token-fallback",
    BranchFilterOnly => "branch-filter-only",
    NpmTooOld => "npm-too-old",
    UntrustedTriggerPublish => "untrusted-trigger-publish",
    CachePoisoningPublish => "cache-poisoning-publish",
    ProvenanceUnsupported => "provenance-unsupported",
    LiteralEnvReference => "literal-env-reference",
    OidcTokenLogged => "oidc-token-logged",
    OidcTokenReused => "oidc-token-reused",
}

impl RuleId {
    /// The rule's metadata, from the registry in [`crate::rules`].
    pub fn meta(self) -> &'static RuleMeta {
        crate::rules::meta(self)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for RuleId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl serde::Serialize for RuleId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// The metadata of a rule id, if it exists.
pub fn rule_meta(id: &str) -> Option<&'static RuleMeta> {
    RuleId::parse(id).map(RuleId::meta)
}
