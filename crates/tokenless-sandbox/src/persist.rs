//! `--state FILE`: the world and the issuer keys as one JSON document, written atomically
//! shortly after changes and at shutdown. The file holds secrets (issuer private keys, TOTP
//! secrets), so it is created `0600` through a fresh temporary file (`O_EXCL`, which never
//! follows a symlink) renamed over the target (a rename replaces a symlink, never its target).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::issuers::StoredKeys;
use crate::model::World;

/// Format 3: login sessions that expire (`users.*.sessions`). Format 2 (several trust
/// configs per package, tarballs stored once by digest, one `session_token` per user that
/// never expired) is still read: its session becomes the user's scenario session.
const FORMAT: u32 = 3;
/// The oldest format still read.
const OLDEST_FORMAT: u32 = 2;
/// Largest state file read.
pub const MAX_STATE_BYTES: u64 = 1024 * 1024 * 1024;

#[derive(Debug, Serialize, Deserialize)]
pub struct StateFile {
    pub format: u32,
    pub keys: StoredKeys,
    pub world: World,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state file: {0}")]
    Read(#[source] tokenless_trust::ReadError),
    #[error("state file {path}: line {line}, column {column}: {message}")]
    Parse {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "state file {path} has format {found}; this sandbox reads formats {OLDEST_FORMAT} to {FORMAT}"
    )]
    Format { path: String, found: u32 },
    #[error("cannot write state file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// Reads a state file; `Ok(None)` when it does not exist yet.
pub fn load(path: &Path) -> Result<Option<StateFile>, StateError> {
    let bytes = match tokenless_trust::read_capped(path, MAX_STATE_BYTES) {
        Ok(b) => b,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(StateError::Read(e)),
    };
    let parse_error = |e: serde_json::Error| StateError::Parse {
        path: path.display().to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    };
    #[derive(Deserialize)]
    struct Header {
        format: u32,
    }
    let header: Header = serde_json::from_slice(&bytes).map_err(parse_error)?;
    match header.format {
        FORMAT => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(parse_error),
        2 => {
            let mut doc: serde_json::Value = serde_json::from_slice(&bytes).map_err(parse_error)?;
            upgrade_sessions(&mut doc);
            let mut state: StateFile = serde_json::from_value(doc).map_err(parse_error)?;
            state.format = FORMAT;
            Ok(Some(state))
        }
        found => Err(StateError::Format {
            path: path.display().to_string(),
            found,
        }),
    }
}

/// Format 2 → 3: each user's `session_token` becomes its scenario session (its two hours are
/// set when the sandbox starts).
fn upgrade_sessions(doc: &mut serde_json::Value) {
    let Some(users) = doc
        .pointer_mut("/world/users")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    for user in users
        .values_mut()
        .filter_map(serde_json::Value::as_object_mut)
    {
        if let Some(serde_json::Value::String(token)) = user.remove("session_token") {
            user.insert(
                "sessions".into(),
                serde_json::json!([{"token": token, "expires": 0, "initial": true}]),
            );
        }
    }
}

/// Writes the state atomically.
pub fn save(path: &Path, keys: &StoredKeys, world: &World) -> Result<(), StateError> {
    let err = |source| StateError::Write {
        path: path.display().to_string(),
        source,
    };
    #[derive(Serialize)]
    struct Out<'a> {
        format: u32,
        keys: &'a StoredKeys,
        world: &'a World,
    }
    let bytes = serde_json::to_vec(&Out {
        format: FORMAT,
        keys,
        world,
    })
    .map_err(|e| err(std::io::Error::other(e)))?;
    write_private(path, &bytes).map_err(err)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".to_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", crate::ids::opaque()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let written = options.open(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&tmp, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    renamed
}
