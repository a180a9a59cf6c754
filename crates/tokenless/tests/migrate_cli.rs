//! `init`, `plan`, `apply`, `tokens` and `schema` at the command line, without a registry:
//! bad input is refused with the file, key and line, nothing is written without being
//! asked, and the schema describes what the parser accepts.

use std::process::Command;

fn tokenless(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tokenless"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("runs")
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_bad_tokenless_toml_names_the_key_and_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "[[publisher]]\npackages = [\"@a/*\"]\nprovider = \"github\"\nrepository = \"a/b\"\nworkflow = \"publish.yml\"\nenvironmnet = \"npm\"\n",
            ["environmnet", "line 6"],
        ),
        ("[access]\nmfa = \"sometimes\"\n", ["sometimes", "line 2"]),
        (
            "[[publisher]]\npackages = [\"@a/*\"]\nprovider = \"circleci\"\norg_id = \"not-a-uuid\"\n",
            ["org_id", "UUID"],
        ),
        ("[audit]\nscope = \"@a\"\n", ["audit", "line 1"]),
    ];
    for (text, wanted) in cases {
        let path = dir.path().join("tokenless.toml");
        std::fs::write(&path, text).expect("write");
        for cmd in ["plan", "apply"] {
            let out = tokenless(
                &[
                    cmd,
                    "-c",
                    path.to_str().expect("utf-8"),
                    "--registry",
                    "http://127.0.0.1:9/",
                    "--yes",
                ]
                .iter()
                .copied()
                .filter(|a| cmd == "apply" || *a != "--yes")
                .collect::<Vec<_>>(),
            );
            assert_eq!(out.status.code(), Some(2), "{cmd}: {}", stderr(&out));
            let err = stderr(&out);
            assert!(err.contains("tokenless.toml"), "{err}");
            for w in wanted {
                assert!(err.contains(w), "{cmd} on {text:?}: {w} missing in {err}");
            }
        }
    }
}

#[test]
fn apply_refuses_to_run_unattended_without_yes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tokenless.toml");
    std::fs::write(&path, "[org]\nscope = \"@a\"\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_tokenless"))
        .args(["apply", "-c", path.to_str().expect("utf-8")])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
}

#[test]
fn init_never_overwrites_without_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tokenless.toml");
    std::fs::write(&path, "# mine\n").expect("write");
    let out = tokenless(&["init", "--scope", "@a", "-o", path.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--force"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "# mine\n");
}

#[test]
fn tokens_revoke_says_which_tokens_it_needs() {
    let out = tokenless(&["tokens", "revoke", "--registry", "http://127.0.0.1:9/"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--all"), "{}", stderr(&out));
}

#[test]
fn durations_and_bounds_are_checked_at_the_command_line() {
    for (flag, value) in [
        ("--pace", "fast"),
        ("--concurrency", "0"),
        ("--phase", "some"),
    ] {
        let out = tokenless(&["apply", flag, value]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        assert!(stderr(&out).contains(value), "{}", stderr(&out));
    }
}

#[test]
fn the_schema_is_json_schema_for_every_table() {
    let out = tokenless(&["schema"]);
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let props = schema["properties"].as_object().expect("properties");
    for table in [
        "org",
        "lint",
        "members",
        "publisher",
        "circleci",
        "github",
        "gitlab",
        "access",
        "teams",
        "secrets",
        "tokens",
    ] {
        assert!(props.contains_key(table), "{table} missing");
    }
    assert_eq!(schema["additionalProperties"], serde_json::json!(false));
    jsonschema::validator_for(&schema).expect("a valid JSON Schema");
}
