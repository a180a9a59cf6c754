//! Where npm credentials rest on a machine or in a tree, found without ever sending one
//! anywhere: `.npmrc` and pnpm's ini files, yarn's `.yarnrc.yml` and `.yarnrc`, bun's
//! `bunfig.toml`, shell profiles and histories, `.env` files, JSON and YAML configs, and
//! any other text file.
//!
//! - [`walk`]: the files under the given roots (bounded, no symlink followed, binaries
//!   and caches skipped, `node_modules` only for its `.npmrc` files).
//! - [`format`]: which reader a file gets, by its name.
//! - [`read`]: one reader per format, each turning lines into [`Credential`]s.
//! - [`shape`]: what a value is (an `npm_` token, a GitHub or GitLab token, a UUID, a
//!   `${VAR}` reference) and how it is shown (redacted, never whole).
//! - [`env`]: the process environment.

pub mod env;
pub mod format;
pub mod read;
pub mod shape;
pub mod walk;

use serde::Serialize;

pub use shape::Kind;
pub use walk::{ScanOptions, ScanReport, scan};

/// The registry npm uses when nothing else is configured.
pub const NPMJS: &str = "registry.npmjs.org";

/// One credential found at rest. The value itself is kept for `--verify` and `--revoke`
/// and never serialised, printed or logged: [`Credential::redacted`] is what is shown.
#[derive(Clone, Serialize)]
pub struct Credential {
    /// The file, as reached from the root given (or `env:NAME`).
    pub path: String,
    /// 1-based; 0 for the environment.
    pub line: usize,
    pub kind: Kind,
    /// The registry host (and port) it authenticates to; `None` when nothing says (a bare
    /// GitHub token in a history, say).
    pub registry: Option<String>,
    /// The scheme the registry is configured with, when a `registry=` line names it
    /// (`http` for a local registry); https otherwise.
    #[serde(skip)]
    pub scheme: Option<String>,
    /// The value, redacted: `npm_…abcd`.
    pub redacted: String,
    #[serde(skip)]
    value: String,
}

impl Credential {
    pub fn new(path: &str, line: usize, kind: Kind, registry: Option<String>, value: &str) -> Self {
        let redacted = if kind == Kind::Reference {
            value.to_owned()
        } else {
            tokenless_trust::secret::redact(value)
        };
        Credential {
            path: path.to_owned(),
            line,
            kind,
            registry,
            scheme: None,
            redacted,
            value: value.to_owned(),
        }
    }

    /// The secret itself, for the registry it belongs to only.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Whether it is a secret (a `${VAR}` reference is not).
    pub fn is_secret(&self) -> bool {
        self.kind != Kind::Reference
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{} {} {} {}",
            self.path,
            self.line,
            self.kind.as_str(),
            self.registry.as_deref().unwrap_or("-"),
            self.redacted
        )
    }
}
