//! CI configuration analysis for tokenless: YAML with spans, provider models
//! (CircleCI, GitHub Actions, GitLab CI), the lint rules, and their findings.
//!
//! This crate is pure: it never touches the file system or the network. Files that a
//! config pulls in (GitLab local `include:`) are read through [`FileSource`], which the
//! caller implements.
//!
//! Data flows one way: source text → YAML tree with spans → provider model → rules →
//! [`Finding`]s. Rules never print; rendering is the binary's job.
//!
//! ## The YAML layer
//!
//! `rust-stack.md` offers yaml-edit (lossless CST), serde-saphyr (typed models) and
//! saphyr-parser events. The linter uses **saphyr-parser events into its own arena**
//! ([`yaml::Forest`]): one compact node per YAML node with a byte span, aliases shared
//! by id (never copied, so a billion-laughs document is measured, not expanded, and
//! refused past a budget), merge keys resolved once, depth bounded while building
//! (iteratively, so 10,000-deep input gives an error, not a stack overflow). A rowan CST
//! would cost several times the source size on a 50 MB file and typed serde models lose
//! spans inside merged mappings. Sub-spans inside scalars (a command in a `run:` block)
//! are mapped back to source bytes by [`yaml::Forest::sub_span`].
//!
//! ## Modules
//!
//! - [`yaml`]: the forest; [`shell`]: a POSIX-shell reader for script bodies.
//! - [`circleci`], [`github`], [`gitlab`]: provider models into [`model::Job`]s, plus the
//!   rules that need workflows, triggers or pipeline rules.
//! - [`facts`]: what each job does (publishes, mints, credentials, registries, npm).
//! - [`publish`]: the publish-path model (client, registry, confidence, chain of hops);
//!   [`follow`]: follows a command through wrappers, package scripts, script files,
//!   Makefiles and release-tool configs to the publish it runs.
//! - [`rules`]: one file per rule, one registry; [`versions`]: npm/Node tables.

pub mod circleci;
pub mod clients;
pub mod config;
pub mod detect;
pub mod facts;
pub mod finding;
pub mod fix;
pub mod follow;
pub mod github;
pub mod gitlab;
pub mod lines;
pub mod location;
pub mod model;
pub mod provider;
pub mod publish;
pub mod rules;
pub mod shell;
pub mod suppress;
pub mod versions;
pub mod yaml;

pub use finding::{
    Confidence, Finding, Hop, LintError, RuleId, RuleMeta, Severity, Span, rule_meta,
};
pub use location::Location;
pub use provider::Provider;
pub use rules::RULES;

/// Where a config's local includes come from. Paths are relative to the repository
/// root, exactly as written in the config (after stripping a leading `/`).
pub trait FileSource {
    /// The text of `path`, or a human-readable reason it cannot be read.
    fn read(&self, path: &str) -> Result<String, String>;

    /// The names of the entries of directory `path` (repository-relative, "" for the
    /// root). Used to expand workspace globs (`packages/*`); sources that cannot list
    /// directories keep the default, and workspace globs are then not followed.
    fn list(&self, path: &str) -> Result<Vec<String>, String> {
        Err(format!("{path}: directories cannot be listed here"))
    }
}

/// A [`FileSource`] that has no files: every include is reported unreadable.
pub struct NoFiles;

impl FileSource for NoFiles {
    fn read(&self, path: &str) -> Result<String, String> {
        Err(format!("{path}: includes are not available here"))
    }
}

/// Largest source the engine analyses (the CLI applies its own, smaller, limit first).
/// Time and memory are linear in the size (measured in a release build: a 50 MB CircleCI
/// config takes about 4 s and 800 MB), so larger files are refused up front; real CI
/// configurations stay far below 1 MB.
pub const MAX_SOURCE_BYTES: usize = 16 * 1024 * 1024;

/// One CI configuration file to lint.
#[derive(Debug, Clone, Copy)]
pub struct Document<'a> {
    /// The path shown to the user and stored in findings (repository-relative where known).
    pub path: &'a str,
    /// The file's full text.
    pub source: &'a str,
    pub provider: Provider,
}

/// Lint one configuration file and return every finding, in source order, unfiltered
/// (severity thresholds and suppressions are applied by the caller). Commands are
/// recognised in the config only; see [`lint_repo`] to follow them into the repository.
///
/// Errors are for input that cannot be analysed at all (malformed YAML, limits
/// exceeded); they name the file, line and column.
pub fn lint(doc: Document<'_>, files: &dyn FileSource) -> Result<Vec<Finding>, LintError> {
    analyse(doc, files, false).map(|a| a.findings)
}

/// Like [`lint`], and follow each step into the repository `files` reads from: package
/// scripts, script files, Makefile targets, wrappers and release-tool configs.
pub fn lint_repo(doc: Document<'_>, files: &dyn FileSource) -> Result<Vec<Finding>, LintError> {
    analyse(doc, files, true).map(|a| a.findings)
}

/// A publish the engine recognised in a job: what an inventory of a repository's
/// publishing shows, and what the real-world evaluation scores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishSeen {
    /// The file the publish step is in.
    pub path: String,
    pub span: Span,
    /// The job's id in the config.
    pub job: String,
    pub client: publish::Client,
    pub what: String,
    /// The registry host it publishes to.
    pub registry: String,
    pub confidence: Confidence,
    /// Hops inside the repository after the CI step.
    pub chain: Vec<Hop>,
}

