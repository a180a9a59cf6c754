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
    /// The registry `apply` wrote it for; the audit of another registry does not use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// The scope `apply` wrote it for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default)]
    pub temporary_tokens: Vec<TempTokenRecord>,
    /// Every completed apply step with its evidence, oldest first. Publishing access the
    /// registry acknowledged is a `set-mfa` step here, and nowhere else.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Entry>,
    /// Canary packages: verified first, and whether a person confirmed what npm cannot show.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canaries: Vec<Canary>,
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
    #[error(
        "record {path} was written for {theirs}, not {ours}: use a record of its own for each registry and scope (--record FILE)"
    )]
    Elsewhere {
        path: String,
        theirs: String,
        ours: String,
    },
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

    /// Claim the record for a registry and scope (`apply` does, before its first step); a
    /// record written for another one is refused.
    pub fn bind(&mut self, path: &Path, registry: &str, scope: &str) -> Result<(), RecordError> {
        let same = |a: &Option<String>, b: &str| a.as_deref().is_none_or(|a| same_url(a, b));
        if !same(&self.registry, registry) || self.scope.as_deref().is_some_and(|s| s != scope) {
            return Err(RecordError::Elsewhere {
                path: path.display().to_string(),
                theirs: format!(
                    "{} on {}",
                    self.scope.as_deref().unwrap_or("?"),
                    self.registry.as_deref().unwrap_or("?")
                ),
                ours: format!("{scope} on {registry}"),
            });
        }
        self.registry = Some(registry.to_owned());
        self.scope = Some(scope.to_owned());
        Ok(())
    }

    /// Whether the record was written for this registry and scope.
    pub fn is_for(&self, registry: &str, scope: &str) -> bool {
        self.registry
            .as_deref()
            .is_some_and(|r| same_url(r, registry))
            && self.scope.as_deref() == Some(scope)
    }

    /// The last `set-mfa` step the registry acknowledged for `package`.
    pub fn mfa_for(&self, package: &str) -> Option<&Entry> {
        self.mfa_steps()
            .filter(|e| e.package() == Some(package))
            .last()
    }

    /// Every acknowledged `set-mfa` step, oldest first.
    pub fn mfa_steps(&self) -> impl Iterator<Item = &Entry> {
        self.changes
            .iter()
            .filter(|e| e.op_name() == Some("set-mfa") && e.verified == "acknowledged")
    }

    /// Fold a completed step in.
    pub fn add(&mut self, entry: Entry) {
        self.changes.push(entry);
    }
}

/// Where a package's "Publishing access" page is: `https://www.npmjs.com/package/<pkg>/access`
/// for registry.npmjs.org, else below the registry's own URL (the sandbox serves it there).
pub fn access_settings_url(registry: &str, package: &str) -> String {
    let site = if registry.contains("registry.npmjs.org") {
        "https://www.npmjs.com"
    } else {
        registry.trim_end_matches('/')
    };
    format!("{site}/package/{package}/access")
}

/// Two registry URLs name the same registry (trailing slash aside).
fn same_url(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_empty_and_bad_version_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("record.json");
        assert!(Record::load(&path).expect("missing").changes.is_empty());
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
    fn a_bare_claim_of_publishing_access_is_refused() {
        // Publishing access is an acknowledged `set-mfa` step of apply, nothing less: a list
        // of claims typed into the file is an unknown field, not evidence.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("record.json");
        std::fs::write(
            &path,
            r#"{"version":1,"mfa":[{"package":"@a/b","setting":"publish","acknowledged_at":"2026-11-01T00:00:00Z"}]}"#,
        )
        .expect("write");
        let err = Record::load(&path).expect_err("refused").to_string();
        assert!(err.contains("unknown field `mfa`"), "{err}");
        // A step apply did not mark acknowledged does not count either.
        let mut r = Record::default();
        r.add(Entry {
            step: "mfa @a/b".into(),
            op: serde_json::json!({"op": "set-mfa", "package": "@a/b"}),
            at: "2026-11-30T08:00:00Z".into(),
            verified: "read-back".into(),
            evidence: "typed by hand".into(),
            by: Some("alice".into()),
        });
        assert!(r.mfa_for("@a/b").is_none());
    }

    #[test]
    fn a_record_is_bound_to_one_registry_and_scope() {
        let mut r = Record::default();
        let path = Path::new("record.json");
        r.bind(path, "https://registry.npmjs.org/", "@a")
            .expect("first bind");
        r.bind(path, "https://registry.npmjs.org", "@a")
            .expect("same registry");
        assert!(r.is_for("https://registry.npmjs.org/", "@a"));
        let err = r
            .bind(path, "http://127.0.0.1:4873/", "@a")
            .expect_err("another registry")
            .to_string();
        assert!(
            err.contains("written for @a on https://registry.npmjs.org"),
            "{err}"
        );
        assert!(r.bind(path, "https://registry.npmjs.org/", "@b").is_err());
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
            by: Some("alice".into()),
        });
        r.save(&path).expect("save");
        let back = Record::load(&path).expect("load");
        assert_eq!(
            back.mfa_for("@a/b").and_then(|m| m.by.as_deref()),
            Some("alice")
        );
        assert_eq!(back.changes.len(), 1);
    }
}
