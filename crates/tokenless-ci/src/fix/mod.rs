//! `tokenless fix`: rewrites that move a CI config (and the files on its publish path) to
//! trusted publishing, as data.
//!
//! A [`Fix`] is a list of [`Patch`]es for one job, each addressed by a [`Route`] into a
//! YAML document (or a line of a text file), never by re-parsing text; the findings it
//! resolves carry it ([`crate::Finding::fix`]). The fixers read the same provider model
//! and [`Facts`] the rules read, one file per provider ([`circleci`], [`github`],
//! [`gitlab`]) plus [`files`] for committed credentials and script files; shell lines are
//! edited in [`script`]; [`edit`] applies patches (yaml-edit for YAML) and checks every
//! rewrite by parsing it again.
//!
//! [`fix_file`] runs rounds of lint → fixes → apply until nothing is left to fix, so a
//! second run changes nothing; whatever the last lint still reports is left to a human,
//! with the reason.

pub mod circleci;
pub mod edit;
pub mod files;
pub mod github;
pub mod gitlab;
pub mod route;
pub mod script;
pub mod splice;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::facts::Facts;
use crate::finding::{Finding, LintError, RuleId};
use crate::model::Job;
use crate::provider::Provider;
use crate::rules::{FileCx, JobCx};
use crate::yaml::{Forest, NodeId};
use crate::{Document, FileSource, follow};
pub use route::{Route, Seg};

/// What the user asked for beyond the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The CircleCI context a publish job is bound to.
    pub context: String,
    /// The GitHub environment a publish job runs in (none unless asked).
    pub environment: Option<String>,
    /// Publish through `npm stage publish` (CI stages, a human approves with 2FA).
    pub stage: bool,
    /// Rules not to fix here (disabled or suppressed by the user).
    pub skip: Vec<RuleId>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            context: "npm-publish".into(),
            environment: None,
            stage: false,
            skip: Vec::new(),
        }
    }
}

/// A YAML value a patch writes (scalars are written as strings).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    Str(String),
    Seq(Vec<Value>),
    Map(Vec<(String, Value)>),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => items.iter().map(Value::to_json).collect(),
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Where a patch applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A node of a YAML document.
    Route(Route),
    /// A 1-based line of a text file.
    Line(usize),
}

/// What a patch does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// Set `key` in the mapping at the route: replaced in place, or added before the key
    /// `before` when the mapping has it, else at the end.
    Set {
        key: String,
        value: Value,
        before: Option<String>,
    },
    /// Replace the node (or the line) at the target.
    Replace { value: Value },
    /// Remove the mapping entry, sequence item or line at the target.
    Remove,
    /// Insert into the sequence at the route, before item `index`.
    Insert { index: usize, value: Value },
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::Set { .. } => "set",
            Op::Replace { .. } => "replace",
            Op::Remove => "remove",
            Op::Insert { .. } => "insert",
        }
    }
}

/// One edit of one file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Patch {
    /// The file, as findings name it (the config, or a repository-relative path).
    pub path: String,
    pub at: Target,
    pub op: Op,
}

/// The rewrite of one job: the patches and the rules they resolve.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fix {
    pub job: String,
    pub rules: Vec<RuleId>,
    /// What it does, one line per change (for the text output).
    pub changes: Vec<String>,
    /// What the user must still do elsewhere (create the context, …).
    pub notes: Vec<String>,
    pub patches: Vec<Patch>,
}

/// Something the fixer saw but would not change, and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Refusal {
    pub job: String,
    pub reason: String,
}

/// Rules a fix can resolve (the rest always need a human).
pub fn fixable(rule: RuleId) -> bool {
    matches!(
        rule,
        RuleId::StaticTokenPublish
            | RuleId::OidcTokenMissing
            | RuleId::OidcAudienceMismatch
            | RuleId::OidcTokenMisused
            | RuleId::OidcTokenUnguarded
            | RuleId::TokenFallback
            | RuleId::BranchFilterOnly
            | RuleId::NpmTooOld
    )
}

