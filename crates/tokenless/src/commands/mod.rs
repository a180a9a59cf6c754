//! One module per subcommand. Each exposes an `Args` struct (clap) and
//! `run(args) -> anyhow::Result<ExitCode>`; an `Err` is reported by `main` with exit 2.

pub mod audit;
pub mod explain;
pub mod lint;
pub mod sandbox;
