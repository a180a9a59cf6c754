//! `tokenless preflight`: run inside the CI job, prove that trusted publishing works before
//! the release. Detects the provider as npm does, obtains the id token as npm would, runs
//! the registry's real OIDC exchange for each package, drops the minted token unused, and on
//! a refusal diagnoses the id token with `explain`'s verifier (claims decoded locally: the
//! registry only says 404). Exit codes: 0 every package would publish, 1 some refused, 2
//! usage error or no id token to be had (with the CI config line that gives one).

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use serde_json::{Value, json};
use tokenless_api::{ClientOptions, NpmClient, Secret};
use tokenless_trust::{
    Action, CheckId, CheckStatus, IssuerTable, TrustConfig, Verifier, audience_for_registry,
};

use super::explain::{self, Format};

const LONG_ABOUT: &str = "\
Prove inside the CI job that `npm publish` would get a trusted-publishing token, before the
release. `npm whoami` says nothing about OIDC, and npm hides a failed exchange: the registry
answers a bare 404 and npm silently falls back to whatever token is configured.

preflight does what npm does: detects the CI provider (CIRCLECI, GITHUB_ACTIONS, GITLAB_CI;
CI=false turns detection off), takes the id token from NPM_ID_TOKEN or, on GitHub Actions
without it, requests one from ACTIONS_ID_TOKEN_REQUEST_URL with audience npm:<registry
host>, and sends the registry's exchange for each package. The short-lived token the
registry mints is dropped unused and never printed.

A registry exchange is single-use per id token AND package: after preflight, the same id
token can still be exchanged for another package, but no longer for a package preflight
checked. GitHub (request URL) and CircleCI (the `circleci` CLI, when NPM_ID_TOKEN is unset)
mint a fresh id token per package, so nothing is spent; a token from NPM_ID_TOKEN is spent
for the packages checked, so run preflight in its own job or step with its own token
(GitLab: a separate job; CircleCI: a separate `circleci run oidc get`; GitHub: leave
NPM_ID_TOKEN unset and npm requests its own).

On a refusal, preflight prints the registry's answer, the id token's decoded claims (they
are not secret; the token is never printed) and explain's check-by-check diagnosis of the
token: signature, issuer, expiry, audience, and the claims a trust config compares. The
package's trust config is read when the registry shows it anonymously; in CI there is
usually no npm login, so the claim checks name what the config would need.

Packages: --package (repeatable), else the `name` of ./package.json (workspaces are not
expanded: name each workspace package with --package).";

const EXAMPLES: &str = "\
Examples (a CI step before the publish step):
  npx tokenless preflight
  tokenless preflight --package @acme/core --package @acme/utils --format json
  GitHub Actions: permissions: { id-token: write }, then `tokenless preflight`
  GitLab CI:      id_tokens: { NPM_ID_TOKEN: { aud: \"npm:registry.npmjs.org\" } } (in a preflight job)
  CircleCI:       tokenless preflight (the circleci CLI mints a token per package)

Exit status: 0 every package would publish, 1 some refused, 2 usage error or no id token.";

const DEFAULT_REGISTRY: &str = "https://registry.npmjs.org/";

/// Prove trusted publishing works from this CI job: exchange the job's id token per package.
#[derive(Debug, clap::Args)]
#[command(long_about = LONG_ABOUT, after_long_help = EXAMPLES)]
pub struct PreflightArgs {
    /// A package to check (repeatable) [default: the name in ./package.json; workspaces are
    /// not expanded].
    #[arg(long = "package", value_name = "NAME")]
    pub packages: Vec<String>,
    /// The registry [default: $npm_config_registry, else https://registry.npmjs.org/].
    #[arg(long, value_name = "URL")]
    pub registry: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// The CI providers npm runs OIDC on (npm-registry.md §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ci {
    GitHub,
    GitLab,
    CircleCI,
}

impl Ci {
    fn name(self) -> &'static str {
        match self {
            Ci::GitHub => "github",
            Ci::GitLab => "gitlab",
            Ci::CircleCI => "circleci",
        }
    }
}

/// Where the id token comes from.
enum Source {
    /// `NPM_ID_TOKEN`: one token for every package.
    Env(Secret),
    /// GitHub's request URL: a fresh token per package.
    GitHubRequest { url: String, token: Secret },
    /// `circleci run oidc get`: a fresh token per package.
    CircleCiCli,
}

impl Source {
    fn describe(&self) -> &'static str {
        match self {
            Source::Env(_) => "NPM_ID_TOKEN",
            Source::GitHubRequest { .. } => "ACTIONS_ID_TOKEN_REQUEST_URL",
            Source::CircleCiCli => "circleci run oidc get",
        }
    }
    fn fresh_per_package(&self) -> bool {
        !matches!(self, Source::Env(_))
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn detect_ci() -> Option<Ci> {
    if std::env::var("CI").ok().as_deref() == Some("false") {
        return None;
    }
    if env_nonempty("GITHUB_ACTIONS").is_some() {
        Some(Ci::GitHub)
    } else if env_nonempty("GITLAB_CI").is_some() {
        Some(Ci::GitLab)
    } else if env_nonempty("CIRCLECI").is_some() {
        Some(Ci::CircleCI)
    } else {
        None
    }
}

/// `circleci` on PATH.
fn circleci_cli() -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| dir.join("circleci").is_file())
}

