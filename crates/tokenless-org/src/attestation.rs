//! Token attestations: npm lists only the signed-in account's tokens, and an owner cannot
//! see another member's. So each member states their own list, signed in as themselves
//! (`tokenless tokens attest`), and the audit reads the statements (`--attestations DIR`)
//! for the members it cannot list. A statement is what the registry answered, when, for
//! whom; it never holds a token's secret.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokenless_api::npm::Token;

/// What the `kind` field says.
pub const KIND: &str = "tokenless-token-attestation";
/// An attestation older than this is stale: the member must attest again.
pub const MAX_AGE_SECS: u64 = 7 * 86_400;
/// Largest attestation file read, and most files read from a directory.
const MAX_BYTES: u64 = 4 << 20;
const MAX_FILES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    pub version: u32,
    pub kind: String,
    /// The registry the list came from.
    pub registry: String,
    pub scope: String,
    /// The signed-in account (`GET /-/whoami`).
    pub user: String,
    /// When the list was read (RFC 3339).
    pub at: String,
    /// The registry's token list for that account, without the token field.
    pub tokens: Vec<Token>,
}

impl Attestation {
    pub fn new(registry: &str, scope: &str, user: &str, tokens: Vec<Token>) -> Attestation {
        Attestation {
            version: 1,
            kind: KIND.into(),
            registry: registry.into(),
            scope: scope.into(),
            user: user.into(),
            at: tokenless_trust::clock::now_rfc3339(),
            tokens: tokens
                .into_iter()
                .map(|t| Token {
                    token: String::new(),
                    ..t
                })
                .collect(),
        }
    }

    /// Whether it speaks for `user` of `scope` on `registry` (registry URLs compared
    /// without a trailing slash).
    pub fn covers(&self, registry: &str, scope: &str, user: &str) -> bool {
        self.user == user
            && self.scope.trim_start_matches('@') == scope.trim_start_matches('@')
            && self.registry.trim_end_matches('/') == registry.trim_end_matches('/')
    }

    /// Whether it is older than [`MAX_AGE_SECS`] at `now` (RFC 3339 strings compare in
    /// time order).
    pub fn stale(&self, now_secs: u64) -> bool {
        self.at.as_str()
            < tokenless_trust::clock::rfc3339(now_secs.saturating_sub(MAX_AGE_SECS)).as_str()
    }
}

/// What a directory of attestations held: the statements (with their files), and the
/// files that are not one (and why).
pub type DirContents = (Vec<(PathBuf, Attestation)>, Vec<String>);

/// Every `*.json` attestation in `dir`.
pub fn read_dir(dir: &Path) -> Result<DirContents, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut found = Vec::new();
    let mut errors = Vec::new();
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .take(MAX_FILES)
        .collect();
    paths.sort();
    for path in paths {
        let text = match tokenless_trust::read_capped(&path, MAX_BYTES) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                errors.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        match serde_json::from_str::<Attestation>(&text) {
            Ok(a) if a.kind == KIND && a.version == 1 => found.push((path, a)),
            Ok(_) => errors.push(format!("{}: not a version-1 {KIND}", path.display())),
            Err(e) => errors.push(format!("{}: {e}", path.display())),
        }
    }
    Ok((found, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_never_holds_a_secret_and_matches_its_account() {
        let t = Token {
            key: "k1".into(),
            token: "npm_abcdef".into(),
            ..Token::default()
        };
        let a = Attestation::new("http://r/", "@acme", "bob", vec![t]);
        assert!(a.tokens[0].token.is_empty());
        assert!(a.covers("http://r", "acme", "bob"));
        assert!(!a.covers("http://r", "acme", "alice"));
        assert!(!a.stale(tokenless_trust::clock::now_secs()));
        assert!(a.stale(tokenless_trust::clock::now_secs() + 8 * 86_400));
    }
}
