//! `tokenless lint --format sarif`: SARIF 2.1.0 for GitHub code scanning.
//!
//! One `reportingDescriptor` per rule in [`tokenless_ci::RULES`] (docs link, description,
//! default level, `security-severity`, tags); one `result` per shown finding with its
//! region (columns in Unicode code points) and a `partialFingerprints` entry that stays
//! the same when unrelated lines move: a hash of the rule id, the path and the flagged
//! text with whitespace collapsed, plus a counter for identical occurrences in one file.
//! Inputs that could not be analysed are `toolExecutionNotifications` of the invocation,
//! which is then marked unsuccessful.

use std::collections::HashMap;

use serde::Serialize;
use tokenless_ci::{RULES, RuleMeta, Severity};

use super::{
    ArtifactLocation, Configuration, Invocation, Location, Log, Notification, PhysicalLocation,
    Region, Run, Snippet, Text, uri,
};
use crate::render::lint_report::{InputError, LintReport, LocatedFinding};

/// Where `docs/rules.md` is published; `helpUri` is this plus `#<rule-id>`.
pub const RULES_DOC_URL: &str =
    "https://github.com/tokenless-dev/tokenless/blob/main/docs/rules.md";
/// The `partialFingerprints` key; bump the suffix if the recipe ever changes.
pub const FINGERPRINT_KEY: &str = "tokenless/v1";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: &'static str,
    name: String,
    short_description: Text,
    full_description: Text,
    help: Help,
    help_uri: String,
    default_configuration: Configuration,
    properties: RuleProperties,
}

#[derive(Serialize)]
struct Help {
    text: String,
    markdown: String,
}