/// Everything one file's analysis produced.
#[derive(Debug, Clone, Default)]
pub struct Analysis {
    pub findings: Vec<Finding>,
    pub publishes: Vec<PublishSeen>,
    /// The fixes for the findings (only when asked for, see [`fix::fix_file`]).
    pub fixes: Vec<fix::Fix>,
    /// What the fixers saw but would not change.
    pub refusals: Vec<fix::Refusal>,
    /// The parsed file and its root, kept when fixing (the fixer edits and checks
    /// against it instead of parsing the text again).
    pub(crate) parsed: Option<std::sync::Arc<(yaml::Forest, yaml::NodeId)>>,
}

/// Lint one file and list the publishes it recognised; `follow` follows steps into the
/// repository that `files` reads (see [`lint_repo`]).
pub fn analyse(
    doc: Document<'_>,
    files: &dyn FileSource,
    follow: bool,
) -> Result<Analysis, LintError> {
    if follow {
        let follower = follow::Follower::repo(files, follow::Limits::default());
        analyse_with(doc, files, &follower, None)
    } else {
        analyse_with(doc, files, &follow::Follower::config_only(), None)
    }
}

/// [`analyse`] and plan the fixes of its findings (the findings then carry them).
pub(crate) fn analyse_fixing(
    doc: Document<'_>,
    files: &dyn FileSource,
    follow: bool,
    opts: &fix::Options,
) -> Result<Analysis, LintError> {
    if follow {
        let follower = follow::Follower::repo(files, follow::Limits::default());
        analyse_with(doc, files, &follower, Some(opts))
    } else {
        analyse_with(doc, files, &follow::Follower::config_only(), Some(opts))
    }
}

/// Like [`analyse`] with following, sharing what is learnt about the repository (file
/// texts, package.json files, script results) with the other files of the same
/// repository through `cache`, so a monorepo's packages are read once, not once per
/// CI file.
pub fn analyse_shared(
    doc: Document<'_>,
    files: &dyn FileSource,
    cache: &follow::RepoCache,
) -> Result<Analysis, LintError> {
    let follower = follow::Follower::shared(files, follow::Limits::default(), cache);
    analyse_with(doc, files, &follower, None)
}

fn analyse_with(
    doc: Document<'_>,
    files: &dyn FileSource,
    follower: &follow::Follower<'_>,
    fixing: Option<&fix::Options>,
) -> Result<Analysis, LintError> {
    let follow = follower.is_repo_aware();
    if doc.source.len() > MAX_SOURCE_BYTES {
        return Err(LintError {
            path: doc.path.to_string(),
            line: 0,
            column: 0,
            message: format!(
                "the file is {} MiB; configurations larger than {} MiB are not analysed",
                doc.source.len() / (1024 * 1024),
                MAX_SOURCE_BYTES / (1024 * 1024)
            ),
        });
    }
    let mut forest = yaml::Forest::default();
    let root = forest.parse(doc.path, doc.source).map_err(|e| LintError {
        path: doc.path.to_string(),
        line: e.line,
        column: e.column,
        message: e.message,
    })?;
    if !forest.is_map(root) {
        // An empty file or a bare scalar/list: nothing that could publish.
        return Ok(Analysis::default());
    }
    // The provider's model; everything after it is the same for every provider.
    enum Built {
        CircleCi(circleci::Config),
        GitHub(github::Workflow),
        GitLab(gitlab::Config),
    }
    // The documents of the configuration: the file, then the files it includes.
    let mut doc_roots = vec![root];
    let built = match doc.provider {
        Provider::CircleCi => Built::CircleCi(circleci::build(&forest, root)),
        Provider::GitHub => Built::GitHub(github::build(&forest, root)),
        Provider::GitLab => {
            let (roots, errors) = gitlab::load(&mut forest, root, files);
            if let Some(e) = errors.into_iter().next() {
                return Err(LintError {
                    path: e.0,
                    line: e.1,
                    column: e.2,
                    message: e.3,
                });
            }
            doc_roots.clone_from(&roots.roots);
            Built::GitLab(gitlab::build(&forest, &roots))
        }
    };
    let (jobs, model) = match &built {
        Built::CircleCi(c) => (&c.jobs, rules::Model::CircleCi(c)),
        Built::GitHub(w) => (&w.jobs, rules::Model::GitHub(w)),
        Built::GitLab(c) => (&c.jobs, rules::Model::GitLab(c)),
    };
    let mut facts: Vec<facts::Facts> = jobs
        .iter()
        .map(|j| facts::collect(&forest, j, follower))
        .collect();
    facts::demote_release_tools(&mut facts);
    // GitHub never puts secrets into the environment by itself: a committed `${VAR}`
    // line is a credential there only through wiring the job already shows.
    if follow && doc.provider != Provider::GitHub {
        facts::committed_credentials(&forest, &mut facts, follower);
    }
    let publishes = jobs
        .iter()
        .zip(&facts)
        .flat_map(|(job, f)| {
            let forest = &forest;
            f.publishes.iter().map(move |p| PublishSeen {
                path: forest.files[(p.loc.file as usize).min(forest.files.len().saturating_sub(1))]
                    .path
                    .to_string(),
                span: p.loc.span,
                job: job.name.clone(),
                client: p.client,
                what: p.what.clone(),
                registry: rules::target_of(f, p),
                confidence: p.confidence,
                chain: p.chain.clone(),
            })
        })
        .collect();
    let cx = rules::FileCx::new(doc.provider, &forest, model, jobs, &facts);
    let mut out = rules::Out::new(&forest);
    rules::run(&cx, &mut out);
    let mut findings = out.finish();
    let (fixes, refusals) = match fixing {
        Some(opts) => fix::plan(&cx, &doc_roots, &mut findings, follower, opts, doc.path),
        None => Default::default(),
    };
    drop(cx);
    drop(built);
    let parsed = fixing.map(|_| std::sync::Arc::new((forest, root)));
    Ok(Analysis {
        findings,
        publishes,
        fixes,
        refusals,
        parsed,
    })
}
