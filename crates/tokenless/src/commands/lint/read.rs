//! Reading CI configuration files safely: a size cap, binary and UTF-8 checks with the
//! offending byte offset, and a [`FileSource`] for GitLab local includes that never
//! leaves the repository root (no absolute paths, no `..` out, no symlinks out).

use std::{
    cell::RefCell,
    collections::BTreeMap,
    path::{Component, Path, PathBuf},
};

use tokenless_ci::FileSource;

use tokenless_ci::lines::LineIndex;

/// The largest file `tokenless lint` reads. Real CI configs are kilobytes; the largest
/// public ones are a few hundred. Anything bigger is refused before it is read.
pub const MAX_CONFIG_BYTES: u64 = 8 * 1024 * 1024;

/// Why a file could not be read as text. `line`/`column` are 1-based, 0 = unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl ReadError {
    fn whole_file(message: String) -> Self {
        ReadError {
            line: 0,
            column: 0,
            message,
        }
    }
}

/// Read `path` as a CI configuration: a regular file of at most [`MAX_CONFIG_BYTES`],
/// without NUL bytes, valid UTF-8. A leading byte-order mark is dropped.
pub fn read_config(path: &Path) -> Result<String, ReadError> {
    read_config_with_bom(path).map(|(text, _)| text)
}

/// [`read_config`], and whether the file began with a byte-order mark (for a writer that
/// must put it back).
pub fn read_config_with_bom(path: &Path) -> Result<(String, bool), ReadError> {
    // The one bounded reader of user-given files: a FIFO is refused before it is opened,
    // and at most the cap plus one byte is read, even from a file that grows meanwhile.
    let bytes = tokenless_trust::read_capped(path, MAX_CONFIG_BYTES).map_err(|e| match e {
        tokenless_trust::ReadError::NotRegular { kind, .. } => ReadError::whole_file(format!(
            "{kind}, not a regular file; tokenless lint reads CI configuration files"
        )),
        tokenless_trust::ReadError::TooLarge { size, .. } => too_large(size),
        tokenless_trust::ReadError::Io { source, .. } => {
            ReadError::whole_file(format!("cannot read: {source}"))
        }
    })?;
    let bom = bytes.starts_with("\u{feff}".as_bytes());
    decode(bytes).map(|text| (text, bom))
}

fn too_large(len: u64) -> ReadError {
    ReadError::whole_file(format!(
        "file is {:.1} MiB; tokenless lint refuses CI configs larger than {} MiB",
        len as f64 / (1024.0 * 1024.0),
        MAX_CONFIG_BYTES / (1024 * 1024)
    ))
}

/// Bytes to text: refuse binary content (a NUL byte) and invalid UTF-8, naming the offset.
pub fn decode(bytes: Vec<u8>) -> Result<String, ReadError> {
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        return Err(ReadError::whole_file(format!(
            "binary file (NUL byte at byte offset {offset}); not a CI configuration"
        )));
    }
    let mut text = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let prefix = std::str::from_utf8(bytes.get(..offset).unwrap_or_default()).unwrap_or("");
        let pos = LineIndex::new(prefix).position(prefix, offset);
        ReadError {
            line: pos.line,
            column: pos.column,
            message: format!(
                "not valid UTF-8: byte 0x{:02X} at byte offset {offset}",
                bytes.get(offset).copied().unwrap_or(0)
            ),
        }
    })?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

/// GitLab local includes, read from inside one repository root only. Every text read is
/// kept so that findings in included files can be shown with their source lines.
pub struct RootedFiles {
    root: PathBuf,
    /// `root`, canonicalized once; `None` when the root itself cannot be resolved.
    canonical_root: Option<PathBuf>,
    read: RefCell<BTreeMap<String, String>>,
}

impl RootedFiles {
    pub fn new(root: PathBuf) -> Self {
        let canonical_root = root.canonicalize().ok();
        RootedFiles {
            root,
            canonical_root,
            read: RefCell::new(BTreeMap::new()),
        }
    }

    /// The texts read so far, by the path the engine asked for.
    pub fn into_read(self) -> BTreeMap<String, String> {
        self.read.into_inner()
    }

