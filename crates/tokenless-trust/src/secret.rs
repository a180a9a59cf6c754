//! [`Secret`]: a string that never shows itself in `Debug` or `Display`.
//!
//! Registry tokens, id tokens and any other credential travel through tokenless as a
//! `Secret`. Formatting prints a redacted form, `npm_…abcd` (the first four characters, an
//! ellipsis, the last four); values too short to keep eight characters hidden print as `…`.
//! The only way to the raw value is [`Secret::expose`], which makes every use greppable.

use std::fmt;

/// A credential. `Debug` and `Display` redact; [`Secret::expose`] returns the raw value.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

/// Fewest characters a value needs before its first and last four may be shown: at least
/// twelve must stay hidden.
const MIN_LEN_FOR_HINT: usize = 20;

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw credential. Call only where the value must leave the process (an HTTP header,
    /// a file the user asked for).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The redacted form that `Debug` and `Display` print: `npm_…abcd`.
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }
}

/// Redacts any credential-like string the way [`Secret`] does: first four characters, `…`,
/// last four; `…` alone for short values.
pub fn redact(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < MIN_LEN_FOR_HINT {
        return "…".to_owned();
    }
    let head: String = chars.iter().take(4).collect();
    let tail: String = chars.iter().skip(chars.len() - 4).collect();
    format!("{head}…{tail}")
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.redacted())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npm_token_shows_prefix_and_last_four_only() {
        let s = Secret::new("npm_abcdefghijklmnopqrstuvwxyz0123456789");
        assert_eq!(s.to_string(), "npm_…6789");
        assert_eq!(format!("{s:?}"), "Secret(npm_…6789)");
        assert!(!format!("{s:?}").contains("abcdefgh"));
    }

    #[test]
    fn short_values_are_fully_hidden() {
        assert_eq!(Secret::new("hunter2").to_string(), "…");
        assert_eq!(Secret::new("").to_string(), "…");
    }

    #[test]
    fn multibyte_values_do_not_split_characters() {
        let s = Secret::new("ééééééééééééééééééééééé");
        assert_eq!(s.to_string(), "éééé…éééé");
    }
}