/// What a provider's fixer gets for one job.
pub struct JobIn<'a> {
    pub cx: &'a FileCx<'a>,
    pub j: &'a JobCx<'a>,
    /// One router per document: the linted file, then the files it includes.
    pub routers: &'a [route::Router<'a>],
    pub opts: &'a Options,
    /// The rules reported for this job that a fix may resolve.
    pub rules: BTreeSet<RuleId>,
    pub path: &'a str,
}

impl JobIn<'_> {
    pub fn forest(&self) -> &Forest {
        self.cx.forest
    }

    pub fn job(&self) -> &Job {
        self.j.job
    }

    pub fn facts(&self) -> &Facts {
        self.j.facts
    }

    pub fn has(&self, rule: RuleId) -> bool {
        self.rules.contains(&rule)
    }

    /// The linted file's root.
    pub fn root(&self) -> NodeId {
        self.routers.first().map_or(0, route::Router::root)
    }

    /// The route to `node` in whichever of the documents holds it.
    pub fn route(&self, node: NodeId) -> Result<Route, String> {
        let file = self.forest().node(node).file;
        match self
            .routers
            .iter()
            .find(|r| self.forest().node(r.root()).file == file)
        {
            Some(r) => r.route(node),
            None => Err(format!(
                "it is defined in {}, which is not a file of this configuration",
                self.forest().file_of(node).path
            )),
        }
    }

    /// The root of the document a route is in.
    pub fn root_of(&self, route: &Route) -> NodeId {
        self.routers
            .iter()
            .find(|r| self.forest().node(r.root()).file == route.1)
            .map_or(self.root(), route::Router::root)
    }

    /// A top-level key of any of the documents (the linted file first).
    pub fn top(&self, key: &str) -> Option<NodeId> {
        self.routers
            .iter()
            .find_map(|r| self.forest().get(r.root(), key))
    }

    /// Whether npm must be upgraded before the publish: it is too old (or unknown) for
    /// the exchange, or `--stage` needs 11.15, and no earlier step already installs a
    /// new enough one.
    pub fn needs_npm_upgrade(&self, floor: crate::versions::Version) -> bool {
        let Some(p) = self.j.publishes.first() else {
            return false;
        };
        let floor = if self.opts.stage {
            crate::versions::Version(11, 15, 0)
        } else {
            floor
        };
        let upgraded = self
            .facts()
            .npm_upgrades
            .iter()
            .any(|u| u.step <= p.step && u.lowest.is_some_and(|v| v >= floor));
        if upgraded {
            return false;
        }
        self.opts.stage
            || (self.has(RuleId::NpmTooOld) && !matches!(self.j.npm, crate::rules::Npm::Ok))
    }
}

/// A fix being written: its patches, and the reasons parts of it could not be.
#[derive(Default)]
pub struct Draft {
    pub patches: Vec<Patch>,
    pub changes: Vec<String>,
    pub notes: Vec<String>,
    pub refusals: Vec<String>,
}

impl Draft {
    /// The route of `node`, or a refusal naming `what` and why.
    pub fn route(&mut self, input: &JobIn<'_>, node: NodeId, what: &str) -> Option<Route> {
        match input.route(node) {
            Ok(r) => Some(r),
            Err(e) => {
                self.refusals.push(format!("{what} is not changed: {e}"));
                None
            }
        }
    }

    /// A patch of the document `route` is in (the linted file, or a file it includes,
    /// named by its repository-relative path).
    pub fn patch(&mut self, input: &JobIn<'_>, route: Route, op: Op) {
        let path = match route.1 {
            0 => input.path.to_string(),
            f => input
                .forest()
                .files
                .get(f as usize)
                .map_or_else(|| input.path.to_string(), |s| s.path.to_string()),
        };
        self.patches.push(Patch {
            path,
            at: Target::Route(route),
            op,
        });
    }
}

