//! The `[lint]` table.
//!
//! ```toml
//! [lint]
//! # Rules never reported (exact ids from docs/rules.md).
//! disable = ["branch-filter-only"]
//! # Files not linted: globs relative to the linted root (`*` stays within one path
//! # component, `**` crosses them).
//! ignore = [".github/workflows/experimental-*.yml", "vendor/**"]
//! ```
//!
//! Unknown rule ids and invalid globs are refused when the file is loaded, and the error
//! names the file, line and column.

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use serde::de::Error as _;

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LintConfig {
    /// Rule ids whose findings are suppressed everywhere.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub disable: Vec<RuleId>,
    /// Globs of files (relative to the linted root) that are not linted at all.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub ignore: Vec<PathGlob>,
}

impl LintConfig {
    /// Whether findings of `rule` are disabled.
    pub fn disables(&self, rule: &str) -> bool {
        self.disable.iter().any(|r| r.0 == rule)
    }

    /// The `ignore` globs as one matcher.
    pub fn ignore_set(&self) -> GlobSet {
        let mut builder = GlobSetBuilder::new();
        for glob in &self.ignore {
            builder.add(glob.0.clone());
        }
        // Every glob was compiled when the config was loaded; building the set of
        // already-valid globs only fails on resource limits, which then ignore nothing.
        builder.build().unwrap_or_else(|_| GlobSet::empty())
    }
}

/// A rule id that exists in [`crate::RULES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleId(pub String);

impl<'de> serde::Deserialize<'de> for RuleId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = String::deserialize(deserializer)?;
        if crate::rule_meta(&id).is_some() {
            Ok(RuleId(id))
        } else {
            let known: Vec<&str> = crate::RULES.iter().map(|r| r.id.as_str()).collect();
            Err(D::Error::custom(format!(
                "unknown rule id `{id}`; known ids: {}",
                known.join(", ")
            )))
        }
    }
}

/// A compiled path glob (`*` does not cross `/`).
#[derive(Debug, Clone)]
pub struct PathGlob(pub Glob);

impl<'de> serde::Deserialize<'de> for PathGlob {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let pattern = text.strip_prefix("./").unwrap_or(&text);
        GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map(PathGlob)
            .map_err(|e| D::Error::custom(format!("invalid glob `{text}`: {}", e.kind())))
    }
}

#[cfg(test)]
mod tests {
    use super::LintConfig;

    /// A `tokenless.toml` holding only `[lint]`.
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Config {
        lint: LintConfig,
    }

    impl Config {
        fn parse(text: &str) -> Result<Config, toml::de::Error> {
            toml::from_str(text)
        }
    }

    #[test]
    fn reads_disabled_rules_and_ignored_paths() {
        let cfg = Config::parse(
            "[lint]\ndisable = [\"npm-too-old\"]\nignore = [\"vendor/**\", \"./.github/workflows/x-*.yml\"]\n",
        )
        .expect("valid config");
        assert!(cfg.lint.disables("npm-too-old"));
        assert!(!cfg.lint.disables("static-token-publish"));
        let set = cfg.lint.ignore_set();
        assert!(set.is_match("vendor/a/.gitlab-ci.yml"));
        assert!(set.is_match(".github/workflows/x-1.yml"));
        assert!(!set.is_match(".github/workflows/sub/x-1.yml"));
        assert!(!set.is_match(".github/workflows/release.yml"));
    }

    #[test]
    fn unknown_rule_id_names_its_line() {
        let err = Config::parse("[lint]\n\ndisable = [\"npm-to-old\"]\n").expect_err("typo");
        let text = format!("{err:#}");
        assert!(text.contains("line 3"), "{text}");
        assert!(text.contains("unknown rule id `npm-to-old`"), "{text}");
    }

    #[test]
    fn invalid_glob_and_unknown_key_are_refused() {
        let err = Config::parse("[lint]\nignore = [\"a/[b\"]\n").expect_err("bad glob");
        assert!(
            format!("{err:#}").contains("invalid glob `a/[b`"),
            "{err:#}"
        );
        let err = Config::parse("[lint]\ndisabled = []\n").expect_err("unknown key");
        assert!(format!("{err:#}").contains("disabled"), "{err:#}");
    }
}
