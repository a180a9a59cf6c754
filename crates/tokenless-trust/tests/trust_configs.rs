//! Broken trust configs: each refused with an error naming the field.

use tokenless_trust::parse_trust_configs;

const CIRCLE_CLAIMS: &str = r#""oidc.circleci.com/org-id":"o","oidc.circleci.com/project-id":"p","oidc.circleci.com/pipeline-definition-id":"d","oidc.circleci.com/vcs-origin":"github.com/a/b""#;

#[test]
fn broken_configs_name_the_field() {
    let cases: Vec<(String, &str)> = vec![
        (r#"{"type":"bitbucket","claims":{},"permissions":["createPackage"]}"#.into(), "type: unknown provider"),
        (r#"{"claims":{},"permissions":["createPackage"]}"#.into(), "type: missing required field"),
        (r#"{"type":"github","permissions":["createPackage"]}"#.into(), "claims: missing required field"),
        (r#"{"type":"github","claims":{"repository":"o/r"},"permissions":["createPackage"]}"#.into(), "claims.workflow_ref: missing required field"),
        (r#"{"type":"github","claims":{"repository":"o/r","workflow_ref":{}},"permissions":["createPackage"]}"#.into(), "claims.workflow_ref.file: missing required field"),
        (r#"{"type":"github","claims":{"repository":"","workflow_ref":{"file":"a.yml"}},"permissions":["createPackage"]}"#.into(), "claims.repository: expected a non-empty string"),
        (r#"{"type":"github","claims":{"repository":"o/r","workflow_ref":{"file":"a.yml"},"branch":"main"},"permissions":["createPackage"]}"#.into(), "claims.branch: unknown field"),
        (r#"{"type":"gitlab","claims":{"project_path":"g/p"},"permissions":["createPackage"]}"#.into(), "claims.ci_config_ref_uri: missing required field"),
        (r#"{"type":"gitlab","claims":{"project_path":"g/p","ci_config_ref_uri":{"file":".gitlab-ci.yml"},"environment":7},"permissions":["createPackage"]}"#.into(), "claims.environment: expected a string, found a number"),
        (format!(r#"{{"type":"circleci","claims":{{{}}},"permissions":["createPackage"]}}"#, CIRCLE_CLAIMS.replace(r#","oidc.circleci.com/vcs-origin":"github.com/a/b""#, "")), "claims.oidc.circleci.com/vcs-origin: missing required field"),
        (format!(r#"{{"type":"circleci","claims":{{{CIRCLE_CLAIMS},"oidc.circleci.com/context-ids":"c"}},"permissions":["createPackage"]}}"#), "claims.oidc.circleci.com/context-ids: expected an array of strings"),
        (format!(r#"{{"type":"circleci","claims":{{{CIRCLE_CLAIMS},"oidc.circleci.com/context-ids":[""]}},"permissions":["createPackage"]}}"#), "claims.oidc.circleci.com/context-ids[0]: expected a non-empty string"),
        (format!(r#"{{"type":"circleci","claims":{{{CIRCLE_CLAIMS}}}}}"#), "permissions: missing required field"),
        (format!(r#"{{"type":"circleci","claims":{{{CIRCLE_CLAIMS}}},"permissions":"createPackage"}}"#), "permissions: expected an array"),
        (format!(r#"{{"type":"circleci","claims":{{{CIRCLE_CLAIMS}}},"permissions":["deletePackage"]}}"#), "permissions[0]: unknown permission"),
        (format!(r#"[{{"type":"circleci","claims":{{{CIRCLE_CLAIMS}}},"permissions":["createPackage"],"extra":1}}]"#), "[0].extra: unknown field"),
        (format!(r#"{{"id":5,"type":"circleci","claims":{{{CIRCLE_CLAIMS}}},"permissions":["createPackage"]}}"#), "id: expected a string"),
        (r#"{"type":"github","claims":{"repository":"a","repository":"b"}}"#.into(), "duplicate key \"repository\""),
        ("[1]".into(), "[0]: expected an object"),
        ("not json".into(), "$: expected"),
        ("".into(), "$: EOF"),
    ];
    for (text, expected) in cases {
        match parse_trust_configs(&text) {
            Ok(c) => panic!("{text}: parsed {c:?}"),
            Err(e) => assert!(
                e.to_string().contains(expected),
                "{text}: error {e:?} should contain {expected:?}"
            ),
        }
    }
}

#[test]
fn the_trust_endpoint_array_parses() {
    let text = format!(
        r#"[{{"id":"a1","type":"circleci","claims":{{{CIRCLE_CLAIMS}}},"permissions":["createPackage","createStagedPackage"]}}]"#
    );
    let configs = parse_trust_configs(&text).expect("valid");
    assert_eq!(configs.len(), 1);
    assert_eq!(configs[0].id.as_deref(), Some("a1"));
    assert_eq!(parse_trust_configs("[]").map(|c| c.len()), Ok(0));
}
