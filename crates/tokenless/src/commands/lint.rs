//! `tokenless lint`: find the CI configs under each PATH, read them safely, run the
//! engine (`tokenless_ci::lint`), apply suppressions, `[lint]` config and
//! `--min-severity`, then hand one report to one renderer.
//!
//! Exit codes: 0 no findings at or above `--min-severity`, 1 findings, 2 usage error or an
//! input that could not be read or analysed (every other input is still checked).

pub(crate) mod discover;
pub(crate) mod read;

use std::{
    collections::BTreeMap,
    io::IsTerminal,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use tokenless_ci::{Document, Finding, Provider, Severity, detect, suppress};

use crate::config::{Config, lint::LintConfig};
use crate::render::{
    self,
    lint_report::{InputError, LintReport, LocatedFinding, PublishEntry},
};
use tokenless_ci::lines::LineIndex;

const LONG_ABOUT: &str = "\
Find every way a CI config still publishes to npm with a stored credential, and every way
an OIDC trusted-publishing setup can fail or be bypassed.

Each PATH is a file or a directory. A directory is searched, at any depth, for
.circleci/*.yml, circle.yml, .github/workflows/*.yml|*.yaml and .gitlab-ci.yml (.git and
node_modules are skipped; symlinked directories are not followed). A file is typed by its
path, else by its content; --provider overrides both. GitLab local includes are read from
inside the repository root only.

Each step is followed into the repository (package.json scripts with their pre/post
hooks and workspaces, shell and JS/TS script files, Makefile targets, wrappers such as
sh -c, xargs, lerna exec, nix-shell --run, and release-tool configs such as .releaserc,
.release-it.json, lerna.json) to find what really publishes and where; findings show the
chain of files and lines. Reading stays inside the root and is bounded; --no-follow
turns it off.

Suppress one finding with a comment on its line or the line above:
    # tokenless: ignore[static-token-publish]
or for a whole repository in tokenless.toml (read from the linted directory, or --config):
    [lint]
    disable = [\"branch-filter-only\"]
    ignore = [\"vendor/**\"]

Rules and how to fix each finding: docs/rules.md.";

const EXAMPLES: &str = "\
Examples:
  tokenless lint                                 lint the repository in the current directory
  tokenless lint path/to/repo other/repo         several repositories at once
  tokenless lint ci/pipeline.yml --provider gitlab
  tokenless lint . --min-severity high           only what must be fixed now
  tokenless lint . --format json | jq '.findings[].rule'
  tokenless lint . --format sarif > tokenless.sarif   for GitHub code scanning

Exit status: 0 no findings, 1 findings, 2 usage error or unreadable input.";

/// Find every way a CI config publishes to npm with a stored credential.
#[derive(Debug, clap::Args)]
#[command(long_about = LONG_ABOUT, after_long_help = EXAMPLES)]
pub struct LintArgs {
    /// Files or directories (repository roots) to check.
    #[arg(default_value = ".")]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LintFormat::Text)]
    pub format: LintFormat,
    /// Treat every file as this provider's config, whatever its path or content.
    #[arg(long, value_enum)]
    pub provider: Option<ProviderArg>,
    /// Report only findings at or above this severity (info < low < medium < high).
    #[arg(long, value_parser = parse_severity, default_value = "low")]
    pub min_severity: Severity,
    /// Read the `[lint]` table from this file instead of `tokenless.toml` in each PATH.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The repository root to follow publish paths in, for files named on the command
    /// line (a directory PATH is its own root; by default a file's git root).
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,
    /// Judge the CI configs alone: do not follow steps into package scripts, script
    /// files, Makefiles or release-tool configs (package scripts are then judged by name).
    #[arg(long)]
    pub no_follow: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LintFormat {
    /// rustc-style diagnostics with the source line and a caret under the span.
    Text,
    /// `{"version": 1, "findings": [...], "files_scanned": N, "errors": [...]}`.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProviderArg {
    Circleci,
    Github,
    Gitlab,
}

impl From<ProviderArg> for Provider {
    fn from(p: ProviderArg) -> Provider {
        match p {
            ProviderArg::Circleci => Provider::CircleCi,
            ProviderArg::Github => Provider::GitHub,
            ProviderArg::Gitlab => Provider::GitLab,
        }
    }
}

fn parse_severity(text: &str) -> Result<Severity, String> {
    match text {
        "info" => Ok(Severity::Info),
        "low" => Ok(Severity::Low),
        "medium" => Ok(Severity::Medium),
        "high" => Ok(Severity::High),
        _ => Err("expected one of info, low, medium, high".to_owned()),
    }
}

/// One file to analyse, with what it needs to be analysed on its own.
pub(crate) struct Job {
    pub path: PathBuf,
    pub display: String,
    /// Local includes resolve here.
    pub include_root: PathBuf,
    /// Includes are shown relative to the working directory through this prefix.
    pub include_display: String,
    /// Whether the user named this file (then its content may decide its provider).
    pub explicit: bool,
    /// Index of its `[lint]` config.
    pub config: usize,
    /// Follow steps into the repository at `include_root`.
    pub follow: bool,
}

/// What one file contributed to the report.
#[derive(Default)]
struct Outcome {
    findings: Vec<LocatedFinding>,
    publishes: Vec<PublishEntry>,
    sources: BTreeMap<String, String>,
    errors: Vec<InputError>,
    scanned: bool,
    suppressed: usize,
    below_threshold: usize,
}

pub fn run(args: LintArgs) -> anyhow::Result<ExitCode> {
    let Inputs {
        jobs,
        configs,
        errors,
    } = collect_inputs(
        &args.paths,
        args.config.as_deref(),
        args.repo.as_deref(),
        !args.no_follow,
    )?;

    let provider = args.provider.map(Provider::from);
    let default_config = LintConfig::default();
    // One cache per repository root: its package.json files and scripts are read once
    // for all of its CI files.
    let caches: BTreeMap<&Path, tokenless_ci::follow::RepoCache> = jobs
        .iter()
        .filter(|job| job.follow)
        .map(|job| (job.include_root.as_path(), Default::default()))
        .collect();
    let outcomes = run_jobs(&jobs, |job| {
        let config = configs.get(job.config).unwrap_or(&default_config);
        let cache = caches.get(job.include_root.as_path());
        check(job, config, provider, args.min_severity, cache)
    });

    let mut report = LintReport {
        findings: Vec::new(),
        publishes: Vec::new(),
        sources: BTreeMap::new(),
        errors,
        files_scanned: 0,
        suppressed: 0,
        below_threshold: 0,
        min_severity: args.min_severity,
    };
    for outcome in outcomes {
        report.findings.extend(outcome.findings);
        report.publishes.extend(outcome.publishes);
        report.sources.extend(outcome.sources);
        report.errors.extend(outcome.errors);
        report.files_scanned += usize::from(outcome.scanned);
        report.suppressed += outcome.suppressed;
        report.below_threshold += outcome.below_threshold;
    }
    report.findings.sort_by(|a, b| {
        (&a.finding.path, a.finding.span, a.finding.rule).cmp(&(
            &b.finding.path,
            b.finding.span,
            b.finding.rule,
        ))
    });
    report.findings.dedup_by(|a, b| a.finding == b.finding);

    let text = match args.format {
        LintFormat::Text => {
            for error in &report.errors {
                anstream::eprintln!("error: {error}");
            }
            render::lint_text::render(&report)
        }
        LintFormat::Json => render::lint_json::render(&report),
        LintFormat::Sarif => render::sarif::lint::render(&report),
    };
    render::write_all(&mut render::stdout(), &text).context("cannot write the report")?;

    Ok(if !report.errors.is_empty() {
        ExitCode::from(2)
    } else if !report.findings.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The CI files under the given paths, each with its repository root and `[lint]`
/// config, and the paths that could not be read (shared by `lint` and `fix`).
pub(crate) struct Inputs {
    pub jobs: Vec<Job>,
    pub configs: Vec<LintConfig>,
    pub errors: Vec<InputError>,
}

pub(crate) fn collect_inputs(
    paths: &[PathBuf],
    config: Option<&Path>,
    repo: Option<&Path>,
    follow: bool,
) -> anyhow::Result<Inputs> {
    // `--config` applies to every PATH; otherwise each PATH's root may have its own.
    let explicit_config = config.map(Config::load).transpose()?;
    let mut configs: Vec<LintConfig> = explicit_config.into_iter().map(|c| c.lint).collect();
    let shared_config = !configs.is_empty();
    let mut jobs: Vec<Job> = Vec::new();
    let mut errors = Vec::new();
    for arg in paths {
        let arg_display = display(arg);
        let meta = match std::fs::metadata(arg) {
            Ok(meta) => meta,
            Err(e) => {
                errors.push(InputError {
                    path: arg_display,
                    line: 0,
                    column: 0,
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        let root = if meta.is_dir() {
            arg.clone()
        } else {
            repo.map_or_else(|| discover::repo_root_of(arg), Path::to_path_buf)
        };
        let config = if shared_config {
            0
        } else {
            configs.push(load_root_config(&root)?.map(|c| c.lint).unwrap_or_default());
            configs.len() - 1
        };
        if !meta.is_dir() {
            jobs.push(Job {
                path: arg.clone(),
                display: arg_display,
                include_display: display(&root),
                include_root: root,
                explicit: true,
                config,
                follow,
            });
            continue;
        }
        let found = discover::walk(arg);
        if found.is_empty() {
            errors.push(InputError {
                path: arg_display,
                line: 0,
                column: 0,
                message: "no CI configuration found (looked for .circleci/*.yml, circle.yml, \
                          .github/workflows/*.yml, .gitlab-ci.yml)"
                    .to_owned(),
            });
            continue;
        }
        let ignore = configs.get(config).map(LintConfig::ignore_set);
        for f in found {
            if ignore.as_ref().is_some_and(|set| set.is_match(&f.rel)) {
                continue;
            }
            let include_root = discover::include_root(arg, &f);
            jobs.push(Job {
                display: display(&f.path),
                path: f.path,
                include_display: display(&include_root),
                include_root,
                explicit: false,
                config,
                follow,
            });
        }
    }

    // A file named twice (`lint . .github/workflows/x.yml`) is linted once.
    let mut seen = std::collections::HashSet::new();
    jobs.retain(|job| seen.insert(job.path.canonicalize().unwrap_or_else(|_| job.path.clone())));

    Ok(Inputs {
        jobs,
        configs,
        errors,
    })
}

/// `tokenless.toml` in `root`, if there is one.
fn load_root_config(root: &Path) -> anyhow::Result<Option<Config>> {
    let path = root.join("tokenless.toml");
    if path.is_file() {
        Ok(Some(Config::load(&path)?))
    } else {
        Ok(None)
    }
}

/// A path as the user should see it: as given, without a leading `./`.
pub(crate) fn display(path: &Path) -> String {
    let text = path.display().to_string();
    match text.strip_prefix("./") {
        Some(rest) if !rest.is_empty() => rest.to_owned(),
        _ => text,
    }
}

/// Run `check` over every job on all cores, keeping the jobs' order. Progress goes to
/// stderr only when it is a terminal and the run takes more than a second.
pub(crate) fn run_jobs<T: Send, J: Sync>(jobs: &[J], check: impl Fn(&J) -> T + Sync) -> Vec<T> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(jobs.len().div_ceil(8))
        .max(1);
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, T)>> = Mutex::new(Vec::with_capacity(jobs.len()));
    let show_progress = std::io::stderr().is_terminal();
    // The progress loop sleeps until the last job is done, not a tick longer.
    let main = std::thread::current();
    std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(workers);
        for _ in 0..workers {
            handles.push(scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(index) else { break };
                    let result = check(job);
                    match results.lock() {
                        Ok(mut all) => all.push((index, result)),
                        Err(poisoned) => poisoned.into_inner().push((index, result)),
                    }
                    if done.fetch_add(1, Ordering::Relaxed) + 1 == jobs.len() {
                        main.unpark();
                    }
                }
            }));
        }
        if show_progress {
            let started = Instant::now();
            let mut shown = false;
            // A worker that died (a bug) ends the wait too; the scope then re-raises it.
            while done.load(Ordering::Relaxed) < jobs.len()
                && !handles.iter().all(|h| h.is_finished())
            {
                std::thread::park_timeout(Duration::from_millis(100));
                if started.elapsed() > Duration::from_secs(1) {
                    eprint!(
                        "\rlinting: {}/{} files",
                        done.load(Ordering::Relaxed),
                        jobs.len()
                    );
                    shown = true;
                }
            }
            if shown {
                eprint!("\r\x1b[2K");
            }
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Read, type and lint one file, then sort its findings into shown, suppressed and
/// below the threshold.
fn check(
    job: &Job,
    config: &LintConfig,
    provider: Option<Provider>,
    min_severity: Severity,
    cache: Option<&tokenless_ci::follow::RepoCache>,
) -> Outcome {
    let mut outcome = Outcome::default();
    let error = |line, column, message| InputError {
        path: job.display.clone(),
        line,
        column,
        message,
    };
    let source = match read::read_config(&job.path) {
        Ok(text) => text,
        Err(e) => {
            outcome.errors.push(error(e.line, e.column, e.message));
            return outcome;
        }
    };
    let provider = provider
        .or_else(|| detect::provider_from_path(&job.display))
        .or_else(|| {
            job.explicit
                .then(|| detect::provider_from_content(&source))
                .flatten()
        });
    let Some(provider) = provider else {
        outcome.errors.push(error(
            0,
            0,
            "cannot tell which CI provider this file is for; pass --provider circleci|github|gitlab"
                .to_owned(),
        ));
        return outcome;
    };
    let files = read::RootedFiles::new(job.include_root.clone());
    let doc = Document {
        path: &job.display,
        source: &source,
        provider,
    };
    let result = match cache {
        Some(cache) if job.follow => tokenless_ci::analyse_shared(doc, &files, cache),
        _ => tokenless_ci::analyse(doc, &files, job.follow),
    };
    // Every text a finding may point into, by the path findings use.
    let mut texts: BTreeMap<String, SourceText> = BTreeMap::new();
    for (include, text) in files.into_read() {
        let shown = display(&Path::new(&job.include_display).join(&include));
        texts.insert(include, SourceText { shown, text });
    }
    texts.insert(
        job.display.clone(),
        SourceText {
            shown: job.display.clone(),
            text: source,
        },
    );
    let result = result.map(|analysis| {
        let mut indexes: BTreeMap<String, LineIndex> = BTreeMap::new();
        outcome.publishes = analysis
            .publishes
            .into_iter()
            .map(|p| located_publish(&texts, &mut indexes, &job.display, &job.include_display, p))
            .collect();
        analysis.findings
    });
    classify(
        &mut outcome,
        &texts,
        &job.display,
        &job.include_display,
        result,
        config,
        min_severity,
    );
    outcome
}

/// A recognised publish with its file and hops shown as the user sees them.
fn located_publish(
    texts: &BTreeMap<String, SourceText>,
    indexes: &mut BTreeMap<String, LineIndex>,
    main: &str,
    root: &str,
    p: tokenless_ci::PublishSeen,
) -> PublishEntry {
    let (shown, line) = match texts.get(&p.path).or_else(|| texts.get(main)) {
        Some(source) => {
            let index = indexes
                .entry(source.shown.clone())
                .or_insert_with(|| LineIndex::new(&source.text));
            (
                source.shown.clone(),
                index.position(&source.text, p.span.start).line,
            )
        }
        None => (p.path.clone(), 0),
    };
    PublishEntry {
        path: shown,
        line,
        job: p.job,
        client: p.client.as_str(),
        what: p.what,
        registry: p.registry,
        confidence: p.confidence,
        chain: show_chain(texts, root, &p.chain),
    }
}

/// Hops name repository files as the engine read them; show them as the user sees them.
/// (A file another CI file of the repository read first is not among this file's texts:
/// it is shown under the repository root.)
fn show_chain(
    texts: &BTreeMap<String, SourceText>,
    root: &str,
    chain: &[tokenless_ci::Hop],
) -> Vec<tokenless_ci::Hop> {
    chain
        .iter()
        .map(|hop| tokenless_ci::Hop {
            file: texts.get(&hop.file).map_or_else(
                || display(&Path::new(root).join(&hop.file)),
                |t| t.shown.clone(),
            ),
            ..hop.clone()
        })
        .collect()
}

/// A text the engine read (the linted file or one of its includes).
struct SourceText {
    /// Its path as shown to the user.
    shown: String,
    text: String,
}

/// Check every text's suppression comments, then sort the engine's findings into shown
/// (located, with their display path), suppressed (inline or `[lint] disable`) and below
/// `min_severity`. `main` is the key of the linted file in `texts`; a finding whose path
/// is not a key of `texts` is placed in it.
#[allow(clippy::too_many_arguments)]
fn classify(
    outcome: &mut Outcome,
    texts: &BTreeMap<String, SourceText>,
    main: &str,
    root: &str,
    result: Result<Vec<Finding>, tokenless_ci::LintError>,
    config: &LintConfig,
    min_severity: Severity,
) {
    // Suppression comments are checked in every file read, findings or not.
    let mut suppressions = BTreeMap::new();
    for (key, source) in texts {
        let (found, errors) = suppress::parse(&source.text);
        outcome
            .errors
            .extend(errors.into_iter().map(|e| InputError {
                path: source.shown.clone(),
                line: e.line,
                column: e.column,
                message: e.message,
            }));
        suppressions.insert(key.as_str(), found);
    }
    let findings = match result {
        Ok(findings) => {
            outcome.scanned = true;
            findings
        }
        Err(e) => {
            let path = texts.get(&e.path).map_or(e.path, |s| s.shown.clone());
            outcome.errors.push(InputError {
                path,
                line: e.line,
                column: e.column,
                message: e.message,
            });
            return;
        }
    };
    let mut indexes: BTreeMap<&str, LineIndex> = BTreeMap::new();
    for finding in findings {
        let Some((key, source)) = texts
            .get_key_value(&finding.path)
            .or_else(|| texts.get_key_value(main))
        else {
            continue;
        };
        let text = &source.text;
        let index = indexes
            .entry(key.as_str())
            .or_insert_with(|| LineIndex::new(text));
        let start = index.position(text, finding.span.start);
        let end = index.position(text, finding.span.end);
        let inline = suppressions.get(key.as_str()).is_some_and(|s| {
            suppress::is_suppressed(s, finding.rule.as_str(), start.line, end.line)
        });
        if inline || config.disables(finding.rule.as_str()) {
            outcome.suppressed += 1;
        } else if finding.severity < min_severity {
            outcome.below_threshold += 1;
        } else {
            outcome
                .sources
                .entry(source.shown.clone())
                // Shown under carets: a token in the source is masked, its length kept.
                .or_insert_with(|| tokenless_ci::facts::mask(text));
            let chain = show_chain(texts, root, &finding.chain);
            outcome.findings.push(LocatedFinding {
                finding: Finding {
                    path: source.shown.clone(),
                    chain,
                    ..finding
                },
                start,
                end,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenless_ci::Span;

    const MAIN: &str = "repo/.gitlab-ci.yml";
    const MAIN_TEXT: &str = "\
stages: [release]
include:
  - local: ci/publish.yml
# tokenless: ignore[npm-too-old]
job: {image: \"node:20\"}
";
    const INCLUDE_TEXT: &str = "\
publish:
  script:
    - npm publish  # tokenless: ignore[static-token-publish, no-such-rule]
    - echo $NPM_TOKEN
";

    fn texts() -> BTreeMap<String, SourceText> {
        let mut texts = BTreeMap::new();
        texts.insert(
            MAIN.to_owned(),
            SourceText {
                shown: MAIN.to_owned(),
                text: MAIN_TEXT.to_owned(),
            },
        );
        texts.insert(
            "ci/publish.yml".to_owned(),
            SourceText {
                shown: "repo/ci/publish.yml".to_owned(),
                text: INCLUDE_TEXT.to_owned(),
            },
        );
        texts
    }

    fn finding(
        rule: &'static str,
        severity: Severity,
        path: &str,
        text: &str,
        needle: &str,
    ) -> Finding {
        let start = text.find(needle).unwrap_or_default();
        Finding {
            rule: tokenless_ci::RuleId::parse(rule).unwrap_or(tokenless_ci::RuleId::NpmTooOld),
            severity,
            path: path.to_owned(),
            span: Span::new(start, start + needle.len()),
            message: format!("{rule} here"),
            help: "fix it".to_owned(),
            job: None,
            chain: Vec::new(),
            confidence: tokenless_ci::Confidence::High,
            fix: None,
        }
    }

    fn findings() -> Vec<Finding> {
        vec![
            // Suppressed by the comment on the line above.
            finding("npm-too-old", Severity::Medium, MAIN, MAIN_TEXT, "node:20"),
            // Suppressed by the comment on its own line, in the included file.
            finding(
                "static-token-publish",
                Severity::High,
                "ci/publish.yml",
                INCLUDE_TEXT,
                "npm publish",
            ),
            // Not suppressed: the comment names another rule on this line's neighbour.
            finding(
                "token-fallback",
                Severity::High,
                "ci/publish.yml",
                INCLUDE_TEXT,
                "$NPM_TOKEN",
            ),
            // Below the threshold.
            finding(
                "oidc-token-missing",
                Severity::Info,
                MAIN,
                MAIN_TEXT,
                "stages",
            ),
        ]
    }

    fn run(config: &LintConfig, min: Severity) -> Outcome {
        let mut outcome = Outcome::default();
        classify(
            &mut outcome,
            &texts(),
            MAIN,
            "repo",
            Ok(findings()),
            config,
            min,
        );
        outcome
    }

    #[test]
    fn inline_comments_suppress_their_line_and_the_next() {
        let outcome = run(&LintConfig::default(), Severity::Low);
        assert_eq!(outcome.suppressed, 2);
        assert_eq!(outcome.below_threshold, 1);
        let shown: Vec<_> = outcome
            .findings
            .iter()
            .map(|f| {
                (
                    f.finding.rule.as_str(),
                    f.finding.path.as_str(),
                    f.start.line,
                    f.start.column,
                )
            })
            .collect();
        assert_eq!(shown, [("token-fallback", "repo/ci/publish.yml", 4, 12)]);
        assert!(outcome.sources.contains_key("repo/ci/publish.yml"));
    }

    #[test]
    fn unknown_ids_in_comments_are_errors_naming_file_line_column() {
        let outcome = run(&LintConfig::default(), Severity::Low);
        let errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                "repo/ci/publish.yml:3:62: unknown rule id `no-such-rule` in `tokenless: ignore[...]`"
            ]
        );
    }

    #[test]
    fn config_disable_and_min_severity_filter() {
        let config: LintConfig = toml::from_str("disable = [\"token-fallback\"]").expect("config");
        let outcome = run(&config, Severity::Low);
        assert!(outcome.findings.is_empty());
        assert_eq!(outcome.suppressed, 3);
        let outcome = run(&LintConfig::default(), Severity::Info);
        assert_eq!(outcome.below_threshold, 0);
        assert_eq!(outcome.findings.len(), 2);
        let outcome = run(&LintConfig::default(), Severity::High);
        assert_eq!(outcome.findings.len(), 1);
    }

    #[test]
    fn engine_errors_are_reported_with_the_display_path() {
        let mut outcome = Outcome::default();
        let error = tokenless_ci::LintError {
            path: "ci/publish.yml".to_owned(),
            line: 2,
            column: 3,
            message: "mapping values are not allowed here".to_owned(),
        };
        classify(
            &mut outcome,
            &texts(),
            MAIN,
            "repo",
            Err(error),
            &LintConfig::default(),
            Severity::Low,
        );
        let errors: Vec<String> = outcome.errors.iter().map(ToString::to_string).collect();
        assert!(
            errors.contains(
                &"repo/ci/publish.yml:2:3: mapping values are not allowed here".to_owned()
            ),
            "{errors:?}"
        );
    }
}
