//! Where a piece of evidence was seen: a place in a file, or something that is not a file
//! (an API request, a table of tokenless.toml, the audit's own credential). Renderers take
//! it as it is; nothing parses a location back out of a string.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Location {
    /// A file; `line` and `column` are 1-based, 0 when not known.
    File {
        path: String,
        line: usize,
        column: usize,
    },
    /// Anything else, by name: `GET /-/org/acme/user`, `tokenless.toml [members]`.
    Resource { name: String },
}

impl Location {
    /// A place in a file.
    pub fn file(path: impl Into<String>, line: usize, column: usize) -> Location {
        Location::File {
            path: path.into(),
            line,
            column,
        }
    }

    pub fn resource(name: impl Into<String>) -> Location {
        Location::Resource { name: name.into() }
    }
}

/// `path:line:column` (`path:line`, `path` as far as they are known), or the name.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File { path, line: 0, .. } => f.write_str(path),
            Location::File {
                path,
                line,
                column: 0,
            } => write!(f, "{path}:{line}"),
            Location::File { path, line, column } => write!(f, "{path}:{line}:{column}"),
            Location::Resource { name } => f.write_str(name),
        }
    }
}

impl From<&str> for Location {
    fn from(name: &str) -> Location {
        Location::resource(name)
    }
}

impl From<String> for Location {
    fn from(name: String) -> Location {
        Location::Resource { name }
    }
}

impl From<&String> for Location {
    fn from(name: &String) -> Location {
        Location::resource(name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_as_much_as_is_known() {
        assert_eq!(Location::file("a.yml", 3, 7).to_string(), "a.yml:3:7");
        assert_eq!(Location::file("a.yml", 3, 0).to_string(), "a.yml:3");
        assert_eq!(Location::file("a.yml", 0, 0).to_string(), "a.yml");
        assert_eq!(
            Location::from("GET /-/org/acme/user").to_string(),
            "GET /-/org/acme/user"
        );
    }
}
