//! The apply journal: one JSON line per completed step, written the moment the step is
//! done (a killed process loses nothing the kernel has; `sync` puts it on disk at the end
//! of a run), so a run stopped by Ctrl-C, a crash or SIGKILL resumes where it stopped and
//! never applies a step twice. A complete apply folds the journal into the record and
//! removes it. Should a machine crash lose the last lines, the rerun still converges: the
//! plan is made from the org as it is read again, and every step is idempotent.

use std::{
    collections::BTreeMap,
    fs::{File, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
    sync::Mutex,
};

use serde::{Deserialize, Serialize};

/// One completed step.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub step: String,
    /// `op` and its fields, as planned.
    pub op: serde_json::Value,
    pub at: String,
    /// `read-back` (the change was read back from the API) or `acknowledged` (the API
    /// has no read for it; its 2xx answer is all there is).
    pub verified: String,
    /// What was read back, or what acknowledged.
    pub evidence: String,
    /// The npm account that made the change (whoami at the start of the run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

impl Entry {
    /// The planned op's name (`set-mfa`, `create-trust`, …).
    pub fn op_name(&self) -> Option<&str> {
        self.op.get("op").and_then(|o| o.as_str())
    }

    /// The package the op was about, if any.
    pub fn package(&self) -> Option<&str> {
        self.op.get("package").and_then(|p| p.as_str())
    }
}

/// Largest journal read (a line is a few hundred bytes; 100k steps fit).
const MAX_JOURNAL_BYTES: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("cannot read journal {path}: {message}")]
    Read { path: String, message: String },
    #[error(
        "journal {path} line {line}: {message} (a run was cut off while writing it? remove the line to continue)"
    )]
    Corrupt {
        path: String,
        line: usize,
        message: String,
    },
    #[error("cannot write journal {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    done: BTreeMap<String, Entry>,
}

impl Journal {
    /// Open (or create) the journal; earlier entries are the steps already done. A last
    /// line cut off mid-write (SIGKILL) is ignored: its step was not recorded as done and
    /// is done again, which every step tolerates.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let shown = path.display().to_string();
        let mut done = BTreeMap::new();
        let mut complete_len: Option<u64> = None;
        match tokenless_trust::read_capped(path, MAX_JOURNAL_BYTES) {
            Ok(bytes) => {
                if !bytes.is_empty() && !bytes.ends_with(b"\n") {
                    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                    complete_len = Some(keep as u64);
                }
                let text = String::from_utf8_lossy(&bytes);
                let lines: Vec<&str> = text.split('\n').collect();
                let last = lines.len().saturating_sub(1);
                for (i, line) in lines.iter().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<Entry>(line) {
                        Ok(e) => {
                            done.insert(e.step.clone(), e);
                        }
                        // The unterminated last line of a killed run.
                        Err(_) if i == last => {}
                        Err(e) => {
                            return Err(JournalError::Corrupt {
                                path: shown,
                                line: i + 1,
                                message: e.to_string(),
                            });
                        }
                    }
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                return Err(JournalError::Read {
                    path: shown,
                    message: e.to_string(),
                });
            }
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| JournalError::Write {
                path: shown.clone(),
                source,
            })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| JournalError::Write {
                path: shown.clone(),
                source,
            })?;
        // Drop the cut-off last line so the next entry starts on its own line.
        if let Some(len) = complete_len {
            file.set_len(len).map_err(|source| JournalError::Write {
                path: shown.clone(),
                source,
            })?;
        }
        Ok(Journal {
            path: path.to_owned(),
            file: Mutex::new(file),
            done,
        })
    }

    pub fn is_done(&self, step: &str) -> bool {
        self.done.contains_key(step)
    }

    /// Entries of earlier runs.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.done.values()
    }

    /// Append one entry (one `write`: it survives the process being killed).
    pub fn append(&self, entry: &Entry) -> Result<(), JournalError> {
        let mut line = serde_json::to_string(entry).unwrap_or_default();
        line.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.write_all(line.as_bytes())
            .map_err(|source| JournalError::Write {
                path: self.path.display().to_string(),
                source,
            })
    }

    /// Put what was appended on disk (the end of a run, complete or not).
    pub fn sync(&self) -> Result<(), JournalError> {
        let file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        file.sync_data().map_err(|source| JournalError::Write {
            path: self.path.display().to_string(),
            source,
        })
    }

    /// Remove a journal whose run finished (its entries are in the record).
    pub fn remove(path: &Path) -> Result<(), JournalError> {
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(JournalError::Write {
                path: path.display().to_string(),
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(step: &str) -> Entry {
        Entry {
            step: step.into(),
            op: serde_json::json!({"op": "set-mfa"}),
            at: "t".into(),
            verified: "acknowledged".into(),
            evidence: "200".into(),
            by: None,
        }
    }

    #[test]
    fn entries_survive_a_reopen_and_a_cut_off_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".tokenless/journal.jsonl");
        let j = Journal::open(&path).expect("open");
        j.append(&entry("mfa @a/b")).expect("append");
        drop(j);
        // A run killed mid-write leaves half a line.
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(b"{\"step\":\"mfa @a/c\",\"op").expect("write");
        drop(f);
        let j = Journal::open(&path).expect("reopen");
        assert!(j.is_done("mfa @a/b"));
        assert!(!j.is_done("mfa @a/c"));
        j.append(&entry("mfa @a/c")).expect("append after cut");
        drop(j);
        let j = Journal::open(&path).expect("reopen twice");
        assert!(
            j.is_done("mfa @a/c"),
            "the entry after a cut-off line is read"
        );
        drop(j);
        Journal::remove(&path).expect("remove");
        assert!(!path.exists());
    }

    #[test]
    fn a_corrupt_middle_line_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "garbage\n{}\n\n").expect("write");
        let err = Journal::open(&path).err().expect("corrupt");
        assert!(err.to_string().contains("line 1"), "{err}");
    }
}
