//! `tokenless tokens scan`: npm credentials at rest in files and the environment; with
//! `--verify`, whether each is live, asked of its own registry only; with `--revoke`, the
//! signed-in account's live ones revoked and their lines removed.

use std::{
    collections::BTreeMap,
    io::IsTerminal,
    net::IpAddr,
    path::PathBuf,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use tokenless_api::{ClientOptions, NpmClient, Secret};
use tokenless_scan::{Credential, Kind, ScanOptions};

use crate::render;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Sarif,
}

/// Find every npm credential at rest: in `.npmrc` (user, project, global), yarn's and
/// bun's and pnpm's config files, shell profiles and histories, `.env` files, JSON and
/// YAML configs and any other text file under the given paths (default: the current
/// directory), in the home directory (--home) and in the environment (--env).
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
What is found: npm tokens (`npm_` and 36 characters), legacy UUID tokens, `_auth` and
`_password` credentials, GitHub and GitLab tokens configured for their package registries,
and `${VAR}` references (reported as references: where a secret is read from). Each
finding names the file and line, the registry it authenticates to, and the value redacted
(`npm_…abcd`); no output ever holds a whole token.

What is left out: binary files, files over --max-file-mb, symlinks (never followed, so the
scan stays under its roots), inside `node_modules` everything but `.npmrc` files, with
--home the usual caches (~/.cache, ~/.npm/_cacache, package stores), and `.gitignore`d files
only with --respect-gitignore (secrets hide in ignored files).

--verify asks each token's own registry (`GET /-/whoami`, `GET /-/npm/v1/tokens`) whether
it is live, whose it is, and whether it has bypass 2FA (such tokens lose direct publishing
around January 2027); a token is never sent to any other host. --resolve HOST=ADDR points a
registry host at another address, as curl's --resolve does.

Exit codes: 0 nothing found, 1 credentials found, 2 error.

Examples:
  tokenless tokens scan --home --env
  tokenless tokens scan . --verify --format json
  tokenless tokens scan ~/src --respect-gitignore --format sarif > scan.sarif")]
pub struct ScanArgs {
    /// Files or directories to scan (default: the current directory, unless --home or
    /// --env is given).
    pub paths: Vec<PathBuf>,
    /// Scan the home directory ($HOME), leaving out caches and package stores.
    #[arg(long)]
    pub home: bool,
    /// Scan the process environment (NPM_TOKEN, NODE_AUTH_TOKEN, npm_config_…).
    #[arg(long)]
    pub env: bool,
    /// Ask each token's own registry whether it is live (never another host).
    #[arg(long)]
    pub verify: bool,
    /// Skip files .gitignore (and .git/info/exclude, the global excludes) leave out.
    #[arg(long)]
    pub respect_gitignore: bool,
    /// Resolve HOST to ADDR (an IP address) for --verify, keeping the URL's port; repeatable.
    #[arg(long, value_name = "HOST=ADDR", value_parser = parse_resolve)]
    pub resolve: Vec<(String, IpAddr)>,
    /// Skip files larger than this many MiB.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_file_mb: u64,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Revoke the live tokens that belong to the signed-in account (--login,
    /// --npm-token-env, --sandbox URL --as USER), after confirmation, and show the diff
    /// that removes their lines and those of already revoked tokens (implies --verify).
    #[arg(long)]
    pub revoke: bool,
    /// With --revoke: remove those lines from their files.
    #[arg(long, requires = "revoke")]
    pub write: bool,
    /// With --revoke: revoke without asking.
    #[arg(long, requires = "revoke")]
    pub yes: bool,
    /// With --revoke: run this command for each one-time password.
    #[arg(long, value_name = "CMD", requires = "revoke")]
    pub otp_command: Option<String>,
    #[command(flatten)]
    pub connect: super::connect::ConnectArgs,
}

fn parse_resolve(s: &str) -> Result<(String, IpAddr), String> {
    let (host, addr) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected HOST=ADDR"))?;
    let host = host.trim().to_ascii_lowercase();
    if host.is_empty() || host.contains(['/', ' ']) {
        return Err(format!("`{s}`: `{host}` is not a host name"));
    }
    let addr = addr
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map_err(|e| format!("`{s}`: {e} (ADDR is an IP address)"))?;
    Ok((host, addr))
}

