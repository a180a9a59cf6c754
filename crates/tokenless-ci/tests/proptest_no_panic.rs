//! Property tests: arbitrary text and arbitrary YAML-ish CI documents never make the
//! linter panic, and every finding's span is a valid range of its file.

use proptest::prelude::*;
use tokenless_ci::{Document, FileSource, Provider, lint};

/// Serves any include path with the same generated text.
struct Echo(String);

impl FileSource for Echo {
    fn read(&self, _path: &str) -> Result<String, String> {
        Ok(self.0.clone())
    }
}

fn check(src: &str) {
    for provider in Provider::ALL {
        let doc = Document {
            path: "p.yml",
            source: src,
            provider,
        };
        if let Ok(findings) = lint(doc, &Echo(src.to_string())) {
            for f in findings {
                assert!(
                    f.span.start <= f.span.end && f.span.end <= src.len(),
                    "{f:?}"
                );
                assert!(
                    src.is_char_boundary(f.span.start) && src.is_char_boundary(f.span.end),
                    "{f:?}"
                );
                assert!(!f.message.is_empty() && !f.help.is_empty());
            }
        }
    }
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("npm publish".to_string()),
        Just("npx semantic-release".to_string()),
        Just("export NPM_ID_TOKEN=$(circleci run oidc get --claims '{\"aud\":\"npm:registry.npmjs.org\"}')".to_string()),
        Just("echo \"//registry.npmjs.org/:_authToken=${NPM_TOKEN}\" > ~/.npmrc".to_string()),
        Just("${{ secrets.NPM_TOKEN }}".to_string()),
        Just("cimg/node:22.14".to_string()),
        Just("<< parameters.x >>".to_string()),
        Just("npm i -g npm@^11.11.0".to_string()),
        "[ -~é\\\\'\"$(){}`|&;<>#*]{0,40}",
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("version"),
        Just("jobs"),
        Just("workflows"),
        Just("steps"),
        Just("run"),
        Just("command"),
        Just("docker"),
        Just("image"),
        Just("environment"),
        Just("env"),
        Just("context"),
        Just("filters"),
        Just("commands"),
        Just("parameters"),
        Just("executor"),
        Just("executors"),
        Just("orbs"),
        Just("on"),
        Just("permissions"),
        Just("id-token"),
        Just("uses"),
        Just("with"),
        Just("script"),
        Just("variables"),
        Just("id_tokens"),
        Just("NPM_ID_TOKEN"),
        Just("aud"),
        Just("extends"),
        Just("include"),
        Just("local"),
        Just("rules"),
        Just("if"),
        Just("only"),
        Just("default"),
        Just("publish"),
        Just("NPM_TOKEN"),
        Just("NODE_AUTH_TOKEN"),
        Just("<<"),
        Just("pull_request_target"),
        Just("node-version"),
        Just("x/y"),
    ]
    .prop_map(str::to_string)
}

/// Block-style YAML built from a random tree of keys, lists and scalars, with anchors.
fn doc() -> impl Strategy<Value = String> {
    let leaf = scalar().prop_map(|s| format!("{s:?}"));
    let tree = leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec((key(), inner.clone()), 1..5).prop_map(|kv| {
                let mut out = String::from("\n");
                for (k, v) in kv {
                    for (i, line) in format!("{k}: {v}").lines().enumerate() {
                        out.push_str("  ");
                        if i > 0 {
                            out.push_str("");
                        }
                        out.push_str(line);
                        out.push('\n');
                    }
                }
                out
            }),
            prop::collection::vec(inner, 1..4).prop_map(|items| {
                let mut out = String::from("\n");
                for v in items {
                    for (i, line) in v.trim_start_matches('\n').lines().enumerate() {
                        out.push_str(if i == 0 { "  - " } else { "    " });
                        out.push_str(line);
                        out.push('\n');
                    }
                }
                out
            }),
        ]
    });
    prop::collection::vec((key(), tree), 1..6).prop_map(|kv| {
        let mut out = String::new();
        for (i, (k, v)) in kv.into_iter().enumerate() {
            if i == 0 {
                out.push_str("base: &a {run: npm publish, NPM_TOKEN: $X}\n");
            }
            out.push_str(&format!("{k}: {}\n", v.trim_end()));
        }
        out.push_str("tail:\n  <<: *a\n");
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(src in any::<String>()) {
        check(&src);
    }

    #[test]
    fn yamlish_documents_never_panic(src in doc()) {
        check(&src);
    }

    #[test]
    fn shell_in_run_blocks_never_panics(body in prop::collection::vec(scalar(), 1..8)) {
        let mut src = String::from("version: 2.1\njobs:\n  j:\n    docker: [{image: cimg/node:24.16}]\n    steps:\n      - run: |\n");
        for line in &body {
            src.push_str("          ");
            src.push_str(line);
            src.push('\n');
        }
        src.push_str("workflows:\n  w:\n    jobs: [j]\n");
        check(&src);
        let gh = format!("on: [pull_request_target]\njobs:\n  j:\n    permissions: {{id-token: write}}\n    steps:\n      - run: |\n{}", body.iter().map(|l| format!("          {l}\n")).collect::<String>());
        check(&gh);
    }
}
