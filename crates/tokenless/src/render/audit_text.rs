//! The checklist: ✓ pass, ✗ fail, ? unknown; the evidence under every box (a pass shows
//! what it rests on), what to do next under a box that does not pass. Styles are ANSI; the caller's stream strips them when colour is
//! off (`NO_COLOR`, not a terminal).

use std::fmt::Write;

use anstyle::{AnsiColor, Style};

use tokenless_org::audit::{Report, Status};

/// Evidence lines shown per failing or unknown box, and per passing box; the rest are
/// counted (`-v` shows them, JSON lists everything).
const MAX_EVIDENCE: usize = 12;
const MAX_PASS_EVIDENCE: usize = 3;

fn mark(status: Status) -> (char, Style) {
    match status {
        Status::Pass => ('✓', AnsiColor::Green.on_default().bold()),
        Status::Fail => ('✗', AnsiColor::Red.on_default().bold()),
        Status::Unknown => ('?', AnsiColor::Yellow.on_default().bold()),
    }
}

pub fn render(report: &Report, verbose: bool) -> String {
    let mut out = String::new();
    let dim = Style::new().dimmed();
    let bold = Style::new().bold();
    let _ = writeln!(out, "{bold}tokenless audit {}{bold:#}\n", report.scope);
    for check in &report.checks {
        let (m, style) = mark(check.status);
        let _ = writeln!(
            out,
            "{style}{m}{style:#} {bold}{:<20}{bold:#} {}",
            check.id.as_str(),
            check.title
        );
        let max = match (verbose, check.status) {
            (true, _) => usize::MAX,
            (false, Status::Pass) => MAX_PASS_EVIDENCE,
            (false, _) => MAX_EVIDENCE,
        };
        for e in check.evidence.iter().take(max) {
            let _ = writeln!(out, "      {dim}{}{dim:#}", e.source);
            let _ = writeln!(out, "        {}", e.detail);
        }
        if check.evidence.len() > max {
            let _ = writeln!(
                out,
                "      … and {} more (-v shows them, --format json lists them all)",
                check.evidence.len() - max
            );
        }
        if check.status != Status::Pass {
            let _ = writeln!(out, "      {bold}next:{bold:#} {}", check.id.next_step());
        }
    }
    let count = |s: Status| report.checks.iter().filter(|c| c.status == s).count();
    let (pass, fail, unknown) = (
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Unknown),
    );
    let _ = writeln!(out, "\n{pass} passed, {fail} failed, {unknown} unknown");
    if fail == 0 && unknown > 0 {
        let _ = writeln!(
            out,
            "Nothing failed, but the boxes marked ? could not be checked; verify them by hand (exit 3)."
        );
    }
    out
}
