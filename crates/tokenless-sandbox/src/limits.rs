//! How much the sandbox stores: every string a client can set and every collection a client
//! can grow has a bound, refused with a 400 (too long) or 409 (too many) that names the
//! field, so no request (or run of requests) can make `/-/sandbox/info` or the state file
//! grow without end.

use crate::error::SandboxError;

/// Names: contexts, teams, tokens, restriction names.
pub const NAME: usize = 256;
/// Values: environment variables, restriction expressions, descriptions.
pub const VALUE: usize = 4096;
/// Contexts of the CircleCI org.
pub const CONTEXTS: usize = 1000;
/// Environment variables of one context or project.
pub const VARIABLES: usize = 1000;
/// Restrictions of one context.
pub const RESTRICTIONS: usize = 100;
/// Teams of the org, and members or packages of one team.
pub const TEAMS: usize = 1000;
/// Packages of the registry.
pub const PACKAGES: usize = 100_000;
/// Versions of one package.
pub const VERSIONS: usize = 10_000;
/// Claims a test may ask the mint endpoint to sign, serialized.
pub const CLAIMS_BYTES: usize = 16 * 1024;

/// `value` of `field` is at most `max` bytes.
pub fn text(field: &str, value: &str, max: usize) -> Result<(), SandboxError> {
    if value.len() > max {
        Err(SandboxError::bad_request(format!(
            "{field} is {} bytes; the sandbox stores at most {max}.",
            value.len()
        )))
    } else {
        Ok(())
    }
}

/// A collection of `what` holding `len` may take one more (at most `max`).
pub fn room(what: &str, len: usize, max: usize) -> Result<(), SandboxError> {
    if len >= max {
        Err(SandboxError::conflict(format!(
            "Too many {what}: the sandbox keeps at most {max}."
        )))
    } else {
        Ok(())
    }
}
