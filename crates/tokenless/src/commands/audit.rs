//! `tokenless audit`.

use std::process::ExitCode;

/// Not implemented yet.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {}

pub fn run(_args: AuditArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("audit is not implemented yet")
}
