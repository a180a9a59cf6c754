//! tokenless's own record of changes it made and the registry acknowledged: the
//! publishing-access settings it applied, the temporary tokens it created. Bulk-change
//! commands write it; the audit only reads it. Format (JSON):
//!
//! ```json
//! {"version": 1,
//!  "mfa": [{"package": "@acme/a", "setting": "publish", "acknowledged_at": "2026-11-20T10:00:00Z"}],
//!  "temporary_tokens": [{"key": "…", "operation": "apply 2026-11-20", "created_at": "…"}]}
//! ```

use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    #[serde(default)]
    pub version: u32,
    /// `source` is where the record was read from, for evidence.
    #[serde(skip)]
    pub source: Option<String>,
    #[serde(default)]
    pub mfa: Vec<MfaRecord>,
    #[serde(default)]
    pub temporary_tokens: Vec<TempTokenRecord>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaRecord {
    pub package: String,
    /// `publish`, `automation` or `none`, as `npm access set mfa=`.
    pub setting: String,
    pub acknowledged_at: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TempTokenRecord {
    pub key: String,
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// Largest record file read (tokenless appends a few hundred bytes per change it applies).
pub const MAX_RECORD_BYTES: u64 = 16 << 20;

/// Why a record file could not be used. Each names the file; the cause, when there is one,
/// is the error's `source`.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot read record {path}")]
    Read {
        path: String,
        #[source]
        source: tokenless_trust::ReadError,
    },
    #[error("invalid record {path}")]
    Invalid {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid record {path}: version {version} (expected 1)")]
    Version { path: String, version: u32 },
}

impl Record {
    /// Read a record file; a missing file is an empty record.
    pub fn load(path: &Path) -> Result<Record, RecordError> {
        let shown = || path.display().to_string();
        let bytes = match tokenless_trust::read_capped(path, MAX_RECORD_BYTES) {
            Ok(b) => b,
            Err(e) if e.is_not_found() => return Ok(Record::default()),
            Err(source) => {
                return Err(RecordError::Read {
                    path: shown(),
                    source,
                });
            }
        };
        let mut record: Record =
            serde_json::from_slice(&bytes).map_err(|source| RecordError::Invalid {
                path: shown(),
                source,
            })?;
        if record.version != 1 {
            return Err(RecordError::Version {
                path: shown(),
                version: record.version,
            });
        }
        record.source = Some(path.display().to_string());
        Ok(record)
    }

    /// The last setting tokenless applied to `package` and the registry acknowledged.
    pub fn mfa_for(&self, package: &str) -> Option<&MfaRecord> {
        self.mfa.iter().rev().find(|m| m.package == package)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message and its causes, as `{:#}` of an `anyhow::Error` shows them.
    fn chain(e: &RecordError) -> String {
        let mut s = e.to_string();
        let mut cause = std::error::Error::source(e);
        while let Some(c) = cause {
            s.push_str(&format!(": {c}"));
            cause = c.source();
        }
        s
    }

    #[test]
    fn missing_file_is_empty_and_bad_version_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("record.json");
        assert!(Record::load(&path).expect("missing").mfa.is_empty());
        std::fs::write(&path, r#"{"version":2}"#).expect("write");
        assert!(chain(&Record::load(&path).expect_err("v2")).contains("version 2"));
        std::fs::write(&path, r#"{"version":1,"mfa":[{"package":"@a/b","setting":"publish","acknowledged_at":"t"}],"surprise":1}"#).expect("write");
        assert!(chain(&Record::load(&path).expect_err("unknown")).contains("surprise"));
        std::fs::write(
            &path,
            r#"{"version":1,"mfa":[{"package":"@a/b","setting":"publish","acknowledged_at":"t"}]}"#,
        )
        .expect("write");
        let r = Record::load(&path).expect("ok");
        assert_eq!(
            r.mfa_for("@a/b").map(|m| m.setting.as_str()),
            Some("publish")
        );
    }
}
