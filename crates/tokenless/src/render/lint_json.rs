//! `tokenless lint --format json`: a versioned contract for scripts.
//!
//! ```json
//! {"version": 1,
//!  "findings": [{"rule", "severity", "path", "line", "column", "end_line", "end_column",
//!                "message", "help", "confidence", "job"?, "chain"?}],
//!  "publishes": [{"path", "line", "job", "client", "what", "registry", "confidence", "chain"?}],
//!  "files_scanned": 3,
//!  "suppressed": 0,
//!  "errors": [{"path", "line", "column", "message"}]}
//! ```
//!
//! Lines and columns are 1-based; columns count characters; `end_line`/`end_column` point
//! just past the span (exclusive). In `errors`, a `line`/`column` of 0 means unknown.
//! `confidence` (`high|medium|low`) says how sure the engine is that the job publishes
//! the way the finding says; `job` is the job's id in the config; `chain` is the publish
//! path, `[{"file", "line", "what"}]`, from the CI step to the command that publishes
//! (named `chain` because `path` already names the finding's file in version 1).
//! New fields may be added within version 1; none is removed or changes meaning.

use serde::Serialize;

use super::lint_report::{InputError, LintReport, PublishEntry};

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    findings: Vec<JsonFinding<'a>>,
    /// Every publish recognised (an inventory; findings judge them).
    publishes: &'a [PublishEntry],
    files_scanned: usize,
    suppressed: usize,
    errors: &'a [InputError],
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    rule: &'a str,
    severity: tokenless_ci::Severity,
    path: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    message: &'a str,
    help: &'a str,
    confidence: tokenless_ci::Confidence,
    #[serde(skip_serializing_if = "Option::is_none")]
    job: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    chain: &'a [tokenless_ci::Hop],
}

pub fn render(report: &LintReport) -> String {
    let json = JsonReport {
        version: 1,
        findings: report
            .findings
            .iter()
            .map(|l| JsonFinding {
                rule: l.finding.rule.as_str(),
                severity: l.finding.severity,
                path: &l.finding.path,
                line: l.start.line,
                column: l.start.column,
                end_line: l.end.line,
                end_column: l.end.column,
                message: &l.finding.message,
                help: &l.finding.help,
                confidence: l.finding.confidence,
                job: l.finding.job.as_deref(),
                // One hop is the finding's own step: shown only when the path goes further.
                chain: if l.finding.chain.len() > 1 {
                    &l.finding.chain
                } else {
                    &[]
                },
            })
            .collect(),
        publishes: &report.publishes,
        files_scanned: report.files_scanned,
        suppressed: report.suppressed,
        errors: &report.errors,
    };
    // Serialising plain structs of strings and integers cannot fail.
    let mut text = serde_json::to_string_pretty(&json).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_support::{located, report_with};
    use tokenless_ci::Severity;

    #[test]
    fn findings_carry_one_based_character_positions() {
        let src = "x: 1\nrun: é $NPM_TOKEN\n";
        let start = src.find('$').unwrap_or_default();
        let f = located(
            src,
            "static-token-publish",
            Severity::High,
            start..start + 10,
        );
        let value: serde_json::Value =
            serde_json::from_str(&render(&report_with(src, vec![f]))).expect("valid json");
        assert_eq!(
            value,
            serde_json::json!({
                "version": 1,
                "findings": [{
                    "rule": "static-token-publish", "severity": "high", "path": "ci.yml",
                    "line": 2, "column": 8, "end_line": 2, "end_column": 18,
                    "message": "a message", "help": "a help line", "confidence": "high"
                }],
                "publishes": [],
                "files_scanned": 1,
                "suppressed": 0,
                "errors": []
            })
        );
    }
}
