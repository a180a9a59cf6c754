//! `tokenless.toml`: one file, one table per concern. `[org]` says where the org lives,
//! `[lint]` tunes lint, and the rest is the desired state (`desired.rs`) that `plan` and
//! `apply` work towards. Unknown tables and keys are refused with their name and line.

use std::path::Path;

use crate::desired::{
    AccessSpec, CircleCiRules, GitHubRules, GitLabRules, PublisherSpec, SecretsSpec, TeamsSpec,
    TokensSpec,
};
use crate::members::MembersConfig;

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[lint]`: rules to disable, paths to ignore.
    #[serde(default)]
    pub lint: tokenless_ci::config::LintConfig,
    /// `[org]`: the scope, the registry and the CI providers' APIs.
    #[serde(default)]
    pub org: OrgConfig,
    /// `[members]`: who in the org is an owner, a person, or a service account to retire.
    #[serde(default)]
    pub members: Option<MembersConfig>,
    /// `[[publisher]]`: trusted publishers per package pattern.
    #[serde(default, rename = "publisher")]
    pub publishers: Vec<PublisherSpec>,
    /// `[circleci]`: what bound contexts enforce.
    #[serde(default)]
    pub circleci: CircleCiRules,
    /// `[github]`: what pinned environments enforce.
    #[serde(default)]
    pub github: GitHubRules,
    /// `[gitlab]`: what pinned environments enforce.
    #[serde(default)]
    pub gitlab: GitLabRules,
    /// `[access]`: publishing access of every package.
    #[serde(default)]
    pub access: AccessSpec,
    /// `[teams]`: team permissions.
    #[serde(default)]
    pub teams: TeamsSpec,
    /// `[secrets]`: CI secrets and variables to remove.
    #[serde(default)]
    pub secrets: SecretsSpec,
    /// `[tokens]`: the signed-in owner's static tokens.
    pub tokens: Option<TokensSpec>,
}

/// `[org]`: where the org lives.
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgConfig {
    /// The npm scope, `@acme`.
    pub scope: Option<String>,
    /// The registry, `https://registry.npmjs.org/`.
    pub registry: Option<String>,
    /// CircleCI API v2 base URL.
    pub circleci_api: Option<String>,
    /// CircleCI organization id (UUID).
    pub circleci_org: Option<String>,
    /// CircleCI project slugs the audit reads (`gh/acme/monorepo`).
    #[serde(default)]
    pub circleci_projects: Vec<String>,
    /// GitHub API base URL.
    pub github_api: Option<String>,
    /// GitHub repositories the audit reads besides those trust configs name.
    #[serde(default)]
    pub github_repos: Vec<String>,
    /// GitLab API v4 base URL.
    pub gitlab_api: Option<String>,
    /// GitLab projects the audit reads besides those trust configs name.
    #[serde(default)]
    pub gitlab_projects: Vec<String>,
}

/// Largest `tokenless.toml` read.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: String,
        source: tokenless_trust::ReadError,
    },
    #[error("cannot read config {path}: not UTF-8")]
    Utf8 { path: String },
    #[error("invalid config {path}: {message}")]
    Invalid { path: String, message: String },
}

impl Config {
    /// Read and parse a config file; errors name the file, the key and the line.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let bytes = tokenless_trust::read_capped(path, MAX_CONFIG_BYTES).map_err(|source| {
            ConfigError::Read {
                path: shown.clone(),
                source,
            }
        })?;
        let text = String::from_utf8(bytes).map_err(|_| ConfigError::Utf8 {
            path: shown.clone(),
        })?;
        Config::parse(&text).map_err(|message| ConfigError::Invalid {
            path: shown,
            message,
        })
    }

    /// Parse config text; the error carries the TOML parser's line and column.
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Team names `[teams]` speaks about.
    pub fn teams_names(&self) -> Vec<String> {
        self.teams.keys().cloned().collect()
    }

    /// The JSON Schema of the whole file (`tokenless schema`).
    pub fn schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Config)).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_default_config() {
        let cfg = Config::parse("").expect("empty config parses");
        assert!(cfg.members.is_none());
        assert!(cfg.publishers.is_empty());
    }

    #[test]
    fn unknown_table_is_refused_by_name_and_line() {
        let err = Config::parse("[org]\nscope = \"@a\"\n[lnt]\n").expect_err("typo");
        assert!(err.contains("lnt") && err.contains("line 3"), "{err}");
        let err = Config::parse("[audit]\nscope = \"@a\"\n").expect_err("old name");
        assert!(err.contains("audit"), "{err}");
    }

    #[test]
    fn the_schema_accepts_the_examples_and_refuses_a_typo() {
        let schema = Config::schema();
        let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
        let good = serde_json::json!({
            "org": {"scope": "@acme"},
            "publisher": [{"packages": ["@acme/*"], "provider": "github", "repository": "acme/site", "workflow": "publish.yml", "environment": "npm"}],
            "access": {"mfa": "publish"},
            "teams": {"developers": "read-only"},
            "tokens": {"delete": "all", "keep": ["laptop-read"]}
        });
        assert!(
            validator.is_valid(&good),
            "{:?}",
            validator
                .iter_errors(&good)
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
        );
        let bad = serde_json::json!({"access": {"mfa": "sometimes"}});
        assert!(!validator.is_valid(&bad));
        let bad = serde_json::json!({"publisher": [{"packages": ["x"], "provider": "github", "repo": "a/b"}]});
        assert!(
            !validator.is_valid(&bad),
            "unknown keys are refused by the schema too"
        );
    }
}
