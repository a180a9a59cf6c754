//! Where a command connects and as whom: the registry, the CI providers' APIs and their
//! credentials, from `--sandbox`, the command line and `[org]` of tokenless.toml. Every
//! command that talks to an org (audit, init, plan, apply, tokens) signs in here, one way.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{Context, bail};
use tokenless_api::npm::Token;
use tokenless_api::{CircleCiClient, ClientOptions, GitHubClient, GitLabClient, NpmClient, Secret};
use tokenless_org::{
    actual::Clients, audit::snapshot::OwnCredential, config::OrgConfig, plan::is_own,
};

pub const DEFAULT_REGISTRY: &str = "https://registry.npmjs.org/";
pub const DEFAULT_CIRCLECI_API: &str = "https://circleci.com/api/v2";
pub const DEFAULT_GITHUB_API: &str = "https://api.github.com";
pub const DEFAULT_GITLAB_API: &str = "https://gitlab.com/api/v4";
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// Flags shared by every command that talks to an org.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConnectArgs {
    /// The npm scope (org), e.g. `@acme`.
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
    /// Work on a tokenless sandbox: endpoints and credentials from `<URL>/-/sandbox/info`.
    #[arg(long, value_name = "URL")]
    pub sandbox: Option<String>,
    /// With --sandbox: sign in as this sandbox user instead of the org's owner (to act as a
    /// member, e.g. `tokens revoke` for their own tokens).
    #[arg(long = "as", value_name = "USER", requires = "sandbox")]
    pub as_user: Option<String>,
    /// Sign in to npm through the browser; the session is revoked when the command ends.
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
    /// Read the GitHub token from this environment variable (default GITHUB_TOKEN, then GH_TOKEN).
    #[arg(long, value_name = "NAME")]
    pub github_token_env: Option<String>,
    /// The GitLab REST API (default https://gitlab.com/api/v4; self-managed: https://HOST/api/v4).
    #[arg(long, value_name = "URL")]
    pub gitlab_api: Option<String>,
    /// Read the GitLab token from this environment variable (default GITLAB_TOKEN).
    #[arg(long, value_name = "NAME")]
    pub gitlab_token_env: Option<String>,
    /// Start at most N requests per second to each API (default: no cap; a 429 then
    /// pauses every request). Set it just under a rate limit you know.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_rate: Option<u32>,
}

/// A signed-in connection to an org.
pub struct Connection {
    pub scope: String,
    pub registry: String,
    /// The registry without a credential (login, 2FA polling).
    pub anonymous: NpmClient,
    pub clients: Clients,
    pub circleci_org: Option<String>,
    pub own: OwnCredential,
    /// The credential itself (never shown; `own.shown` is its redacted form).
    pub token: Secret,
    pub info: Option<SandboxInfo>,
}

impl Connection {
    /// Sign in and build the clients.
    pub async fn open(
        args: &ConnectArgs,
        org: &OrgConfig,
        options: ClientOptions,
        session: &SessionSlot,
    ) -> anyhow::Result<Connection> {
        let options = ClientOptions {
            max_rate: args.max_rate.or(options.max_rate),
            ..options
        };
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
            .or(org.scope.clone())
            .context("no scope: pass --scope @your-org (or [org] scope in tokenless.toml)")?;
        if !scope.starts_with('@') || scope.len() < 2 || scope.contains('/') {
            bail!("--scope {scope}: expected an npm scope such as @acme");
        }
        let registry = args
            .registry
            .clone()
            .or_else(|| info.as_ref().map(|i| i.registry.clone()))
            .or(org.registry.clone())
            .unwrap_or_else(|| DEFAULT_REGISTRY.to_string());
        let anonymous = NpmClient::new(&registry, None, options.clone())?;

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
            // The sandbox lists an empty token for a user without a live session.
            let owner = match &args.as_user {
                Some(name) => info
                    .users
                    .iter()
                    .find(|u| &u.name == name && !u.token.is_empty())
                    .with_context(|| format!("--as {name}: the sandbox has no user {name} with a live session"))?,
                None => info
                    .users
                    .iter()
                    .find(|u| u.role.as_deref() == Some("owner") && !u.token.is_empty())
                    .context("the sandbox has no owner with a live session to sign in as (log in again, or use --login)")?,
            };
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
        let own = OwnCredential {
            kind,
            shown: token.to_string(),
            key: None,
            user,
        };

        let circleci_api = args
            .circleci_api
            .clone()
            .or_else(|| info.as_ref().map(|i| i.circleci_api.clone()))
            .or(org.circleci_api.clone());
        let circleci_org = args
            .circleci_org
            .clone()
            .or_else(|| info.as_ref().map(|i| i.circleci.org_id.clone()))
            .or(org.circleci_org.clone());
        let wants_circleci = circleci_api.is_some()
            || circleci_org.is_some()
            || !org.circleci_projects.is_empty()
            || args.circleci_token_env.is_some();
        let circleci = if wants_circleci {
            let api = circleci_api.unwrap_or_else(|| DEFAULT_CIRCLECI_API.to_string());
            let circle_token = match &args.circleci_token_env {
                Some(name) => Some(env_secret(name, "--circleci-token-env")?),
                // The sandbox hands out a member's personal API token, as CircleCI would.
                None => info
                    .as_ref()
                    .map(|i| Secret::new(i.circleci.token.as_str())),
            };
            Some(CircleCiClient::new(&api, circle_token, options.clone())?)
        } else {
            None
        };

        let forge_token = |flag: Option<&String>,
                           defaults: &[&str],
                           name: &str|
         -> anyhow::Result<Option<Secret>> {
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
                        .or(org.github_api.as_deref())
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
                        .or(org.gitlab_api.as_deref())
                        .unwrap_or(DEFAULT_GITLAB_API),
                    Some(t),
                    options.clone(),
                )?),
                None => None,
            },
        };
        Ok(Connection {
            scope,
            registry,
            anonymous,
            clients: Clients {
                npm,
                circleci,
                github,
                gitlab,
            },
            circleci_org,
            own,
            token,
            info,
        })
    }
}

