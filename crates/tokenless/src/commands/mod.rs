//! One module per subcommand. Each exposes an `Args` struct (clap) and
//! `run(args) -> anyhow::Result<ExitCode>`; an `Err` is reported by `main` with exit 2.

pub mod apply;
pub mod audit;
pub mod connect;
pub mod demo;
pub mod explain;
pub mod fix;
pub mod init;
pub mod lint;
pub mod plan;
pub mod preflight;
pub mod prompt;
pub mod sandbox;
pub mod sandbox_ci;
pub mod scan;
pub mod schema;
pub mod shell;
pub mod tokens;
