//! Finding the CI configuration files under a path argument.
//!
//! A directory is walked (iteratively, so depth cannot overflow the stack) for
//! `.circleci/*.yml`, `circle.yml`, `.github/workflows/*.y{a,}ml` and `.gitlab-ci.yml` at
//! any depth. `.git` and `node_modules` are skipped. Symlinked directories are not
//! followed (a target inside the root is walked under its real path, one outside is not
//! linted), so symlink loops cannot form; each real directory is entered once. A
//! symlinked file is listed like any other: reading it reports a dangling target.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
};

use tokenless_ci::detect;

/// Directories never entered.
const SKIPPED_DIRS: [&str; 2] = [".git", "node_modules"];
/// Deeper than this, a walk stops descending (CI configs sit near a repository's root).
const MAX_DEPTH: usize = 64;

/// A configuration file found under a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The path to open.
    pub path: PathBuf,
    /// The path relative to the walked root, `/`-separated (for `[lint] ignore` globs).
    pub rel: String,
}

/// Every configuration file under `root`, sorted by relative path.
pub fn walk(root: &Path) -> Vec<Found> {
    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let mut visited: HashSet<PathBuf> = HashSet::from([canonical_root]);
    let mut found = Vec::new();
    let mut stack: Vec<(PathBuf, String, usize)> = vec![(root.to_path_buf(), String::new(), 0)];
    while let Some((dir, rel_dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let rel = if rel_dir.is_empty() {
                name.to_string()
            } else {
                format!("{rel_dir}/{name}")
            };
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            // Symlinked directories are never entered: a target inside the root is walked
            // under its real path, one outside is not linted, and loops cannot form.
            let is_dir = kind.is_dir()
                && path
                    .canonicalize()
                    .map_or(true, |real| visited.insert(real));
            if is_dir {
                if depth < MAX_DEPTH && !SKIPPED_DIRS.contains(&name.as_ref()) {
                    stack.push((path, rel, depth + 1));
                }
            } else if !kind.is_dir() && detect::provider_from_path(&rel).is_some() {
                found.push(Found { path, rel });
            }
        }
    }
    found.sort_by(|a, b| a.rel.cmp(&b.rel));
    found
}

/// The repository root a single file belongs to, for its local includes and its
/// `tokenless.toml`: a `.gitlab-ci.yml` sits at its repository's root; otherwise the
/// nearest ancestor holding `.git`, or else the file's own directory.
pub fn repo_root_of(file: &Path) -> PathBuf {
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    if name.ends_with(".gitlab-ci.yml") || name.ends_with(".gitlab-ci.yaml") {
        return parent;
    }
    let Ok(start) = parent.canonicalize() else {
        return parent;
    };
    for (up, dir) in start.ancestors().enumerate() {
        if dir.join(".git").exists() {
            // Keep the path in the user's terms: `parent` plus as many `..` as we climbed.
            let mut root = parent.clone();
            for _ in 0..up {
                root.push("..");
            }
            return root;
        }
    }
    parent
}

/// The directory local includes of a walked file resolve against: for a GitLab file,
/// the directory it sits in; for other providers (no includes) the walked root.
pub fn include_root(walk_root: &Path, found: &Found) -> PathBuf {
    match found.path.parent() {
        Some(parent)
            if found.rel.ends_with("gitlab-ci.yml") || found.rel.ends_with("gitlab-ci.yaml") =>
        {
            parent.to_path_buf()
        }
        _ => walk_root.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str) {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(path, "x: 1\n").expect("write");
    }

    #[test]
    fn finds_every_provider_at_any_depth_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for rel in [
            ".circleci/config.yml",
            ".circleci/release.yml",
            ".github/workflows/ci.yml",
            ".github/workflows/release.yaml",
            ".gitlab-ci.yml",
            "packages/a/circle.yml",
            "packages/b/.github/workflows/b.yml",
            "README.md",
            ".github/dependabot.yml",
            ".git/hooks/.gitlab-ci.yml",
            "node_modules/x/.gitlab-ci.yml",
        ] {
            touch(root, rel);
        }
        let rels: Vec<String> = walk(root).into_iter().map(|f| f.rel).collect();
        assert_eq!(
            rels,
            [
                ".circleci/config.yml",
                ".circleci/release.yml",
                ".github/workflows/ci.yml",
                ".github/workflows/release.yaml",
                ".gitlab-ci.yml",
                "packages/a/circle.yml",
                "packages/b/.github/workflows/b.yml",
            ]
        );
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loops_end_and_links_out_of_the_root_are_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("repo");
        touch(&root, ".github/workflows/ci.yml");
        touch(dir.path(), "outside/.gitlab-ci.yml");
        std::os::unix::fs::symlink(&root, root.join("loop")).expect("symlink");
        std::os::unix::fs::symlink(root.join(".github"), root.join(".github/workflows/again"))
            .expect("symlink");
        std::os::unix::fs::symlink(dir.path().join("outside"), root.join("out")).expect("symlink");
        let rels: Vec<String> = walk(&root).into_iter().map(|f| f.rel).collect();
        assert_eq!(rels, [".github/workflows/ci.yml"]);
    }

    #[test]
    fn repo_root_of_a_gitlab_file_is_its_directory() {
        assert_eq!(
            repo_root_of(Path::new("a/b/.gitlab-ci.yml")),
            PathBuf::from("a/b")
        );
        assert_eq!(
            repo_root_of(Path::new(".gitlab-ci.yml")),
            PathBuf::from(".")
        );
    }

    #[test]
    fn repo_root_of_other_files_is_the_git_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join(".git")).expect("mkdir");
        touch(root, "ci/deep/pipeline.yml");
        let found = repo_root_of(&root.join("ci/deep/pipeline.yml"));
        assert_eq!(
            found.canonicalize().expect("exists"),
            root.canonicalize().expect("exists")
        );
    }
}