    fn resolve(&self, path: &str) -> Result<PathBuf, String> {
        let shown = self.root.display();
        let rel = Path::new(path);
        if path.is_empty() {
            return Err("include: empty path".to_owned());
        }
        let mut depth = 0usize;
        for component in rel.components() {
            match component {
                Component::Normal(_) => depth += 1,
                Component::CurDir => {}
                Component::ParentDir if depth > 0 => depth -= 1,
                Component::ParentDir => {
                    return Err(format!(
                        "include `{path}` leaves the repository root {shown}; only files inside it are read"
                    ));
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(format!(
                        "include `{path}` is an absolute path; only files inside the repository root {shown} are read"
                    ));
                }
            }
        }
        let joined = self.root.join(rel);
        let canonical = joined
            .canonicalize()
            .map_err(|e| format!("include `{path}`: cannot read {}: {e}", joined.display()))?;
        match &self.canonical_root {
            Some(root) if canonical.starts_with(root) => Ok(canonical),
            _ => Err(format!(
                "include `{path}` resolves outside the repository root {shown} (through a symlink); refused"
            )),
        }
    }
}

impl FileSource for RootedFiles {
    fn read(&self, path: &str) -> Result<String, String> {
        if let Some(text) = self.read.borrow().get(path) {
            return Ok(text.clone());
        }
        let resolved = self.resolve(path)?;
        let text =
            read_config(&resolved).map_err(|e| format!("include `{path}`: {}", e.message))?;
        self.read.borrow_mut().insert(path.to_owned(), text.clone());
        Ok(text)
    }

    fn list(&self, path: &str) -> Result<Vec<String>, String> {
        let dir = if path.is_empty() {
            self.canonical_root
                .clone()
                .ok_or_else(|| format!("cannot resolve {}", self.root.display()))?
        } else {
            self.resolve(path)?
        };
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{path}: {e}"))?;
        // Bounded: a workspace glob never expands to more than this many entries.
        Ok(entries
            .filter_map(Result::ok)
            .take(10_000)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().to_str().map(str::to_owned))
            .filter(|n| !n.starts_with('.') && n != "node_modules")
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_names_the_offending_byte() {
        assert_eq!(decode(b"a: 1\n".to_vec()), Ok("a: 1\n".to_owned()));
        assert_eq!(decode(b"\xEF\xBB\xBFa: 1".to_vec()), Ok("a: 1".to_owned()));
        let err = decode(b"a: 1\nb: \xFF\n".to_vec()).expect_err("not utf-8");
        assert_eq!((err.line, err.column), (2, 4));
        assert_eq!(err.message, "not valid UTF-8: byte 0xFF at byte offset 8");
        let err = decode(b"PK\x03\x04\x00\x00".to_vec()).expect_err("binary");
        assert!(
            err.message.contains("NUL byte at byte offset 4"),
            "{}",
            err.message
        );
    }

    #[test]
    fn includes_stay_inside_the_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("repo");
        std::fs::create_dir_all(root.join("ci")).expect("mkdir");
        std::fs::write(root.join("ci/a.yml"), "a: 1\n").expect("write");
        std::fs::write(dir.path().join("secret.yml"), "s: 1\n").expect("write");
        let files = RootedFiles::new(root.clone());
        assert_eq!(files.read("ci/a.yml"), Ok("a: 1\n".to_owned()));
        assert_eq!(files.read("ci/../ci/a.yml"), Ok("a: 1\n".to_owned()));
        let err = files.read("../secret.yml").expect_err("traversal");
        assert!(err.contains("leaves the repository root"), "{err}");
        let abs = dir.path().join("secret.yml");
        let err = files.read(&abs.to_string_lossy()).expect_err("absolute");
        assert!(err.contains("is an absolute path"), "{err}");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret.yml"), root.join("ci/link.yml"))
                .expect("symlink");
            let err = files.read("ci/link.yml").expect_err("symlink out");
            assert!(err.contains("outside the repository root"), "{err}");
        }
        let err = files.read("ci/missing.yml").expect_err("missing");
        assert!(err.contains("cannot read"), "{err}");
        assert_eq!(files.into_read().len(), 2, "one text per path asked for");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decode_accepts_exactly_nul_free_utf8(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let expected_ok = !bytes.contains(&0) && std::str::from_utf8(&bytes).is_ok();
            match decode(bytes) {
                Ok(_) => prop_assert!(expected_ok),
                Err(e) => {
                    prop_assert!(!expected_ok);
                    prop_assert!(!e.message.is_empty());
                }
            }
        }
    }
}
