//! The files under the given roots, read in parallel: no symlink is followed (so the scan
//! never leaves its roots and no loop can hold it), `.gitignore` counts only when asked
//! (secrets hide in ignored files), binaries and files over the size bound are skipped,
//! inside `node_modules` only `.npmrc` files are read, and with `home` the usual caches are
//! left out.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ignore::{DirEntry, WalkBuilder, WalkState};

use crate::{Credential, format, read};

#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub roots: Vec<PathBuf>,
    /// The roots include a home directory: leave caches and package stores out.
    pub home: bool,
    pub respect_gitignore: bool,
    /// Larger files are skipped (and counted).
    pub max_file_bytes: u64,
    /// The scan stops after this many files (and says so).
    pub max_files: u64,
    pub threads: usize,
    /// Counts the files read, for a progress line.
    pub progress: Option<std::sync::Arc<AtomicU64>>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            roots: Vec::new(),
            home: false,
            respect_gitignore: false,
            max_file_bytes: 16 << 20,
            max_files: 5_000_000,
            threads: std::thread::available_parallelism().map_or(2, usize::from),
            progress: None,
        }
    }
}

/// What a scan found and what it left out.
#[derive(Debug, Default)]
pub struct ScanReport {
    pub credentials: Vec<Credential>,
    pub files: u64,
    pub bytes: u64,
    /// Files not read: binaries, too large, symlinks, unreadable (path and why), the first
    /// hundred; `skipped_count` counts them all.
    pub skipped: Vec<(String, String)>,
    pub skipped_count: u64,
    /// The file bound was reached: the scan is incomplete.
    pub truncated: bool,
}

/// Directories of a home that hold caches and package stores, not configuration.
const HOME_CACHES: &[&str] = &[
    ".cache",
    ".npm/_cacache",
    ".npm/_npx",
    ".npm/_logs",
    ".pnpm-store",
    ".local/share/pnpm/store",
    ".yarn/berry/cache",
    ".cargo/registry",
    ".cargo/git",
    ".rustup",
    ".gradle/caches",
    ".m2/repository",
    "go/pkg/mod",
    "Library/Caches",
    ".local/share/Trash",
];

/// How much of a file decides whether it is binary (a NUL byte in it).
const SNIFF: usize = 8 << 10;

pub fn scan(options: &ScanOptions) -> ScanReport {
    let Some((first, rest)) = options.roots.split_first() else {
        return ScanReport::default();
    };
    let mut builder = WalkBuilder::new(first);
    for r in rest {
        builder.add(r);
    }
    let respect = options.respect_gitignore;
    builder
        .standard_filters(false)
        .hidden(false)
        .follow_links(false)
        .git_ignore(respect)
        .git_global(respect)
        .git_exclude(respect)
        .parents(respect)
        .require_git(false)
        .threads(options.threads.max(1));
    let roots = options.roots.clone();
    let home = options.home;
    builder.filter_entry(move |e| keep_dir(e, home, &roots));

    let found = Mutex::new(Vec::new());
    let skipped = Mutex::new(Vec::new());
    let (files, bytes, skipped_count) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    let truncated = AtomicBool::new(false);
    let (found_ref, skipped_ref) = (&found, &skipped);
    let (files_ref, bytes_ref, skipped_count_ref, truncated_ref) =
        (&files, &bytes, &skipped_count, &truncated);
    builder.build_parallel().run(|| {
        let mut buf = Vec::new();
        let (found, skipped) = (found_ref, skipped_ref);
        let (files, bytes, skipped_count, truncated) =
            (files_ref, bytes_ref, skipped_count_ref, truncated_ref);
        Box::new(move |entry| {
            let skip = |path: &Path, why: &str| {
                skipped_count.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut s) = skipped.lock()
                    && s.len() < 100
                {
                    s.push((shown(path), why.to_owned()));
                }
            };
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    skip(Path::new(""), &e.to_string());
                    return WalkState::Continue;
                }
            };
            let Some(kind) = entry.file_type() else {
                return WalkState::Continue;
            };
            if kind.is_symlink() {
                if entry.depth() > 0 {
                    skip(entry.path(), "a symlink (not followed)");
                }
                return WalkState::Continue;
            }
            if !kind.is_file() {
                return WalkState::Continue;
            }
            let path = entry.path();
            let in_node_modules = path.components().any(|c| c.as_os_str() == "node_modules");
            let fmt = format::of(path);
            if in_node_modules && fmt != format::Format::Npmrc {
                return WalkState::Continue;
            }
            if let Some(p) = &options.progress {
                p.fetch_add(1, Ordering::Relaxed);
            }
            if files.fetch_add(1, Ordering::Relaxed) >= options.max_files {
                truncated.store(true, Ordering::Relaxed);
                return WalkState::Quit;
            }
            match read_file(path, options.max_file_bytes, &mut buf) {
                Err(why) => skip(path, &why),
                Ok(()) => {
                    bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
                    if buf[..buf.len().min(SNIFF)].contains(&0) {
                        skip(path, "binary");
                    } else if format::is_config(fmt)
                        || fmt == format::Format::Shell
                        || read::may_hold(&buf)
                    {
                        let text = String::from_utf8_lossy(&buf);
                        let got = read::credentials(fmt, &shown(path), &text);
                        if !got.is_empty()
                            && let Ok(mut f) = found.lock()
                        {
                            f.extend(got);
                        }
                    }
                }
            }
            WalkState::Continue
        })
    });
    let mut credentials = found.into_inner().unwrap_or_default();
    credentials.sort_by(|a, b| (&a.path, a.line, &a.redacted).cmp(&(&b.path, b.line, &b.redacted)));
    let mut skipped = skipped.into_inner().unwrap_or_default();
    skipped.sort();
    ScanReport {
        credentials,
        files: files.into_inner().min(options.max_files),
        bytes: bytes.into_inner(),
        skipped,
        skipped_count: skipped_count.into_inner(),
        truncated: truncated.into_inner(),
    }
}

/// Read a whole file into `buf`, refusing one over `max` bytes (a FIFO or a device has no
/// size and is refused by type before this).
fn read_file(path: &Path, max: u64, buf: &mut Vec<u8>) -> Result<(), String> {
    buf.clear();
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > max {
        return Err(format!("larger than {} MiB", max >> 20));
    }
    file.take(max + 1)
        .read_to_end(buf)
        .map_err(|e| e.to_string())?;
    if buf.len() as u64 > max {
        return Err(format!("larger than {} MiB", max >> 20));
    }
    Ok(())
}

/// Leave out `.git/objects` (compressed, never text) and, in a home, its caches.
fn keep_dir(e: &DirEntry, home: bool, roots: &[PathBuf]) -> bool {
    if !e.file_type().is_some_and(|t| t.is_dir()) {
        return true;
    }
    let path = e.path();
    if path.ends_with(".git/objects") {
        return false;
    }
    let cache = roots.iter().any(|r| {
        path.strip_prefix(r)
            .is_ok_and(|rel| HOME_CACHES.iter().any(|c| rel == Path::new(c)))
    });
    !(home && cache)
}

/// A path as the user gave its root (`./` dropped).
fn shown(path: &Path) -> String {
    let s = path.display().to_string();
    s.strip_prefix("./").map(str::to_owned).unwrap_or(s)
}
