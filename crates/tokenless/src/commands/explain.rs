//! `tokenless explain`.

use std::process::ExitCode;

/// Show the registry's decision on one OIDC token exchange, check by check.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {}

pub fn run(_args: ExplainArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("explain is not implemented yet")
}
