//! SARIF 2.1.0, the one writer for `lint --format sarif` ([`lint`]), `audit --format
//! sarif` ([`audit`]) and `tokens scan --format sarif` ([`scan`]): the log, run and tool envelope, locations (a place in a file becomes
//! a physical location, anything else a logical one) and artifact URIs are built here once.

pub mod audit;
pub mod lint;
pub mod scan;

use serde::Serialize;

const SCHEMA_URL: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const INFORMATION_URI: &str = "https://github.com/tokenless-dev/tokenless";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Log<R, S, N> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<R, S, N>; 1],
}

impl<R: Serialize, S: Serialize, N: Serialize> Log<R, S, N> {
    fn of(run: Run<R, S, N>) -> Self {
        Log {
            schema: SCHEMA_URL,
            version: "2.1.0",
            runs: [run],
        }
    }

    /// Pretty JSON with a final newline (plain structs of strings and numbers: serialising
    /// cannot fail).
    fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<R, S, N> {
    tool: Tool<R>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invocations: Option<[Invocation<N>; 1]>,
    results: Vec<S>,
    column_kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    properties: Option<serde_json::Value>,
}

impl<R, S, N> Run<R, S, N> {
    /// tokenless's run: its driver with `rules`, the `results`, columns counted in code
    /// points, no invocation and no properties (set them on the value).
    fn tokenless(rules: Vec<R>, results: Vec<S>) -> Self {
        Run {
            tool: Tool {
                driver: Driver::tokenless(rules),
            },
            invocations: None,
            results,
            column_kind: "unicodeCodePoints",
            properties: None,
        }
    }
}

#[derive(Serialize)]
struct Tool<R> {
    driver: Driver<R>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<R> {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    information_uri: &'static str,
    rules: Vec<R>,
}

impl<R> Driver<R> {
    fn tokenless(rules: Vec<R>) -> Self {
        Driver {
            name: "tokenless",
            version: env!("CARGO_PKG_VERSION"),
            semantic_version: env!("CARGO_PKG_VERSION"),
            information_uri: INFORMATION_URI,
            rules,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Invocation<N> {
    execution_successful: bool,
    tool_execution_notifications: Vec<N>,
}

#[derive(Serialize)]
struct Notification<'a> {
    level: &'static str,
    message: Text,
    locations: [Location<'a>; 1],
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

/// A rule as the audit and the scan describe theirs (lint's carry more).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BriefRule {
    id: &'static str,
    short_description: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<Text>,
    default_configuration: Configuration,
}

/// A result as the audit and the scan report theirs: one location, no fingerprint.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BriefResult<'a> {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: [Location<'a>; 1],
}

/// Where a result is: a place in a file, or a named resource.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_location: Option<PhysicalLocation<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    logical_locations: Vec<LogicalLocation>,
}

impl<'a> Location<'a> {
    fn physical(at: PhysicalLocation<'a>) -> Self {
        Location {
            physical_location: Some(at),
            logical_locations: Vec::new(),
        }
    }

    /// A file, with its line and column where known (0: not known).
    fn file(path: &str, line: usize, column: usize) -> Self {
        Location::physical(PhysicalLocation::file(path, line, column))
    }

    /// tokenless's one location type, as SARIF has it.
    fn of(at: &tokenless_ci::Location) -> Self {
        match at {
            tokenless_ci::Location::File { path, line, column } => {
                Location::file(path, *line, *column)
            }
            tokenless_ci::Location::Resource { name } => Location {
                physical_location: None,
                logical_locations: vec![LogicalLocation {
                    fully_qualified_name: name.clone(),
                    kind: "resource",
                }],
            },
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogicalLocation {
    fully_qualified_name: String,
    kind: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation<'a> {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region<'a>>,
}

impl PhysicalLocation<'_> {
    fn file(path: &str, line: usize, column: usize) -> Self {
        PhysicalLocation {
            artifact_location: ArtifactLocation { uri: uri(path) },
            region: (line > 0).then_some(Region {
                start_line: line,
                start_column: (column > 0).then_some(column),
                end_line: None,
                end_column: None,
                snippet: None,
            }),
        }
    }
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region<'a> {
    start_line: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    start_column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_column: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    snippet: Option<Snippet<'a>>,
}

#[derive(Serialize)]
struct Snippet<'a> {
    text: &'a str,
}

/// A relative URI reference for a path (`/` separators, percent-encoded); absolute paths
/// become `file://` URIs.
fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let path = path.strip_prefix("./").unwrap_or(&path);
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push_str("file://");
    }
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                out.push(char::from(byte));
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_and_encoded() {
        assert_eq!(
            uri("./a b/.github/workflows/x.yml"),
            "a%20b/.github/workflows/x.yml"
        );
        assert_eq!(uri("dir\\c.yml"), "dir/c.yml");
        assert_eq!(uri("/abs/é.yml"), "file:///abs/%C3%A9.yml");
    }

    #[test]
    fn files_are_physical_and_everything_else_logical() {
        let file = serde_json::to_value(Location::of(&tokenless_ci::Location::file(
            ".circleci/config.yml",
            12,
            7,
        )))
        .expect("json");
        assert_eq!(
            file,
            serde_json::json!({"physicalLocation": {
                "artifactLocation": {"uri": ".circleci/config.yml"},
                "region": {"startLine": 12, "startColumn": 7}}})
        );
        let request =
            serde_json::to_value(Location::of(&"GET /-/org/acme/user".into())).expect("json");
        assert_eq!(
            request,
            serde_json::json!({"logicalLocations": [
                {"fullyQualifiedName": "GET /-/org/acme/user", "kind": "resource"}]})
        );
        // A file whose line is not known has no region.
        let bare = serde_json::to_value(Location::of(&tokenless_ci::Location::file("x.yml", 0, 0)))
            .expect("json");
        assert!(bare["physicalLocation"].get("region").is_none());
    }
}
