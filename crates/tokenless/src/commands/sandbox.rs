//! `tokenless sandbox`: run the local registry + CircleCI API + OIDC issuers until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use tokenless_sandbox::{Sandbox, SandboxOptions, Scenario};

/// Run a local npm registry, CircleCI API v2 and OIDC issuers (CircleCI, GitHub, GitLab)
/// that speak the real wire formats, so that npm, audits and migrations can be rehearsed
/// without touching production.
///
/// Point npm at it with `npm_config_registry=<registry URL>`; read users, TOTP secrets and
/// tokens (all made up) from `GET /-/sandbox/info`. See docs/sandbox.md.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  tokenless sandbox --listen 127.0.0.1:4873\n  tokenless sandbox --scenario migrated --state sandbox.json\n  tokenless sandbox --latency 50 --fail-rate 0.05 --rate-limit 20\n  tokenless apply --sandbox URL --otp-command 'tokenless sandbox otp --url URL alice'"
)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub action: Option<SandboxAction>,
    /// Address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// Starting state: `legacy` (before migration), `migrated` (after), or a scenario FILE.
    #[arg(long, default_value = "legacy", value_name = "legacy|migrated|FILE")]
    pub scenario: Scenario,
    /// Keep the state in FILE (loaded instead of the scenario when it exists; survives restarts).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Milliseconds added to every response.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub latency: u64,
    /// Probability (0 to 1) that a request fails with HTTP 500 or a dropped connection.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub fail_rate: f64,
    /// Requests per second beyond which the sandbox answers 429 with `Retry-After`.
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,
    /// Largest request body (publishes included) in bytes; larger ones get 413.
    #[arg(long, default_value_t = 16 * 1024 * 1024, value_name = "BYTES")]
    pub max_body: usize,
    /// Also accept this OIDC audience at the exchange (repeatable), e.g.
    /// `npm:registry.npmjs.org` so a CI config written for the public registry publishes here
    /// unchanged. Off by default: only the audiences of the sandbox's own URL are accepted.
    #[arg(long = "accept-audience", value_name = "npm:HOST")]
    pub accept_audience: Vec<String>,
}

/// What else `tokenless sandbox` does besides serving.
#[derive(Debug, clap::Subcommand)]
pub enum SandboxAction {
    /// Print a sandbox user's current one-time password (their TOTP secret is public in
    /// `/-/sandbox/info`): for `apply --otp-command` in rehearsals and demos.
    Otp {
        /// The running sandbox.
        #[arg(long, value_name = "URL")]
        url: String,
        /// The user.
        user: String,
    },
    /// Play the CI providers of a running sandbox: merge the fixed CI configs (`push`), run
    /// a package's publish job through its trusted publisher (`release`, `release-all`).
    #[command(
        subcommand,
        after_help = "Examples:\n  tokenless sandbox ci push --url URL\n  tokenless sandbox ci release-all --url URL\n  tokenless sandbox ci release --url URL @acme/core 1.3.0 --branch feature/x   # refused: exit 1\n\nExit codes: 0 done, 1 refused or failed (the output says by whom), 2 usage."
    )]
    Ci(super::sandbox_ci::CiJob),
}

pub fn run(args: SandboxArgs) -> anyhow::Result<ExitCode> {
    match args.action {
        Some(SandboxAction::Otp { url, user }) => return print_otp(&url, &user),
        Some(SandboxAction::Ci(job)) => return super::sandbox_ci::run(job),
        None => {}
    }
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "warning: listening on {}, which is not a loopback address; the sandbox has made-up credentials anyone who can reach it may use.",
            args.listen
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let sandbox = Sandbox::start(SandboxOptions {
            listen: args.listen,
            scenario: args.scenario,
            state: args.state,
            latency: Duration::from_millis(args.latency),
            fail_rate: args.fail_rate,
            rate_limit: args.rate_limit,
            max_body_bytes: args.max_body,
            extra_audiences: args.accept_audience,
            ..SandboxOptions::default()
        })
        .await?;
        let info = sandbox.info();
        println!("tokenless sandbox listening on {}", sandbox.addr());
        println!("  registry       {}", info.registry);
        println!("  CircleCI API   {}", info.circleci_api);
        println!("  OIDC issuers   circleci {}", info.issuers.circleci);
        println!("                 github   {}", info.issuers.github);
        println!("                 gitlab   {}", info.issuers.gitlab);
        println!("  audiences      {}", info.audiences.join(", "));
        println!(
            "  info           {}-/sandbox/info  (users, TOTP secrets and made-up tokens)",
            info.registry
        );
        println!(
            "  org {} ({}), {} users, {} granular tokens",
            info.org,
            info.scope,
            info.users.len(),
            info.tokens.len()
        );
        println!("Press Ctrl-C to stop.");
        sandbox.serve_until_signal().await;
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

fn print_otp(url: &str, user: &str) -> anyhow::Result<ExitCode> {
    #[derive(serde::Deserialize)]
    struct Info {
        users: Vec<User>,
    }
    #[derive(serde::Deserialize)]
    struct User {
        name: String,
        totp_secret: String,
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let info: Info = runtime
        .block_on(tokenless_api::sandbox::fetch_info(
            url,
            tokenless_api::ClientOptions::default(),
        ))
        .with_context(|| format!("cannot read the sandbox at {url}"))?;
    let Some(u) = info.users.iter().find(|u| u.name == user) else {
        anyhow::bail!("the sandbox at {url} has no user {user:?}");
    };
    let code = tokenless_sandbox::totp::current_code(&u.totp_secret)
        .map_err(|e| anyhow::anyhow!("user {user}: {e}"))?;
    println!("{code}");
    Ok(ExitCode::SUCCESS)
}
