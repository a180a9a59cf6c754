//! `tokenless init`: write a starting tokenless.toml from what exists.

use std::{
    collections::BTreeMap,
    io::Write,
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, Mutex},
};

use anyhow::{Context, bail};
use tokenless_api::ClientOptions;
use tokenless_org::{config::OrgConfig, init::InitInputs};

use super::connect::{ConnectArgs, Connection, SessionSlot, sign_out};
use crate::render;

/// Write a starting tokenless.toml for an org: its packages matched to their publishers
/// (current trust configs, else package.json `repository` matched to a CircleCI project,
/// a GitHub workflow or a GitLab project that publishes), owners, likely service
/// accounts, teams with write, CI secrets that look like npm tokens. Every guess carries
/// a comment saying from what. Nothing in the org is changed.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Exit codes:
  0  written
  2  usage error, the file exists (use --force), or the org could not be read

Examples:
  tokenless init --scope @acme --login --circleci-org <uuid> --circleci-project gh/acme/web
  tokenless init --sandbox http://127.0.0.1:4873/ --output tokenless.toml")]
pub struct InitArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// A CircleCI project slug (`gh/org/repo`) packages may publish from; repeatable.
    #[arg(long = "circleci-project", value_name = "SLUG")]
    pub circleci_projects: Vec<String>,
    /// A local repository whose publishing workflows lint finds (else they are read
    /// through the GitHub/GitLab API); repeatable.
    #[arg(long = "repo", value_name = "DIR")]
    pub repos: Vec<PathBuf>,
    /// Where to write (`-` for standard output).
    #[arg(long, short = 'o', default_value = "tokenless.toml")]
    pub output: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: InitArgs) -> anyhow::Result<ExitCode> {
    let to_stdout = args.output.as_os_str() == "-";
    if !to_stdout && args.output.exists() && !args.force {
        bail!(
            "{} exists; pass --force to overwrite it, or --output another path",
            args.output.display()
        );
    }
    let runtime = super::prompt::runtime()?;
    let text = runtime.block_on(async {
        let session: SessionSlot = Arc::new(Mutex::new(None));
        let result = draft(&args, &session).await;
        sign_out(&session).await;
        result
    })?;
    if to_stdout {
        render::write_all(&mut render::stdout(), &text)?;
    } else {
        let mut f = std::fs::File::create(&args.output)
            .with_context(|| format!("cannot write {}", args.output.display()))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("cannot write {}", args.output.display()))?;
        eprintln!(
            "tokenless init: wrote {}; review it, then run `tokenless plan -c {}`",
            args.output.display(),
            args.output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn draft(args: &InitArgs, session: &SessionSlot) -> anyhow::Result<String> {
    let conn = Connection::open(
        &args.connect,
        &OrgConfig::default(),
        ClientOptions::default(),
        session,
    )
    .await?;
    let mut projects = args.circleci_projects.clone();
    if let Some(info) = &conn.info {
        projects.extend(info.circleci.projects.iter().map(|p| p.slug.clone()));
    }
    projects.sort();
    projects.dedup();
    let inputs = InitInputs {
        scope: conn.scope.clone(),
        circleci_org: conn.circleci_org.clone(),
        circleci_projects: projects,
        local_workflows: publishing_workflows(&args.repos),
    };
    let starter = tokenless_org::init::draft(&inputs, &conn.clients)
        .await
        .context("cannot read the org")?;
    let text = render::init_toml::render(&starter, &conn.registry);
    // What init writes must load: a guess that does not parse is a bug, not a draft.
    tokenless_org::config::Config::parse(&text)
        .map_err(|e| anyhow::anyhow!("init produced an invalid tokenless.toml: {e}"))?;
    Ok(text)
}

/// Publishing CI files lint finds in local repositories, by the repository's origin
/// (package.json `repository`): `github.com/acme/site` → `["publish.yml"]`.
fn publishing_workflows(repos: &[PathBuf]) -> BTreeMap<String, Vec<String>> {
    use super::lint::{discover, read};
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for root in repos {
        let origin = std::fs::read(root.join("package.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| {
                serde_json::from_value::<tokenless_api::npm::Repository>(
                    v.get("repository")?.clone(),
                )
                .ok()
            })
            .and_then(|r| r.origin());
        let Some(origin) = origin else {
            eprintln!(
                "tokenless init: {}: no package.json repository URL; its workflows are not matched to packages",
                root.display()
            );
            continue;
        };
        for found in discover::walk(root) {
            let Ok(source) = read::read_config(&found.path) else {
                continue;
            };
            let Some(provider) = tokenless_ci::detect::detect(&found.rel, &source) else {
                continue;
            };
            let files = read::RootedFiles::new(discover::include_root(root, &found));
            let doc = tokenless_ci::Document {
                path: &found.rel,
                source: &source,
                provider,
            };
            let publishes = tokenless_ci::analyse(doc, &files, true)
                .map(|a| !a.publishes.is_empty())
                .unwrap_or(false);
            if publishes {
                let name = found
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.entry(origin.clone()).or_default().push(name);
            }
        }
    }
    out
}