/// Every fix for one analysed file; called by the analysis when fixes are asked for.
pub(crate) fn plan(
    cx: &FileCx<'_>,
    roots: &[NodeId],
    findings: &mut [Finding],
    follower: &follow::Follower<'_>,
    opts: &Options,
    path: &str,
) -> (Vec<Fix>, Vec<Refusal>) {
    let routers: Vec<route::Router<'_>> = roots
        .iter()
        .map(|r| route::Router::new(cx.forest, *r))
        .collect();
    let mut fixes = Vec::new();
    let mut refusals = Vec::new();
    for j in &cx.jobs {
        let rules: BTreeSet<RuleId> = findings
            .iter()
            .filter(|f| {
                f.job.as_deref() == Some(j.name())
                    && fixable(f.rule)
                    && !opts.skip.contains(&f.rule)
            })
            .map(|f| f.rule)
            .collect();
        let asked = (opts.stage || opts.environment.is_some()) && !j.publishes.is_empty();
        if rules.is_empty() && !asked {
            continue;
        }
        let input = JobIn {
            cx,
            j,
            routers: &routers,
            opts,
            rules: rules.clone(),
            path,
        };
        let mut draft = Draft::default();
        match cx.provider {
            Provider::CircleCi => circleci::fix_job(&input, &mut draft),
            Provider::GitHub => github::fix_job(&input, &mut draft),
            Provider::GitLab => gitlab::fix_job(&input, &mut draft),
        }
        files::fix_job(&input, follower, &mut draft);
        refusals.extend(draft.refusals.into_iter().map(|reason| Refusal {
            job: j.name().to_string(),
            reason,
        }));
        if draft.patches.is_empty() {
            continue;
        }
        let fix = Arc::new(Fix {
            job: j.name().to_string(),
            rules: rules.iter().copied().collect(),
            changes: draft.changes,
            notes: draft.notes,
            patches: draft.patches,
        });
        for f in findings.iter_mut() {
            if f.job.as_deref() == Some(j.name()) && rules.contains(&f.rule) {
                f.fix = Some(Arc::clone(&fix));
            }
        }
        fixes.push(Arc::unwrap_or_clone(fix));
    }
    (fixes, refusals)
}

/// Repository files as changed so far by earlier rounds, over the real ones.
struct Overlay<'a> {
    base: &'a dyn FileSource,
    changed: &'a BTreeMap<String, String>,
}

impl FileSource for Overlay<'_> {
    fn read(&self, path: &str) -> Result<String, String> {
        match self.changed.get(path) {
            Some(text) => Ok(text.clone()),
            None => self.base.read(path),
        }
    }

    fn list(&self, path: &str) -> Result<Vec<String>, String> {
        self.base.list(path)
    }
}

/// The result of fixing one CI config.
#[derive(Debug, Clone, Default)]
pub struct FileFix {
    /// The config's new text (equal to the old one when nothing changed).
    pub text: String,
    /// Other repository files rewritten (repository-relative path → new text).
    pub files: BTreeMap<String, String>,
    /// Every fix applied, round by round.
    pub applied: Vec<Fix>,
    /// What the lint of the result still reports (each needs a human).
    pub remaining: Vec<Finding>,
    /// Changes the fixers would not make, with the reason.
    pub refusals: Vec<Refusal>,
}

/// Most rounds of lint → fix → apply (each round fixes what the previous one revealed).
const MAX_ROUNDS: usize = 8;
/// Most rounds in which one job is fixed (one fix usually settles it; a second follows
/// from what the first revealed, e.g. npm now too old for the exchange).
const MAX_ROUNDS_PER_JOB: usize = 3;

