//! `fix` on every config we have (the real public configs in `../shared/corpus/`, every
//! rule fixture, the repository fixtures): after fixing, the file parses, its data differs
//! from the original only under the routes the patches name (checked here independently
//! of the engine's own check), lint reports none of the fixed rules for the fixed job,
//! and fixing again changes nothing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tokenless_ci::fix::{self, Options, Route, Seg, Target};
use tokenless_ci::yaml::{Forest, Kind, NodeId};
use tokenless_ci::{Document, FileSource, NoFiles, Provider, analyse, detect};

struct Dir(PathBuf);

/// Files as a fix left them, over the originals.
struct Changed<'a>(
    &'a dyn FileSource,
    &'a std::collections::BTreeMap<String, String>,
);

impl FileSource for Changed<'_> {
    fn read(&self, path: &str) -> Result<String, String> {
        match self.1.get(path) {
            Some(t) => Ok(t.clone()),
            None => self.0.read(path),
        }
    }
}

impl FileSource for Dir {
    fn read(&self, path: &str) -> Result<String, String> {
        if path.split('/').any(|p| p == "..") || path.starts_with('/') {
            return Err(format!("{path}: outside the repository"));
        }
        std::fs::read_to_string(self.0.join(path)).map_err(|e| format!("{path}: {e}"))
    }
}

/// Every differing path between two YAML documents (own data, merges resolved).
fn differences(a: &Forest, an: NodeId, b: &Forest, bn: NodeId, at: Route, out: &mut Vec<Route>) {
    match (&a.node(an).kind, &b.node(bn).kind) {
        (Kind::Scalar(x, _), Kind::Scalar(y, _)) => {
            if x != y && !(a.is_null(an) && b.is_null(bn)) {
                out.push(at);
            }
        }
        (Kind::Seq(x), Kind::Seq(y)) => {
            if x.len() != y.len() {
                out.push(at);
                return;
            }
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(a, *p, b, *q, at.index(i), out);
            }
        }
        (Kind::Map(x), Kind::Map(y)) => {
            let keys: BTreeSet<&str> = x
                .iter()
                .map(|(k, _)| a.text(*k))
                .chain(y.iter().map(|(k, _)| b.text(*k)))
                .collect();
            for k in keys {
                match (a.get(an, k), b.get(bn, k)) {
                    (Some(p), Some(q)) => differences(a, p, b, q, at.key(k), out),
                    _ => out.push(at.key(k)),
                }
            }
        }
        _ => out.push(at),
    }
}

/// A patch at `r` may change `r`, what is under it, and (for inserts/removals in a
/// sequence) the sequence itself.
fn covered(diff: &Route, patches: &[Route]) -> bool {
    patches.iter().any(|p| {
        diff.starts_with(p)
            || p.starts_with(diff) && {
                let rest = &p.0[diff.0.len()..];
                rest.len() <= 2
                    && rest
                        .iter()
                        .all(|s| matches!(s, Seg::Index(_) | Seg::Key(_)))
            }
    })
}

fn check_one(
    name: &str,
    path: &str,
    text: &str,
    provider: Provider,
    files: &dyn FileSource,
    follow: bool,
) -> usize {
    let doc = Document {
        path,
        source: text,
        provider,
    };
    let Ok(result) = fix::fix_file(doc, files, follow, &Options::default()) else {
        return 0; // input the linter refuses: the hostile tests cover it
    };
    if result.applied.is_empty() {
        assert_eq!(result.text, text, "{name}: changed with no fix applied");
        return 0;
    }
    // Parses, and differs only under the patched routes.
    let mut before = Forest::default();
    let old_root = before.parse("before", text).expect("test input");
    let mut after = Forest::default();
    let new_root = after.parse("after", &result.text).unwrap_or_else(|e| {
        panic!(
            "{name}: the fixed file does not parse: {e:?}\n{}",
            result.text
        )
    });
    let mut diffs = Vec::new();
    differences(
        &before,
        old_root,
        &after,
        new_root,
        Route::default(),
        &mut diffs,
    );
    let routes: Vec<Route> = result
        .applied
        .iter()
        .flat_map(|f| &f.patches)
        .filter(|p| p.path == path)
        .filter_map(|p| match (&p.at, &p.op) {
            (Target::Route(r), fix::Op::Set { key, .. }) => Some(r.key(key)),
            (Target::Route(r), fix::Op::Insert { .. }) => Some(r.clone()),
            (Target::Route(r), _) => Some(r.clone()),
            _ => None,
        })
        .collect();
    for d in &diffs {
        assert!(
            covered(d, &routes),
            "{name}: `{d}` changed but no patch names it; patches: {routes:?}"
        );
    }
    let files = &Changed(files, &result.files);
    // Lint no longer reports a fixed rule for a fixed job.
    let lint = analyse(
        Document {
            source: &result.text,
            ..doc
        },
        files,
        follow,
    )
    .expect("test input");
    for f in &result.applied {
        for finding in lint
            .findings
            .iter()
            .filter(|x| x.job.as_deref() == Some(&f.job))
        {
            let still = f.rules.contains(&finding.rule)
                && !result
                    .remaining
                    .iter()
                    .any(|r| r.rule == finding.rule && r.job == finding.job);
            assert!(
                !still,
                "{name}: `{}` still reported for job `{}` after its fix",
                finding.rule, f.job
            );
        }
    }
    // A second run changes nothing.
    let again = fix::fix_file(
        Document {
            source: &result.text,
            ..doc
        },
        files,
        follow,
        &Options::default(),
    )
    .expect("test input");
    assert!(
        again.applied.is_empty(),
        "{name}: a second fix changed more: {:?}",
        again.applied
    );
    assert_eq!(again.text, result.text, "{name}: not idempotent");
    result.applied.len()
}

