//! tokenless's own record of the changes it made: what `apply` verified by reading it
//! back, what the registry only acknowledged (publishing access has no read), the canary
//! and whether a person confirmed it, and the temporary tokens it created. `apply` writes
//! it; the audit only reads it. The format is described in `docs/audit.md`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::journal::Entry;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    #[serde(default)]
    pub version: u32,
    /// Where the record was read from, for evidence.
    #[serde(skip)]
    pub source: Option<String>,
    /// Publishing access the registry acknowledged, per package.
    #[serde(default)]
    pub mfa: Vec<MfaRecord>,
    #[serde(default)]
    pub temporary_tokens: Vec<TempTokenRecord>,
    /// Every completed apply step with its evidence, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Entry>,
    /// Canary packages: verified first, and whether a person confirmed what npm cannot show.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canaries: Vec<Canary>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaRecord {
    pub package: String,
    /// `publish`, `automation` or `none`, as `npm access set mfa=`.
    pub setting: String,
    pub acknowledged_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TempTokenRecord {
    pub key: String,
    #[serde(default)]
    pub operation: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Canary {
    pub package: String,
    pub phase: String,
    pub at: String,
    /// Every change of the package was read back (publishing access: acknowledged).
    pub verified: bool,
    /// "Require two-factor authentication and disallow tokens" seen selected on the
    /// package's settings page by a person: `true` only when one said so; `false` when
    /// nobody was asked (`--yes`) or the answer was no; absent when the phase set no access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_confirmed: Option<bool>,
}

/// Largest record file read (a few hundred bytes per change).
pub const MAX_RECORD_BYTES: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot read record {path}: {message}")]
    Read { path: String, message: String },
    #[error("invalid record {path}: {message}")]
    Invalid { path: String, message: String },
    #[error("cannot write record {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

impl Record {
    /// Read a record file; a missing file is an empty record.
    pub fn load(path: &Path) -> Result<Record, RecordError> {
        let shown = path.display().to_string();
        let bytes = match tokenless_trust::read_capped(path, MAX_RECORD_BYTES) {
            Ok(b) => b,
            Err(e) if e.is_not_found() => {
                return Ok(Record {
                    version: 1,
                    ..Record::default()
                });
            }
            Err(e) => {
                return Err(RecordError::Read {
                    path: shown,
                    message: e.to_string(),
                });
            }
        };
        let mut record: Record =
            serde_json::from_slice(&bytes).map_err(|e| RecordError::Invalid {
                path: shown.clone(),
                message: e.to_string(),
            })?;
        if record.version != 1 {
            return Err(RecordError::Invalid {
                path: shown,
                message: format!("version {} (expected 1)", record.version),
            });
        }
        record.source = Some(shown);
        Ok(record)
    }

    /// Write the record atomically (a temporary file renamed over it).
    pub fn save(&self, path: &Path) -> Result<(), RecordError> {
        let err = |source| RecordError::Write {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let mut text = serde_json::to_string_pretty(&Record {
            version: 1,
            ..self.clone()
        })
        .unwrap_or_default();
        text.push('\n');
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(err)?;
        std::fs::rename(&tmp, path).map_err(err)
    }

    /// The last setting tokenless applied to `package` and the registry acknowledged.
    pub fn mfa_for(&self, package: &str) -> Option<&MfaRecord> {
        self.mfa.iter().rev().find(|m| m.package == package)
    }

    /// Fold a completed step in (publishing access also lands in `mfa`).
    pub fn add(&mut self, entry: Entry) {
        if entry.op.get("op").and_then(|o| o.as_str()) == Some("set-mfa")
            && let Some(package) = entry.op.get("package").and_then(|p| p.as_str())
        {
            self.mfa.push(MfaRecord {
                package: package.to_owned(),
                setting: "publish".into(),
                acknowledged_at: entry.at.clone(),
            });
        }
        self.changes.push(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_empty_and_bad_version_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("record.json");
        assert!(Record::load(&path).expect("missing").mfa.is_empty());
        std::fs::write(&path, r#"{"version":2}"#).expect("write");
        assert!(
            Record::load(&path)
                .expect_err("v2")
                .to_string()
                .contains("version 2")
        );
        std::fs::write(&path, r#"{"version":1,"surprise":1}"#).expect("write");
        assert!(
            Record::load(&path)
                .expect_err("unknown")
                .to_string()
                .contains("surprise")
        );
    }

    #[test]
    fn a_saved_step_reads_back_with_its_access_acknowledgement() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".tokenless/record.json");
        let mut r = Record::load(&path).expect("empty");
        r.add(Entry {
            step: "mfa @a/b".into(),
            op: serde_json::json!({"op": "set-mfa", "package": "@a/b"}),
            at: "2026-11-30T08:00:00Z".into(),
            verified: "acknowledged".into(),
            evidence: "POST /-/package/@a%2fb/access: 200".into(),
        });
        r.save(&path).expect("save");
        let back = Record::load(&path).expect("load");
        assert_eq!(
            back.mfa_for("@a/b").map(|m| m.setting.as_str()),
            Some("publish")
        );
        assert_eq!(back.changes.len(), 1);
    }
}
