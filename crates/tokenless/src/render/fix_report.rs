//! What `tokenless fix` did and left, and its two renderings: text (a unified diff per
//! file, the changes, the notes, what needs a human) and JSON (the patches as data).
//!
//! Neither shows a credential: a removed line can hold a hard-coded npm token, so both
//! renderings go through the linter's redaction (`npm_…abcd`, `eyJ…`), the text as a
//! whole and the JSON string by string (before escaping, so a token at the start of a
//! line is still found).

use std::path::PathBuf;

use serde_json::{Value, json};
use tokenless_ci::RuleId;
use tokenless_ci::facts::redact;
use tokenless_ci::fix::{Fix, Op, Patch, Refusal, Target};

use super::lint_report::InputError;

/// One file whose text changes.
pub struct Changed {
    /// As shown to the user.
    pub shown: String,
    /// Where it is written.
    pub real: PathBuf,
    pub old: String,
    pub new: String,
    pub bom: bool,
}

/// A finding the lint of the fixed file still reports.
pub struct Remaining {
    pub path: String,
    pub line: usize,
    pub rule: RuleId,
    pub job: Option<String>,
    pub message: String,
    /// The rule is disabled or suppressed here, so `fix` left it alone.
    pub skipped: bool,
}

/// Everything about one CI config.
pub struct FileOutcome {
    pub path: String,
    pub changed: Vec<Changed>,
    pub applied: Vec<Fix>,
    pub remaining: Vec<Remaining>,
    pub refusals: Vec<Refusal>,
}

pub struct FixReport {
    pub files: Vec<FileOutcome>,
    pub errors: Vec<InputError>,
    /// The changes were written.
    pub written: bool,
}

impl FixReport {
    /// Fixes not yet written, or findings that need a human.
    pub fn pending(&self) -> bool {
        self.files.iter().any(|f| {
            (!self.written && !f.changed.is_empty())
                || f.remaining.iter().any(|r| !r.skipped)
                || !f.refusals.is_empty()
        })
    }
}

fn unified(c: &Changed) -> String {
    let (a, b) = if c.shown.starts_with('/') {
        (c.shown.clone(), c.shown.clone())
    } else {
        (format!("a/{}", c.shown), format!("b/{}", c.shown))
    };
    similar::TextDiff::from_lines(&c.old, &c.new)
        .unified_diff()
        .context_radius(3)
        .header(&a, &b)
        .to_string()
}

pub fn text(report: &FixReport) -> String {
    let mut out = String::new();
    let mut changed_files = 0;
    let mut human = 0;
    for f in &report.files {
        for c in &f.changed {
            changed_files += 1;
            out.push_str(&unified(c));
            if !c.new.ends_with('\n') {
                out.push('\n');
            }
        }
        let changes: Vec<&String> = f.applied.iter().flat_map(|x| &x.changes).collect();
        let mut notes: Vec<&String> = f.applied.iter().flat_map(|x| &x.notes).collect();
        notes.dedup();
        if !changes.is_empty() {
            out.push_str(&format!(
                "{}: {}\n",
                f.path,
                if report.written { "fixed" } else { "would fix" }
            ));
            for c in changes {
                out.push_str(&format!("  - {c}\n"));
            }
            for n in notes {
                out.push_str(&format!("  note: {n}\n"));
            }
        }
        let left: Vec<&Remaining> = f.remaining.iter().filter(|r| !r.skipped).collect();
        if !left.is_empty() || !f.refusals.is_empty() {
            out.push_str(&format!("{}: needs a human\n", f.path));
            for r in &left {
                human += 1;
                let at = if r.line > 0 {
                    format!("{}:{}", r.path, r.line)
                } else {
                    r.path.clone()
                };
                out.push_str(&format!("  - [{}] {at}: {}\n", r.rule, r.message));
            }
            for r in &f.refusals {
                human += 1;
                out.push_str(&format!("  - job `{}`: {}\n", r.job, r.reason));
            }
        }
    }
    let verb = if report.written {
        "changed"
    } else {
        "to change"
    };
    out.push_str(&format!(
        "{changed_files} file(s) {verb}; {human} item(s) need a human{}\n",
        if !report.written && changed_files > 0 {
            " (run with --write to apply)"
        } else {
            ""
        }
    ));
    redact(&out)
}

/// Redact every string of a JSON value (keys are ours, never credentials).
fn redact_strings(v: &mut Value) {
    match v {
        Value::String(s) => {
            let r = redact(s);
            if r != *s {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_strings),
        Value::Object(map) => map.values_mut().for_each(redact_strings),
        _ => {}
    }
}

fn patch_json(p: &Patch) -> Value {
    let mut v = json!({ "path": p.path, "op": p.op.name() });
    match &p.at {
        Target::Route(r) => v["route"] = json!(r.to_string()),
        Target::Line(n) => v["line"] = json!(n),
    }
    match &p.op {
        Op::Set { key, value, before } => {
            v["key"] = json!(key);
            v["value"] = value.to_json();
            if let Some(b) = before {
                v["before"] = json!(b);
            }
        }
        Op::Replace { value } => v["value"] = value.to_json(),
        Op::Insert { index, value } => {
            v["index"] = json!(index);
            v["value"] = value.to_json();
        }
        Op::Remove => {}
    }
    v
}

pub fn json(report: &FixReport) -> String {
    let files: Vec<Value> = report
        .files
        .iter()
        .map(|f| {
            json!({
                "path": f.path,
                "changed": f.changed.iter().map(|c| c.shown.clone()).collect::<Vec<_>>(),
                "fixes": f.applied.iter().map(|x| json!({
                    "job": x.job,
                    "rules": x.rules.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                    "changes": x.changes,
                    "notes": x.notes,
                    "patches": x.patches.iter().map(patch_json).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "needs_human": f.remaining.iter().filter(|r| !r.skipped).map(|r| json!({
                    "path": r.path, "line": r.line, "rule": r.rule.as_str(), "job": r.job, "message": r.message,
                })).chain(f.refusals.iter().map(|r| json!({ "job": r.job, "reason": r.reason }))).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut doc = json!({
        "version": 1,
        "written": report.written,
        "files": files,
        "errors": report.errors.iter().map(|e| json!({
            "path": e.path, "line": e.line, "column": e.column, "message": e.message,
        })).collect::<Vec<_>>(),
    });
    redact_strings(&mut doc);
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}
