//! `tokenless explain`: the registry's decision on one OIDC token exchange, check by check.
//!
//! Reads the id token, the package's trust config(s) and a key source, runs the same
//! verifier the sandbox's exchange endpoint runs (`tokenless_trust::Verifier`), and renders
//! the decision. Exit codes: 0 accepted, 1 refused (a malformed or hostile token is a
//! refusal), 2 unusable input (missing file, trust config that does not parse, bad
//! arguments, unreachable key source). The token itself is never printed. Explain keeps no
//! replay store, so it never consumes a `jti`.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anstyle::{AnsiColor, Style};
use anyhow::{Context as _, bail};
use serde_json::json;
use tokenless_trust::discovery::HttpFetcher;
use tokenless_trust::issuer::{GITHUB_ISSUER, GITLAB_ISSUER};
use tokenless_trust::{
    Action, Algorithm, CachingJwks, CheckStatus, Decision, IssuerEntry, IssuerTable, JwksSource,
    Policy, StaticJwks, TrustConfig, Verifier, audience_for_registry, parse_trust_configs,
};

const LONG_ABOUT: &str = "\
Show the decision an npm registry makes when a CI job exchanges an OIDC id token for a
short-lived publish token, check by check: the token's header and signature, issuer,
expiry, audience (npm:<registry host>), and every claim of the package's trusted-publisher
config (CircleCI org, project, pipeline definition, VCS origin, bound contexts, SSH reruns;
GitHub repository, workflow file, environment; GitLab project, CI file, environment).

