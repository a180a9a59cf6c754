//! `tokenless lint`.

use std::{path::PathBuf, process::ExitCode};

/// Find every way a CI config publishes to npm with a stored credential.
#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// Files or repository roots to check.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
}

pub fn run(_args: LintArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("lint is not implemented yet")
}
