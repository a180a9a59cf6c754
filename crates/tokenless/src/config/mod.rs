//! `tokenless.toml`: one file, one table per concern. Each table has its own module;
//! unknown tables and keys are refused with the name of the offending field.

use std::path::Path;

use anyhow::Context;

pub mod audit;
pub mod lint;
/// `[members]` is the org's data model's, not the binary's: one type, in tokenless-org.
pub use tokenless_org::members;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[lint]`: rules to disable, paths to ignore.
    #[serde(default)]
    pub lint: lint::LintConfig,
    /// `[audit]`: scope, registry and CircleCI org/projects for `tokenless audit`.
    #[serde(default)]
    pub audit: audit::AuditConfig,
    /// `[members]`: who in the org is an owner, a human or a service account.
    #[serde(default)]
    pub members: Option<members::MembersConfig>,
}

/// Largest `tokenless.toml` read.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

impl Config {
    /// Read and parse a config file; errors name the file and the field.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let bytes = tokenless_trust::read_capped(path, MAX_CONFIG_BYTES)
            .with_context(|| format!("cannot read config {}", path.display()))?;
        let text = String::from_utf8(bytes)
            .with_context(|| format!("cannot read config {}: not UTF-8", path.display()))?;
        Config::parse(&text).with_context(|| format!("invalid config {}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<Config> {
        Ok(toml::from_str(text)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_default_config() {
        let cfg = Config::parse("").expect("empty config parses");
        assert!(cfg.members.is_none());
    }

    #[test]
    fn unknown_table_is_refused_by_name() {
        let err = Config::parse("[lnt]\n").expect_err("typo must be refused");
        assert!(format!("{err:#}").contains("lnt"), "{err:#}");
    }
}