/// Fix one CI config: lint, patch, apply, and again until nothing is left to fix.
/// `follow` follows steps into the repository `files` reads, as `lint` does.
pub fn fix_file(
    doc: Document<'_>,
    files: &dyn FileSource,
    follow: bool,
    opts: &Options,
) -> Result<FileFix, LintError> {
    let mut out = FileFix {
        text: doc.source.to_string(),
        ..FileFix::default()
    };
    let mut changed: BTreeMap<String, String> = BTreeMap::new();
    let mut tried: BTreeSet<(String, Vec<Patch>)> = BTreeSet::new();
    let mut refused: BTreeSet<Refusal> = BTreeSet::new();
    let mut planned: Vec<Refusal> = Vec::new();
    let mut rounds_of: BTreeMap<String, usize> = BTreeMap::new();
    let mut pending: Option<Pending> = None;
    let mut finished = false;
    for round in 0..=MAX_ROUNDS {
        let overlay = Overlay {
            base: files,
            changed: &changed,
        };
        let current = Document {
            source: &out.text,
            ..doc
        };
        let analysis = crate::analyse_fixing(current, &overlay, follow, opts);
        // The config rewritten in the previous round is checked against its parse here
        // (the analysis parsed it anyway); a rewrite that does not hold the intended data,
        // or does not parse, is undone and its fixes are left to a human.
        if let Some(p) = pending.take() {
            let refs: Vec<&Patch> = p.patches.iter().collect();
            let holds = analysis
                .as_ref()
                .ok()
                .and_then(|a| a.parsed.as_ref())
                .is_some_and(|new| edit::holds(&p.before.0, p.before.1, &refs, &new.0, new.1));
            if !holds {
                out.text = p.text;
                changed = p.files;
                for fix in out.applied.drain(p.applied..) {
                    refused.insert(Refusal {
                        job: fix.job,
                        reason: edit::DIFFERS.into(),
                    });
                }
                continue;
            }
        }
        let analysis = analysis?;
        // What the fixers would not touch, as of the text now (earlier rounds' reasons
        // may have been overtaken by their own fixes).
        planned = analysis.refusals;
        let fresh: Vec<Fix> = analysis
            .fixes
            .into_iter()
            .filter(|f| {
                // A job whose fixes keep coming back is not converging: stop there.
                let rounds = rounds_of.get(&f.job).copied().unwrap_or(0);
                if rounds >= MAX_ROUNDS_PER_JOB {
                    refused.insert(Refusal {
                        job: f.job.clone(),
                        reason:
                            "its fixes did not settle after three rounds; the rest needs a human"
                                .into(),
                    });
                    return false;
                }
                tried.insert((f.job.clone(), f.patches.clone()))
            })
            .collect();
        if fresh.is_empty() || round == MAX_ROUNDS {
            out.remaining = analysis.findings;
            finished = true;
            break;
        }
        // Every fix of the round at once (one edit and one check per file); when they
        // clash, one by one.
        let mut together: Vec<Patch> = Vec::new();
        for p in fresh.iter().flat_map(|f| &f.patches) {
            if !together.contains(p) {
                together.push(p.clone());
            }
        }
        let overlay = Overlay {
            base: files,
            changed: &changed,
        };
        let combined = Fix {
            job: String::new(),
            rules: Vec::new(),
            changes: Vec::new(),
            notes: Vec::new(),
            patches: together,
        };
        if let Some(parsed) = &analysis.parsed
            && let Ok(texts) = apply_round(&combined, doc.path, &out.text, parsed, &overlay)
        {
            pending = Some(Pending {
                before: std::sync::Arc::clone(parsed),
                patches: combined
                    .patches
                    .iter()
                    .filter(|p| p.path == doc.path)
                    .cloned()
                    .collect(),
                text: out.text.clone(),
                files: changed.clone(),
                applied: out.applied.len(),
            });
            for (path, text) in texts {
                if path == doc.path {
                    out.text = text;
                } else {
                    changed.insert(path, text);
                }
            }
            for fix in fresh {
                *rounds_of.entry(fix.job.clone()).or_default() += 1;
                out.applied.push(fix);
            }
            continue;
        }
        // Line patches name lines of the text they were computed on: a second fix of the
        // same text file in one round waits for the next round's fresh patches.
        let mut touched: BTreeSet<String> = BTreeSet::new();
        for fix in fresh {
            let by_line = |p: &Patch| matches!(p.at, Target::Line(_));
            if fix
                .patches
                .iter()
                .any(|p| by_line(p) && touched.contains(&p.path))
            {
                tried.remove(&(fix.job.clone(), fix.patches.clone()));
                continue;
            }
            let overlay = Overlay {
                base: files,
                changed: &changed,
            };
            match apply_fix(&fix, doc.path, &out.text, &overlay) {
                Ok(texts) => {
                    for (path, text) in texts {
                        touched.insert(path.clone());
                        if path == doc.path {
                            out.text = text;
                        } else {
                            changed.insert(path, text);
                        }
                    }
                    *rounds_of.entry(fix.job.clone()).or_default() += 1;
                    out.applied.push(fix);
                }
                Err(_) if !touched.is_empty() => {
                    // Computed before another fix of this round changed the text: retry.
                    tried.remove(&(fix.job.clone(), fix.patches.clone()));
                }
                Err(reason) => {
                    refused.insert(Refusal {
                        job: fix.job.clone(),
                        reason,
                    });
                }
            }
        }
    }
    if !finished {
        // The last round undid a rewrite: what is left is the lint of the text as it is.
        let overlay = Overlay {
            base: files,
            changed: &changed,
        };
        let current = Document {
            source: &out.text,
            ..doc
        };
        out.remaining = crate::analyse(current, &overlay, follow)?.findings;
    }
    out.files = changed;
    refused.extend(planned);
    out.refusals = refused.into_iter().collect();
    Ok(out)
}