fn yml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            yml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yml" || x == "yaml") {
            out.push(p);
        }
    }
}

fn provider_of(path: &Path, text: &str) -> Option<Provider> {
    let s = path.to_string_lossy();
    detect::provider_from_path(&s)
        .or_else(|| detect::provider_from_content(text))
        .or_else(|| {
            let name = path.file_name()?.to_string_lossy().to_string();
            if name.starts_with("circleci") || s.contains("/circleci/") || s.contains("/history/") {
                Some(Provider::CircleCi)
            } else if name.starts_with("github") || s.contains("/github/") {
                Some(Provider::GitHub)
            } else if name.starts_with("gitlab") || s.contains("/gitlab/") {
                Some(Provider::GitLab)
            } else {
                None
            }
        })
}

#[test]
fn every_fix_on_the_rule_fixtures_holds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files = Vec::new();
    for e in std::fs::read_dir(&root).expect("test input").flatten() {
        if e.file_name() != "repos" {
            yml_files(&e.path(), &mut files);
        }
    }
    files.sort();
    let mut fixed = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("test input");
        let Some(provider) = provider_of(f, &text) else {
            continue;
        };
        let name = f
            .strip_prefix(&root)
            .expect("test input")
            .display()
            .to_string();
        fixed += check_one(&name, &name, &text, provider, &NoFiles, false);
    }
    assert!(
        fixed >= 30,
        "only {fixed} fixes over {} fixtures",
        files.len()
    );
}

#[test]
fn every_fix_on_the_repository_fixtures_holds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/repos");
    let mut fixed = 0;
    for repo in std::fs::read_dir(&root).expect("test input").flatten() {
        let mut files = Vec::new();
        yml_files(&repo.path(), &mut files);
        for f in files {
            let rel = f
                .strip_prefix(repo.path())
                .expect("test input")
                .display()
                .to_string();
            let Some(provider) = detect::provider_from_path(&rel) else {
                continue;
            };
            let text = std::fs::read_to_string(&f).expect("test input");
            let name = format!("{}/{rel}", repo.file_name().to_string_lossy());
            fixed += check_one(&name, &rel, &text, provider, &Dir(repo.path()), true);
        }
    }
    assert!(fixed >= 4, "only {fixed} fixes in the repository fixtures");
}

#[test]
fn every_fix_on_the_public_corpus_holds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    if !dir.is_dir() {
        if std::env::var("TOKENLESS_REQUIRE_CORPUS").as_deref() == Ok("1") {
            panic!("TOKENLESS_REQUIRE_CORPUS=1 but {} is absent", dir.display());
        }
        eprintln!("skipping the corpus fix test: {} is absent", dir.display());
        return;
    }
    let mut files = Vec::new();
    yml_files(&dir, &mut files);
    files.sort();
    let mut fixed = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("test input");
        let Some(provider) = provider_of(f, &text) else {
            continue;
        };
        let name = f
            .strip_prefix(&dir)
            .expect("test input")
            .display()
            .to_string();
        fixed += check_one(&name, &name, &text, provider, &NoFiles, false);
    }
    assert!(fixed >= 10, "only {fixed} fixes over the corpus");
}