/// The id token source npm would use, or a usage error naming what to add to the CI config.
fn source(ci: Ci, audience: &str) -> anyhow::Result<Source> {
    if let Some(token) = env_nonempty("NPM_ID_TOKEN") {
        return Ok(Source::Env(Secret::new(token.trim().to_owned())));
    }
    match ci {
        Ci::GitHub => {
            let url = env_nonempty("ACTIONS_ID_TOKEN_REQUEST_URL");
            let token = env_nonempty("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
            match (url, token) {
                (Some(url), Some(token)) => Ok(Source::GitHubRequest {
                    url,
                    token: Secret::new(token),
                }),
                (url, _) => bail!(
                    "no id token: NPM_ID_TOKEN is empty and {} is not set, so npm would skip \
                     OIDC (\"incorrect permissions for id-token within GitHub workflow\"). Add \
                     `permissions: {{ id-token: write }}` to the publishing job.",
                    if url.is_none() {
                        "ACTIONS_ID_TOKEN_REQUEST_URL"
                    } else {
                        "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
                    }
                ),
            }
        }
        Ci::GitLab => bail!(
            "no id token: NPM_ID_TOKEN is not set (GitLab has no request flow). Add to the job:\n  \
             id_tokens:\n    NPM_ID_TOKEN:\n      aud: \"{audience}\""
        ),
        Ci::CircleCI if circleci_cli() => Ok(Source::CircleCiCli),
        Ci::CircleCI => bail!(
            "no id token: NPM_ID_TOKEN is not set and the circleci CLI is not on PATH. Add before \
             the publish:\n  export NPM_ID_TOKEN=\"$(circleci run oidc get --claims \
             '{{\"aud\":\"{audience}\"}}')\""
        ),
    }
}

/// One id token from `source` for one package.
async fn id_token(source: &Source, audience: &str) -> anyhow::Result<Secret> {
    match source {
        Source::Env(token) => Ok(token.clone()),
        Source::GitHubRequest { url, token } => {
            tokenless_api::github::actions_id_token(url, token, audience, options())
                .await
                .context("requesting an id token from GitHub")
        }
        Source::CircleCiCli => {
            let claims = json!({ "aud": audience }).to_string();
            let out = tokio::process::Command::new("circleci")
                .args(["run", "oidc", "get", "--claims", &claims])
                .output()
                .await
                .context("running `circleci run oidc get`")?;
            if !out.status.success() {
                bail!(
                    "`circleci run oidc get` failed ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if token.is_empty() {
                bail!("`circleci run oidc get` printed no token");
            }
            Ok(Secret::new(token))
        }
    }
}

fn options() -> ClientOptions {
    ClientOptions::default()
}

/// The id token's claims, decoded without verification (for display and diagnosis only).
fn decode_claims(token: &str) -> Option<serde_json::Map<String, Value>> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The claims a trust config of `provider` compares (npm-registry.md §3.9).
fn needed_claims(provider: &str) -> &'static str {
    match provider {
        "circleci" => {
            "oidc.circleci.com/org-id, project-id, pipeline-definition-id, vcs-origin and every bound context id in context-ids"
        }
        "github" => {
            "repository, workflow_ref (the workflow file) and environment, if the config names one"
        }
        "gitlab" => {
            "project_path, ci_config_ref_uri (the top-level CI file) and environment, if the config names one"
        }
        _ => "the provider's identity claims",
    }
}

/// One package's outcome.
struct Outcome {
    package: String,
    accepted: bool,
    /// The registry's status and message on a refusal, or why the exchange could not run.
    refusal: Option<String>,
    id_token: Option<Secret>,
    diagnosis: Option<tokenless_trust::Decision>,
    trust_configs_read: bool,
}

pub fn run(args: PreflightArgs) -> anyhow::Result<ExitCode> {
    let registry = args
        .registry
        .clone()
        .or_else(|| env_nonempty("npm_config_registry"))
        .or_else(|| env_nonempty("NPM_CONFIG_REGISTRY"))
        .unwrap_or_else(|| DEFAULT_REGISTRY.to_owned());
    let audience = audience_for_registry(&registry).context("--registry")?;
    let host = audience.trim_start_matches("npm:").to_owned();
    let packages = if args.packages.is_empty() {
        vec![package_json_name()?]
    } else {
        args.packages.clone()
    };
    let Some(ci) = detect_ci() else {
        bail!(
            "not in a CI job npm runs OIDC in: none of CIRCLECI, GITHUB_ACTIONS, GITLAB_CI is set \
             (or CI=false). Run preflight in the publishing job."
        );
    };
    let source = source(ci, &audience)?;
    let runtime = super::prompt::runtime()?;
    let npm = NpmClient::new(&registry, None, options())?;

    let mut outcomes = Vec::new();
    for package in &packages {
        let result = runtime.block_on(async {
            let token = id_token(&source, &audience).await?;
            let exchanged = npm.oidc_exchange(package, &token).await;
            let trust = match &exchanged {
                Ok(_) => None,
                // The trust list needs a login on npmjs; read it when it is shown anonymously.
                Err(_) => npm.trust_configs(package).await.ok(),
            };
            anyhow::Ok((token, exchanged, trust))
        });
        // No id token is exit 2 (usage), whichever package it was for.
        let (token, exchanged, trust) = result?;
        match exchanged {
            // The minted token is dropped here, unused.
            Ok(minted) => {
                drop(minted);
                outcomes.push(Outcome {
                    package: package.clone(),
                    accepted: true,
                    refusal: None,
                    id_token: None,
                    diagnosis: None,
                    trust_configs_read: false,
                });
            }
            Err(e) => outcomes.push(Outcome {
                package: package.clone(),
                accepted: false,
                refusal: Some(match e.status() {
                    Some(_) => e.kind.to_string(),
                    None => format!("the exchange failed: {}", e.kind),
                }),
                trust_configs_read: trust.is_some(),
                diagnosis: Some(diagnose(
                    &token,
                    trust.as_deref().unwrap_or(&[]),
                    package,
                    &registry,
                    &host,
                )),
                id_token: Some(token),
            }),
        }
    }
    drop(runtime);

    let ok = outcomes.iter().all(|o| o.accepted);
    let mut out = anstream::stdout();
    match args.format {
        Format::Json => {
            let doc = json!({
                "ok": ok,
                "registry": registry,
                "audience": audience,
                "provider": ci.name(),
                "id_token_source": source.describe(),
                "fresh_id_token_per_package": source.fresh_per_package(),
                "packages": outcomes
                    .iter()
                    .map(|o| outcome_json(o, ci, &host))
                    .collect::<Vec<_>>(),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Format::Text => write!(
            out,
            "{}",
            render_text(&outcomes, ci, &source, &registry, &host)
        )?,
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn package_json_name() -> anyhow::Result<String> {
    let bytes = tokenless_trust::read_capped(std::path::Path::new("package.json"), 1 << 20)
        .context("no --package given and ./package.json cannot be read")?;
    let doc: Value = serde_json::from_slice(&bytes).context("./package.json is not JSON")?;
    doc.get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .context("./package.json has no name; give --package NAME")
}

/// The issuers to verify against: a tokenless sandbox's own (when the registry is one), else
/// the pinned production issuers.
fn issuers(registry: &str, host: &str) -> anyhow::Result<IssuerTable> {
    if host != "registry.npmjs.org"
        && let Ok((table, _)) = explain::sandbox_issuers(registry)
    {
        return Ok(table);
    }
    explain::online_issuers()
}

/// explain's verifier over the refused id token (no replay store: it spends nothing).
fn diagnose(
    token: &Secret,
    configs: &[TrustConfig],
    package: &str,
    registry: &str,
    host: &str,
) -> tokenless_trust::Decision {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let table = issuers(registry, host).unwrap_or_else(|_| IssuerTable::new(Vec::new()));
    let mut decision = Verifier::new(table).verify_exchange(
        token.expose(),
        configs,
        package,
        [Action::Publish],
        host,
        now,
    );
    if configs.is_empty() {
        // Without the trust config, the checks from `trust-config` on would only say
        // "no trust config", which is not known: keep the token's own checks.
        if let Some(at) = decision
            .checks
            .iter()
            .position(|c| c.id == CheckId::TrustConfig)
        {
            decision.checks.truncate(at);
        }
    }
    decision
}

/// The id token's issuer is another provider than the one the job looks like.
fn provider_note(decision: &tokenless_trust::Decision, ci: Ci) -> Option<String> {
    let provider = decision.provider?;
    (provider.as_str() != ci.name()).then(|| {
        format!(
            "The id token was issued by {provider} but this job is {} (by its environment): \
             NPM_ID_TOKEN comes from another CI provider, and a trust config names one provider.",
            ci.name()
        )
    })
}

/// What the refusal must be when the trust config cannot be read.
/// `None` when the token's provider is not even known (the token is refused before).
fn trust_note(decision: &tokenless_trust::Decision, package: &str, host: &str) -> Option<String> {
    let provider = decision.provider?.as_str();
    let token_ok = !decision
        .checks
        .iter()
        .any(|c| c.status == CheckStatus::Fail);
    let lead = if token_ok {
        format!(
            "The token itself passes every check for npm:{host} (signature, issuer, expiry, \
             audience), so the refusal is the trust config of {package}"
        )
    } else {
        format!("Besides the failures above, the trust config of {package} must also match")
    };
    Some(format!(
        "{lead}: it is not readable without an npm login, so it was not compared. A {provider} \
         trust config must match the claims {}; a package without a {provider} trusted \
         publisher is refused the same way. Compare with `npm trust list {package}`, or run \
         `tokenless explain` with the config.",
        needed_claims(provider)
    ))
}

fn outcome_json(o: &Outcome, ci: Ci, host: &str) -> Value {
    let notes: Vec<String> = o
        .diagnosis
        .iter()
        .flat_map(|d| {
            let trust = if o.trust_configs_read {
                None
            } else {
                trust_note(d, &o.package, host)
            };
            provider_note(d, ci).into_iter().chain(trust)
        })
        .collect();
    let claims = o
        .id_token
        .as_ref()
        .and_then(|t| decode_claims(t.expose()))
        .map(Value::Object);
    json!({
        "package": o.package,
        "would_publish": o.accepted,
        "refusal": o.refusal,
        "claims": claims,
        "trust_configs_read": o.trust_configs_read,
        "diagnosis": o.diagnosis.as_ref().map(explain::to_json),
        "notes": notes,
    })
}

fn render_text(
    outcomes: &[Outcome],
    ci: Ci,
    source: &Source,
    registry: &str,
    host: &str,
) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Preflight on {registry} from {} (id token: {})\n",
        ci.name(),
        source.describe()
    ));
    if source.fresh_per_package() {
        out.push_str("A fresh id token per package: nothing the publish needs is spent.\n\n");
    } else {
        out.push_str(
            "An exchange is single-use per id token and package: this NPM_ID_TOKEN can still be \
             exchanged for other packages, but no longer for the packages below; publish them \
             with a fresh id token (another job or step).\n\n",
        );
    }
    for o in outcomes {
        if o.accepted {
            out.push_str(&format!(
                "✓ {}: the registry would accept a publish (the minted token was dropped unused)\n",
                o.package
            ));
            continue;
        }
        out.push_str(&format!(
            "✗ {}: refused: {}\n",
            o.package,
            o.refusal.as_deref().unwrap_or("unknown")
        ));
        let Some(token) = &o.id_token else {
            continue;
        };
        match decode_claims(token.expose()) {
            Some(claims) => {
                out.push_str("  id token claims (decoded locally, not verified):\n");
                for (k, v) in &claims {
                    out.push_str(&format!("    {k}: {v}\n"));
                }
            }
            None => out.push_str("  the id token is not a JWT (its claims cannot be decoded)\n"),
        }
        if let Some(decision) = &o.diagnosis {
            out.push_str("  diagnosis (tokenless explain):\n");
            for line in explain::render_text(decision, host).lines() {
                out.push_str(&format!("    {line}\n"));
            }
            if let Some(note) = provider_note(decision, ci) {
                out.push_str(&format!("  {note}\n"));
            }
            if !o.trust_configs_read
                && let Some(note) = trust_note(decision, &o.package, host)
            {
                out.push_str(&format!("  {note}\n"));
            }
        }
    }
    let refused = outcomes.iter().filter(|o| !o.accepted).count();
    out.push('\n');
    if refused == 0 {
        out.push_str(&format!(
            "All {} package(s) would publish through trusted publishing.\n",
            outcomes.len()
        ));
    } else {
        out.push_str(&format!(
            "{refused} of {} package(s) refused: npm would fall back silently to any configured token.\n",
            outcomes.len()
        ));
    }
    out
}