/// A rewrite of the config not yet checked against its parse.
struct Pending {
    /// The parse of the text before, and the patches applied to it.
    before: std::sync::Arc<(Forest, NodeId)>,
    patches: Vec<Patch>,
    /// What to go back to if it does not.
    text: String,
    files: BTreeMap<String, String>,
    applied: usize,
}

/// Apply a round's patches: the config through [`edit::edit_yaml`] on the analysis's
/// parse (checked at the next round's parse), other files checked at once. All or
/// nothing.
fn apply_round(
    fix: &Fix,
    config_path: &str,
    config: &str,
    parsed: &(Forest, NodeId),
    files: &dyn FileSource,
) -> Result<Vec<(String, String)>, String> {
    let (mine, others): (Vec<&Patch>, Vec<&Patch>) =
        fix.patches.iter().partition(|p| p.path == config_path);
    let mut out = Vec::new();
    if !mine.is_empty() {
        let text = edit::edit_yaml(config, &mine, &parsed.0, parsed.1)?;
        out.push((config_path.to_string(), text));
    }
    let rest = Fix {
        patches: others.into_iter().cloned().collect(),
        ..fix.clone()
    };
    out.extend(apply_fix(&rest, config_path, config, files)?);
    Ok(out)
}

/// Apply one fix to the texts it touches; all or nothing.
fn apply_fix(
    fix: &Fix,
    config_path: &str,
    config: &str,
    files: &dyn FileSource,
) -> Result<Vec<(String, String)>, String> {
    let mut by_file: BTreeMap<&str, Vec<&Patch>> = BTreeMap::new();
    for p in &fix.patches {
        by_file.entry(p.path.as_str()).or_default().push(p);
    }
    let mut out = Vec::new();
    for (path, patches) in by_file {
        let text = if path == config_path {
            config.to_string()
        } else {
            files.read(path).map_err(|e| format!("{path}: {e}"))?
        };
        let is_yaml = patches.iter().all(|p| matches!(p.at, Target::Route(_)));
        let new = if is_yaml {
            edit::apply_yaml(&text, &patches)
        } else {
            edit::apply_lines(&text, &patches)
        }
        .map_err(|e| format!("{path} is not changed: {e}"))?;
        out.push((path.to_string(), new));
    }
    Ok(out)
}

