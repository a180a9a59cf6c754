//! `tokenless tokens list | revoke | attest`: the signed-in account's npm tokens (`scan`,
//! which signs in nowhere, is in `scan.rs`).

use std::{
    io::IsTerminal,
    process::ExitCode,
    sync::{Arc, Mutex},
};

use anyhow::bail;
use tokenless_api::{ClientOptions, npm::Token};
use tokenless_org::{
    config::OrgConfig,
    plan::{is_own, is_temporary},
    twofa::{Asker, TwoFactor},
};

use super::connect::{ConnectArgs, Connection, SessionSlot, sign_out};
use crate::render;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

/// The npm tokens of the signed-in account: list them, revoke them. An owner cannot see
/// other members' tokens: each member runs this under their own login.
#[derive(Debug, clap::Args)]
pub struct TokensArgs {
    #[command(subcommand)]
    pub action: TokensAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum TokensAction {
    /// List the account's tokens with what the registry says of each (docs/tokens.md).
    #[command(after_long_help = "\
Exit codes: 0 no token, 1 tokens listed, 2 error.

Examples:
  tokenless tokens list --login
  tokenless tokens list --sandbox http://127.0.0.1:4873/ --as bob --format json")]
    List {
        #[command(flatten)]
        connect: ConnectArgs,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Revoke tokens by key prefix, or every one matching a filter; asks first unless --yes.
    #[command(after_long_help = "\
Each revoke asks for the second factor (web 2FA rides its 5-minute window; codes are
reused until refused). A bypass-2FA token cannot revoke tokens (npm policy since August
2026): sign in with --login. The credential this command runs with is revoked last.

Exit codes: 0 revoked (or nothing matched), 2 error, 3 some revokes failed.

Examples:
  tokenless tokens revoke --login --all
  tokenless tokens revoke --login 7860987f
  tokenless tokens revoke --login --bypass-2fa --yes --otp-command 'op item get npm --otp'")]
    Revoke {
        #[command(flatten)]
        connect: ConnectArgs,
        /// Keys (or unique key prefixes, at least 6 characters) to revoke.
        keys: Vec<String>,
        /// Every token of the account.
        #[arg(long, conflicts_with = "keys")]
        all: bool,
        /// Every bypass-2FA token (they lose direct publishing around January 2027).
        #[arg(long, conflicts_with = "keys")]
        bypass_2fa: bool,
        /// Every token that can write.
        #[arg(long, conflicts_with = "keys")]
        write: bool,
        /// Revoke without asking.
        #[arg(long)]
        yes: bool,
        /// Run this command for each new one-time password.
        #[arg(long, value_name = "CMD")]
        otp_command: Option<String>,
    },
    /// State the signed-in account's token list for the org's audit (npm lists only your
    /// own tokens; an owner cannot see yours): a JSON statement of what the registry
    /// answered, for whom and when, never a token's secret (docs/tokens.md).
    #[command(after_long_help = "\
Each member runs it under their own login and hands the file to whoever runs the audit,
which reads a directory of them with `tokenless audit --attestations DIR`. A statement is
good for 7 days.

Exit codes: 0 written, 2 error.

Examples:
  tokenless tokens attest --login --scope @acme --out bob.json
  tokenless tokens attest --sandbox http://127.0.0.1:4873/ --as bob --out attest/bob.json")]
    Attest {
        #[command(flatten)]
        connect: ConnectArgs,
        /// Write the statement here instead of to standard output (an existing file is
        /// replaced only with --force).
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
        #[arg(long)]
        force: bool,
    },
    /// Find npm credentials at rest in files and the environment (a maintainer's laptop, a
    /// tree); --verify asks each token's own registry whether it is live.
    Scan(super::scan::ScanArgs),
}

pub fn run(args: TokensArgs) -> anyhow::Result<ExitCode> {
    let args = match args.action {
        // A scan reads files; it signs in nowhere.
        TokensAction::Scan(scan) => return super::scan::run(scan),
        action => TokensArgs { action },
    };
    let runtime = super::prompt::runtime()?;
    runtime.block_on(async {
        let session: SessionSlot = Arc::new(Mutex::new(None));
        let result = match &args.action {
            TokensAction::List { connect, format } => list(connect, *format, &session).await,
            TokensAction::Revoke { .. } => revoke(&args.action, &session).await,
            TokensAction::Attest {
                connect,
                out,
                force,
            } => attest(connect, out.as_deref(), *force, &session).await,
            TokensAction::Scan(_) => Err(anyhow::anyhow!("a scan signs in nowhere")),
        };
        sign_out(&session).await;
        result
    })
}

pub(super) async fn connect(
    args: &ConnectArgs,
    session: &SessionSlot,
) -> anyhow::Result<Connection> {
    let mut args = args.clone();
    // Tokens belong to an account, not a scope: any scope string will do for signing in.
    if args.scope.is_none() && args.sandbox.is_none() {
        args.scope = Some("@tokenless".into());
    }
    Connection::open(
        &args,
        &OrgConfig::default(),
        ClientOptions::default(),
        session,
    )
    .await
}

/// `7860987f…`: enough of the key to revoke it by, nothing of the secret.
fn short_key(key: &str) -> String {
    format!("{}…", key.get(..8).unwrap_or(key))
}

fn marks(t: &Token) -> Vec<&'static str> {
    let mut m = Vec::new();
    if t.loses_direct_publishing() {
        m.push("loses direct publishing ~January 2027");
    }
    if is_temporary(t) {
        m.push("temporary bulk token");
    }
    m
}

async fn attest(
    args: &ConnectArgs,
    out: Option<&std::path::Path>,
    force: bool,
    session: &SessionSlot,
) -> anyhow::Result<ExitCode> {
    if args.scope.is_none() && args.sandbox.is_none() {
        anyhow::bail!("--scope is needed: the statement is for one org's audit");
    }
    if let Some(path) = out
        && path.exists()
        && !force
    {
        anyhow::bail!("{} exists; pass --force to replace it", path.display());
    }
    let conn = connect(args, session).await?;
    let user = conn.own.user.clone().ok_or_else(|| {
        anyhow::anyhow!("the registry did not say who is signed in (GET /-/whoami)")
    })?;
    let tokens = conn.clients.npm.tokens().await?;
    let statement = tokenless_org::attestation::Attestation::new(
        conn.clients.npm.registry(),
        &conn.scope,
        &user,
        tokens,
    );
    let mut text = serde_json::to_string_pretty(&statement)?;
    text.push('\n');
    match out {
        Some(path) => {
            // The members' statements usually gather in one directory for --attestations.
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
            }
            std::fs::write(path, &text)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            anstream::eprintln!(
                "tokenless: {} token(s) of {user} attested for {} in {}",
                statement.tokens.len(),
                conn.scope,
                path.display()
            );
        }
        None => crate::render::write_all(&mut crate::render::stdout(), &text)?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(
    args: &ConnectArgs,
    format: Format,
    session: &SessionSlot,
) -> anyhow::Result<ExitCode> {
    let conn = connect(args, session).await?;
    let tokens = conn.clients.npm.tokens().await?;
    let user = conn.own.user.clone().unwrap_or_default();
    let text = match format {
        Format::Json => {
            let rows: Vec<serde_json::Value> = tokens
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "key": t.key,
                        "token": shown_prefix(t),
                        "name": t.name,
                        "description": t.description,
                        "created": t.created,
                        "updated": t.updated,
                        "accessed": t.accessed,
                        "expires": t.expires,
                        "bypass_2fa": t.bypass_2fa,
                        "permission": permission(t),
                        "stage_only": t.stage_only(),
                        "packages": t.packages,
                        "scopes": t.scopes,
                        "orgs": t.orgs,
                        "cidr": t.cidr_whitelist,
                        "loses_direct_publishing_2027": t.loses_direct_publishing(),
                        "temporary": is_temporary(t),
                        "this_session": is_own(t, &conn.token),
                    })
                })
                .collect();
            let mut s =
                serde_json::to_string_pretty(&serde_json::json!({"user": user, "tokens": rows}))?;
            s.push('\n');
            s
        }
        Format::Text => {
            let mut s = format!("{} token(s) of {user} on {}\n", tokens.len(), conn.registry);
            for t in &tokens {
                s.push_str(&format!(
                    "\n{}  {}  {}\n",
                    short_key(&t.key),
                    t.name.as_deref().unwrap_or("(no name)"),
                    shown_prefix(t)
                ));
                s.push_str(&format!(
                    "  {}{}{}\n",
                    permission(t),
                    if t.bypass_2fa == Some(true) {
                        ", bypass 2FA"
                    } else {
                        ""
                    },
                    t.cidr_whitelist
                        .as_ref()
                        .map(|c| format!(", only from {}", c.join(" ")))
                        .unwrap_or_default()
                ));
                s.push_str(&format!(
                    "  created {}, last used {}, expires {}\n",
                    t.created.as_deref().unwrap_or("?"),
                    t.accessed.as_deref().unwrap_or("never (or not reported)"),
                    t.expires.as_deref().unwrap_or("never")
                ));
                let covers = cover(t);
                if !covers.is_empty() {
                    s.push_str(&format!("  covers {covers}\n"));
                }
                for m in marks(t) {
                    s.push_str(&format!("  ! {m}\n"));
                }
            }
            s
        }
    };
    render::write_all(&mut render::stdout(), &text)?;
    Ok(ExitCode::from(u8::from(!tokens.is_empty())))
}

