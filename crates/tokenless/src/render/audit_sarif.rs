//! `--format sarif`: SARIF 2.1.0, one result per evidence item of each failing (error) or
//! unknown (warning) box. `file:line` sources become physical locations; remote objects
//! (`GET /-/package/…`) logical ones.

use serde_json::{Value, json};

use tokenless_org::audit::{CheckId, Report, Status};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// `path:line` where the path is a file, not a request.
fn file_line(source: &str) -> Option<(&str, u64)> {
    if source.starts_with("GET ") || source.contains(' ') {
        return None;
    }
    let (path, line) = source.rsplit_once(':')?;
    let line: u64 = line.parse().ok()?;
    (line > 0 && !path.is_empty()).then_some((path, line))
}

fn location(source: &str) -> Value {
    match file_line(source) {
        Some((path, line)) => json!({
            "physicalLocation": {
                "artifactLocation": {"uri": path},
                "region": {"startLine": line}
            }
        }),
        None => json!({
            "logicalLocations": [{"fullyQualifiedName": source, "kind": "resource"}]
        }),
    }
}

pub fn render(report: &Report) -> String {
    let rules: Vec<Value> = CheckId::ALL
        .iter()
        .map(|id| {
            json!({
                "id": id.as_str(),
                "shortDescription": {"text": id.title()},
                "help": {"text": id.next_step()},
                "defaultConfiguration": {"level": "error"}
            })
        })
        .collect();
    let mut results = Vec::new();
    for check in &report.checks {
        let level = match check.status {
            Status::Pass => continue,
            Status::Fail => "error",
            Status::Unknown => "warning",
        };
        let rule_index = CheckId::ALL
            .iter()
            .position(|id| *id == check.id)
            .unwrap_or(0);
        for e in &check.evidence {
            results.push(json!({
                "ruleId": check.id.as_str(),
                "ruleIndex": rule_index,
                "level": level,
                "message": {"text": format!("{} ({}): {}", check.title, check.status.as_str(), e.detail)},
                "locations": [location(&e.source)]
            }));
        }
    }
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "tokenless",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/tokenless-dev/tokenless",
                "rules": rules
            }},
            "properties": {"scope": report.scope, "passed": report.passed},
            "results": results
        }]
    });
    let mut s = serde_json::to_string_pretty(&log).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_line_sources_only() {
        assert_eq!(
            file_line(".circleci/config.yml:12"),
            Some((".circleci/config.yml", 12))
        );
        assert_eq!(file_line("GET /-/package/@a%2fb/trust"), None);
        assert_eq!(file_line("gh/acme/web pipeline #3 compiled config:4"), None);
        assert_eq!(file_line("x:0"), None);
    }
}
