//! Minting the short-lived registry token an accepted exchange yields.
//!
//! The token looks like npm's: `npm_` + 36 characters of `[0-9A-Za-z]`, uniformly random
//! from the system CSPRNG. It is scoped to exactly one package and to the actions the
//! decision granted, lives [`DEFAULT_TTL_SECS`] unless configured otherwise, and records for
//! each granted action the trust config that allowed it (for `_npmUser.trustedPublisher`).

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::secret::Secret;
use crate::trust_config::{Action, Provider};
use crate::verify::{Decision, Grant};

/// Default lifetime of a minted token: 5 minutes.
pub const DEFAULT_TTL_SECS: u64 = 300;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A registry token minted by an exchange.
#[derive(Debug, Clone)]
pub struct MintedToken {
    /// The token (`npm_…`); redacts itself.
    pub secret: Secret,
    /// The one package it may write.
    pub package: String,
    /// The first granted action (the only one when one action was asked for); see
    /// [`MintedToken::grants`] for all of them.
    pub action: Action,
    /// Unix time after which it is refused.
    pub expires_at: u64,
    /// The trust config of the first grant; see [`MintedToken::grant_for`] for the config
    /// allowing a given action.
    pub trust_config_id: Option<String>,
    /// Exactly the actions this token may perform, each with the config that allows it;
    /// never empty.
    pub grants: Vec<Grant>,
    /// The CI provider the id token came from.
    pub provider: Provider,
}

impl MintedToken {
    /// Whether the token may perform `action` on `package` at `now`.
    pub fn authorizes(&self, package: &str, action: Action, now: u64) -> bool {
        self.package == package && self.grant_for(action).is_some() && now < self.expires_at
    }

    /// The grant allowing `action` (its config id names `_npmUser.trustedPublisher`), or
    /// `None` when the token may not perform it.
    pub fn grant_for(&self, action: Action) -> Option<&Grant> {
        self.grants.iter().find(|g| g.action == action)
    }
}

/// Why no token was minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MintError {
    /// The decision refused the exchange.
    #[error("the exchange was refused; nothing to mint")]
    Refused,
    /// The system random generator failed.
    #[error("random generator failed")]
    Random,
}

/// Mints tokens with a configured lifetime.
#[derive(Debug, Clone, Copy)]
pub struct Minter {
    ttl_secs: u64,
}

impl Default for Minter {
    fn default() -> Self {
        Minter {
            ttl_secs: DEFAULT_TTL_SECS,
        }
    }
}

impl Minter {
    /// A minter whose tokens live `ttl_secs` seconds.
    pub fn with_ttl(ttl_secs: u64) -> Minter {
        Minter { ttl_secs }
    }

    /// The configured lifetime.
    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// A token for an accepted decision, valid from `now` for the configured lifetime.
    pub fn mint(&self, decision: &Decision, now: u64) -> Result<MintedToken, MintError> {
        let (provider, first) = match (
            decision.accepted,
            decision.provider,
            decision.grants.first(),
        ) {
            (true, Some(p), Some(g)) => (p, g),
            _ => return Err(MintError::Refused),
        };
        Ok(MintedToken {
            secret: random_npm_token()?,
            package: decision.package.clone(),
            action: first.action,
            expires_at: now.saturating_add(self.ttl_secs),
            trust_config_id: first.trust_config_id.clone(),
            grants: decision.grants.clone(),
            provider,
        })
    }
}

/// `npm_` + 36 uniformly random base62 characters.
pub fn random_npm_token() -> Result<Secret, MintError> {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(40);
    out.push_str("npm_");
    let mut buf = [0u8; 64];
    while out.len() < 40 {
        rng.fill(&mut buf).map_err(|_| MintError::Random)?;
        // 248 = 4 * 62: rejection sampling keeps the distribution uniform.
        for b in buf.iter().filter(|b| **b < 248) {
            if out.len() == 40 {
                break;
            }
            out.push(char::from(ALPHABET[usize::from(*b % 62)]));
        }
    }
    Ok(Secret::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_format_matches_npm() {
        let t = random_npm_token().expect("rng");
        let raw = t.expose();
        assert_eq!(raw.len(), 40);
        assert!(raw.starts_with("npm_"));
        assert!(raw[4..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(raw, random_npm_token().expect("rng").expose());
        assert!(t.to_string().starts_with("npm_…"));
    }
}
