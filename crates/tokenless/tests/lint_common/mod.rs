//! Shared harness for the `tokenless lint` CLI tests: the real binary, a scrubbed
//! environment (no CI variables, `NO_COLOR=1`), and small fixture repositories.

#![allow(dead_code)] // Each test crate uses a different part of the harness.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// Variables that change tokenless's or the renderers' behaviour when a test runs in CI.
const SCRUBBED: [&str; 8] = [
    "CI",
    "CIRCLECI",
    "GITHUB_ACTIONS",
    "GITLAB_CI",
    "NO_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "TERM",
];

/// The workspace root (where `examples/` lives).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `tokenless lint ARGS...` run in `dir`.
pub fn lint_in(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["lint"];
    all.extend_from_slice(args);
    tokenless_in(dir, &all)
}

/// `tokenless ARGS...` run in `dir`, with no colour and no npm/CI variables.
pub fn tokenless_in(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::cargo_bin("tokenless").expect("binary is built");
    for var in SCRUBBED {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1").current_dir(dir).args(args);
    let out = cmd.output().expect("tokenless runs");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `tokenless lint ARGS...` run in the workspace root.
pub fn lint(args: &[&str]) -> Output {
    lint_in(&workspace(), args)
}

#[derive(Debug)]
pub struct Output {
    /// `None` when the process was killed by a signal (a crash).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    /// stdout and stderr, for snapshots.
    pub fn transcript(&self) -> String {
        format!(
            "exit: {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A temporary repository with `files` (path, contents) written into it.
pub fn repo(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (rel, contents) in files {
        let path = dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, contents).expect("write fixture");
    }
    dir
}

/// A minimal GitHub workflow that publishes nothing.
pub const CLEAN_WORKFLOW: &[u8] = b"name: ci\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: npm test\n";
