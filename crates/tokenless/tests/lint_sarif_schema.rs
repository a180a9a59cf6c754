//! The SARIF output is valid SARIF 2.1.0 and has what GitHub code scanning requires.
//!
//! The OASIS 2.1.0 JSON schema is not vendored: `.ci/run` fetches the `serde-sarif` crate
//! (which ships it) from crates.io into a temporary Cargo project and points
//! `TOKENLESS_SARIF_SCHEMA` at it. Without the variable the schema check is skipped with
//! a note (the structural checks still run), unless `TOKENLESS_REQUIRE_SARIF_SCHEMA=1`.

mod lint_common;
mod sarif_schema;

use lint_common::{CLEAN_WORKFLOW, lint, lint_in, repo};
use serde_json::Value;

fn sarif_outputs() -> Vec<Value> {
    let broken = repo(&[
        (".github/workflows/ci.yml", CLEAN_WORKFLOW),
        (".gitlab-ci.yml", b"stages: [a]\nx: \xff\n"),
    ]);
    vec![
        lint(&["examples/legacy-repo", "--format", "sarif"]).json(),
        lint(&["examples/migrated-repo", "--format", "sarif"]).json(),
        lint_in(broken.path(), &[".", "--format", "sarif"]).json(),
    ]
}

#[test]
fn sarif_validates_against_the_2_1_0_schema() {
    for sarif in sarif_outputs() {
        sarif_schema::assert_valid(&sarif);
    }
}

#[test]
fn sarif_has_what_github_code_scanning_requires() {
    for sarif in sarif_outputs() {
        assert_eq!(sarif["version"], "2.1.0");
        let runs = sarif["runs"].as_array().expect("runs");
        assert_eq!(runs.len(), 1);
        let run = &runs[0];
        let driver = &run["tool"]["driver"];
        assert_eq!(driver["name"], "tokenless");
        let rules = driver["rules"].as_array().expect("rules");
        let ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
        let expected: Vec<&str> = tokenless_ci::RULES.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, expected, "one rule per id, in RULES order");
        for rule in rules {
            assert!(
                rule["shortDescription"]["text"]
                    .as_str()
                    .is_some_and(|t| !t.is_empty())
            );
            assert!(rule["fullDescription"]["text"].as_str().is_some());
            assert!(rule["help"]["text"].as_str().is_some());
            let uri = rule["helpUri"].as_str().expect("helpUri");
            assert!(uri.ends_with(&format!(
                "docs/rules.md#{}",
                rule["id"].as_str().unwrap_or("")
            )));
            assert!(matches!(
                rule["defaultConfiguration"]["level"].as_str(),
                Some("error" | "warning" | "note")
            ));
            let sev: f64 = rule["properties"]["security-severity"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("security-severity is a number in a string");
            assert!((0.0..=10.0).contains(&sev));
            assert!(
                rule["properties"]["tags"]
                    .as_array()
                    .is_some_and(|t| !t.is_empty())
            );
        }
        for result in run["results"].as_array().expect("results") {
            let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
            assert_eq!(rules[index]["id"], result["ruleId"]);
            assert!(matches!(
                result["level"].as_str(),
                Some("error" | "warning" | "note")
            ));
            assert!(
                result["message"]["text"]
                    .as_str()
                    .is_some_and(|t| !t.is_empty())
            );
            let loc = &result["locations"][0]["physicalLocation"];
            let uri = loc["artifactLocation"]["uri"].as_str().expect("uri");
            assert!(!uri.starts_with('/') && !uri.contains('\\'), "{uri}");
            for key in ["startLine", "startColumn", "endLine", "endColumn"] {
                assert!(loc["region"][key].as_u64().is_some_and(|n| n >= 1), "{key}");
            }
            let fp = result["partialFingerprints"]["tokenless/v1"]
                .as_str()
                .expect("fingerprint");
            assert!(fp.contains(':'), "{fp}");
        }
        let invocation = &run["invocations"][0];
        let notes = invocation["toolExecutionNotifications"]
            .as_array()
            .expect("notes");
        assert_eq!(invocation["executionSuccessful"], notes.is_empty());
    }
}
