//! The `tokenless` command-line tool: argument parsing, dispatch to one module per
//! command, rendering and exit codes. The analysis itself lives in the library crates.

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod commands;
mod config;
mod render;

/// End long-lived npm publishing credentials: lint and fix CI configs, explain the registry's
/// OIDC decision, migrate an org to trusted publishing (init, plan, apply, tokens) and
/// audit the Definition of Done.
#[derive(Debug, Parser)]
#[command(name = "tokenless", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Lint(commands::lint::LintArgs),
    Fix(commands::fix::FixArgs),
    Explain(commands::explain::ExplainArgs),
    Preflight(commands::preflight::PreflightArgs),
    Audit(Box<commands::audit::AuditArgs>),
    Init(Box<commands::init::InitArgs>),
    Plan(Box<commands::plan::PlanArgs>),
    Apply(Box<commands::apply::ApplyArgs>),
    Tokens(commands::tokens::TokensArgs),
    Schema(commands::schema::SchemaArgs),
    Sandbox(commands::sandbox::SandboxArgs),
    Demo(commands::demo::DemoArgs),
    Completions(commands::shell::CompletionsArgs),
    Man(commands::shell::ManArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Lint(args) => commands::lint::run(args),
        Command::Fix(args) => commands::fix::run(args),
        Command::Explain(args) => commands::explain::run(args),
        Command::Preflight(args) => commands::preflight::run(args),
        Command::Audit(args) => commands::audit::run(*args),
        Command::Init(args) => commands::init::run(*args),
        Command::Plan(args) => commands::plan::run(*args),
        Command::Apply(args) => commands::apply::run(*args),
        Command::Tokens(args) => commands::tokens::run(args),
        Command::Schema(args) => commands::schema::run(args),
        Command::Sandbox(args) => commands::sandbox::run(args),
        Command::Demo(args) => commands::demo::run(args),
        Command::Completions(args) => commands::shell::completions(args, Cli::command()),
        Command::Man(args) => commands::shell::man(args, Cli::command()),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            anstream::eprintln!("error: {err:#}");
            // Every command documents 2 as "usage error or unusable input".
            ExitCode::from(2)
        }
    }
}
