//! `--state FILE`: the world and the issuer keys as one JSON document, written atomically
//! (temporary file + rename) shortly after changes and at shutdown.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::issuers::StoredKeys;
use crate::model::World;

const FORMAT: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct StateFile {
    pub format: u32,
    pub keys: StoredKeys,
    pub world: World,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("state file {path}: line {line}, column {column}: {message}")]
    Parse {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("state file {path} has format {found}; this sandbox reads format {FORMAT}")]
    Format { path: String, found: u32 },
    #[error("cannot write state file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// Reads a state file; `Ok(None)` when it does not exist yet.
pub fn load(path: &Path) -> Result<Option<StateFile>, StateError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(StateError::Read {
                path: path.display().to_string(),
                source,
            });
        }
    };
    let state: StateFile = serde_json::from_str(&text).map_err(|e| StateError::Parse {
        path: path.display().to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    if state.format != FORMAT {
        return Err(StateError::Format {
            path: path.display().to_string(),
            found: state.format,
        });
    }
    Ok(Some(state))
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
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}