/// The listed prefix of the secret, never more: `npm_1gf8…`.
fn shown_prefix(t: &Token) -> String {
    if t.token.is_empty() {
        "(secret not shown)".into()
    } else {
        format!("{}…", t.token.get(..8).unwrap_or(&t.token))
    }
}

fn permission(t: &Token) -> &'static str {
    if t.stage_only() {
        "stage-only"
    } else if t.writes() {
        "read-write"
    } else {
        "read-only"
    }
}

fn cover(t: &Token) -> String {
    let names = |v: &Option<Vec<serde_json::Value>>| -> Vec<String> {
        v.iter()
            .flatten()
            .filter_map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .or_else(|| x.get("name").and_then(|n| n.as_str()).map(str::to_owned))
            })
            .collect()
    };
    let mut all = names(&t.scopes);
    all.extend(names(&t.packages));
    all.extend(names(&t.orgs).into_iter().map(|o| format!("org {o}")));
    all.join(", ")
}

struct Prompt;

impl Asker for Prompt {
    fn show_approval_url(&self, url: &str) {
        eprintln!("tokenless: approve the 2FA request (once per 5-minute window): {url}");
    }
    fn ask_code(&self, refused: bool) -> Option<String> {
        super::prompt::ask_code(refused)
    }
}

async fn revoke(action: &TokensAction, session: &SessionSlot) -> anyhow::Result<ExitCode> {
    let TokensAction::Revoke {
        connect: args,
        keys,
        all,
        bypass_2fa,
        write,
        yes,
        otp_command,
    } = action
    else {
        bail!("not a revoke");
    };
    if keys.is_empty() && !all && !bypass_2fa && !write {
        bail!("say which tokens: key prefixes, --all, --bypass-2fa or --write");
    }
    let conn = connect(args, session).await?;
    let tokens = conn.clients.npm.tokens().await?;
    conn.refuse_bypass_2fa(&tokens, "token changes")?;
    let mut chosen: Vec<&Token> = Vec::new();
    for k in keys {
        if k.len() < 6 {
            bail!("key prefix `{k}` is too short: give at least 6 characters");
        }
        let hits: Vec<&Token> = tokens
            .iter()
            .filter(|t| t.key.starts_with(k.as_str()))
            .collect();
        match hits.as_slice() {
            [one] => chosen.push(one),
            [] => bail!("no token of this account has a key starting with `{k}`"),
            _ => bail!(
                "key prefix `{k}` matches {} tokens; give more of it",
                hits.len()
            ),
        }
    }
    for t in &tokens {
        let wanted = *all || (*bypass_2fa && t.bypass_2fa == Some(true)) || (*write && t.writes());
        if wanted && !chosen.iter().any(|c| c.key == t.key) {
            chosen.push(t);
        }
    }
    if chosen.is_empty() {
        eprintln!("tokenless tokens revoke: no token matched; nothing to do");
        return Ok(ExitCode::SUCCESS);
    }
    match revoke_chosen(&conn, chosen, *yes, otp_command.clone()).await? {
        None => Ok(ExitCode::from(2)),
        Some(0) => Ok(ExitCode::SUCCESS),
        Some(_) => Ok(ExitCode::from(3)),
    }
}