Each check prints the exact values it compared; the token itself is never printed. A check
marked [tokenless] is tokenless's stricter policy (e.g. refusing pull_request_target):
registry.npmjs.org itself would accept it. For a refusal, the most likely fix is printed,
and known npm behaviours are named as a Cause (github-immutable-subject: npm answers 404
for GitHub's immutable `sub`, npm/cli#9969; github-enterprise-issuer: npm answers 401 for
an enterprise-scoped GitHub issuer, npm/cli#9203).

Keys: --jwks FILE uses the issuer's JWK set from a file (e.g. saved from
https://oidc.circleci.com/org/<org-id>/.well-known/jwks-pub.json); --online fetches them
from the pinned production issuer; --sandbox URL trusts a tokenless sandbox's issuers.

explain keeps no replay store: it never consumes the token's jti, so the same token can be
explained again and then still be exchanged once.";

const EXAMPLES: &str = "\
Examples:
  tokenless explain --id-token token.jwt --trust trust.json --package @acme/widgets --jwks jwks.json
  echo \"$NPM_ID_TOKEN\" | tokenless explain --id-token - --trust trust.json --package @acme/widgets --online
  tokenless explain --id-token t.jwt --trust trust.json --package @acme/a --sandbox http://127.0.0.1:4873
  tokenless explain ... --action stage --now 1790000000 --format json

--trust takes one trust config object or the array GET /-/package/<pkg>/trust returns.

Exit status: 0 accepted, 1 refused, 2 unusable input (files, trust config, arguments).";

/// Largest id-token input read (the verifier refuses anything over 16 KiB anyway).
const MAX_TOKEN_INPUT: u64 = 1 << 20;
/// Largest trust-config file read.
const MAX_TRUST_FILE: u64 = 1 << 20;

/// Show the registry's decision on one OIDC token exchange, check by check.
#[derive(Debug, clap::Args)]
#[command(long_about = LONG_ABOUT, after_long_help = EXAMPLES)]
#[command(group(clap::ArgGroup::new("keys").required(true).args(["jwks", "online", "sandbox"])))]
pub struct ExplainArgs {
    /// File holding the id token (the JWT in NPM_ID_TOKEN), or - for stdin.
    #[arg(long, value_name = "FILE|-")]
    pub id_token: PathBuf,
    /// Trust config JSON: one object, or the array GET /-/package/<pkg>/trust returns.
    #[arg(long, value_name = "FILE")]
    pub trust: PathBuf,
    /// The package the exchange is for, e.g. @acme/widgets.
    #[arg(long, value_name = "NAME")]
    pub package: String,
    /// What the exchanged token is for: publish (createPackage) or stage (createStagedPackage).
    #[arg(long, value_enum, default_value_t = ActionArg::Publish)]
    pub action: ActionArg,
    /// The issuer's JWK set ({"keys": [...]}) from a file.
    #[arg(long, value_name = "FILE")]
    pub jwks: Option<PathBuf>,
    /// Fetch keys from the pinned production issuer (discovery, then jwks_uri).
    #[arg(long)]
    pub online: bool,
    /// Trust the issuers of a tokenless sandbox (reads URL/-/sandbox/info).
    #[arg(long, value_name = "URL")]
    pub sandbox: Option<String>,
    /// Registry hostname the audience must name: npm:<HOSTNAME> [default: registry.npmjs.org,
    /// or the sandbox registry's hostname with --sandbox].
    #[arg(long, value_name = "HOSTNAME")]
    pub registry_host: Option<String>,
    /// Evaluate expiry at this Unix time instead of now.
    #[arg(long, value_name = "UNIX_SECONDS")]
    pub now: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `--action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ActionArg {
    /// npm publish (createPackage).
    Publish,
    /// npm stage publish (createStagedPackage).
    Stage,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per check, the decision and the fix.
    Text,
    /// {"accepted", "package", "provider", "checks": [...]}; a refusal adds "npm_status" and
    /// the named "causes".
    Json,
}

pub fn run(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let token = read_token(&args.id_token)?;
    let configs = read_trust(&args.trust)?;
    let (issuers, sandbox_host) = issuer_table(&args)?;
    let registry_host = args
        .registry_host
        .clone()
        .or(sandbox_host)
        .unwrap_or_else(|| "registry.npmjs.org".to_owned());
    let now = match args.now {
        Some(n) => n,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("system clock is before 1970")?
            .as_secs(),
    };
    let action = match args.action {
        ActionArg::Publish => Action::Publish,
        ActionArg::Stage => Action::Stage,
    };
    let decision = Verifier::new(issuers).verify_exchange(
        &token,
        &configs,
        &args.package,
        action,
        &registry_host,
        now,
    );
    let mut out = anstream::stdout();
    match args.format {
        Format::Json => writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&to_json(&decision))?
        )?,
        Format::Text => write!(out, "{}", render_text(&decision, &registry_host))?,
    }
    Ok(if decision.accepted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn read_token(path: &Path) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            bail!(
                "--id-token -: reading the token from a terminal; pipe it in (echo \"$NPM_ID_TOKEN\" | …)"
            );
        }
        stdin
            .lock()
            .take(MAX_TOKEN_INPUT)
            .read_to_end(&mut bytes)
            .context("--id-token -: reading stdin")?;
    } else {
        bytes = tokenless_trust::read_capped(path, MAX_TOKEN_INPUT).context("--id-token")?;
    }
    // Not UTF-8 cannot be a JWT; let the verifier refuse it as malformed (exit 1).
    Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
}

fn read_trust(path: &Path) -> anyhow::Result<Vec<TrustConfig>> {
    let bytes = tokenless_trust::read_capped(path, MAX_TRUST_FILE).context("--trust")?;
    let text = String::from_utf8(bytes)
        .map_err(|e| anyhow::anyhow!("--trust {}: not UTF-8 ({e})", path.display()))?;
    parse_trust_configs(&text).with_context(|| format!("--trust {}", path.display()))
}

/// The issuer table for the chosen key source, and the sandbox registry's hostname.
fn issuer_table(args: &ExplainArgs) -> anyhow::Result<(IssuerTable, Option<String>)> {
    if let Some(path) = &args.jwks {
        let keys = StaticJwks::from_file(path).with_context(|| "--jwks".to_owned())?;
        return Ok((IssuerTable::production(Arc::new(keys)), None));
    }
    if args.online {
        return Ok((online_issuers()?, None));
    }
    let Some(base) = &args.sandbox else {
        bail!("give a key source: --jwks FILE, --online or --sandbox URL");
    };
    let (table, host) = sandbox_issuers(base).context("--sandbox")?;
    Ok((table, Some(host)))
}

/// The pinned production issuers, keys fetched over HTTPS (discovery, then `jwks_uri`).
pub fn online_issuers() -> anyhow::Result<IssuerTable> {
    let fetcher = HttpFetcher::https_only().map_err(anyhow::Error::msg)?;
    Ok(IssuerTable::production(Arc::new(CachingJwks::new(fetcher))))
}

/// The issuers of the tokenless sandbox at `base` (read from `<base>/-/sandbox/info`), and
/// its registry's hostname. Blocking: call it outside an async runtime.
pub fn sandbox_issuers(base: &str) -> anyhow::Result<(IssuerTable, String)> {
    let fetcher = HttpFetcher::allow_http().map_err(anyhow::Error::msg)?;
    let info_url = format!("{}/-/sandbox/info", base.trim_end_matches('/'));
    let info = fetcher.get_json(&info_url).map_err(anyhow::Error::msg)?;
    let field = |path: &[&str]| -> anyhow::Result<String> {
        let mut v = &info;
        for key in path {
            v = v
                .get(key)
                .with_context(|| format!("{info_url} has no {}", path.join(".")))?;
        }
        v.as_str()
            .map(str::to_owned)
            .with_context(|| format!("{} in {info_url} is not a string", path.join(".")))
    };
    let circleci = field(&["issuers", "circleci"])?;
    let github = field(&["issuers", "github"])?;
    let gitlab = field(&["issuers", "gitlab"])?;
    let registry = field(&["registry"])?;
    let Some((circleci_prefix, _org)) = circleci.rsplit_once("/org/") else {
        bail!("issuers.circleci {circleci:?} is not <prefix>/org/<org-id>");
    };
    for url in [&circleci, &github, &gitlab] {
        if url == GITHUB_ISSUER
            || url == GITLAB_ISSUER
            || url.starts_with("https://oidc.circleci.com")
        {
            bail!("{info_url} claims the production issuer {url}; a sandbox must use its own");
        }
    }
    let host = audience_for_registry(&registry)
        .map(|aud| aud.trim_start_matches("npm:").to_owned())
        .context("registry")?;
    let keys: Arc<dyn JwksSource> = Arc::new(CachingJwks::new(fetcher));
    let both = [Algorithm::Rs256, Algorithm::Es256];
    let table = IssuerTable::new(vec![
        IssuerEntry::circleci(circleci_prefix, keys.clone()).with_algorithms(&both),
        IssuerEntry::github(github, keys.clone()).with_algorithms(&both),
        // The sandbox imitates gitlab.com: its tokens name `gitlab.com/…` in
        // `ci_config_ref_uri`, as the sandbox's own exchange expects.
        IssuerEntry::gitlab(gitlab, keys)
            .with_algorithms(&both)
            .with_config_host("gitlab.com"),
    ]);
    Ok((table, host))
}

fn status_word(status: CheckStatus) -> (&'static str, Style) {
    match status {
        CheckStatus::Pass => ("pass", AnsiColor::Green.on_default()),
        CheckStatus::Fail => ("FAIL", AnsiColor::Red.on_default().bold()),
        CheckStatus::Skip => ("skip", AnsiColor::BrightBlack.on_default()),
    }
}

/// The text report: a header line, one line per check, the decision, the fix.
pub fn render_text(decision: &Decision, registry_host: &str) -> String {
    let mut out = String::new();
    let provider = decision.provider.map_or("unknown", |p| p.as_str());
    out.push_str(&format!(
        "Exchange of a {provider} id token for {} ({}) on {registry_host}\n\n",
        decision.package,
        actions_text(decision)
    ));
    let width = decision
        .checks
        .iter()
        .map(|c| c.id.as_str().len())
        .max()
        .unwrap_or(0);
    for check in &decision.checks {
        let (word, style) = status_word(check.status);
        let policy = match check.policy {
            Policy::Tokenless => " [tokenless]",
            Policy::Npm => "",
        };
        out.push_str(&format!(
            "  {style}{word}{style:#}  {:<width$}  {}{policy}\n",
            check.id.as_str(),
            check.detail
        ));
    }
    out.push('\n');
    render_configs(&mut out, decision);
    let failures: Vec<_> = decision
        .checks
        .iter()
        .filter(|c| c.status == CheckStatus::Fail)
        .collect();
    if decision.accepted {
        let ok = AnsiColor::Green.on_default().bold();
        let config = decision
            .trust_config_id
            .as_deref()
            .map_or(String::new(), |id| format!(" (trust config {id})"));
        out.push_str(&format!(
            "{ok}ACCEPTED{ok:#}: the registry would mint a token for {} ({}){config}\n",
            decision.package,
            actions_text(decision)
        ));
    } else {
        let bad = AnsiColor::Red.on_default().bold();
        let ids: Vec<&str> = failures.iter().map(|c| c.id.as_str()).collect();
        out.push_str(&format!(
            "{bad}REFUSED{bad:#}: {} failed\n",
            if ids.is_empty() {
                "no check".to_owned()
            } else {
                ids.join(", ")
            }
        ));
        if !failures.is_empty() && failures.iter().all(|c| c.policy == Policy::Tokenless) {
            out.push_str(
                "Note: registry.npmjs.org itself would accept this exchange; the refusal is tokenless policy.\n",
            );
        }
        for cause in decision.causes() {
            out.push_str(&format!("Cause: {}\n", cause.describe()));
        }
        if let Some(fix) = decision.fix() {
            out.push_str(&format!("Fix: {fix}\n"));
        }
    }
    out
}

/// Every trust config's own decision: whether the token's claims match it, what it allows,
/// whether it would be used (and for which action), and its failed checks.
fn render_configs(out: &mut String, decision: &Decision) {
    if decision.configs.is_empty() {
        return;
    }
    out.push_str(&format!(
        "Trust configs of {} ({}):\n",
        decision.package,
        decision.configs.len()
    ));
    let ids: Vec<&str> = decision
        .configs
        .iter()
        .map(|c| c.id.as_deref().unwrap_or("(no id)"))
        .collect();
    let permissions: Vec<String> = decision
        .configs
        .iter()
        .map(|c| {
            c.permissions
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    let id_width = ids.iter().map(|i| i.len()).max().unwrap_or(0);
    let perm_width = permissions.iter().map(String::len).max().unwrap_or(0);
    for ((config, id), perms) in decision.configs.iter().zip(&ids).zip(&permissions) {
        // A grant goes to the first matching config allowing its action (the verifier's
        // rule), which also tells configs without an id apart.
        let granted: Vec<&str> = decision
            .grants
            .iter()
            .filter(|g| {
                decision
                    .configs
                    .iter()
                    .find(|c| c.matches && c.allows.contains(&g.action))
                    .is_some_and(|c| c.index == config.index)
            })
            .map(|g| g.action.as_str())
            .collect();
        let not_allowed: Vec<&str> = decision
            .actions
            .iter()
            .filter(|a| !config.allows.contains(a))
            .map(|a| a.as_str())
            .collect();
        let verdict = if config.provider != decision.provider.unwrap_or(config.provider) {
            let other = decision.provider.map_or("unknown", |p| p.as_str());
            format!(
                "not for this token (a {} config; the token is from {other})",
                config.provider
            )
        } else if config.used {
            format!("claims match; USED for {}", granted.join(", "))
        } else if config.matches && config.allows.is_empty() {
            format!("claims match; does not allow {}", not_allowed.join(", "))
        } else if config.matches {
            "claims match; an earlier config is used".to_owned()
        } else {
            let failed: Vec<&str> = config
                .failures()
                .filter(|c| c.id != tokenless_trust::CheckId::Action)
                .map(|c| c.id.as_str())
                .collect();
            let mut text = format!("claims do not match: {} failed", failed.join(", "));
            if !not_allowed.is_empty() {
                text.push_str(&format!("; does not allow {}", not_allowed.join(", ")));
            }
            text
        };
        out.push_str(&format!(
            "  {id:<id_width$}  {:<8}  {perms:<perm_width$}  {verdict}\n",
            config.provider.as_str()
        ));
        let same_provider = Some(config.provider) == decision.provider;
        if same_provider && !config.matches {
            for check in config
                .failures()
                .filter(|c| c.id != tokenless_trust::CheckId::Action)
            {
                let (word, style) = status_word(check.status);
                out.push_str(&format!(
                    "      {style}{word}{style:#}  {}  {}\n",
                    check.id.as_str(),
                    check.detail
                ));
            }
        }
    }
    out.push('\n');
}

/// The asked actions, `publish` or `publish, stage`.
fn actions_text(decision: &Decision) -> String {
    decision
        .actions
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn to_json(decision: &Decision) -> serde_json::Value {
    let mut value = json!({
        "accepted": decision.accepted,
        "package": decision.package,
        "action": decision.actions.first(),
        "provider": decision.provider,
        "trust_config_id": decision.trust_config_id,
        "checks": decision.checks,
        "grants": decision.grants,
        "configs": decision.configs,
    });
    if let (Some(fix), Some(obj)) = (decision.fix(), value.as_object_mut()) {
        obj.insert("fix".into(), json!(fix));
    }
    if !decision.accepted
        && let Some(obj) = value.as_object_mut()
    {
        // The status npm's exchange answers, and the named causes (401 for an
        // enterprise-scoped GitHub issuer, 404 otherwise).
        obj.insert("npm_status".into(), json!(decision.refusal_status()));
        obj.insert("causes".into(), json!(decision.causes()));
    }
    if let Some(obj) = value.as_object_mut() {
        let npm_would_accept = !decision.accepted
            && decision
                .checks
                .iter()
                .filter(|c| c.status == CheckStatus::Fail)
                .all(|c| c.policy == Policy::Tokenless);
        obj.insert(
            "npm_would_accept".into(),
            json!(decision.accepted || npm_would_accept),
        );
    }
    value
}