/// How a step is named in messages: its name, else its command's first line or the
/// action it uses, with anything that looks like a token redacted.
pub(crate) fn step_label(step: &crate::model::Step) -> String {
    let raw = if !step.name.trim().is_empty() {
        step.name.clone()
    } else {
        match &step.kind {
            crate::model::StepKind::Run { text, .. } => {
                text.lines().next().unwrap_or("").to_string()
            }
            crate::model::StepKind::Uses { name, .. } => name.clone(),
        }
    };
    let short: String = raw.chars().take(60).collect();
    crate::facts::redact(&short)
}

/// The 0-based line, in the script as it is now (`new`), of the publish at `loc` in
/// `node`'s original script `old`.
pub(crate) fn publish_line(
    input: &JobIn<'_>,
    node: NodeId,
    old: &str,
    new: &str,
    loc: crate::model::Loc,
) -> Option<usize> {
    let forest = input.forest();
    let n = forest.node(node);
    let src = &forest.file_of(node).text;
    let old_line =
        if loc.file == n.file && loc.span.start >= n.span.start && loc.span.end <= n.span.end {
            let first = forest.sub_span(node, 0, 0).start;
            let index = crate::lines::LineIndex::new(src);
            let line = |at| index.position(src, at).line;
            line(loc.span.start).checked_sub(line(first))
        } else {
            None
        };
    let wanted = old_line.and_then(|l| old.split('\n').nth(l)).map(str::trim);
    let lines: Vec<&str> = new.split('\n').collect();
    if let Some(w) = wanted
        && let Some(i) = lines.iter().position(|l| l.trim() == w)
    {
        return Some(i);
    }
    static PUBLISH: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"\b(publish|release)\b").expect("static regex")
    });
    lines
        .iter()
        .position(|l| !l.trim_start().starts_with('#') && PUBLISH.is_match(l))
}

/// Insert a step into the job just before its step `index` (nothing when that step has
/// no route: the refusal says why).
pub(crate) fn insert_step_before(
    input: &JobIn<'_>,
    d: &mut Draft,
    index: usize,
    step: Value,
    what: &str,
) {
    let Some(s) = input.job().steps.get(index) else {
        return;
    };
    let Some(route) = d.route(
        input,
        s.node,
        &format!("the step before `{}`", step_label(s)),
    ) else {
        return;
    };
    let Some((parent, Seg::Index(at))) = route.split_last().map(|(p, s)| (p, s.clone())) else {
        return;
    };
    d.patch(
        input,
        parent,
        Op::Insert {
            index: at,
            value: step,
        },
    );
    d.changes.push(format!("job `{}`: {what}", input.j.name()));
}

/// `npm stage publish` exists from 11.15.
pub const NPM_STAGE_FLOOR: &str = "^11.15.0";

/// The command that raises npm before a publish: to `floor`, or to the staging floor with
/// `--stage`.
pub(crate) fn npm_upgrade(input: &JobIn<'_>, floor: &str) -> String {
    let floor = if input.opts.stage {
        NPM_STAGE_FLOOR
    } else {
        floor
    };
    format!("npm install -g npm@{floor}")
}

/// The edits every provider makes to a `run` script of step `i`: the stored-token lines
/// go (when the job moves to OIDC), a bun publish becomes pack + npm publish, and with
/// `--stage` the publish is staged. Returns the new script and what was done.
pub(crate) fn common_script_edits(
    input: &JobIn<'_>,
    d: &mut Draft,
    i: usize,
    step: &crate::model::Step,
    text: &str,
    wants_oidc: bool,
) -> (String, Vec<&'static str>) {
    let mut new = text.to_string();
    let mut what = Vec::new();
    if wants_oidc {
        match script::strip_token_lines(&new) {
            script::Edit::Changed(t) => {
                new = t;
                what.push("removes the stored-token lines");
            }
            script::Edit::Unsure(r) => d.refusals.push(format!("step `{}`: {r}", step_label(step))),
            script::Edit::Unchanged => {}
        }
    }
    let here: Vec<_> = input.j.publishes.iter().filter(|p| p.step == i).collect();
    if here.iter().any(|p| p.client == crate::publish::Client::Bun)
        && let script::Edit::Changed(t) = script::bun_to_npm(&new)
    {
        new = t;
        what.push("packs with bun and publishes with npm (bun has no OIDC)");
    }
    if input.opts.stage
        && !here.is_empty()
        && let script::Edit::Changed(t) = script::staged(&new)
    {
        new = t;
        what.push("stages the publish (`npm stage publish`)");
    }
    (new, what)
}

