//! `tokenless audit`: the Definition of Done, checked with evidence.

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Context;
use tokenless_api::{CircleCiClient, ClientOptions, NpmClient};

use tokenless_org::audit::{
    self, Report,
    collect::{CircleSources, Sources},
    lint_config,
    record::Record,
    snapshot::ConfigLint,
};

use super::connect::{
    ConnectArgs, Connection, DEFAULT_CIRCLECI_API, SandboxForge, SessionSlot, Signals, sign_out,
};
use crate::{config::Config, render};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Markdown,
    /// One self-contained page to forward (no network fetch).
    Html,
}

/// Check the Definition of Done against a registry and a CircleCI org, box by box, with
/// evidence for each: trusted publishers, context-bound publishing, OIDC publish jobs, a
/// verified release, no static tokens, no service accounts, tokens disallowed, read-only
/// teams, no leftover temporary token.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Credentials (the audit never writes one anywhere):
  --login                 npm web login; the session lives in memory and is revoked when the
                          audit ends (normally, on error, panic, Ctrl-C or SIGTERM)
  --npm-token-env NAME    an npm token from the environment variable NAME
  --circleci-token-env N  a CircleCI personal token from the environment variable N
  --github-token-env N    a GitHub token (default: $GITHUB_TOKEN or $GH_TOKEN when set), to read
                          the environments GitHub trust configs pin
  --gitlab-token-env N    a GitLab token (default: $GITLAB_TOKEN when set), likewise for GitLab
  --sandbox URL           endpoints and credentials from a tokenless sandbox, as a real org has
                          them: the owner's npm session, a CircleCI personal token, GitHub and
                          GitLab tokens (other members' tokens need their attestations)

Exit codes:
  0  every box passes
  1  at least one box fails
  2  usage error or the audit could not run
  3  nothing fails, but at least one box could not be determined. Against registry.npmjs.org
     `disallow-tokens` is unknown (npm has no read of the setting) unless tokenless's record
     shows `apply` set mfa=publish, and other members' tokens are unknown until each runs
     `tokenless tokens attest`: a clean real org ends at 3 without both.

Examples:
  tokenless audit --sandbox http://127.0.0.1:4873/ --config examples/sandbox/tokenless.toml
  NPM_TOKEN=… CIRCLE_TOKEN=… tokenless audit --scope @acme --npm-token-env NPM_TOKEN \\
      --circleci-org <uuid> --circleci-token-env CIRCLE_TOKEN --circleci-project gh/acme/web")]
pub struct AuditArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// A CircleCI project slug (`gh/org/repo`) whose latest pipeline and variables to inspect; repeatable.
    #[arg(long = "circleci-project", value_name = "SLUG")]
    pub circleci_projects: Vec<String>,
    /// A repository whose CI configs to lint; repeatable.
    #[arg(long = "repo", value_name = "PATH")]
    pub repos: Vec<PathBuf>,
    /// tokenless.toml: `[members]` (who is a person) and `[audit]` defaults.
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// tokenless's record of changes it applied (default: `.tokenless/record.json` beside the config, if present).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// A directory of members' token attestations (`tokenless tokens attest`, one JSON
    /// file each): members whose tokens this account cannot list are judged by their own
    /// statement, if it is at most 7 days old.
    #[arg(long, value_name = "DIR")]
    pub attestations: Option<PathBuf>,
    /// A GitHub repository (`owner/name`) whose Actions secrets to inspect, beside those trust
    /// configs name; repeatable.
    #[arg(long = "github-repo", value_name = "OWNER/NAME")]
    pub github_repos: Vec<String>,
    /// A GitLab project (`group/project`) whose CI file and variables to inspect, beside those
    /// trust configs name; repeatable.
    #[arg(long = "gitlab-project", value_name = "PATH")]
    pub gitlab_projects: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// With --format html: a directory of earlier runs saved with --format json (one file
    /// each, named so that they sort by time, e.g. 2026-11-30.json): the page charts them.
    #[arg(long, value_name = "DIR")]
    pub history: Option<PathBuf>,
    /// Text: every evidence line of every box (by default a passing box shows the first
    /// three lines it passes on, a failing or unknown box the first twelve).
    #[arg(short, long)]
    pub verbose: bool,
    /// Requests in flight at once, per API.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Print request counters to stderr at the end (for scripts/bench-audit).
    #[arg(long, hide = true)]
    pub stats: bool,
}

