//! `tokenless completions SHELL` and `tokenless man`: generated from the CLI definition, so
//! they never drift from `--help`.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;

/// Print a completion script for SHELL to standard output.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Examples:
  tokenless completions bash > ~/.local/share/bash-completion/completions/tokenless
  tokenless completions zsh > \"${fpath[1]}/_tokenless\"
  tokenless completions fish > ~/.config/fish/completions/tokenless.fish")]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Write man pages: `tokenless.1` and one per subcommand (`tokenless-audit.1`, …).
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Without --out, the page of `tokenless` itself goes to standard output.

Examples:
  tokenless man | man -l -
  tokenless man --out /usr/local/share/man/man1")]
pub struct ManArgs {
    /// Write every page into this directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn completions(args: CompletionsArgs, mut cli: clap::Command) -> anyhow::Result<ExitCode> {
    let name = cli.get_name().to_owned();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cli, name, &mut out);
    crate::render::write_all(&mut crate::render::stdout(), &String::from_utf8_lossy(&out))?;
    Ok(ExitCode::SUCCESS)
}

pub fn man(args: ManArgs, cli: clap::Command) -> anyhow::Result<ExitCode> {
    let Some(dir) = args.out else {
        let mut out = Vec::new();
        clap_mangen::Man::new(cli).render(&mut out)?;
        crate::render::write_all(&mut crate::render::stdout(), &String::from_utf8_lossy(&out))?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = 0;
    let mut pages = vec![(cli.get_name().to_owned(), cli.clone())];
    collect(&cli, cli.get_name(), &mut pages);
    for (name, cmd) in pages {
        let path = dir.join(format!("{name}.1"));
        let mut out = Vec::new();
        clap_mangen::Man::new(cmd.name(name.clone())).render(&mut out)?;
        std::fs::write(&path, out).with_context(|| format!("cannot write {}", path.display()))?;
        written += 1;
    }
    eprintln!("tokenless man: {written} page(s) in {}", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// Every subcommand, depth first, named `parent-child`.
fn collect(cmd: &clap::Command, prefix: &str, pages: &mut Vec<(String, clap::Command)>) {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("{prefix}-{}", sub.get_name());
        pages.push((name.clone(), sub.clone()));
        collect(sub, &name, pages);
    }
}