#[derive(Serialize)]
struct RuleProperties {
    tags: [&'static str; 3],
    precision: &'static str,
    #[serde(rename = "security-severity")]
    security_severity: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: [Location<'a>; 1],
    /// The other files of the publish chain (package.json, scripts, release configs).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    related_locations: Vec<RelatedLocation>,
    /// The publish chain as one thread flow, CI step first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    code_flows: Vec<CodeFlow>,
    partial_fingerprints: HashMap<&'static str, String>,
    properties: ResultProperties<'a>,
}

#[derive(Serialize)]
struct ResultProperties<'a> {
    #[serde(rename = "tokenless/confidence")]
    confidence: &'static str,
    #[serde(rename = "tokenless/job", skip_serializing_if = "Option::is_none")]
    job: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RelatedLocation {
    id: usize,
    physical_location: PhysicalLocation<'static>,
    message: Text,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CodeFlow {
    thread_flows: [ThreadFlow; 1],
}

#[derive(Serialize)]
struct ThreadFlow {
    locations: Vec<ThreadFlowLocation>,
}

#[derive(Serialize)]
struct ThreadFlowLocation {
    location: FlowLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FlowLocation {
    physical_location: PhysicalLocation<'static>,
    message: Text,
}

fn hop_location(hop: &tokenless_ci::Hop) -> PhysicalLocation<'static> {
    PhysicalLocation::file(&hop.file, hop.line.max(1), 0)
}

pub fn render(report: &LintReport) -> String {
    let mut occurrences: HashMap<(&str, &str, String), usize> = HashMap::new();
    let results = report
        .findings
        .iter()
        .map(|located| {
            let f = &located.finding;
            let source = report.sources.get(&f.path).map_or("", String::as_str);
            let flagged = normalized_flagged_text(source, located);
            let rule_id = f.rule.as_str();
            let hash = fingerprint_hash(rule_id, &f.path, &flagged);
            let n = occurrences.entry((rule_id, &f.path, flagged)).or_insert(0);
            *n += 1;
            // A chain of one hop is the finding's own step: nothing to add.
            let chain: &[tokenless_ci::Hop] = if f.chain.len() > 1 { &f.chain } else { &[] };
            SarifResult {
                rule_id,
                rule_index: RULES.iter().position(|r| r.id == f.rule).unwrap_or(0),
                level: level(f.severity),
                message: Text {
                    text: format!("{} Fix: {}", f.message, f.help),
                },
                locations: [Location::physical(PhysicalLocation {
                    artifact_location: ArtifactLocation { uri: uri(&f.path) },
                    region: Some(Region {
                        start_line: located.start.line,
                        start_column: Some(located.start.column),
                        end_line: Some(located.end.line),
                        end_column: Some(located.end.column),
                        snippet: source
                            .get(f.span.start..f.span.end)
                            .map(|text| Snippet { text }),
                    }),
                })],
                related_locations: chain
                    .iter()
                    .skip(1)
                    .enumerate()
                    .map(|(i, hop)| RelatedLocation {
                        id: i + 1,
                        physical_location: hop_location(hop),
                        message: Text {
                            text: hop.what.clone(),
                        },
                    })
                    .collect(),
                code_flows: if chain.is_empty() {
                    Vec::new()
                } else {
                    vec![CodeFlow {
                        thread_flows: [ThreadFlow {
                            locations: chain
                                .iter()
                                .map(|hop| ThreadFlowLocation {
                                    location: FlowLocation {
                                        physical_location: hop_location(hop),
                                        message: Text {
                                            text: hop.what.clone(),
                                        },
                                    },
                                })
                                .collect(),
                        }],
                    }]
                },
                partial_fingerprints: [(FINGERPRINT_KEY, format!("{hash:016x}:{n}"))]
                    .into_iter()
                    .collect(),
                properties: ResultProperties {
                    confidence: f.confidence.as_str(),
                    job: f.job.as_deref(),
                },
            }
        })
        .collect();
    Log::of(Run {
        invocations: Some([Invocation {
            execution_successful: report.errors.is_empty(),
            tool_execution_notifications: report.errors.iter().map(notification).collect(),
        }]),
        ..Run::tokenless(RULES.iter().map(rule).collect(), results)
    })
    .to_text()
}

fn rule(meta: &RuleMeta) -> Rule {
    let help_uri = format!("{RULES_DOC_URL}#{}", meta.docs_anchor());
    Rule {
        id: meta.id.as_str(),
        name: pascal_case(meta.id.as_str()),
        short_description: Text {
            text: meta.summary.to_owned(),
        },
        full_description: Text {
            text: format!(
                "{} Default severity: {}. See docs/rules.md#{} for the threat it closes and how to fix it.",
                meta.summary, meta.default_severity, meta.id
            ),
        },
        help: Help {
            text: format!("{} Documentation: {help_uri}", meta.summary),
            markdown: format!(
                "{}\n\nSee [`{}` in docs/rules.md]({help_uri}) for a bad and a good example and how to fix it.",
                meta.summary, meta.id
            ),
        },
        help_uri,
        default_configuration: Configuration {
            level: level(meta.default_severity),
        },
        properties: RuleProperties {
            tags: ["security", "npm", "supply-chain"],
            precision: "high",
            security_severity: security_severity(meta.default_severity),
        },
    }
}

fn notification(error: &InputError) -> Notification<'_> {
    Notification {
        level: "error",
        message: Text {
            text: error.message.clone(),
        },
        locations: [Location::file(&error.path, error.line, error.column)],
    }
}

/// SARIF levels: high → error, medium → warning, low and info → note.
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's scale: >= 7.0 high, >= 4.0 medium, > 0.1 low.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

fn pascal_case(id: &str) -> String {
    id.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The flagged text with whitespace runs collapsed; the whole line when the span is empty.
fn normalized_flagged_text(source: &str, located: &LocatedFinding) -> String {
    let span = located.finding.span;
    let text = source.get(span.start..span.end).unwrap_or_default();
    let text = if text.trim().is_empty() {
        let index = tokenless_ci::lines::LineIndex::new(source);
        source
            .get(index.line_range(source, located.start.line))
            .unwrap_or_default()
    } else {
        text
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// FNV-1a (64-bit) over the parts, each followed by a NUL: stable across Rust versions
/// and platforms, unlike `std`'s hasher.
fn fingerprint_hash(rule: &str, path: &str, text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [rule, path, text] {
        for byte in part.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::test_support::{located, report_with};

    fn sarif(src: &str, spans: &[(&'static str, std::ops::Range<usize>)]) -> serde_json::Value {
        let findings = spans
            .iter()
            .map(|(rule, span)| located(src, rule, Severity::High, span.clone()))
            .collect();
        serde_json::from_str(&render(&report_with(src, findings))).expect("valid json")
    }

    fn fingerprints(value: &serde_json::Value) -> Vec<String> {
        value["runs"][0]["results"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                r["partialFingerprints"][FINGERPRINT_KEY]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn fingerprints_survive_unrelated_edits_and_count_repeats() {
        let before = "a: 1\nrun: echo $NPM_TOKEN\nrun: echo $NPM_TOKEN\n";
        let after =
            "# a new comment\n\na: 2\nrun:   echo   $NPM_TOKEN\nx: y\nrun: echo $NPM_TOKEN\n";
        let spans = |src: &str| {
            let first = src.find("echo").unwrap_or_default();
            let second = src.rfind("echo").unwrap_or_default();
            let end1 = src[first..].find('\n').map_or(0, |e| first + e);
            [
                ("static-token-publish", first..end1),
                (
                    "static-token-publish",
                    second..second + "echo $NPM_TOKEN".len(),
                ),
            ]
        };
        let a = fingerprints(&sarif(before, &spans(before)));
        let b = fingerprints(&sarif(after, &spans(after)));
        assert_eq!(a, b);
        assert_ne!(a[0], a[1], "repeats are told apart by their counter");
        assert!(a[0].ends_with(":1") && a[1].ends_with(":2"), "{a:?}");
        // A different rule on the same text is a different fingerprint.
        let c = fingerprints(&sarif(
            before,
            &[("token-fallback", spans(before)[0].1.clone())],
        ));
        assert_ne!(a[0], c[0]);
    }

    #[test]
    fn every_rule_is_described_and_results_point_at_their_rule() {
        let src = "run: npm publish\n";
        let value = sarif(src, &[("npm-too-old", 5..16)]);
        let rules = value["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(rules.len(), RULES.len());
        for (rule, meta) in rules.iter().zip(RULES) {
            assert_eq!(rule["id"], meta.id.as_str());
            assert_eq!(rule["helpUri"], format!("{RULES_DOC_URL}#{}", meta.id));
            assert!(rule["properties"]["security-severity"].as_str().is_some());
        }
        let result = &value["runs"][0]["results"][0];
        let index = result["ruleIndex"].as_u64().unwrap_or(99) as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        assert_eq!(
            result["locations"][0]["physicalLocation"]["region"],
            serde_json::json!({"startLine": 1, "startColumn": 6, "endLine": 1, "endColumn": 17,
                               "snippet": {"text": "npm publish"}})
        );
    }

    #[test]
    fn rule_names_are_pascal_case() {
        assert_eq!(pascal_case("static-token-publish"), "StaticTokenPublish");
    }
}
