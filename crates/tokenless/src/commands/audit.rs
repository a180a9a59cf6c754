//! `tokenless audit`: the Definition of Done, checked with evidence.

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{Context, bail};
use tokenless_api::{CircleCiClient, ClientOptions, GitHubClient, GitLabClient, NpmClient, Secret};

use crate::{
    audit::{
        self, Report,
        collect::{CircleSources, Sources},
        lint_config,
        record::Record,
        snapshot::{ConfigLint, OwnCredential},
    },
    config::Config,
    render,
};

const DEFAULT_REGISTRY: &str = "https://registry.npmjs.org/";
const DEFAULT_CIRCLECI_API: &str = "https://circleci.com/api/v2";
const DEFAULT_GITHUB_API: &str = "https://api.github.com";
const DEFAULT_GITLAB_API: &str = "https://gitlab.com/api/v4";
const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
    Markdown,
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
  --sandbox URL           every endpoint and every user's credentials from a tokenless sandbox

Exit codes:
  0  every box passes
  1  at least one box fails
  2  usage error or the audit could not run
  3  nothing fails, but at least one box could not be determined. Against registry.npmjs.org
     `disallow-tokens` is usually unknown (npm has no read of the setting), so a clean real
     org ends at 3 unless tokenless's own record shows it applied mfa=publish.

Examples:
  tokenless audit --sandbox http://127.0.0.1:4873/ --config examples/sandbox/tokenless.toml
  NPM_TOKEN=… CIRCLE_TOKEN=… tokenless audit --scope @acme --npm-token-env NPM_TOKEN \\
      --circleci-org <uuid> --circleci-token-env CIRCLE_TOKEN --circleci-project gh/acme/web")]
pub struct AuditArgs {
    /// The npm scope (org) to audit, e.g. `@acme`.
    #[arg(long)]
    pub scope: Option<String>,
    /// The registry URL (default https://registry.npmjs.org/).
    #[arg(long)]
    pub registry: Option<String>,
    /// The CircleCI API v2 base URL (default https://circleci.com/api/v2 when an org or project is given).
    #[arg(long)]
    pub circleci_api: Option<String>,
    /// The CircleCI org id (UUID), to list contexts and their variables.
    #[arg(long)]
    pub circleci_org: Option<String>,
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
    /// Audit a tokenless sandbox: endpoints and every user's credentials from `<URL>/-/sandbox/info`.
    #[arg(long, value_name = "URL")]
    pub sandbox: Option<String>,
    /// Sign in to npm through the browser; the session is revoked when the audit ends.
    #[arg(long)]
    pub login: bool,
    /// Read the npm token from this environment variable.
    #[arg(long, value_name = "NAME")]
    pub npm_token_env: Option<String>,
    /// Read the CircleCI token from this environment variable.
    #[arg(long, value_name = "NAME")]
    pub circleci_token_env: Option<String>,
    /// The GitHub REST API (default https://api.github.com; GitHub Enterprise Server: https://HOST/api/v3).
    #[arg(long, value_name = "URL")]
    pub github_api: Option<String>,
    /// A GitHub repository (`owner/name`) whose Actions secrets to inspect, beside those trust
    /// configs name; repeatable.
    #[arg(long = "github-repo", value_name = "OWNER/NAME")]
    pub github_repos: Vec<String>,
    /// A GitLab project (`group/project`) whose CI file and variables to inspect, beside those
    /// trust configs name; repeatable.
    #[arg(long = "gitlab-project", value_name = "PATH")]
    pub gitlab_projects: Vec<String>,
    /// Read the GitHub token from this environment variable (default GITHUB_TOKEN, then GH_TOKEN).
    #[arg(long, value_name = "NAME")]
    pub github_token_env: Option<String>,
    /// The GitLab REST API (default https://gitlab.com/api/v4; self-managed: https://HOST/api/v4).
    #[arg(long, value_name = "URL")]
    pub gitlab_api: Option<String>,
    /// Read the GitLab token from this environment variable (default GITLAB_TOKEN).
    #[arg(long, value_name = "NAME")]
    pub gitlab_token_env: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Requests in flight at once, per API.
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: u16,
    /// Print request counters to stderr at the end (for scripts/bench-audit).
    #[arg(long, hide = true)]
    pub stats: bool,
}