/// Ask (unless `yes`), revoke `chosen` with the second factor, read the list back. `None`
/// when the person said no; else how many revokes failed.
pub(super) async fn revoke_chosen(
    conn: &Connection,
    mut chosen: Vec<&Token>,
    yes: bool,
    otp_command: Option<String>,
) -> anyhow::Result<Option<usize>> {
    // This run's own credential goes last.
    chosen.sort_by_key(|t| is_own(t, &conn.token));
    eprintln!(
        "{} token(s) of {} to revoke:",
        chosen.len(),
        conn.own.user.as_deref().unwrap_or("?")
    );
    for t in &chosen {
        eprintln!(
            "  {}  {}{}",
            short_key(&t.key),
            t.name.as_deref().unwrap_or("(no name)"),
            if is_own(t, &conn.token) {
                "  (this command's own credential, last)"
            } else {
                ""
            }
        );
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            bail!("revoking tokens needs --yes when nobody can be asked");
        }
        if !super::prompt::ask_yes("Revoke them?") {
            eprintln!("tokenless tokens revoke: cancelled; nothing revoked");
            return Ok(None);
        }
    }
    let twofa = TwoFactor::new(conn.anonymous.clone(), Arc::new(Prompt), otp_command);
    let mut failed = 0;
    for t in &chosen {
        match conn.clients.npm.delete_token(&t.key, &twofa).await {
            Ok(()) => eprintln!(
                "revoked {}  {}",
                short_key(&t.key),
                t.name.as_deref().unwrap_or("")
            ),
            Err(e) if e.status() == Some(404) => {
                eprintln!("already gone {}", short_key(&t.key))
            }
            Err(e) => {
                failed += 1;
                eprintln!("failed {}: {e}", short_key(&t.key));
            }
        }
    }
    // Read back (unless the credential itself was revoked).
    if !chosen.iter().any(|t| is_own(t, &conn.token)) {
        let left = conn.clients.npm.tokens().await?;
        let still: Vec<&Token> = left
            .iter()
            .filter(|t| chosen.iter().any(|c| c.key == t.key))
            .collect();
        if !still.is_empty() {
            bail!("{} token(s) are still listed after revoke", still.len());
        }
        eprintln!("read back: GET /-/npm/v1/tokens lists none of them");
    }
    Ok(Some(failed))
}
