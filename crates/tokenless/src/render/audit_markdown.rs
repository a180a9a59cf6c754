//! `--format markdown`: a checklist for a pull request or a ticket.

use std::fmt::Write;

use tokenless_org::audit::{Report, Status};

/// Make text safe inside Markdown prose (no HTML, no accidental emphasis or links).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Code spans may not contain backticks; replace them.
fn code(s: &str) -> String {
    format!("`{}`", s.replace('`', "'"))
}

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## tokenless audit: {}\n", escape(&report.scope));
    for check in &report.checks {
        let (box_, tag) = match check.status {
            Status::Pass => ("[x]", ""),
            Status::Fail => ("[ ]", " — **fail**"),
            Status::Unknown => ("[ ]", " — **unknown**"),
        };
        let _ = writeln!(
            out,
            "- {box_} {} {}{tag}",
            code(check.id.as_str()),
            escape(check.title)
        );
        if check.status == Status::Pass {
            continue;
        }
        for e in &check.evidence {
            let _ = writeln!(
                out,
                "  - {}: {}",
                code(&e.source.to_string()),
                escape(&e.detail)
            );
        }
        let _ = writeln!(out, "  - **Next:** {}", escape(check.id.next_step()));
    }
    let verdict = match report.exit_code() {
        0 => "Every box is checked.",
        1 => "Some boxes are not checked.",
        _ => "Nothing failed, but some boxes could not be checked and need a look by hand.",
    };
    let _ = writeln!(out, "\n{verdict}");
    out
}