pub fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: AuditArgs) -> anyhow::Result<ExitCode> {
    // Signals are caught from the start, so a session obtained at any point is revoked.
    let mut signals = Signals::install()?;
    let session: SessionSlot = Arc::new(Mutex::new(None));
    let slot = session.clone();
    let work = tokio::spawn(async move {
        let config = match &args.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        let record = load_record(&args)?;
        let options = ClientOptions {
            concurrency: usize::from(args.concurrency),
            ..ClientOptions::default()
        };
        let history = match (&args.history, args.format) {
            (Some(dir), Format::Html) => read_history(dir)?,
            (Some(_), _) => {
                anyhow::bail!("--history charts runs in the HTML report: add --format html")
            }
            (None, _) => Vec::new(),
        };
        let sources = sources(&args, config, record, options, &slot).await?;
        audit_and_render(sources, args.format, args.verbose, args.stats, &history).await
    });
    let outcome = tokio::select! {
        joined = work => match joined {
            Ok(result) => result,
            Err(e) => Err(anyhow::anyhow!("the audit stopped unexpectedly: {e}")),
        },
        signal = signals.recv() => Err(anyhow::anyhow!("interrupted by {signal}")),
    };
    sign_out(&session).await;
    outcome.map(ExitCode::from)
}

fn load_record(args: &AuditArgs) -> anyhow::Result<Record> {
    let path = match (&args.record, &args.config) {
        (Some(p), _) => p.clone(),
        (None, Some(cfg)) => cfg
            .parent()
            .unwrap_or(Path::new("."))
            .join(".tokenless")
            .join("record.json"),
        (None, None) => return Ok(Record::default()),
    };
    Ok(Record::load(&path)?)
}

/// Endpoints and credentials, from the sandbox, the command line and the config.
async fn sources(
    args: &AuditArgs,
    config: Config,
    record: Record,
    options: ClientOptions,
    session: &SessionSlot,
) -> anyhow::Result<Sources> {
    let conn = Connection::open(&args.connect, &config.org, options.clone(), session).await?;
    let info = conn.info.as_ref();
    let mut projects: Vec<String> = args.circleci_projects.clone();
    projects.extend(config.org.circleci_projects.iter().cloned());
    if let Some(info) = info {
        projects.extend(info.circleci.projects.iter().map(|p| p.slug.clone()));
    }
    projects.sort();
    projects.dedup();
    let circleci = match &conn.clients.circleci {
        Some(client) => Some(CircleSources {
            client: client.clone(),
            org_id: conn.circleci_org.clone(),
            projects,
        }),
        None if !projects.is_empty() => Some(CircleSources {
            client: CircleCiClient::new(DEFAULT_CIRCLECI_API, None, options)?,
            org_id: conn.circleci_org.clone(),
            projects,
        }),
        None => None,
    };
    let forge_list = |given: &[String], sandbox: Option<&SandboxForge>| -> Vec<String> {
        let mut all: Vec<String> = given.to_vec();
        all.extend(sandbox.map(|f| f.projects.clone()).unwrap_or_default());
        all.sort();
        all.dedup();
        all
    };
    let github_repos = forge_list(
        &[
            args.github_repos.as_slice(),
            config.org.github_repos.as_slice(),
        ]
        .concat(),
        info.and_then(|i| i.github.as_ref()),
    );
    let gitlab_projects = forge_list(
        &[
            args.gitlab_projects.as_slice(),
            config.org.gitlab_projects.as_slice(),
        ]
        .concat(),
        info.and_then(|i| i.gitlab.as_ref()),
    );

    let repos = args.repos.iter().flat_map(|r| lint_repo(r)).collect();
    let attestations = match &args.attestations {
        None => Vec::new(),
        Some(dir) => {
            let (found, errors) = tokenless_org::attestation::read_dir(dir)
                .map_err(|e| anyhow::anyhow!("--attestations: {e}"))?;
            for e in errors {
                anstream::eprintln!("warning: --attestations: {e} (not used)");
            }
            found
                .into_iter()
                .map(|(path, a)| (path.display().to_string(), a))
                .collect()
        }
    };
    let sources = Sources {
        github: conn.clients.github.clone(),
        gitlab: conn.clients.gitlab.clone(),
        github_repos,
        gitlab_projects,
        scope: conn.scope.clone(),
        npm: conn.clients.npm.clone(),
        own_credential: conn.own.clone(),
        circleci,
        repos,
        members_config: config.members,
        publishers: config.publishers,
        attestations,
        record,
    };
    Ok(sources)
}

