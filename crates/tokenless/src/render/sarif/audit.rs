//! `tokenless audit --format sarif`: one rule per box, one result per evidence item of each
//! failing (`error`) or unknown (`warning`) box, at the evidence's own location.

use tokenless_org::audit::{CheckId, Report, Status};

use super::{BriefResult, BriefRule, Configuration, Location, Log, Run, Text};

pub fn render(report: &Report) -> String {
    let rules = CheckId::ALL
        .iter()
        .map(|id| BriefRule {
            id: id.as_str(),
            short_description: Text {
                text: id.title().to_owned(),
            },
            help: Some(Text {
                text: id.next_step().to_owned(),
            }),
            default_configuration: Configuration { level: "error" },
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
        results.extend(check.evidence.iter().map(|e| BriefResult {
            rule_id: check.id.as_str(),
            rule_index,
            level,
            message: Text {
                text: format!("{} ({}): {}", check.title, check.status.as_str(), e.detail),
            },
            locations: [Location::of(&e.source)],
        }));
    }
    Log::of(Run::<BriefRule, BriefResult, ()> {
        properties: Some(serde_json::json!({"scope": report.scope, "passed": report.passed})),
        ..Run::tokenless(rules, results)
    })
    .to_text()
}
