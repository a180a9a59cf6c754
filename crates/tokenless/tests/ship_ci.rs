//! The GitHub Action (`action/action.yml`) and the CircleCI orb (`orb/orb.yml`) that run
//! tokenless in other projects' CI: both are valid, linted clean by tokenless itself, pass
//! inputs to their scripts only through the environment, install the npm release of this
//! very version, and the action's own steps run (bash, as a runner does) against the example
//! repositories. The action inside the simulated GitHub runner, installing from the registry:
//! `npm_release.rs`.

use std::path::PathBuf;
use std::process::Command;

use tokenless_ci::yaml::{Forest, NodeId};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn lint(args: &[&str]) -> i32 {
    let out = assert_cmd::Command::cargo_bin("tokenless")
        .expect("binary")
        .current_dir(root())
        .arg("lint")
        .args(args)
        .output()
        .expect("runs");
    assert!(
        out.stderr.is_empty() || out.status.code() != Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.code().unwrap_or(-1)
}

/// The `version` the action and the orb install by default is this release: the release that
/// ships them ships the binary they install.
#[test]
fn the_action_and_the_orb_install_this_version_from_npm() {
    let version = env!("CARGO_PKG_VERSION");
    for (file, path) in [
        ("action/action.yml", &["inputs", "version", "default"][..]),
        (
            "orb/orb.yml",
            &["commands", "install", "parameters", "version", "default"][..],
        ),
    ] {
        let text = std::fs::read_to_string(root().join(file)).expect("readable");
        let mut forest = Forest::default();
        let doc = forest.parse(file, &text).expect("valid YAML");
        let default = forest.path(doc, path).and_then(|n| forest.str(n));
        assert_eq!(default, Some(version), "{file}");
        assert!(
            text.contains("npm install --prefix") && !text.contains("cargo install"),
            "{file} installs from npm"
        );
    }
}

#[test]
fn the_orb_and_the_examples_lint_clean() {
    assert_eq!(lint(&["orb/orb.yml", "--provider", "circleci"]), 0);
    assert_eq!(
        lint(&[
            "docs/examples/circleci-tokenless.yml",
            "--provider",
            "circleci"
        ]),
        0
    );
    assert_eq!(lint(&["docs/examples/github-tokenless.yml"]), 0);
}

/// One step of the composite action: its name, its script, its `env:` names and values.
type Step = (String, Option<String>, Vec<(String, String)>);

fn steps(forest: &Forest, doc: NodeId) -> Vec<Step> {
    let steps = forest.path(doc, &["runs", "steps"]).expect("runs.steps");
    forest
        .items(steps)
        .iter()
        .map(|&s| {
            let name = forest
                .get(s, "name")
                .and_then(|n| forest.str(n))
                .unwrap_or("")
                .to_owned();
            let run = forest
                .get(s, "run")
                .and_then(|n| forest.str(n))
                .map(str::to_owned);
            let env = forest
                .get(s, "env")
                .map(|e| {
                    forest
                        .entries(e)
                        .iter()
                        .map(|(k, v)| {
                            (
                                forest.str(*k).unwrap_or("").to_owned(),
                                forest.str(*v).unwrap_or("").to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            (name, run, env)
        })
        .collect()
}

#[test]
fn the_action_passes_inputs_only_through_the_environment_and_its_steps_run() {
    let text = std::fs::read_to_string(root().join("action/action.yml")).expect("action.yml");
    let mut forest = Forest::default();
    let doc = forest
        .parse("action/action.yml", &text)
        .expect("valid YAML");
    assert_eq!(
        forest
            .path(doc, &["runs", "using"])
            .and_then(|n| forest.str(n)),
        Some("composite")
    );
    let steps = steps(&forest, doc);
    for (name, run, _) in &steps {
        if let Some(run) = run {
            assert!(
                !run.contains("${{"),
                "{name}: an expression spliced into a script"
            );
        }
    }

    // Run the lint and fail steps as a runner would, with the built binary on PATH.
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_tokenless"));
    let dir = tempfile::tempdir().expect("tempdir");
    let shims = dir.path().join("bin");
    std::fs::create_dir_all(&shims).expect("bin");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&bin, shims.join("tokenless")).expect("shim");
    let output = dir.path().join("github_output");
    let run_step = |wanted: &str, env: &[(&str, String)]| -> i32 {
        let (_, run, step_env) = steps
            .iter()
            .find(|(name, _, _)| name == wanted)
            .unwrap_or_else(|| panic!("no step {wanted}"));
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-e", "-c"])
            .arg(run.as_deref().expect("a run step"))
            .current_dir(root())
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    shims.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .env("RUNNER_TEMP", dir.path())
            .env("GITHUB_OUTPUT", &output);
        // The step's env: with the inputs' values a caller would give.
        for (k, _) in step_env {
            if let Some((_, v)) = env.iter().find(|(name, _)| name == k) {
                cmd.env(k, v);
            }
        }
        cmd.status().expect("bash runs").code().unwrap_or(-1)
    };
    assert_eq!(
        run_step("Install tokenless", &[]),
        0,
        "tokenless on PATH: no install"
    );
    assert_eq!(
        run_step(
            "Lint the CI configs",
            &[("TOKENLESS_PATHS", "examples/legacy-repo".into())]
        ),
        0
    );
    let recorded = std::fs::read_to_string(&output).expect("GITHUB_OUTPUT");
    assert!(
        recorded.contains("code=1"),
        "the legacy repo has findings: {recorded}"
    );
    let sarif: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("tokenless-lint.sarif")).expect("sarif"),
    )
    .expect("json");
    assert!(
        sarif["runs"][0]["results"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
    assert_eq!(
        run_step("Fail on lint findings", &[("CODE", "1".into())]),
        1
    );

    // A clean repository passes.
    std::fs::remove_file(&output).ok();
    assert_eq!(
        run_step(
            "Lint the CI configs",
            &[("TOKENLESS_PATHS", "examples/migrated-repo".into())]
        ),
        0
    );
    let recorded = std::fs::read_to_string(&output).expect("GITHUB_OUTPUT");
    assert!(recorded.contains("code=0"), "{recorded}");
}
