//! `tokenless fix`: rewrite CI configs (and the files on their publish path) to trusted
//! publishing. The engine (`tokenless_ci::fix`) plans patches by route and checks every
//! rewrite; this command finds the files the way `lint` does, shows a unified diff per
//! file, writes with `--write`, and names whatever is left for a human.
//!
//! Exit codes: 0 nothing left to fix, 1 fixes pending (not written) or findings that need
//! a human, 2 usage error or an input that could not be read or analysed.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use tokenless_ci::fix::{self, FileFix, Options};
use tokenless_ci::{Document, Provider, RuleId, detect, suppress};

use super::lint::{self, Job, ProviderArg, read};
use crate::render::{
    self,
    fix_report::{Changed, FileOutcome, FixReport, Remaining},
    lint_report::InputError,
};
use tokenless_ci::lines::LineIndex;

const LONG_ABOUT: &str = "\
Rewrite CI configs to publish through OIDC trusted publishing, touching only what must
change: comments, key order, quoting, indentation and line endings are kept.

Files are found as `tokenless lint` finds them. For each publish job with findings:
  CircleCI  the stored-token steps go (NPM_TOKEN checks, `_authToken` writes, npm whoami);
            the id token is minted in the publishing step (set -e, assignment on its own
            line, an empty-token guard, the exact claims {\"aud\":\"npm:registry.npmjs.org\"});
            npm is raised where too old; the workflow job is bound to --context.
  GitHub    `id-token: write` with the job's other permissions written out; NODE_AUTH_TOKEN
            and NPM_TOKEN wiring and token inputs go; Node >= 22.14 and npm >= 11.5.1;
            `environment:` with --environment.
  GitLab    `id_tokens: NPM_ID_TOKEN` for npm's audience; NPM_TOKEN variables and .npmrc
            writes go; npm raised where too old.
  The publish path: committed .npmrc token lines, yarn berry npmAuthToken, token lines in
  the shell scripts the publish runs; `bun publish` becomes `bun pm pack` + `npm publish`.

Every rewritten file is parsed again and compared with the intended change, and linted
again: a rule still reported is left for a human and named. Anything reached through a
YAML alias or merge key, or built from parameters, is not patched: the output says so.
A rule disabled in [lint] or suppressed by a comment anywhere in a file is not fixed there.";

const EXAMPLES: &str = "\
Examples:
  tokenless fix                          show the diff for the repository here
  tokenless fix --write                  apply it (run again: nothing changes)
  tokenless fix --context release-npm    bind CircleCI publish jobs to this context
  tokenless fix --environment npm        GitHub publish jobs run in this environment
  tokenless fix --stage                  CI only stages (npm stage publish); a human approves
  tokenless fix --format json | jq '.files[].patches'

Exit status: 0 nothing left to fix, 1 fixes pending or findings that need a human,
2 usage error or unreadable input.";

/// Rewrite CI configs to trusted publishing (a diff; --write applies it).
#[derive(Debug, clap::Args)]
#[command(long_about = LONG_ABOUT, after_long_help = EXAMPLES)]
pub struct FixArgs {
    /// Files or directories (repository roots) to fix.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Write the changes (without it, only the diff is shown).
    #[arg(long)]
    pub write: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FixFormat::Text)]
    pub format: FixFormat,
    /// The CircleCI context publish jobs are bound to (`tokenless apply` creates it with a
    /// branch restriction).
    #[arg(long, value_name = "NAME", default_value = "npm-publish")]
    pub context: String,
    /// Run GitHub publish jobs in this environment (it needs a deployment branch policy).
    #[arg(long, value_name = "NAME")]
    pub environment: Option<String>,
    /// Publish through `npm stage publish` (npm >= 11.15.0): CI can only stage, and a
    /// human approves each release with 2FA.
    #[arg(long)]
    pub stage: bool,
    /// Treat every file as this provider's config.
    #[arg(long, value_enum)]
    pub provider: Option<ProviderArg>,
    /// Read the `[lint]` table from this file instead of `tokenless.toml` in each PATH.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The repository root for files named on the command line.
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// Fix the CI configs alone: do not follow steps into the repository.
    #[arg(long)]
    pub no_follow: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FixFormat {
    /// A unified diff per file, then what was done and what is left.
    Text,
    /// `{"version": 1, "files": [{"path", "patches", "fixes", ...}], "remaining": [...]}`.
    Json,
}

pub fn run(args: FixArgs) -> anyhow::Result<ExitCode> {
    if args.context.trim().is_empty() {
        anyhow::bail!("--context needs a context name");
    }
    if args
        .environment
        .as_deref()
        .is_some_and(|e| e.trim().is_empty())
    {
        anyhow::bail!("--environment needs an environment name");
    }
    let lint::Inputs {
        jobs,
        configs,
        errors,
    } = lint::collect_inputs(
        &args.paths,
        args.config.as_deref(),
        args.repo.as_deref(),
        !args.no_follow,
    )?;
    let provider = args.provider.map(Provider::from);
    let options = Options {
        context: args.context.clone(),
        environment: args.environment.clone(),
        stage: args.stage,
        skip: Vec::new(),
    };
    let default_config = Default::default();
    let outcomes = lint::run_jobs(&jobs, |job| {
        let config = configs.get(job.config).unwrap_or(&default_config);
        fix_one(job, provider, &options, config)
    });
    let mut report = FixReport {
        files: Vec::new(),
        errors,
        written: args.write,
    };
    // Two configs of one repository may rewrite the same repository file (a committed
    // .npmrc): the first config's version is written, and the next run sees the result.
    let mut claimed: BTreeSet<PathBuf> = BTreeSet::new();
    for outcome in outcomes {
        match outcome {
            Ok(mut file) => {
                file.changed.retain(|c| claimed.insert(c.real.clone()));
                report.files.push(file);
            }
            Err(e) => report.errors.push(e),
        }
    }
    if args.write {
        for file in &report.files {
            for c in &file.changed {
                write_file(&c.real, &c.new, c.bom)
                    .with_context(|| format!("cannot write {}", c.shown))?;
            }
        }
    }
    let text = match args.format {
        FixFormat::Text => {
            for error in &report.errors {
                anstream::eprintln!("error: {}", tokenless_ci::facts::redact(&error.to_string()));
            }
            render::fix_report::text(&report)
        }
        FixFormat::Json => render::fix_report::json(&report),
    };
    render::write_all(&mut render::stdout(), &text).context("cannot write the report")?;
    Ok(if !report.errors.is_empty() {
        ExitCode::from(2)
    } else if report.pending() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Rules switched off for this file: `[lint] disable`, and any rule a suppression
/// comment in the file names.
fn skipped(text: &str, config: &tokenless_ci::config::LintConfig) -> Vec<RuleId> {
    let (found, _) = suppress::parse(text);
    RuleId::ALL
        .iter()
        .copied()
        .filter(|r| {
            config.disables(r.as_str())
                || found
                    .iter()
                    .any(|s| s.rules.iter().any(|x| x == r.as_str()))
        })
        .collect()
}

fn fix_one(
    job: &Job,
    provider: Option<Provider>,
    options: &Options,
    config: &tokenless_ci::config::LintConfig,
) -> Result<FileOutcome, InputError> {
    let error = |line, column, message| InputError {
        path: job.display.clone(),
        line,
        column,
        message,
    };
    let (source, bom) =
        read::read_config_with_bom(&job.path).map_err(|e| error(e.line, e.column, e.message))?;
    let provider = provider
        .or_else(|| detect::provider_from_path(&job.display))
        .or_else(|| job.explicit.then(|| detect::provider_from_content(&source)).flatten())
        .ok_or_else(|| {
            error(
                0,
                0,
                "cannot tell which CI provider this file is for; pass --provider circleci|github|gitlab".into(),
            )
        })?;
    let files = read::RootedFiles::new(job.include_root.clone());
    let doc = Document {
        path: &job.display,
        source: &source,
        provider,
    };
    let options = Options {
        skip: skipped(&source, config),
        ..options.clone()
    };
    let result: FileFix = fix::fix_file(doc, &files, job.follow, &options)
        .map_err(|e| error(e.line, e.column, e.message))?;
    let mut changed = Vec::new();
    if result.text != source {
        changed.push(Changed {
            shown: job.display.clone(),
            real: job.path.clone(),
            old: source.clone(),
            new: result.text.clone(),
            bom,
        });
    }
    for (rel, new) in &result.files {
        let Some(real) = inside(&job.include_root, rel) else {
            continue;
        };
        let (old, bom) = read::read_config_with_bom(&real)
            .map_err(|e| error(0, 0, format!("{rel}: {}", e.message)))?;
        if &old != new {
            changed.push(Changed {
                shown: lint::display(&Path::new(&job.include_display).join(rel)),
                real,
                old,
                new: new.clone(),
                bom,
            });
        }
    }
    let index = LineIndex::new(&result.text);
    let remaining = result
        .remaining
        .iter()
        .map(|f| {
            let line = if f.path == job.display {
                index.position(&result.text, f.span.start).line
            } else {
                0
            };
            Remaining {
                path: f.path.clone(),
                line,
                rule: f.rule,
                job: f.job.clone(),
                message: f.message.clone(),
                skipped: options.skip.contains(&f.rule),
            }
        })
        .collect();
    Ok(FileOutcome {
        path: job.display.clone(),
        changed,
        applied: result.applied,
        remaining,
        refusals: result.refusals,
    })
}

/// `rel` under `root`, refusing anything that would leave it.
fn inside(root: &Path, rel: &str) -> Option<PathBuf> {
    let rel = Path::new(rel);
    rel.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| root.join(rel))
}

/// Replace a file's content through a temporary file in the same directory, keeping its
/// permissions.
pub(super) fn write_file(path: &Path, text: &str, bom: bool) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(text.len() + 3);
    if bom {
        bytes.extend_from_slice(&[0xEF, 0xBB, 0xBF]);
    }
    bytes.extend_from_slice(text.as_bytes());
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tokenless-fix"));
    std::fs::write(&tmp, &bytes)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path)
}
