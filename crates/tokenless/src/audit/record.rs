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

use anyhow::Context;
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

impl Record {
    /// Read a record file; a missing file is an empty record.
    pub fn load(path: &Path) -> anyhow::Result<Record> {
        let bytes = match tokenless_trust::read_capped(path, MAX_RECORD_BYTES) {
            Ok(b) => b,
            Err(e) if e.is_not_found() => return Ok(Record::default()),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read record {}", path.display()));
            }
        };
        let mut record: Record = serde_json::from_slice(&bytes)
            .with_context(|| format!("invalid record {}", path.display()))?;
        if record.version != 1 {
            anyhow::bail!(
                "invalid record {}: version {} (expected 1)",
                path.display(),
                record.version
            );
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

    #[test]
    fn missing_file_is_empty_and_bad_version_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("record.json");
        assert!(Record::load(&path).expect("missing").mfa.is_empty());
        std::fs::write(&path, r#"{"version":2}"#).expect("write");
        assert!(format!("{:#}", Record::load(&path).expect_err("v2")).contains("version 2"));
        std::fs::write(&path, r#"{"version":1,"mfa":[{"package":"@a/b","setting":"publish","acknowledged_at":"t"}],"surprise":1}"#).expect("write");
        assert!(format!("{:#}", Record::load(&path).expect_err("unknown")).contains("surprise"));
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
