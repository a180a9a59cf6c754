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
//! - [`rules`]: the judgements shared by all providers; [`versions`]: npm/Node tables.

pub mod circleci;
pub mod detect;
pub mod facts;
pub mod finding;
pub mod github;
pub mod gitlab;
pub mod model;
pub mod provider;
pub mod rules;
pub mod shell;
pub mod suppress;
pub mod versions;
pub mod yaml;

pub use finding::{Finding, LintError, RULES, RuleMeta, Severity, Span, rule_meta};
pub use provider::Provider;

/// Where a config's local includes come from. Paths are relative to the repository
/// root, exactly as written in the config (after stripping a leading `/`).
pub trait FileSource {
    /// The text of `path`, or a human-readable reason it cannot be read.
    fn read(&self, path: &str) -> Result<String, String>;
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
/// (severity thresholds and suppressions are applied by the caller).
///
/// Errors are for input that cannot be analysed at all (malformed YAML, limits
/// exceeded); they name the file, line and column.
pub fn lint(doc: Document<'_>, files: &dyn FileSource) -> Result<Vec<Finding>, LintError> {
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
        return Ok(Vec::new());
    }
    let jobs_and_rules = match doc.provider {
        Provider::CircleCi => {
            let cfg = circleci::build(&forest, root);
            let facts: Vec<_> = cfg
                .jobs
                .iter()
                .map(|j| facts::collect(&forest, j))
                .collect();
            let mut out = rules::Out::new(&forest);
            for (job, f) in cfg.jobs.iter().zip(&facts) {
                rules::job_rules(&mut out, doc.provider, job, f);
            }
            circleci::workflow_rules(&mut out, &cfg, &facts);
            circleci::literal_env_rules(&mut out, &cfg);
            out.finish()
        }
        Provider::GitHub => {
            let wf = github::build(&forest, root);
            let mut facts: Vec<_> = wf.jobs.iter().map(|j| facts::collect(&forest, j)).collect();
            facts::demote_release_tools(&mut facts);
            let mut out = rules::Out::new(&forest);
            for (job, f) in wf.jobs.iter().zip(&facts) {
                rules::job_rules(&mut out, doc.provider, job, f);
            }
            github::trigger_rules(&mut out, &wf, &facts);
            out.finish()
        }
        Provider::GitLab => {
            let (root, errors) = gitlab::load(&mut forest, root, files);
            if let Some(e) = errors.into_iter().next() {
                return Err(LintError {
                    path: e.0,
                    line: e.1,
                    column: e.2,
                    message: e.3,
                });
            }
            let cfg = gitlab::build(&forest, &root);
            let facts: Vec<_> = cfg
                .jobs
                .iter()
                .map(|j| facts::collect(&forest, j))
                .collect();
            let mut out = rules::Out::new(&forest);
            for (job, f) in cfg.jobs.iter().zip(&facts) {
                rules::job_rules(&mut out, doc.provider, job, f);
            }
            gitlab::trigger_rules(&mut out, &cfg, &facts);
            out.finish()
        }
    };
    Ok(jobs_and_rules)
}
