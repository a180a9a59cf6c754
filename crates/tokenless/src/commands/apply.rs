//! `tokenless apply`: the plan, executed: canary first, then the rest, resumable.

use std::{
    io::IsTerminal,
    process::ExitCode,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::bail;
use tokenless_org::{
    apply::{ApplyOptions, Engine, Reporter},
    journal::{Entry, Journal},
    plan::{Phase, Step},
    twofa::{Asker, TwoFactor},
};

use super::prompt::{ask_code, ask_yes};
use super::{
    connect::{SessionSlot, Signals, sign_out},
    plan::{Target, seconds_per_write},
};
use crate::render;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PhaseArg {
    /// Only the steps that are safe while CI still publishes with its token.
    Additive,
    /// Additive and destructive steps (destructive ones only for verified packages).
    All,
}

/// Apply tokenless.toml: show the plan, ask, then change the org: the canary package
/// first (every change read back; publishing access confirmed by a person where npm
/// cannot show it), then the rest with bounded concurrency and pacing. A stopped run
/// resumes from its journal; a rerun converges; `plan` afterwards shows nothing.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Second factor (every trust, access, token, member and team write asks for one):
  web 2FA                 the approval URL is printed once; the 5-minute \"skip 2FA\" window it
                          opens carries the writes that follow, and it is asked again when it closes
  --otp-command CMD       run CMD (a password manager) for each new one-time password
  otherwise               codes are asked on the terminal, reused until the registry refuses one
A bypass-2FA token is refused for these writes (npm policy since August 2026): sign in
with --login.

Files (beside tokenless.toml):
  .tokenless/journal.jsonl  completed steps of an unfinished run (removed when it finishes)
  .tokenless/record.json    every verified change with its evidence; the audit reads it

Exit codes:
  0  every step of the phase done (held steps are listed with what to do)
  2  usage error, invalid tokenless.toml, or refused to start
  3  a step failed or the run was interrupted; rerun to resume

Examples:
  tokenless apply -c tokenless.toml --login --phase additive
  tokenless apply -c tokenless.toml --login --otp-command 'op item get npm --otp'
  tokenless apply -c examples/sandbox/tokenless.toml --sandbox http://127.0.0.1:4873/ --yes")]
pub struct ApplyArgs {
    #[command(flatten)]
    pub target: Target,
    /// Apply without asking; publishing access is then recorded as not confirmed by a person.
    #[arg(long)]
    pub yes: bool,
    #[arg(long, value_enum, default_value_t = PhaseArg::All)]
    pub phase: PhaseArg,
    /// Packages changed at once.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=128))]
    pub concurrency: u16,
    /// Run this command for each new one-time password (its stdout is the code).
    #[arg(long, value_name = "CMD")]
    pub otp_command: Option<String>,
    /// The canary package (default: the first package with changes).
    #[arg(long, value_name = "PACKAGE")]
    pub canary: Option<String>,
    /// Print request counters to stderr at the end (for scripts/bench-apply).
    #[arg(long, hide = true)]
    pub stats: bool,
}

pub fn run(args: ApplyArgs) -> anyhow::Result<ExitCode> {
    let runtime = super::prompt::runtime()?;
    runtime.block_on(async {
        let session: SessionSlot = Arc::new(Mutex::new(None));
        let result = apply(&args, &session).await;
        sign_out(&session).await;
        result
    })
}

async fn apply(args: &ApplyArgs, session: &SessionSlot) -> anyhow::Result<ExitCode> {
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !args.yes && !interactive {
        bail!("apply changes the org: pass --yes, or run it on a terminal to confirm");
    }
    let mut p = args.target.prepare(session, true).await?;
    let phase = match args.phase {
        PhaseArg::Additive => Phase::Additive,
        PhaseArg::All => Phase::Destructive,
    };
    let approvals = p.plan.approvals(seconds_per_write(p.pace));
    let shown = render::plan_text::render(
        &p.plan,
        &p.conn.scope,
        &p.conn.registry,
        approvals,
        seconds_per_write(p.pace),
    );
    render::write_all(&mut std::io::stderr(), &shown)?;
    let count = p.plan.steps.iter().filter(|s| s.phase <= phase).count();
    if count == 0 {
        eprintln!("tokenless apply: nothing to do in this phase");
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes
        && !ask_yes(&format!(
            "Apply {count} step(s) ({} phase)?",
            args_phase(args)
        ))
    {
        eprintln!("tokenless apply: cancelled; nothing changed");
        return Ok(ExitCode::from(2));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let mut signals = Signals::install()?;
    let flag = stop.clone();
    let watcher = tokio::spawn(async move {
        let name = signals.recv().await;
        eprintln!("\ntokenless apply: {name}: finishing the requests in flight, then stopping");
        flag.store(true, Ordering::SeqCst);
    });

    let reporter = Arc::new(Progress::new(interactive, args.yes));
    let asker: Arc<dyn Asker> = reporter.clone();
    let twofa = TwoFactor::new(p.conn.anonymous.clone(), asker, args.otp_command.clone());
    let journal_path = args.target.state_dir().join("journal.jsonl");
    let journal = Journal::open(&journal_path)?;
    let website = if p.conn.registry.contains("registry.npmjs.org") {
        "https://www.npmjs.com".to_owned()
    } else {
        p.conn.registry.trim_end_matches('/').to_owned()
    };
    let engine = Engine::new(
        &p.conn.clients,
        &twofa,
        journal,
        ApplyOptions {
            phase,
            concurrency: usize::from(args.concurrency),
            pace: p.pace,
            canary: args.canary.clone(),
            scope: p.conn.scope.clone(),
            circleci_org: p.conn.circleci_org.clone(),
            website,
            login_timeout: Duration::from_secs(600),
            actor: p.conn.own.user.clone(),
        },
        stop.clone(),
        reporter.clone(),
    );
    let outcome = engine.run(&p.plan, &mut p.record).await;
    watcher.abort();
    reporter.clear();
    p.record.save(&p.record_path)?;
    let summary = outcome?;
    let complete = summary.failed.is_empty() && !summary.interrupted;
    if complete {
        Journal::remove(&journal_path)?;
    }
    eprintln!(
        "\ntokenless apply: {} step(s) done{}, {} failed; {} 2FA approval(s), {} new login(s); record: {}",
        summary.done,
        if summary.resumed > 0 {
            format!(" ({} already done by an earlier run)", summary.resumed)
        } else {
            String::new()
        },
        summary.failed.len(),
        summary.approvals,
        summary.logins,
        p.record_path.display()
    );
    if let Some(c) = &summary.canary
        && c.access_confirmed == Some(false)
    {
        eprintln!(
            "tokenless apply: canary {}: publishing access is recorded as acknowledged by the registry but NOT confirmed by a person",
            c.package
        );
    }
    for (step, why) in &summary.failed {
        eprintln!("  failed: {step}: {why}");
    }
    if !p.plan.held.is_empty() && phase == Phase::Destructive {
        eprintln!(
            "tokenless apply: {} destructive step(s) wait for a trusted release of: {}",
            p.plan.held.len(),
            p.plan
                .waiting
                .iter()
                .map(|w| w.package.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if summary.interrupted {
        eprintln!("tokenless apply: interrupted; run the same command again to resume");
    }
    if args.stats {
        let c = &p.conn.clients;
        super::connect::print_stats(
            &c.npm,
            c.circleci.as_ref(),
            c.github.as_ref(),
            c.gitlab.as_ref(),
        );
    }
    Ok(if complete {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

fn args_phase(args: &ApplyArgs) -> &'static str {
    match args.phase {
        PhaseArg::Additive => "additive",
        PhaseArg::All => "all",
    }
}

/// Progress and prompts: a bar on a terminal, plain lines otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    yes: bool,
    interactive: bool,
    started: Mutex<Option<std::time::Instant>>,
    done: Mutex<(usize, usize)>,
}

impl Progress {
    fn new(interactive: bool, yes: bool) -> Progress {
        let bar = interactive.then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} steps  {per_sec}  eta {eta}  {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            bar,
            yes,
            interactive,
            started: Mutex::new(None),
            done: Mutex::new((0, 0)),
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn clear(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Reporter for Progress {
    fn started(&self, total: usize) {
        *self.started.lock().unwrap_or_else(|p| p.into_inner()) = Some(std::time::Instant::now());
        if let Some(bar) = &self.bar {
            bar.set_length(total as u64);
        }
        self.line(&format!("applying {total} step(s)"));
    }

    fn finished(&self, step: &Step, result: &Result<Entry, String>) {
        let (ok, failed) = {
            let mut d = self.done.lock().unwrap_or_else(|p| p.into_inner());
            match result {
                Ok(_) => d.0 += 1,
                Err(_) => d.1 += 1,
            }
            *d
        };
        match result {
            Ok(e) => {
                if self.bar.is_none() {
                    self.line(&format!(
                        "[{}] done  {} ({})",
                        ok + failed,
                        step.op.describe(),
                        e.verified
                    ));
                }
            }
            Err(why) => self.line(&format!("failed  {}: {why}", step.op.describe())),
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn note(&self, line: &str) {
        self.line(&format!("tokenless: {line}"));
    }

    fn show_login_url(&self, url: &str) {
        self.line(&format!(
            "tokenless: open this URL to sign in to npm again: {url}"
        ));
    }

    fn confirm_access(&self, package: &str, settings_url: &str) -> Option<bool> {
        if self.yes || !self.interactive {
            return None;
        }
        self.line(&format!(
            "npm cannot show publishing access. Open {settings_url} and check that \"Require two-factor authentication and disallow tokens\" is selected for {package}."
        ));
        Some(ask_yes("Is it selected?"))
    }
}

impl Asker for Progress {
    fn show_approval_url(&self, url: &str) {
        self.line(&format!(
            "tokenless: approve the 2FA request (once per 5-minute window): {url}"
        ));
        if let Some(bar) = &self.bar {
            bar.set_message("waiting for 2FA approval");
        }
    }

    fn ask_code(&self, refused: bool) -> Option<String> {
        if !self.interactive {
            return None;
        }
        match &self.bar {
            Some(bar) => bar.suspend(|| ask_code(refused)),
            None => ask_code(refused),
        }
    }
}