/// What the registry said of one credential.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Status {
    Live {
        user: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        bypass_2fa: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        expires: Option<String>,
        /// A bypass-2FA token that loses direct publishing around January 2027.
        loses_direct_publishing_2027: bool,
    },
    Revoked,
    Unknown {
        why: String,
    },
}

/// A finding with, after --verify, its status.
pub struct Finding {
    pub credential: Credential,
    pub status: Option<Status>,
}

/// The whole run, for the renderers.
pub struct ScanOutcome {
    pub findings: Vec<Finding>,
    pub files: u64,
    pub bytes: u64,
    pub skipped: Vec<(String, String)>,
    pub skipped_count: u64,
    pub truncated: bool,
}

pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let mut roots = args.paths.clone();
    let home = if args.home {
        let h = std::env::var_os("HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_dir())
            .context("--home: $HOME is not set to a directory")?;
        roots.extend(config_files_outside(&h));
        roots.push(h);
        true
    } else {
        false
    };
    if roots.is_empty() && !args.env {
        roots.push(PathBuf::from("."));
    }
    for r in &roots {
        if !r.exists() {
            anyhow::bail!("{}: no such file or directory", r.display());
        }
    }
    let files = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let ticker = std::io::stderr().is_terminal().then(|| {
        let (files, done) = (files.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                eprint!("\r\x1b[2Kscanning: {} files", files.load(Ordering::Relaxed));
            }
            eprint!("\r\x1b[2K");
        })
    });
    let report = tokenless_scan::scan(&ScanOptions {
        roots: roots.clone(),
        home,
        respect_gitignore: args.respect_gitignore,
        max_file_bytes: args.max_file_mb << 20,
        progress: Some(files),
        ..ScanOptions::default()
    });
    done.store(true, Ordering::Relaxed);
    if let Some(t) = ticker {
        let _ = t.join();
    }
    let mut credentials = report.credentials;
    if args.env {
        credentials.extend(tokenless_scan::env::credentials(std::env::vars()));
    }
    let verifying = args.verify || args.revoke;
    let statuses = if verifying {
        let runtime = super::prompt::runtime()?;
        runtime.block_on(verify(&credentials, &args.resolve))
    } else {
        BTreeMap::new()
    };
    let findings: Vec<Finding> = credentials
        .into_iter()
        .map(|c| {
            let status = verifying.then(|| status_of(&c, &statuses)).flatten();
            Finding {
                credential: c,
                status,
            }
        })
        .collect();
    let outcome = ScanOutcome {
        findings,
        files: report.files,
        bytes: report.bytes,
        skipped: report.skipped,
        skipped_count: report.skipped_count,
        truncated: report.truncated,
    };
    let text = match args.format {
        Format::Text => render::scan::text(&outcome, args.env),
        Format::Json => render::scan::json(&outcome),
        Format::Sarif => render::sarif::scan::render(&outcome),
    };
    render::write_all(&mut render::stdout(), &text).context("cannot write the report")?;
    if args.revoke {
        let runtime = super::prompt::runtime()?;
        let failed = runtime.block_on(async {
            let session: super::connect::SessionSlot = Default::default();
            let r = revoke(&args, &outcome.findings, &session).await;
            super::connect::sign_out(&session).await;
            r
        })?;
        if failed {
            return Ok(ExitCode::from(3));
        }
    }
    Ok(ExitCode::from(u8::from(!outcome.findings.is_empty())))
}

