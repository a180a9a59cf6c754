//! `tokenless plan`: what must change to reach tokenless.toml, as reviewed steps.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Context;
use tokenless_api::ClientOptions;
use tokenless_org::{
    actual,
    apply::parse_duration,
    config::Config,
    plan::{Plan, PlanOptions},
    record::Record,
};

use super::connect::{ConnectArgs, Connection, SessionSlot, sign_out};
use crate::render;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// Compare the org with tokenless.toml and list the steps that would reach it: additive
/// ones (safe while CI still uses its token) and destructive ones (held back for every
/// package whose latest release did not come through a desired trusted publisher).
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Exit codes:
  0  no changes: the org matches tokenless.toml
  1  changes pending (ready or held)
  2  usage error, invalid tokenless.toml, or the org could not be read

Examples:
  tokenless plan -c tokenless.toml --login
  tokenless plan -c examples/sandbox/tokenless.toml --sandbox http://127.0.0.1:4873/ --format json")]
pub struct PlanArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// What plan and apply share: the desired state, where the org is, and the gate.
#[derive(Debug, Clone, clap::Args)]
pub struct Target {
    /// tokenless.toml: the desired state.
    #[arg(long, short = 'c', default_value = "tokenless.toml")]
    pub config: PathBuf,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// tokenless's record (default: `.tokenless/record.json` beside the config).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Also plan destructive steps for packages without a verified trusted release. They
    /// are named in the output; a release may break.
    #[arg(long)]
    pub force_unverified: bool,
    /// Least time between two registry writes (default 2s on registry.npmjs.org, none
    /// elsewhere): `2s`, `200ms`.
    #[arg(long, value_parser = parse_duration)]
    pub pace: Option<Duration>,
}

/// A loaded config, a signed-in connection, the org's state and the plan.
pub struct Prepared {
    pub conn: Connection,
    pub record: Record,
    pub record_path: PathBuf,
    pub plan: Plan,
    pub pace: Duration,
}

impl Target {
    /// `.tokenless/` beside the config.
    pub fn state_dir(&self) -> PathBuf {
        self.config
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join(".tokenless")
    }

    /// Load, sign in, read the org and plan. `writes`: the caller will change the org, so a
    /// bypass-2FA credential is refused before anything else is read (npm refuses trust,
    /// access and token changes from such tokens since August 2026).
    pub async fn prepare(&self, session: &SessionSlot, writes: bool) -> anyhow::Result<Prepared> {
        let config = Config::load(&self.config)?;
        if config.publishers.is_empty() {
            eprintln!(
                "tokenless: {} has no [[publisher]] table; `tokenless init` writes a starting one",
                self.config.display()
            );
        }
        let record_path = self
            .record
            .clone()
            .unwrap_or_else(|| self.state_dir().join("record.json"));
        let mut record = Record::load(&record_path)?;
        // Requests in flight per API: enough for apply's package chains and the reads.
        let options = ClientOptions {
            concurrency: 48,
            ..ClientOptions::default()
        };
        let conn = Connection::open(&self.connect, &config.org, options, session).await?;
        record.bind(&record_path, &conn.registry, &conn.scope)?;
        if writes {
            let tokens = conn.clients.npm.tokens().await?;
            conn.refuse_bypass_2fa(&tokens, "trust, access and token changes")?;
        }
        let actual = actual::collect(&config, &conn.scope, &conn.clients)
            .await
            .context("cannot read the org's current state")?;
        let pace = self.pace.unwrap_or_else(|| default_pace(&conn.registry));

        let plan = tokenless_org::plan::plan(
            &config,
            &actual,
            &record,
            &PlanOptions {
                force_unverified: self.force_unverified,
                own_credential: Some(conn.token.clone()),
            },
        );
        Ok(Prepared {
            conn,
            record,
            record_path,
            plan,
            pace,
        })
    }
}

/// npm's bulk guidance: about 2 s between writes on registry.npmjs.org.
pub fn default_pace(registry: &str) -> Duration {
    if registry.contains("registry.npmjs.org") {
        Duration::from_secs(2)
    } else {
        Duration::ZERO
    }
}

/// Seconds one registry write takes at this pace, for the approvals estimate.
pub fn seconds_per_write(pace: Duration) -> f64 {
    pace.as_secs_f64().max(0.25)
}

pub fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let runtime = super::prompt::runtime()?;
    runtime.block_on(async {
        let session: SessionSlot = Arc::new(Mutex::new(None));
        let result = args.target.prepare(&session, false).await;
        sign_out(&session).await;
        let p = result?;
        let approvals = p.plan.approvals(seconds_per_write(p.pace));
        let text = match args.format {
            Format::Text => render::plan_text::render(
                &p.plan,
                &p.conn.scope,
                &p.conn.registry,
                approvals,
                seconds_per_write(p.pace),
            ),
            Format::Json => {
                let mut v = serde_json::to_value(&p.plan)?;
                if let Some(o) = v.as_object_mut() {
                    o.insert("scope".into(), p.conn.scope.clone().into());
                    o.insert("registry".into(), p.conn.registry.clone().into());
                    o.insert("approvals".into(), approvals.into());
                    o.insert(
                        "writes_needing_2fa".into(),
                        p.plan.writes_needing_2fa().into(),
                    );
                }
                let mut s = serde_json::to_string_pretty(&v)?;
                s.push('\n');
                s
            }
        };
        render::write_all(&mut render::stdout(), &text)?;
        let pending = !p.plan.steps.is_empty() || !p.plan.held.is_empty();
        Ok(ExitCode::from(u8::from(pending)))
    })
}