/// The CI configs of a repository, found and read as `tokenless lint` does, linted.
fn lint_repo(root: &Path) -> Vec<ConfigLint> {
    use super::lint::{discover, read};
    let found = if root.is_file() {
        vec![discover::Found {
            path: root.to_path_buf(),
            rel: root.display().to_string(),
        }]
    } else {
        discover::walk(root)
    };
    if found.is_empty() {
        return vec![ConfigLint::unreadable(
            root.display().to_string(),
            "no CI config found (.circleci/config.yml, .github/workflows/*.yml, .gitlab-ci.yml)"
                .into(),
            false,
        )];
    }
    found
        .iter()
        .map(|f| {
            let label = f.path.display().to_string();
            match read::read_config(&f.path) {
                Err(e) => ConfigLint::unreadable(label, e.message, false),
                Ok(source) => {
                    let provider = tokenless_ci::detect::detect(&f.rel, &source)
                        .unwrap_or(tokenless_ci::Provider::CircleCi);
                    let files = read::RootedFiles::new(discover::include_root(root, f));
                    lint_config::lint_one(label.clone(), &label, &source, provider, &files, false)
                }
            }
        })
        .collect()
}

/// The runs saved in `dir` (`*.json` reports of `audit --format json`), oldest first by
/// file name. Files that are not reports are named and left out.
fn read_history(dir: &Path) -> anyhow::Result<Vec<render::audit_html::HistoryPoint>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("--history {}: cannot read the directory", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    files.sort();
    if files.len() > 1000 {
        files.drain(..files.len() - 1000);
    }
    let mut points = Vec::new();
    for path in files {
        let parsed = tokenless_trust::read_capped(&path, 16 << 20)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                serde_json::from_slice::<serde_json::Value>(&b).map_err(|e| e.to_string())
            });
        let statuses: Option<Vec<String>> = parsed.ok().and_then(|v| {
            v["checks"].as_array().map(|checks| {
                checks
                    .iter()
                    .filter_map(|c| c["status"].as_str().map(str::to_owned))
                    .collect()
            })
        });
        let Some(statuses) = statuses.filter(|s| !s.is_empty()) else {
            anstream::eprintln!(
                "warning: --history: {} is not an audit report (--format json); left out",
                path.display()
            );
            continue;
        };
        let count = |want: &str| statuses.iter().filter(|s| *s == want).count();
        points.push(render::audit_html::HistoryPoint {
            label: path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            passed: count("pass"),
            failed: count("fail"),
            unknown: count("unknown"),
        });
    }
    Ok(points)
}

async fn audit_and_render(
    sources: Sources,
    format: Format,
    verbose: bool,
    stats: bool,
    history: &[render::audit_html::HistoryPoint],
) -> anyhow::Result<u8> {
    let progress = (std::io::stderr().is_terminal())
        .then(|| spawn_progress(sources.npm.clone(), sources.scope.clone()));
    let snapshot = audit::collect::collect(&sources).await;
    if let Some(p) = progress {
        p.abort();
        eprint!("\r\x1b[2K");
    }
    let report = audit::evaluate(&snapshot);
    print_report(&report, format, verbose, history)?;
    if stats {
        super::connect::print_stats(
            &sources.npm,
            sources.circleci.as_ref().map(|c| &c.client),
            sources.github.as_ref(),
            sources.gitlab.as_ref(),
        );
    }
    Ok(report.exit_code())
}

fn spawn_progress(npm: NpmClient, scope: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            let s = npm.stats();
            eprint!(
                "\r\x1b[2Kauditing {scope}: {} registry requests",
                s.attempts
            );
        }
    })
}

fn print_report(
    report: &Report,
    format: Format,
    verbose: bool,
    history: &[render::audit_html::HistoryPoint],
) -> anyhow::Result<()> {
    let text = match format {
        Format::Text => render::audit_text::render(report, verbose),
        Format::Json => render::audit_json::render(report),
        Format::Sarif => render::sarif::audit::render(report),
        Format::Markdown => render::audit_markdown::render(report),
        Format::Html => render::audit_html::render(report, history),
    };
    render::write_all(&mut render::stdout(), &text).context("cannot write the report")
}