/// The parts of `/-/sandbox/info` the audit uses.
#[derive(Debug, serde::Deserialize)]
struct SandboxInfo {
    registry: String,
    circleci_api: String,
    scope: String,
    users: Vec<SandboxUser>,
    circleci: SandboxCircleCi,
    #[serde(default)]
    github: Option<SandboxForge>,
    #[serde(default)]
    gitlab: Option<SandboxForge>,
}

/// The sandbox's GitHub or GitLab API, its token, and its repositories or projects.
#[derive(serde::Deserialize)]
struct SandboxForge {
    api: String,
    token: String,
    #[serde(default, alias = "repos")]
    projects: Vec<String>,
}

impl std::fmt::Debug for SandboxForge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.api, Secret::new(self.token.as_str()))
    }
}

#[derive(serde::Deserialize)]
struct SandboxUser {
    name: String,
    /// `None` for an account that has left the org.
    role: Option<String>,
    token: String,
}

impl std::fmt::Debug for SandboxUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}, {})",
            self.name,
            self.role.as_deref().unwrap_or("not a member"),
            Secret::new(self.token.as_str())
        )
    }
}

#[derive(Debug, serde::Deserialize)]
struct SandboxCircleCi {
    org_id: String,
    projects: Vec<SandboxProject>,
}

#[derive(Debug, serde::Deserialize)]
struct SandboxProject {
    slug: String,
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
        let sources = sources(&args, config, record, options, &slot).await?;
        audit_and_render(sources, args.format, args.stats).await
    });
    let outcome = tokio::select! {
        joined = work => match joined {
            Ok(result) => result,
            Err(e) => Err(anyhow::anyhow!("the audit stopped unexpectedly: {e}")),
        },
        signal = signals.recv() => Err(anyhow::anyhow!("interrupted by {signal}")),
    };
    let held = session.lock().ok().and_then(|mut s| s.take());
    if let Some((npm, token)) = held {
        match npm.logout(&token).await {
            Ok(()) => eprintln!("tokenless: signed out; the login session {token} is revoked"),
            Err(e) => eprintln!(
                "tokenless: could not revoke the login session {token}: {e}; it expires within 2 hours"
            ),
        }
    }
    outcome.map(ExitCode::from)
}

/// Where a web-login session is kept from the moment it exists until it is revoked.
type SessionSlot = Arc<Mutex<Option<(NpmClient, Secret)>>>;

/// Ctrl-C and SIGTERM, registered when created.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> anyhow::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                interrupt: signal(SignalKind::interrupt()).context("cannot watch for Ctrl-C")?,
                terminate: signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.interrupt.recv() => "Ctrl-C",
                _ = self.terminate.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
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
    Record::load(&path)
}

fn env_secret(name: &str, flag: &str) -> anyhow::Result<Secret> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
        Ok(_) => bail!("{flag} {name}: the variable is empty"),
        Err(_) => bail!("{flag} {name}: the variable is not set"),
    }
}