/// `--revoke`: the signed-in account's live tokens revoked (through `tokens revoke`'s
/// confirmation and second factor), then the lines of those and of already revoked tokens
/// removed: shown as a diff, written with `--write`. True when something failed.
async fn revoke(
    args: &ScanArgs,
    findings: &[Finding],
    session: &super::connect::SessionSlot,
) -> anyhow::Result<bool> {
    let live: Vec<&Finding> = findings
        .iter()
        .filter(|f| matches!(f.status, Some(Status::Live { .. })))
        .collect();
    let mut gone: Vec<&Credential> = findings
        .iter()
        .filter(|f| f.status == Some(Status::Revoked))
        .map(|f| &f.credential)
        .collect();
    let mut failed = false;
    if !live.is_empty() {
        let conn = super::tokens::connect(&args.connect, session).await?;
        let me = conn.own.user.clone().unwrap_or_default();
        let here = conn
            .registry
            .split("://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let tokens = conn.clients.npm.tokens().await?;
        conn.refuse_bypass_2fa(&tokens, "token changes")?;
        let mut chosen = Vec::new();
        let mut revoking = Vec::new();
        for f in live {
            let c = &f.credential;
            let Some(Status::Live { user, .. }) = &f.status else {
                continue;
            };
            if c.registry.as_deref() != Some(here.as_str()) || *user != me {
                eprintln!(
                    "{}:{}: {} is {user}'s on {}: they revoke it under their own login",
                    c.path,
                    c.line,
                    c.redacted,
                    c.registry.as_deref().unwrap_or("?")
                );
                continue;
            }
            let secret = Secret::new(c.expose());
            match tokens
                .iter()
                .find(|t| tokenless_org::plan::is_own(t, &secret))
            {
                Some(t) => {
                    if !chosen
                        .iter()
                        .any(|x: &&tokenless_api::npm::Token| x.key == t.key)
                    {
                        chosen.push(t);
                    }
                    revoking.push(c);
                }
                None => eprintln!(
                    "{}:{}: {} is live but not in {me}'s token list (a login session: `npm logout` ends it)",
                    c.path, c.line, c.redacted
                ),
            }
        }
        if !chosen.is_empty() {
            match super::tokens::revoke_chosen(&conn, chosen, args.yes, args.otp_command.clone())
                .await?
            {
                Some(0) => gone.extend(revoking),
                Some(_) => failed = true,
                None => {}
            }
        }
    }
    let every: Vec<&Credential> = findings.iter().map(|f| &f.credential).collect();
    failed |= !remove_lines(&gone, &every, args.write);
    Ok(failed)
}

/// Remove the lines of `credentials` from their files: a diff on stderr with every secret
/// the scan found redacted (`every`: context lines hold others), the files rewritten with
/// `write`. False when a file could not be changed.
fn remove_lines(credentials: &[&Credential], every: &[&Credential], write: bool) -> bool {
    let mut by_file: BTreeMap<&str, Vec<&Credential>> = BTreeMap::new();
    for c in credentials.iter().filter(|c| c.line > 0) {
        by_file.entry(c.path.as_str()).or_default().push(c);
    }
    let mut ok = true;
    for (path, creds) in by_file {
        let Ok(old) = std::fs::read_to_string(path) else {
            eprintln!("{path}: cannot read it again; its lines stay");
            ok = false;
            continue;
        };
        let drop: std::collections::BTreeSet<usize> = creds.iter().map(|c| c.line).collect();
        let new: String = old
            .split_inclusive('\n')
            .enumerate()
            .filter(|(i, _)| !drop.contains(&(i + 1)))
            .map(|(_, l)| l)
            .collect();
        let mut diff = similar::TextDiff::from_lines(&old, &new)
            .unified_diff()
            .header(path, path)
            .to_string();
        for c in every.iter().filter(|c| c.is_secret()) {
            diff = diff.replace(c.expose(), &c.redacted);
        }
        let diff = tokenless_ci::facts::mask(&diff);
        eprint!("{diff}");
        if write {
            match super::fix::write_file(std::path::Path::new(path), &new, false) {
                Ok(()) => eprintln!("{path}: {} line(s) removed", drop.len()),
                Err(e) => {
                    eprintln!("{path}: cannot write: {e}");
                    ok = false;
                }
            }
        }
    }
    if !write && !credentials.is_empty() {
        eprintln!("(the files are unchanged: --write removes these lines)");
    }
    ok
}

/// npm's and pnpm's config files that may live outside the home: the user config and
/// the global config named by npm's environment, `$PREFIX/etc/npmrc` (from
/// `npm_config_prefix`, or beside the `node` on PATH), the usual global locations, and
/// pnpm's files under `$XDG_CONFIG_HOME`. Only files that exist and are not under `home`.
fn config_files_outside(home: &std::path::Path) -> Vec<PathBuf> {
    let env = |names: &[&str]| names.iter().find_map(std::env::var_os).map(PathBuf::from);
    let mut files: Vec<PathBuf> = Vec::new();
    files.extend(env(&["npm_config_userconfig", "NPM_CONFIG_USERCONFIG"]));
    files.extend(env(&["npm_config_globalconfig", "NPM_CONFIG_GLOBALCONFIG"]));
    if let Some(prefix) = env(&["npm_config_prefix", "NPM_CONFIG_PREFIX", "PREFIX"]) {
        files.push(prefix.join("etc/npmrc"));
    }
    if let Some(node) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("node"))
            .find(|p| p.is_file())
    }) && let Some(prefix) = node.parent().and_then(|bin| bin.parent())
    {
        files.push(prefix.join("etc/npmrc"));
    }
    for global in [
        "/usr/local/etc/npmrc",
        "/opt/homebrew/etc/npmrc",
        "/etc/npmrc",
    ] {
        files.push(PathBuf::from(global));
    }
    if let Some(xdg) = env(&["XDG_CONFIG_HOME"]) {
        files.push(xdg.join("pnpm/rc"));
        files.push(xdg.join("pnpm/auth.ini"));
    }
    let home = home.canonicalize().unwrap_or_else(|_| home.to_path_buf());
    let mut seen = std::collections::BTreeSet::new();
    files
        .into_iter()
        .filter(|f| f.is_file())
        .filter(|f| {
            let real = f.canonicalize().unwrap_or_else(|_| f.clone());
            !real.starts_with(&home) && seen.insert(real)
        })
        .collect()
}

