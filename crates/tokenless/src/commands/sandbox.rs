//! `tokenless sandbox`.

use std::process::ExitCode;

/// Not implemented yet.
#[derive(Debug, clap::Args)]
pub struct SandboxArgs {}

pub fn run(_args: SandboxArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("sandbox is not implemented yet")
}
