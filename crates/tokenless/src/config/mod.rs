//! `tokenless.toml`: one file, one table per concern. The file's model (`[org]`, `[lint]`,
//! `[members]` and the desired-state tables) is tokenless-org's; the binary only loads it.

pub use tokenless_org::config::Config;

/// `[lint]` is tokenless-ci's.
pub mod lint {
    pub use tokenless_ci::config::LintConfig;
}