impl Connection {
    /// Refuse to go on when the credential is one of the listed `tokens` with bypass 2FA:
    /// npm refuses `what` (trust, access, token changes) from such tokens since August 2026.
    pub fn refuse_bypass_2fa(&self, tokens: &[Token], what: &str) -> anyhow::Result<()> {
        match tokens.iter().find(|t| is_own(t, &self.token)) {
            Some(t) if t.bypass_2fa == Some(true) => bail!(
                "the npm credential is a bypass-2FA token ({}): npm refuses {what} from such tokens since August 2026; sign in with --login instead",
                self.own.shown
            ),
            _ => Ok(()),
        }
    }
}

/// Request counters per API on stderr (`--stats`, for the benchmarks):
/// `stats npm: attempts=… rate_limited=… rate_limited_twice=… retried=…`.
pub fn print_stats(
    npm: &NpmClient,
    circleci: Option<&CircleCiClient>,
    github: Option<&GitHubClient>,
    gitlab: Option<&GitLabClient>,
) {
    let apis = std::iter::once(("npm", npm.stats()))
        .chain(circleci.map(|c| ("circleci", c.stats())))
        .chain(github.map(|c| ("github", c.stats())))
        .chain(gitlab.map(|c| ("gitlab", c.stats())));
    for (api, s) in apis {
        eprintln!(
            "stats {api}: attempts={} rate_limited={} rate_limited_twice={} retried={}",
            s.attempts, s.rate_limited, s.rate_limited_twice, s.retried
        );
    }
}

/// Revoke a web-login session held in `slot`, if any (at the end, on error or signal).
pub async fn sign_out(slot: &SessionSlot) {
    let held = slot.lock().ok().and_then(|mut s| s.take());
    if let Some((npm, token)) = held {
        match npm.logout(&token).await {
            Ok(()) => eprintln!("tokenless: signed out; the login session {token} is revoked"),
            Err(e) => eprintln!(
                "tokenless: could not revoke the login session {token}: {e}; it expires within 2 hours"
            ),
        }
    }
}

/// The parts of `/-/sandbox/info` tokenless uses (`--sandbox`).
#[derive(Debug, serde::Deserialize)]
pub struct SandboxInfo {
    pub registry: String,
    pub circleci_api: String,
    pub scope: String,
    pub users: Vec<SandboxUser>,
    pub circleci: SandboxCircleCi,
    #[serde(default)]
    pub github: Option<SandboxForge>,
    #[serde(default)]
    pub gitlab: Option<SandboxForge>,
}

/// The sandbox's GitHub or GitLab API, its token, and its repositories or projects.
#[derive(serde::Deserialize)]
pub struct SandboxForge {
    pub api: String,
    pub token: String,
    #[serde(default, alias = "repos")]
    pub projects: Vec<String>,
}

impl std::fmt::Debug for SandboxForge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.api, Secret::new(self.token.as_str()))
    }
}

#[derive(serde::Deserialize)]
pub struct SandboxUser {
    pub name: String,
    /// `None` for an account that has left the org.
    pub role: Option<String>,
    pub token: String,
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

#[derive(serde::Deserialize)]
pub struct SandboxCircleCi {
    pub org_id: String,
    /// A member's personal API token.
    pub token: String,
    pub projects: Vec<SandboxProject>,
}

impl std::fmt::Debug for SandboxCircleCi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}, {:?})",
            self.org_id,
            Secret::new(self.token.as_str()),
            self.projects
        )
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct SandboxProject {
    pub slug: String,
}

/// Where a web-login session is kept from the moment it exists until it is revoked.
pub type SessionSlot = Arc<Mutex<Option<(NpmClient, Secret)>>>;

/// Ctrl-C and SIGTERM, registered when created.
pub struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn install() -> anyhow::Result<Signals> {
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

    pub async fn recv(&mut self) -> &'static str {
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

pub fn env_secret(name: &str, flag: &str) -> anyhow::Result<Secret> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(Secret::new(v.trim())),
        Ok(_) => bail!("{flag} {name}: the variable is empty"),
        Err(_) => bail!("{flag} {name}: the variable is not set"),
    }
}
