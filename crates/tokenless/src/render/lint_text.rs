//! `tokenless lint` as rustc-style diagnostics: the rule id, the source line with a caret
//! under the exact span, one line of help, and a summary line.
//!
//! The output is styled; [`super::stdout`] strips the styling for `NO_COLOR` and pipes.

use annotate_snippets::{AnnotationKind, Level, Renderer, Snippet};
use tokenless_ci::Severity;

use super::lint_report::{LintReport, LocatedFinding};
use tokenless_ci::lines::LineIndex;

/// The whole text report: one diagnostic per finding, then the summary line.
pub fn render(report: &LintReport) -> String {
    let renderer = Renderer::styled();
    let mut out = String::new();
    let mut indexes: std::collections::BTreeMap<&str, LineIndex> = Default::default();
    for located in &report.findings {
        let path = located.finding.path.as_str();
        let source = report.sources.get(path).map_or("", String::as_str);
        let index = indexes
            .entry(path)
            .or_insert_with(|| LineIndex::new(source));
        out.push_str(&render_finding(&renderer, located, source, index));
        out.push_str("\n\n");
    }
    out.push_str(&summary(report));
    out.push('\n');
    out
}

fn level(severity: Severity) -> Level<'static> {
    match severity {
        Severity::High => Level::ERROR.with_name("high"),
        Severity::Medium => Level::WARNING.with_name("medium"),
        Severity::Low => Level::NOTE.with_name("low"),
        Severity::Info => Level::INFO.with_name("info"),
    }
}

fn render_finding(
    renderer: &Renderer,
    located: &LocatedFinding,
    source: &str,
    index: &LineIndex,
) -> String {
    let finding = &located.finding;
    // Only the lines the span covers go to the renderer, so a finding in a large file
    // costs the size of its lines, not of the file.
    let first = index.line_range(source, located.start.line);
    let last = index.line_range(source, located.end.line.max(located.start.line));
    let excerpt = source.get(first.start..last.end).unwrap_or_default();
    let start = finding.span.start.clamp(first.start, last.end) - first.start;
    let end = finding.span.end.clamp(first.start, last.end) - first.start;
    let report = [level(finding.severity)
        .primary_title(finding.message.as_str())
        .id(finding.rule.as_str())
        .element(
            Snippet::source(excerpt)
                .line_start(located.start.line)
                .path(finding.path.as_str())
                .annotation(AnnotationKind::Primary.span(start..end)),
        )
        .element(Level::HELP.message(finding.help.as_str()))];
    let mut text = renderer.render(&report);
    // The publish chain, CI step first, and how sure the engine is of it.
    if finding.chain.len() > 1 {
        let hops: Vec<String> = finding
            .chain
            .iter()
            .map(|h| format!("{}:{} {}", h.file, h.line, h.what))
            .collect();
        text.push_str(&format!("\n   = publish path: {}", hops.join(" → ")));
    }
    if finding.confidence != tokenless_ci::Confidence::High {
        text.push_str(&format!(
            "\n   = confidence: {} (the publish is inferred, not seen)",
            finding.confidence
        ));
    }
    text
}

/// `3 files scanned: 2 findings (1 high, 1 medium); 1 suppressed; 1 unreadable`.
pub fn summary(report: &LintReport) -> String {
    let files = plural(report.files_scanned, "file", "files");
    let shown = report.findings.len();
    let mut text = if shown == 0 {
        format!(
            "{files} scanned: no findings at or above {}",
            report.min_severity
        )
    } else {
        let by_severity: Vec<String> = report
            .counts()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        format!(
            "{files} scanned: {} ({})",
            plural(shown, "finding", "findings"),
            by_severity.join(", ")
        )
    };
    if report.suppressed > 0 {
        text.push_str(&format!("; {} suppressed", report.suppressed));
    }
    if report.below_threshold > 0 {
        text.push_str(&format!(
            "; {} below --min-severity {}",
            report.below_threshold, report.min_severity
        ));
    }
    if !report.errors.is_empty() {
        text.push_str(&format!(
            "; {} not analysed (see errors)",
            plural(report.errors.len(), "input", "inputs")
        ));
    }
    text
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::lint_report::InputError;
    use crate::render::test_support::{located, report_with};

    fn plain(text: &str) -> String {
        anstream::adapter::strip_str(text).to_string()
    }

    #[test]
    fn caret_sits_under_the_span_with_rule_and_help() {
        let src = "jobs:\n  publish:\n    steps:\n      - run: npm publish --token $NPM_TOKEN\n";
        let start = src.find("$NPM_TOKEN").unwrap_or_default();
        let f = located(
            src,
            "static-token-publish",
            Severity::High,
            start..start + 10,
        );
        let text = plain(&render(&report_with(src, vec![f])));
        assert!(
            text.contains("high[static-token-publish]: a message"),
            "{text}"
        );
        assert!(text.contains("--> ci.yml:4:34"), "{text}");
        assert!(
            text.contains("4 |       - run: npm publish --token $NPM_TOKEN"),
            "{text}"
        );
        let caret_line = text.lines().find(|l| l.contains('^')).unwrap_or_default();
        assert_eq!(
            caret_line.find('^'),
            Some("4 |       - run: npm publish --token ".len())
        );
        assert_eq!(caret_line.matches('^').count(), 10, "{text}");
        assert!(text.contains("= help: a help line"), "{text}");
        assert!(
            text.ends_with("1 file scanned: 1 finding (1 high)\n"),
            "{text}"
        );
    }

    #[test]
    fn multi_line_spans_show_every_line() {
        let src = "a: 1\nrun: |\n  echo one\n  npm publish\nb: 2\n";
        let start = src.find("echo").unwrap_or_default();
        let end = src.find("publish").unwrap_or_default() + 7;
        let f = located(src, "npm-too-old", Severity::Medium, start..end);
        let text = plain(&render(&report_with(src, vec![f])));
        assert!(text.contains("medium[npm-too-old]"), "{text}");
        assert!(text.contains("3 | /   echo one"), "{text}");
        assert!(text.contains("4 | |   npm publish"), "{text}");
        assert!(!text.contains("b: 2"), "{text}");
    }

    #[test]
    fn summary_counts_everything() {
        let mut report = report_with("", vec![]);
        report.files_scanned = 2;
        assert_eq!(
            summary(&report),
            "2 files scanned: no findings at or above low"
        );
        report.suppressed = 3;
        report.below_threshold = 1;
        report.errors.push(InputError {
            path: "x".into(),
            line: 0,
            column: 0,
            message: "gone".into(),
        });
        assert_eq!(
            summary(&report),
            "2 files scanned: no findings at or above low; 3 suppressed; 1 below --min-severity low; 1 input not analysed (see errors)"
        );
    }
}
