//! Reading a file the user named, bounded before a byte is read.
//!
//! Every file tokenless reads from a path it was given (`--id-token`, `--trust`, `--jwks`,
//! `--config`, `--record`, the sandbox's `--scenario` and `--state`) goes through
//! [`read_capped`]: a FIFO, a device such as `/dev/zero`, a directory or a file larger than
//! the cap is refused with an error naming the path and what it is, instead of blocking or
//! reading until memory runs out.

use std::io::Read as _;
use std::path::Path;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be inspected, opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Not a regular file: reading it could block (FIFO, socket) or never end (device).
    #[error("{path} is {kind}, not a regular file")]
    NotRegular {
        /// The path as given.
        path: String,
        /// `a directory`, `a FIFO (named pipe)`, `a character device`, …
        kind: &'static str,
    },
    /// Larger than the cap (by its size on disk, or it grew while being read).
    #[error("{path} is {size} bytes, more than the {max} bytes tokenless reads from it")]
    TooLarge {
        /// The path as given.
        path: String,
        /// Its size, or `max + 1` when it grew past the cap while being read.
        size: u64,
        /// The cap.
        max: u64,
    },
}

impl ReadError {
    /// Whether the file does not exist (callers that treat a missing file as empty).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

fn kind_of(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Reads the regular file at `path` if it holds at most `max_bytes` bytes.
///
/// The file's type and size are checked from its metadata before it is opened (so a FIFO
/// without a writer is refused, not waited on); it is opened non-blocking and checked again
/// through the open handle (a path swapped in between is caught); and at most
/// `max_bytes + 1` bytes are read, so a file that grows meanwhile is still bounded.
pub fn read_capped(path: &Path, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
    let shown = || path.display().to_string();
    let io = |source| ReadError::Io {
        path: shown(),
        source,
    };
    let check = |meta: &std::fs::Metadata| {
        if !meta.is_file() {
            return Err(ReadError::NotRegular {
                path: shown(),
                kind: kind_of(meta.file_type()),
            });
        }
        if meta.len() > max_bytes {
            return Err(ReadError::TooLarge {
                path: shown(),
                size: meta.len(),
                max: max_bytes,
            });
        }
        Ok(meta.len())
    };
    check(&std::fs::metadata(path).map_err(io)?)?;
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(io)?;
    let len = check(&file.metadata().map_err(io)?)?;
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0).saturating_add(1));
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > max_bytes {
        return Err(ReadError::TooLarge {
            path: shown(),
            size: bytes.len() as u64,
            max: max_bytes,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_regular_file_is_read_whole() {
        let dir = std::env::temp_dir().join(format!("tokenless-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("small.json");
        std::fs::write(&path, b"{\"a\":1}").expect("write");
        assert_eq!(read_capped(&path, 7).expect("read"), b"{\"a\":1}");
        let err = read_capped(&path, 6).expect_err("over the cap");
        assert_eq!(
            err.to_string(),
            format!(
                "{} is 7 bytes, more than the 6 bytes tokenless reads from it",
                path.display()
            )
        );
        let err = read_capped(&dir, 100).expect_err("a directory");
        assert!(
            err.to_string()
                .ends_with("is a directory, not a regular file"),
            "{err}"
        );
        let missing = read_capped(&dir.join("missing"), 100).expect_err("missing");
        assert!(missing.is_not_found());
        assert!(missing.to_string().starts_with("cannot read "), "{missing}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_refused_without_reading() {
        let err = read_capped(Path::new("/dev/zero"), 1 << 20).expect_err("device");
        assert_eq!(
            err.to_string(),
            "/dev/zero is a character device, not a regular file"
        );
    }
}
