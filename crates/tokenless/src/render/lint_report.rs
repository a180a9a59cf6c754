//! What `tokenless lint` hands to its renderers: findings already filtered, sorted and
//! located (lines and columns computed once), the files' text for snippets, the inputs
//! that could not be analysed, and the counts for the summary.

use std::collections::BTreeMap;

use tokenless_ci::{Finding, Severity};

use tokenless_ci::lines::Position;

/// One finding to show, with its path as the user should see it and its span located.
#[derive(Debug, Clone)]
pub struct LocatedFinding {
    /// `finding.path` is the display path (relative to the working directory).
    pub finding: Finding,
    pub start: Position,
    /// The position just past the span's last character (exclusive, like SARIF's).
    pub end: Position,
}

/// An input that could not be read or analysed. `line`/`column` are 1-based, 0 = unknown.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}: {}", self.path, self.message),
            (line, 0) => write!(f, "{}:{line}: {}", self.path, self.message),
            (line, column) => write!(f, "{}:{line}:{column}: {}", self.path, self.message),
        }
    }
}

/// A publish the engine recognised (whether or not a finding is about it).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublishEntry {
    /// Display path of the CI file and the 1-based line of the publishing step.
    pub path: String,
    pub line: usize,
    pub job: String,
    pub client: &'static str,
    pub what: String,
    /// The registry host it publishes to.
    pub registry: String,
    pub confidence: tokenless_ci::Confidence,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<tokenless_ci::Hop>,
}

#[derive(Debug, Clone)]
pub struct LintReport {
    /// Findings at or above `min_severity`, not suppressed, sorted by path and position.
    pub findings: Vec<LocatedFinding>,
    /// Every publish recognised, in file order.
    pub publishes: Vec<PublishEntry>,
    /// The text of every file a finding points into, by display path.
    pub sources: BTreeMap<String, String>,
    pub errors: Vec<InputError>,
    /// Configuration files analysed without error (includes read on their behalf are
    /// not counted; files that could not be read or parsed are in `errors`).
    pub files_scanned: usize,
    /// Findings suppressed by `# tokenless: ignore[...]` or `[lint] disable`.
    pub suppressed: usize,
    /// Findings below `min_severity`.
    pub below_threshold: usize,
    pub min_severity: Severity,
}

impl LintReport {
    /// Shown findings per severity, highest first.
    pub fn counts(&self) -> [(Severity, usize); 4] {
        let count = |s| {
            self.findings
                .iter()
                .filter(|f| f.finding.severity == s)
                .count()
        };
        [
            (Severity::High, count(Severity::High)),
            (Severity::Medium, count(Severity::Medium)),
            (Severity::Low, count(Severity::Low)),
            (Severity::Info, count(Severity::Info)),
        ]
    }
}