/// Turn a rewritten script into a patch: replace the scalar, or remove the step when
/// nothing is left of it.
#[allow(clippy::too_many_arguments)]
pub(crate) fn script_change(
    input: &JobIn<'_>,
    d: &mut Draft,
    step: &crate::model::Step,
    node: NodeId,
    old: &str,
    exact: bool,
    new: &str,
    what: &[&str],
) {
    if new == old {
        return;
    }
    if !exact {
        d.refusals.push(format!(
            "step `{}`: its script is built from parameters; change it where they are defined",
            step_label(step)
        ));
        return;
    }
    let job = input.j.name();
    if script::is_empty_script(new) {
        if let Some(route) = d.route(input, step.node, &format!("step `{}`", step_label(step))) {
            d.patch(input, route, Op::Remove);
            d.changes.push(format!(
                "job `{job}`: removes the step `{}` (nothing else was left in it)",
                step_label(step)
            ));
        }
        return;
    }
    if let Some(route) = d.route(input, node, &format!("step `{}`", step_label(step))) {
        d.patch(
            input,
            route,
            Op::Replace {
                value: Value::str(new),
            },
        );
        d.changes.push(format!(
            "job `{job}`, step `{}`: {}",
            step_label(step),
            what.join("; ")
        ));
    }
}

