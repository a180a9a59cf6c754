//! `--format json`: `{"version": 1, "scope", "checks": [{"id", "status", "title",
//! "evidence": [{"source", "location", "detail"}]}], "passed"}`; `source` is the location
//! as text, `location` the typed one (`{"kind": "file", "path", "line", "column"}` or
//! `{"kind": "resource", "name"}`).

use tokenless_org::audit::Report;

pub fn render(report: &Report) -> String {
    // The report is plain strings and enums: serialisation cannot fail.
    let mut s = serde_json::to_string_pretty(report).unwrap_or_default();
    s.push('\n');
    s
}
