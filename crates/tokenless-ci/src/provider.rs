//! The CI providers tokenless understands.

use std::fmt;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    #[serde(rename = "circleci")]
    CircleCi,
    #[serde(rename = "github")]
    GitHub,
    #[serde(rename = "gitlab")]
    GitLab,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::CircleCi, Provider::GitHub, Provider::GitLab];

    /// The name used on the command line and in JSON (`circleci`, `github`, `gitlab`).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::CircleCi => "circleci",
            Provider::GitHub => "github",
            Provider::GitLab => "gitlab",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
