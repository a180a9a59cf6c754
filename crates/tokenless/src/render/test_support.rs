//! Hand-made findings and reports for renderer unit tests.

use std::ops::Range;

use tokenless_ci::{Confidence, Finding, RuleId, Severity, Span};

use super::lint_report::{LintReport, LocatedFinding};
use tokenless_ci::lines::LineIndex;

pub const PATH: &str = "ci.yml";

/// A finding of `rule` on `span` of `src` (at [`PATH`]), located.
pub fn located(
    src: &str,
    rule: &'static str,
    severity: Severity,
    span: Range<usize>,
) -> LocatedFinding {
    let index = LineIndex::new(src);
    LocatedFinding {
        start: index.position(src, span.start),
        end: index.position(src, span.end),
        finding: Finding {
            rule: RuleId::parse(rule).unwrap_or(RuleId::StaticTokenPublish),
            severity,
            path: PATH.to_owned(),
            span: Span::new(span.start, span.end),
            message: "a message".to_owned(),
            help: "a help line".to_owned(),
            job: None,
            chain: Vec::new(),
            confidence: Confidence::High,
            fix: None,
        },
    }
}

/// A report of one scanned file, `src` at [`PATH`], with `findings`.
pub fn report_with(src: &str, findings: Vec<LocatedFinding>) -> LintReport {
    LintReport {
        findings,
        publishes: Vec::new(),
        sources: [(PATH.to_owned(), src.to_owned())].into_iter().collect(),
        errors: Vec::new(),
        files_scanned: 1,
        suppressed: 0,
        below_threshold: 0,
        min_severity: Severity::Low,
    }
}
