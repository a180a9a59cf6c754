//! A credential held in memory whose `Debug` and `Display` never show it.

use std::fmt;

/// A token or password. Printing it shows `npm_…abcd` (the first four characters, an
/// ellipsis, the last four); only [`Secret::expose`] gives the value, for the one header
/// that needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The raw value. Call it only where the value leaves the process on purpose.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The redacted form: `npm_…abcd`; short values are fully masked.
    pub fn redacted(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() < 12 {
            return "…".to_string();
        }
        let head: String = chars.iter().take(4).collect();
        let tail: String = chars.iter().skip(chars.len() - 4).collect();
        format!("{head}…{tail}")
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_debug_redact() {
        let s = Secret::new("npm_abcdefghijklmnopqrstuvwxyz0123456789");
        assert_eq!(s.to_string(), "npm_…6789");
        assert_eq!(format!("{s:?}"), "Secret(npm_…6789)");
        assert!(!format!("{s} {s:?}").contains("abcdefgh"));
    }

    #[test]
    fn short_values_are_fully_masked() {
        assert_eq!(Secret::new("hunter2").to_string(), "…");
    }
}