/// Endpoints and credentials, from the sandbox, the command line and the config.
async fn sources(
    args: &AuditArgs,
    config: Config,
    record: Record,
    options: ClientOptions,
    session: &SessionSlot,
) -> anyhow::Result<Sources> {
    let info: Option<SandboxInfo> = match &args.sandbox {
        Some(url) => Some(
            tokenless_api::sandbox::fetch_info(url, options.clone())
                .await
                .with_context(|| format!("cannot read the sandbox at {url}"))?,
        ),
        None => None,
    };
    let scope = args
        .scope
        .clone()
        .or_else(|| info.as_ref().map(|i| i.scope.clone()))
        .or(config.audit.scope.clone())
        .context("no scope: pass --scope @your-org (or [audit] scope in tokenless.toml)")?;
    if !scope.starts_with('@') || scope.len() < 2 || scope.contains('/') {
        bail!("--scope {scope}: expected an npm scope such as @acme");
    }
    let registry = args
        .registry
        .clone()
        .or_else(|| info.as_ref().map(|i| i.registry.clone()))
        .or(config.audit.registry.clone())
        .unwrap_or_else(|| DEFAULT_REGISTRY.to_string());
    let anonymous = NpmClient::new(&registry, None, options.clone())?;

    // The audit's own npm credential.
    let mut other_accounts = Vec::new();
    let (token, kind) = if let Some(name) = &args.npm_token_env {
        (
            env_secret(name, "--npm-token-env")?,
            format!("the token from ${name}"),
        )
    } else if args.login {
        let login = anonymous.start_web_login().await?;
        eprintln!(
            "tokenless: open this URL to sign in to npm: {}",
            login.login_url
        );
        let token = anonymous.finish_web_login(&login, LOGIN_TIMEOUT).await?;
        if let Ok(mut slot) = session.lock() {
            *slot = Some((anonymous.clone(), token.clone()));
        }
        (token, "a web login session".to_string())
    } else if let Some(info) = &info {
        // The sandbox lists an empty token for a user without a live session (all ended).
        let owner = info
            .users
            .iter()
            .find(|u| u.role.as_deref() == Some("owner") && !u.token.is_empty())
            .context("the sandbox has no owner with a live session to sign in as (log in again, or use --login)")?;
        other_accounts = info
            .users
            .iter()
            .filter(|u| !u.token.is_empty())
            .map(|u| (u.name.clone(), Secret::new(u.token.as_str())))
            .collect();
        (
            Secret::new(owner.token.as_str()),
            "a sandbox session".to_string(),
        )
    } else {
        bail!("no npm credential: use --login, --npm-token-env NAME or --sandbox URL");
    };
    let npm = anonymous.with_token(token.clone());
    let user = match npm.whoami().await {
        Ok(u) => Some(u),
        Err(e) => bail!("the npm credential does not work: {e}"),
    };
    let own_credential = OwnCredential {
        kind,
        shown: token.to_string(),
        key: None,
        user,
    };

    // CircleCI.
    let circleci_api = args
        .circleci_api
        .clone()
        .or_else(|| info.as_ref().map(|i| i.circleci_api.clone()))
        .or(config.audit.circleci_api.clone());
    let org_id = args
        .circleci_org
        .clone()
        .or_else(|| info.as_ref().map(|i| i.circleci.org_id.clone()))
        .or(config.audit.circleci_org.clone());
    let mut projects: Vec<String> = args.circleci_projects.clone();
    projects.extend(config.audit.circleci_projects.iter().cloned());
    if let Some(info) = &info {
        projects.extend(info.circleci.projects.iter().map(|p| p.slug.clone()));
    }
    projects.sort();
    projects.dedup();
    let wants_circleci = circleci_api.is_some() || org_id.is_some() || !projects.is_empty();
    let circleci = if wants_circleci {
        let api = circleci_api.unwrap_or_else(|| DEFAULT_CIRCLECI_API.to_string());
        let circle_token = match &args.circleci_token_env {
            Some(name) => Some(env_secret(name, "--circleci-token-env")?),
            // The sandbox's CircleCI API accepts its users' sessions.
            None if info.is_some() => Some(token.clone()),
            None => None,
        };
        Some(CircleSources {
            client: CircleCiClient::new(&api, circle_token, options.clone())?,
            org_id,
            projects,
        })
    } else {
        None
    };

    // GitHub and GitLab: the environments their trust configs pin.
    let forge_token =
        |flag: Option<&String>, defaults: &[&str], name: &str| -> anyhow::Result<Option<Secret>> {
            match flag {
                Some(var) => env_secret(var, name).map(Some),
                None => Ok(defaults
                    .iter()
                    .find_map(|v| std::env::var(v).ok().filter(|t| !t.is_empty()))
                    .map(Secret::new)),
            }
        };
    let github = match info.as_ref().and_then(|i| i.github.as_ref()) {
        Some(f) if args.github_api.is_none() => Some(GitHubClient::new(
            &f.api,
            Some(Secret::new(f.token.as_str())),
            options.clone(),
        )?),
        _ => match forge_token(
            args.github_token_env.as_ref(),
            &["GITHUB_TOKEN", "GH_TOKEN"],
            "--github-token-env",
        )? {
            Some(t) => Some(GitHubClient::new(
                args.github_api
                    .as_deref()
                    .or(config.audit.github_api.as_deref())
                    .unwrap_or(DEFAULT_GITHUB_API),
                Some(t),
                options.clone(),
            )?),
            None => None,
        },
    };
    let gitlab = match info.as_ref().and_then(|i| i.gitlab.as_ref()) {
        Some(f) if args.gitlab_api.is_none() => Some(GitLabClient::new(
            &f.api,
            Some(Secret::new(f.token.as_str())),
            options.clone(),
        )?),
        _ => match forge_token(
            args.gitlab_token_env.as_ref(),
            &["GITLAB_TOKEN"],
            "--gitlab-token-env",
        )? {
            Some(t) => Some(GitLabClient::new(
                args.gitlab_api
                    .as_deref()
                    .or(config.audit.gitlab_api.as_deref())
                    .unwrap_or(DEFAULT_GITLAB_API),
                Some(t),
                options.clone(),
            )?),
            None => None,
        },
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
            config.audit.github_repos.as_slice(),
        ]
        .concat(),
        info.as_ref().and_then(|i| i.github.as_ref()),
    );
    let gitlab_projects = forge_list(
        &[
            args.gitlab_projects.as_slice(),
            config.audit.gitlab_projects.as_slice(),
        ]
        .concat(),
        info.as_ref().and_then(|i| i.gitlab.as_ref()),
    );

    let repos = args.repos.iter().flat_map(|r| lint_repo(r)).collect();
    let sources = Sources {
        github,
        gitlab,
        github_repos,
        gitlab_projects,
        scope,
        npm,
        own_credential,
        other_accounts,
        circleci,
        repos,
        members_config: config.members,
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
        return vec![ConfigLint {
            origin: root.display().to_string(),
            findings: Err(
                "no CI config found (.circleci/config.yml, .github/workflows/*.yml, .gitlab-ci.yml)"
                    .into(),
            ),
        }];
    }
    found
        .iter()
        .map(|f| {
            let label = f.path.display().to_string();
            match read::read_config(&f.path) {
                Err(e) => ConfigLint {
                    origin: label,
                    findings: Err(e.message),
                },
                Ok(source) => {
                    let provider = tokenless_ci::detect::detect(&f.rel, &source)
                        .unwrap_or(tokenless_ci::Provider::CircleCi);
                    let files = read::RootedFiles::new(discover::include_root(root, f));
                    lint_config::lint_one(label.clone(), &label, &source, provider, &files)
                }
            }
        })
        .collect()
}

