//! `tokens scan` as text (one line per credential, grouped by file) and as JSON
//! (`{"version": 1, "findings": [{"path", "line", "kind", "registry", "redacted",
//! "status"}], …}`, `status` only with --verify). Values are redacted before they get here.

use std::fmt::Write;

use crate::commands::scan::{ScanOutcome, Status};

pub fn text(outcome: &ScanOutcome, env: bool) -> String {
    let mut out = String::new();
    let secrets = outcome
        .findings
        .iter()
        .filter(|f| f.credential.is_secret())
        .count();
    let references = outcome.findings.len() - secrets;
    let mut whence = format!("{} file(s), {}", outcome.files, megabytes(outcome.bytes));
    if env {
        whence.push_str(" and the environment");
    }
    let _ = writeln!(
        out,
        "tokenless tokens scan: {secrets} credential(s){} in {whence}",
        if references > 0 {
            format!(" and {references} reference(s)")
        } else {
            String::new()
        }
    );
    let mut last_path = "";
    for f in &outcome.findings {
        let c = &f.credential;
        if c.path != last_path {
            let _ = writeln!(out, "\n{}", c.path);
            last_path = &c.path;
        }
        let place = if c.line > 0 {
            format!("line {}", c.line)
        } else {
            "set".to_owned()
        };
        let _ = write!(
            out,
            "  {place:<9} {:<13} {:<24} {}",
            c.kind.as_str(),
            c.registry.as_deref().unwrap_or("(no registry)"),
            c.redacted
        );
        if let Some(s) = &f.status {
            let _ = write!(out, "  {}", status_text(s));
        }
        out.push('\n');
    }
    if outcome.skipped_count > 0 {
        let _ = writeln!(
            out,
            "\nnot read: {} file(s) (binary, too large, symlinks, unreadable){}",
            outcome.skipped_count,
            if outcome.skipped.is_empty() {
                String::new()
            } else {
                format!(
                    "; e.g. {}",
                    outcome
                        .skipped
                        .iter()
                        .take(3)
                        .map(|(p, why)| format!("{p} ({why})"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
    }
    if outcome.truncated {
        let _ = writeln!(out, "\nthe file limit was reached: the scan is incomplete");
    }
    if secrets > 0 {
        let _ = writeln!(
            out,
            "\nnext: delete each token on the registry (`tokenless tokens revoke`, or npm's Access Tokens page), then the line that holds it; CI publishes with OIDC and needs none"
        );
    }
    out
}

fn status_text(s: &Status) -> String {
    match s {
        Status::Live {
            user,
            bypass_2fa,
            loses_direct_publishing_2027,
            ..
        } => {
            let mut t = format!("LIVE ({user}");
            if *bypass_2fa == Some(true) {
                t.push_str(", bypass 2FA");
            }
            if *loses_direct_publishing_2027 {
                t.push_str(", loses direct publishing ~January 2027");
            }
            t.push(')');
            t
        }
        Status::Revoked => "revoked".into(),
        Status::Unknown { why } => format!("unknown: {why}"),
    }
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

pub fn json(outcome: &ScanOutcome) -> String {
    let findings: Vec<serde_json::Value> = outcome
        .findings
        .iter()
        .map(|f| {
            let c = &f.credential;
            let mut v = serde_json::json!({
                "path": c.path,
                "line": c.line,
                "kind": c.kind,
                "registry": c.registry,
                "redacted": c.redacted,
            });
            if let (Some(s), Some(o)) = (&f.status, v.as_object_mut()) {
                o.insert("status".into(), serde_json::to_value(s).unwrap_or_default());
            }
            v
        })
        .collect();
    let doc = serde_json::json!({
        "version": 1,
        "findings": findings,
        "files": outcome.files,
        "bytes": outcome.bytes,
        "skipped": outcome.skipped_count,
        "truncated": outcome.truncated,
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}
