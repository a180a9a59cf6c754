//! Repository fixtures under `tests/fixtures/repos/<case>/`: a CI config with the
//! package.json, scripts and release-tool configs it runs, written for this crate. Each
//! case's `expected.txt` lists every finding, one per line, as
//! `file:line rule [via hop → hop → …]`: the publish chain is asserted, not only the rule
//! and line. An empty `expected.txt` asserts that nothing is reported.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tokenless_ci::{Document, FileSource, Provider, lint_repo};

/// The repository on disk, read like the CLI reads it (inside the root only).
struct Dir(PathBuf);

impl FileSource for Dir {
    fn read(&self, path: &str) -> Result<String, String> {
        if path.split('/').any(|p| p == "..") || path.starts_with('/') {
            return Err(format!("{path}: outside the repository"));
        }
        std::fs::read_to_string(self.0.join(path)).map_err(|e| format!("{path}: {e}"))
    }

    fn list(&self, path: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.0.join(path)).map_err(|e| format!("{path}: {e}"))? {
            let e = e.map_err(|e| e.to_string())?;
            if e.file_type().map_err(|e| e.to_string())?.is_dir() {
                out.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        Ok(out)
    }
}

fn ci_files(root: &Path) -> Vec<(String, Provider)> {
    let mut out = Vec::new();
    for (dir, provider) in [
        (".github/workflows", Provider::GitHub),
        (".circleci", Provider::CircleCi),
    ] {
        if let Ok(entries) = std::fs::read_dir(root.join(dir)) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".yml") {
                    out.push((format!("{dir}/{name}"), provider));
                }
            }
        }
    }
    if root.join(".gitlab-ci.yml").is_file() {
        out.push((".gitlab-ci.yml".to_owned(), Provider::GitLab));
    }
    out.sort();
    out
}

fn render(root: &Path) -> BTreeSet<String> {
    let files = Dir(root.to_path_buf());
    let mut out = BTreeSet::new();
    for (rel, provider) in ci_files(root) {
        let src = std::fs::read_to_string(root.join(&rel)).expect("readable");
        let findings = lint_repo(
            Document {
                path: &rel,
                source: &src,
                provider,
            },
            &files,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()));
        for f in findings {
            let line = src[..f.span.start.min(src.len())].matches('\n').count() + 1;
            let mut text = format!("{}:{line} {}", f.path, f.rule);
            if f.chain.len() > 1 {
                let hops: Vec<String> = f
                    .chain
                    .iter()
                    .map(|h| format!("{}:{} {}", h.file, h.line, h.what))
                    .collect();
                text.push_str(&format!(" via {}", hops.join(" → ")));
            }
            out.insert(text);
        }
    }
    out
}

#[test]
fn every_repository_fixture_reports_exactly_its_expectations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/repos");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("repos folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 6, "only {} repository fixtures", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let want: BTreeSet<String> = std::fs::read_to_string(case.join("expected.txt"))
            .expect("expected.txt")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect();
        let got = render(&case);
        if got != want {
            failures.push(format!(
                "{}\n  expected {want:#?}\n  got      {got:#?}",
                case.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