/// Where a credential is checked: its registry's URL, or why it is not checked.
fn target(c: &Credential) -> Result<(String, String), String> {
    match c.kind {
        Kind::Reference => return Err("a reference, not a secret".into()),
        Kind::BasicAuth | Kind::Password => {
            return Err("a password credential: not sent anywhere to check it".into());
        }
        _ => {}
    }
    let host = c
        .registry
        .as_deref()
        .ok_or("no registry is configured for it, so it is sent nowhere")?;
    let scheme = c.scheme.as_deref().unwrap_or("https");
    Ok((host.to_owned(), format!("{scheme}://{host}/")))
}

fn status_of(c: &Credential, statuses: &BTreeMap<(String, String), Status>) -> Option<Status> {
    Some(match target(c) {
        Err(why) => Status::Unknown { why },
        Ok((host, _)) => statuses
            .get(&(host, c.expose().to_owned()))
            .cloned()
            .unwrap_or(Status::Unknown {
                why: "not checked".into(),
            }),
    })
}

/// Ask each distinct (registry, token) pair's own registry, concurrently.
async fn verify(
    credentials: &[Credential],
    resolve: &[(String, IpAddr)],
) -> BTreeMap<(String, String), Status> {
    let mut targets: BTreeMap<(String, String), String> = BTreeMap::new();
    for c in credentials {
        if let Ok((host, url)) = target(c) {
            targets.insert((host, c.expose().to_owned()), url);
        }
    }
    let options = ClientOptions {
        timeout: Duration::from_secs(15),
        max_attempts: 2,
        resolve: resolve.to_vec(),
        ..ClientOptions::default()
    };
    let checks = targets.into_iter().map(|((host, token), url)| {
        let options = options.clone();
        async move {
            let status = check(&url, &token, options).await;
            ((host, token), status)
        }
    });
    futures::future::join_all(checks)
        .await
        .into_iter()
        .collect()
}

async fn check(url: &str, token: &str, options: ClientOptions) -> Status {
    let secret = Secret::new(token);
    let npm = match NpmClient::new(url, Some(secret.clone()), options) {
        Ok(c) => c,
        Err(e) => return Status::Unknown { why: e.to_string() },
    };
    let user = match npm.whoami().await {
        Ok(u) => u,
        Err(e) if e.is_unauthorized() => return Status::Revoked,
        Err(e) => return Status::Unknown { why: e.to_string() },
    };
    // The account's token list says what this one is, where the registry lets the token
    // read it (a read-only or restricted token may not).
    let own = npm.tokens().await.ok().and_then(|list| {
        list.into_iter()
            .find(|t| tokenless_org::plan::is_own(t, &secret))
    });
    Status::Live {
        user,
        bypass_2fa: own.as_ref().and_then(|t| t.bypass_2fa),
        expires: own.as_ref().and_then(|t| t.expires.clone()),
        loses_direct_publishing_2027: own.as_ref().is_some_and(|t| t.loses_direct_publishing()),
    }
}