/// Remove stored npm tokens from an environment/variables/env mapping; the whole key
/// goes when nothing else is left in it.
pub(crate) fn env_removals(
    input: &JobIn<'_>,
    d: &mut Draft,
    vars: &[crate::model::EnvVar],
    what: &str,
) {
    let forest = input.forest();
    let mut by_parent: BTreeMap<Route, Vec<String>> = BTreeMap::new();
    for e in vars {
        if !crate::facts::is_token_name(&e.name)
            || !matches!(
                crate::facts::classify(&e.text, &[]),
                crate::facts::Source::Static(_)
            )
        {
            continue;
        }
        let Some(mut route) = d.route(input, e.value, &format!("`{}` in {what}", e.name)) else {
            continue;
        };
        // GitLab's `NAME: {value: …}` form: the entry is one level up.
        if route.0.last() == Some(&Seg::Key("value".into())) && e.name != "value" {
            route.0.pop();
        }
        let Some((parent, _)) = route.split_last() else {
            continue;
        };
        if by_parent.get(&parent).is_some_and(|v| v.contains(&e.name)) {
            continue;
        }
        by_parent.entry(parent).or_default().push(e.name.clone());
    }
    for (parent, names) in by_parent {
        let own = splice::node_at(forest, input.root_of(&parent), &parent)
            .map_or(usize::MAX, |m| forest.entries(m).len());
        if names.len() >= own {
            d.patch(input, parent, Op::Remove);
        } else {
            for n in &names {
                d.patch(input, parent.key(n), Op::Remove);
            }
        }
        d.changes.push(format!(
            "job `{}`: removes {} from {what}",
            input.j.name(),
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
}

/// A Node image tag below 22.14 (npm documents Node ≥ 22.14 for trusted publishing, and
/// npm 11 does not run on older 20.x), raised to Node 24 with its variant suffix kept:
/// `node:20-alpine` → `node:24-alpine`, `cimg/node:20.11-browsers` → `cimg/node:24.16-browsers`.
fn raised_image(image: &str) -> Option<String> {
    let (repo, tag) = image.rsplit_once(':')?;
    let (repo, new_version) = match repo {
        "node" | "library/node" | "docker.io/library/node" => (repo, "24"),
        "cimg/node" => (repo, "24.16"),
        // CircleCI's deprecated images: their successor.
        "circleci/node" => ("cimg/node", "24.16"),
        _ => return None,
    };
    let (version, suffix) = match tag.find('-') {
        Some(i) => (&tag[..i], &tag[i..]),
        None => (tag, ""),
    };
    let mut parts = version.split('.');
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    let old = major < 22 || (major == 22 && minor < 14);
    old.then(|| format!("{repo}:{new_version}{suffix}"))
}

/// Raise the job's own Node image when it is too old (an image shared through an
/// executor or a `default:` is left, with the reason; the npm upgrade still goes in).
/// Returns the new image when one was raised.
pub(crate) fn raise_node_image(
    input: &JobIn<'_>,
    d: &mut Draft,
    job_route: Option<&Route>,
) -> Option<String> {
    if !input.has(RuleId::NpmTooOld) {
        return None;
    }
    let mut raised = None;
    let name = input.j.name();
    for (image, node) in &input.job().images {
        let Some(new) = raised_image(image.trim()) else {
            continue;
        };
        let Some(route) = d.route(input, *node, &format!("the image `{image}`")) else {
            continue;
        };
        if let Some(j) = job_route.filter(|j| !route.starts_with(j))
            && input.cx.provider == crate::Provider::GitLab
        {
            // A top-level or `default:` image: the job gets its own, which wins.
            d.patch(
                input,
                j.clone(),
                Op::Set {
                    key: "image".into(),
                    value: Value::str(new.clone()),
                    before: Some("script".into()),
                },
            );
            d.changes.push(format!(
                "job `{name}`: runs on its own image `{new}` instead of `{image}` (set at `{route}` for every job)"
            ));
            raised = Some(new);
            continue;
        }
        if job_route.is_some_and(|j| !route.starts_with(j)) {
            d.refusals.push(format!(
                "the image `{image}` of job `{name}` is set at `{route}`, shared with other jobs; raise it to Node 22.14 or later there"
            ));
            continue;
        }
        d.patch(
            input,
            route,
            Op::Replace {
                value: Value::str(new.clone()),
            },
        );
        d.changes
            .push(format!("job `{name}`: image `{image}` becomes `{new}`"));
        raised = Some(new);
    }
    raised
}

/// Whether an image tokenless raised to already ships an npm of at least `floor`.
pub(crate) fn ships_npm(image: Option<&str>, floor: crate::versions::Version) -> bool {
    image
        .and_then(crate::versions::node_of_image)
        .and_then(crate::versions::bundled_npm)
        .is_some_and(|v| v >= floor)
}

#[cfg(test)]
mod tests {
    use super::raised_image;

    #[test]
    fn old_node_images_are_raised_with_their_variant() {
        assert_eq!(raised_image("node:20").as_deref(), Some("node:24"));
        assert_eq!(
            raised_image("node:18-alpine").as_deref(),
            Some("node:24-alpine")
        );
        assert_eq!(
            raised_image("cimg/node:20.11-browsers").as_deref(),
            Some("cimg/node:24.16-browsers")
        );
        assert_eq!(
            raised_image("cimg/node:22.12").as_deref(),
            Some("cimg/node:24.16")
        );
        assert_eq!(raised_image("cimg/node:22.14"), None);
        assert_eq!(raised_image("node:24"), None);
        assert_eq!(raised_image("node:lts"), None);
        assert_eq!(raised_image("ghcr.io/acme/node:20"), None);
        assert_eq!(
            raised_image("circleci/node:12.14-browsers").as_deref(),
            Some("cimg/node:24.16-browsers")
        );
    }
}