async fn audit_and_render(sources: Sources, format: Format, stats: bool) -> anyhow::Result<u8> {
    let progress = (std::io::stderr().is_terminal())
        .then(|| spawn_progress(sources.npm.clone(), sources.scope.clone()));
    let snapshot = audit::collect::collect(&sources).await;
    if let Some(p) = progress {
        p.abort();
        eprint!("\r\x1b[2K");
    }
    let report = audit::evaluate(&snapshot);
    print_report(&report, format)?;
    if stats {
        let apis = std::iter::once(("npm", sources.npm.stats()))
            .chain(
                sources
                    .circleci
                    .iter()
                    .map(|c| ("circleci", c.client.stats())),
            )
            .chain(sources.github.iter().map(|c| ("github", c.stats())))
            .chain(sources.gitlab.iter().map(|c| ("gitlab", c.stats())));
        for (api, s) in apis {
            eprintln!(
                "stats {api}: attempts={} rate_limited={} rate_limited_twice={} retried={}",
                s.attempts, s.rate_limited, s.rate_limited_twice, s.retried
            );
        }
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

fn print_report(report: &Report, format: Format) -> anyhow::Result<()> {
    let text = match format {
        Format::Text => render::audit_text::render(report),
        Format::Json => render::audit_json::render(report),
        Format::Sarif => render::audit_sarif::render(report),
        Format::Markdown => render::audit_markdown::render(report),
    };
    render::write_all(&mut render::stdout(), &text).context("cannot write the report")
}
