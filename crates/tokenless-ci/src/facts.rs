//! What a job does, read from its steps: where it publishes, where it mints an id token
//! and how, which static credentials reach it, which registries and npm versions it uses.
//! Rules are judgements over these facts; this module only observes.

use std::sync::LazyLock;

use regex::Regex;

use crate::finding::Confidence;
use crate::follow::{Follower, is_dry_run, positionals};
use crate::model::{Job, Loc, StepKind};
pub use crate::publish::{Client, Found, NPMJS, Publish, host_of, is_npmjs};
use crate::shell::{self, Command, Joiner, Word};
use crate::versions::{self, NodeSpec, Version};
use crate::yaml::{Forest, NodeId};

/// Does this command publish (config only: no repository files are read)?
pub fn publish_of(argv: &[Word]) -> Option<Found> {
    Follower::config_only().command(argv, "", 0)
}

/// Within one file, a release tool in a job is not "the publishing job" when another job
/// runs an explicit publish: the tool versions or makes GitHub releases there.
pub fn demote_release_tools(facts: &mut [Facts]) {
    let explicit: Vec<bool> = facts
        .iter()
        .map(|f| f.publishes.iter().any(|p| !p.client.is_release_tool()))
        .collect();
    // Counted once: asking every job about every other job is quadratic in the job count.
    let explicit_jobs = explicit.iter().filter(|e| **e).count();
    for (f, own) in facts.iter_mut().zip(&explicit) {
        let other_publishes = explicit_jobs > usize::from(*own);
        if other_publishes && !own {
            f.publishes.retain(|p| !p.client.is_release_tool());
        }
    }
}

/// Where a credential value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A stored secret or variable (described, e.g. `secrets.NPM_TOKEN`, `$NPM_TOKEN`).
    Static(String),
    /// The OIDC id token (or a provider JWT) put where a registry token goes.
    Oidc(String),
    /// An empty or constant placeholder: not a credential.
    Placeholder,
}

#[derive(Debug, Clone)]
pub struct Mint {
    pub step: usize,
    pub loc: Loc,
    pub claims: Option<Claims>,
    /// The variable the token is stored in.
    pub var: Option<String>,
    /// Why a failed fetch would go unnoticed, if it would.
    pub masked: Option<String>,
    /// The token is written to `$BASH_ENV` (reaches later steps).
    pub to_bash_env: bool,
}

/// A static credential that reaches (or may reach) the publish.
#[derive(Debug, Clone)]
pub struct Wire {
    /// Step index for step-scoped wiring; `None` for the whole job.
    pub step: Option<usize>,
    /// Written to a file, npm config or `$BASH_ENV`: reaches later steps too.
    pub persistent: bool,
    pub loc: Loc,
    /// What wires it, e.g. "NODE_AUTH_TOKEN", "an `_authToken` line in .npmrc".
    pub what: String,
    pub source: Source,
    /// Registry host the credential is for, when the wiring names one.
    pub host: Option<String>,
}

/// A command that needs a stored token even with OIDC (`npm whoami`, `npm dist-tag`…).
#[derive(Debug, Clone)]
pub struct TokenCommand {
    pub step: usize,
    pub loc: Loc,
    pub what: String,
}

impl From<(usize, Loc, String)> for TokenCommand {
    fn from((step, loc, what): (usize, Loc, String)) -> Self {
        TokenCommand { step, loc, what }
    }
}

/// A variable checked for emptiness (`[ -z "$NPM_ID_TOKEN" ]`, `${X:?}`).
#[derive(Debug, Clone)]
pub struct Guard {
    pub step: usize,
    pub var: String,
}

impl From<(usize, String)> for Guard {
    fn from((step, var): (usize, String)) -> Self {
        Guard { step, var }
    }
}

/// `NPM_ID_TOKEN` exported into `$BASH_ENV` in a step.
#[derive(Debug, Clone)]
pub struct BashEnvExport {
    pub step: usize,
    pub var: String,
}

impl From<(usize, String)> for BashEnvExport {
    fn from((step, var): (usize, String)) -> Self {
        BashEnvExport { step, var }
    }
}

/// `npm install -g npm@<spec>`: the lowest version it can install.
#[derive(Debug, Clone)]
pub struct NpmUpgrade {
    pub step: usize,
    pub lowest: Option<Version>,
    pub loc: Loc,
    pub spec: String,
}

impl From<(usize, Option<Version>, Loc, String)> for NpmUpgrade {
    fn from((step, lowest, loc, spec): (usize, Option<Version>, Loc, String)) -> Self {
        NpmUpgrade {
            step,
            lowest,
            loc,
            spec,
        }
    }
}

/// A registry the job configures.
#[derive(Debug, Clone)]
pub struct RegistrySetting {
    pub host: String,
    pub loc: Loc,
}

impl From<(String, Loc)> for RegistrySetting {
    fn from((host, loc): (String, Loc)) -> Self {
        RegistrySetting { host, loc }
    }
}

/// A wrong audience source (`NPM_ID_TOKEN=$CIRCLE_OIDC_TOKEN`).
#[derive(Debug, Clone)]
pub struct AudienceError {
    pub loc: Loc,
    pub message: String,
}

impl From<(Loc, String)> for AudienceError {
    fn from((loc, message): (Loc, String)) -> Self {
        AudienceError { loc, message }
    }
}

/// A Node version chosen by a step (setup-node `node-version`…), with its text.
#[derive(Debug, Clone)]
pub struct NodeChoice {
    pub spec: NodeSpec,
    pub loc: Loc,
    pub text: String,
}

impl From<(NodeSpec, Loc, String)> for NodeChoice {
    fn from((spec, loc, text): (NodeSpec, Loc, String)) -> Self {
        NodeChoice { spec, loc, text }
    }
}

/// A release-tool version pinned by an action.
#[derive(Debug, Clone)]
pub struct ToolVersion {
    pub tool: String,
    pub version: String,
    pub loc: Loc,
}

impl From<(String, String, Loc)> for ToolVersion {
    fn from((tool, version, loc): (String, String, Loc)) -> Self {
        ToolVersion { tool, version, loc }
    }
}

/// A place the id token is printed.
#[derive(Debug, Clone)]
pub struct TokenPrinted {
    pub step: usize,
    pub loc: Loc,
    pub how: String,
}

impl From<(usize, Loc, String)> for TokenPrinted {
    fn from((step, loc, how): (usize, Loc, String)) -> Self {
        TokenPrinted { step, loc, how }
    }
}

/// `set -x` (shell tracing) in a step.
#[derive(Debug, Clone)]
pub struct Xtrace {
    pub step: usize,
    pub loc: Loc,
}

impl From<(usize, Loc)> for Xtrace {
    fn from((step, loc): (usize, Loc)) -> Self {
        Xtrace { step, loc }
    }
}

/// The `--claims` argument of `circleci run oidc get`: its location and its value after
/// shell unquoting.
#[derive(Debug, Clone)]
pub struct Claims {
    pub loc: Loc,
    pub text: String,
}

#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub publishes: Vec<Publish>,
    pub mints: Vec<Mint>,
    pub wires: Vec<Wire>,
    /// Commands that need a stored token even with OIDC (`npm whoami`, `npm dist-tag`...).
    pub token_commands: Vec<TokenCommand>,
    /// Variables checked for emptiness (`[ -z "$NPM_ID_TOKEN" ]`, `${X:?}`).
    pub guards: Vec<Guard>,
    /// `NPM_ID_TOKEN` exported into `$BASH_ENV` in a step.
    pub bash_env_exports: Vec<BashEnvExport>,
    /// `npm install -g npm@<spec>`: step, lowest version, location, spec.
    pub npm_upgrades: Vec<NpmUpgrade>,
    /// Registries configured in the job (host, location).
    pub registries: Vec<RegistrySetting>,
    /// Wrong audience sources (`NPM_ID_TOKEN=$CIRCLE_OIDC_TOKEN`).
    pub audience_errors: Vec<AudienceError>,
    /// `CI=false` / `CI: false`.
    pub ci_false: Option<Loc>,
    /// Node versions chosen by steps (setup-node `node-version`...).
    pub node_versions: Vec<NodeChoice>,
    /// Release-tool versions pinned by actions (tool, version text, location).
    pub tool_versions: Vec<ToolVersion>,
    /// `--provenance` / `NPM_CONFIG_PROVENANCE=true`.
    pub provenance: Vec<Loc>,
    /// Places the id token is printed: (step, location, how).
    pub logged: Vec<TokenPrinted>,
    /// `set -x` (shell tracing) per step.
    pub xtrace: Vec<Xtrace>,
}

static TOKEN_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(NODE_AUTH_TOKEN|YARN_NPM_AUTH_TOKEN|NPM_CONFIG__AUTHTOKEN|npm_config_//.*:_authtoken|[A-Z0-9_]*NPM[A-Z0-9_]*(TOKEN|AUTH)[A-Z0-9_]*)$")
        .expect("static regex")
});
static OIDC_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"circleci\s+run\s+oidc\s+get|\$\{?(NPM_ID_TOKEN|CIRCLE_OIDC_TOKEN(_V2)?|CI_JOB_JWT(_V[12])?|ACTIONS_ID_TOKEN_REQUEST_TOKEN)\b")
        .expect("static regex")
});
static SECRET_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$\{\{\s*([A-Za-z_][A-Za-z0-9_.\-\[\]']*)\s*\}\}|\$\{?([A-Za-z_][A-Za-z0-9_]*)")
        .expect("static regex")
});
static GITHUB_AUDIENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[?&]audience=([^&\s'\x22)]+)").expect("static regex"));
/// A JWT (an id token) in text, for redaction.
static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"eyJ[A-Za-z0-9_\-]{8,}(\.[A-Za-z0-9_\-]*){0,2}").expect("static regex")
});
static NPM_TOKEN_LITERAL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bnpm_[A-Za-z0-9]{36}\b").expect("static regex"));
static AUTH_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:(//[^\s:'\x22]*)?:)?(_authToken|_auth|_password|npmAuthToken)\s*[=:]\s*([^\s'\x22]*)",
    )
    .expect("static regex")
});
static REGISTRY_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[\s'\x22])(?:(?:@[\w.-]+|\$\{?\w+\}?):)?registry\s*=\s*([^\s'\x22]+)")
        .expect("static regex")
});

/// Is this an environment/variable name that carries an npm registry token?
pub fn is_token_name(name: &str) -> bool {
    let up = name.to_ascii_uppercase();
    TOKEN_NAME.is_match(name) && !up.contains("ID_TOKEN") && !up.contains("GITHUB")
}

/// An action input that takes an npm token (`token`, `npm-token`, `node-auth-token`, or
/// any token-like name).
pub fn is_token_input(name: &str) -> bool {
    matches!(
        name,
        "token" | "npm-token" | "npm_token" | "npmToken" | "node-auth-token"
    ) || is_token_name(name)
}

/// Classify a credential value. `extra_oidc` are more variable names that hold an id
/// token (GitLab `id_tokens` names, mint variables).
pub fn classify(value: &str, extra_oidc: &[String]) -> Source {
    let v = value.trim();
    if OIDC_REF.is_match(v) {
        return Source::Oidc(v.to_string());
    }
    for name in extra_oidc {
        if refers_to(v, name) {
            return Source::Oidc(format!("${name}"));
        }
    }
    if NPM_TOKEN_LITERAL.is_match(v) {
        return Source::Static("a hard-coded npm token".into());
    }
    if let Some(c) = SECRET_REF.captures(v) {
        if let Some(expr) = c.get(1) {
            return Source::Static(expr.as_str().to_string());
        }
        if let Some(var) = c.get(2) {
            return Source::Static(format!("${}", var.as_str()));
        }
    }
    if v.contains("${{") || v.contains('$') || v.contains('`') {
        return Source::Static(redact(v));
    }
    if looks_like_secret(v) {
        return Source::Static("a hard-coded token".into());
    }
    Source::Placeholder
}

/// A literal long enough and random enough to be a credential rather than a placeholder
/// (`nada`, `XXXX`, setup-node's `XXXXX-XXXXX-XXXXX-XXXXX`).
fn looks_like_secret(v: &str) -> bool {
    v.len() >= 20
        && !v.contains(char::is_whitespace)
        && !v.chars().all(|c| matches!(c, 'X' | 'x' | '-' | '*' | '.'))
        && v.chars().any(|c| c.is_ascii_digit())
        && v.chars().any(|c| c.is_ascii_alphabetic())
}

/// Never show a credential: npm tokens become `npm_…abcd`, JWTs `eyJ…`.
pub fn redact(text: &str) -> String {
    let out = NPM_TOKEN_LITERAL.replace_all(text, |c: &regex::Captures<'_>| {
        let t = &c[0];
        format!("npm_…{}", &t[t.len().saturating_sub(4)..])
    });
    JWT.replace_all(&out, "eyJ…").into_owned()
}

/// `text` with every npm token and JWT masked in place, keeping its length (`npm_` and the
/// last four characters stay, the rest becomes `*`), so that spans into the text still
/// point where they did: for source lines shown under a caret.
pub fn mask(text: &str) -> String {
    let keep = |t: &str, head: usize| {
        let tail = t.len().saturating_sub(4).max(head);
        format!("{}{}{}", &t[..head], "*".repeat(tail - head), &t[tail..])
    };
    let out = NPM_TOKEN_LITERAL.replace_all(text, |c: &regex::Captures<'_>| keep(&c[0], 4));
    JWT.replace_all(&out, |c: &regex::Captures<'_>| {
        let t = &c[0];
        format!("eyJ{}", "*".repeat(t.len() - 3))
    })
    .into_owned()
}

/// Whether a value references any variable (`$X`, `${X}`), ignoring CircleCI `<< … >>`.
pub fn references_variable(text: &str) -> bool {
    static VAR: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"\$\{?[A-Za-z_]").expect("static regex"));
    VAR.is_match(text)
}

/// Whether `text` references shell variable `name` (`$name`, `${name}`, `${name:-…}`).
pub fn refers_to(text: &str, name: &str) -> bool {
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        let after = &rest[i + 1..];
        let after = after.strip_prefix('{').unwrap_or(after);
        if let Some(tail) = after.strip_prefix(name)
            && !tail.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        {
            return true;
        }
        rest = &rest[i + 1..];
    }
    false
}

/// Location of a byte range of a step's script.
fn script_loc(forest: &Forest, node: NodeId, exact: bool, start: usize, end: usize) -> Loc {
    let file = forest.node(node).file;
    if exact {
        Loc {
            file,
            span: forest.sub_span(node, start, end),
        }
    } else {
        Loc::of(forest, node)
    }
}

fn word_is_bash_env(t: &str) -> bool {
    t.contains("BASH_ENV")
}

/// Find `export NAME=VALUE` or `NAME=VALUE` inside echoed text.
fn echoed_assignment(text: &str) -> Option<(String, String)> {
    let t = text.trim_start();
    let t = t.strip_prefix("export ").unwrap_or(t).trim_start();
    let eq = t.find('=')?;
    let name = &t[..eq];
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return None;
    }
    Some((name.to_string(), t[eq + 1..].to_string()))
}

struct StepCtx<'a> {
    forest: &'a Forest,
    follow: &'a Follower<'a>,
    node: NodeId,
    exact: bool,
    step: usize,
    oidc_vars: &'a [String],
}

impl StepCtx<'_> {
    fn loc(&self, start: usize, end: usize) -> Loc {
        script_loc(self.forest, self.node, self.exact, start, end)
    }
}

/// Read every step of a job; `follow` follows commands into the repository (or only
/// recognises them, when it has none).
pub fn collect(forest: &Forest, job: &Job, follow: &Follower<'_>) -> Facts {
    let mut f = Facts::default();
    let mut oidc_vars: Vec<String> = job.id_token.gitlab.iter().map(|g| g.var.clone()).collect();
    for e in &job.env {
        env_entry(forest, &mut f, e, None, &oidc_vars);
    }
    for (i, step) in job.steps.iter().enumerate() {
        for e in &step.env {
            env_entry(forest, &mut f, e, Some(i), &oidc_vars);
        }
        match &step.kind {
            StepKind::Run { node, text, exact } => {
                let script = shell::parse(text);
                let ctx = StepCtx {
                    forest,
                    follow,
                    node: *node,
                    exact: *exact,
                    step: i,
                    oidc_vars: &oidc_vars.clone(),
                };
                let minted = script_facts(&ctx, &mut f, &script, job.errexit);
                for v in minted {
                    if !oidc_vars.contains(&v) {
                        oidc_vars.push(v);
                    }
                }
            }
            StepKind::Uses { name, node, inputs } => {
                uses_facts(forest, follow, &mut f, i, name, *node, inputs, &oidc_vars);
            }
        }
    }
    // An orb job that publishes gets its credential from the environment the orb sees
    // (contexts, project variables); what it runs is not visible.
    if job.orb_job {
        for p in &mut f.publishes {
            p.reads_npm_token = true;
            p.confidence = p.confidence.min(Confidence::Medium);
        }
    }
    // Names decide only when the repository is not there to say what the steps run.
    if !(follow.is_repo_aware() && follow.read("package.json").is_some()) {
        named_publish(forest, job, &mut f);
    }
    f
}

/// With no publish recognised, a job or step named like a release (publish, release,
/// deploy, ship) that wires a stored npm credential is taken to publish, with medium
/// confidence: the token is there to be used.
fn named_publish(forest: &Forest, job: &Job, f: &mut Facts) {
    if !f.publishes.is_empty() {
        return;
    }
    let named = |n: &str| {
        let n = n.to_ascii_lowercase();
        ["publish", "release", "deploy", "ship"]
            .iter()
            .any(|k| n.contains(k))
            && !n.contains("prerelease")
            && !n.contains("docs")
            && !n.contains("storybook")
            && !n.contains("docker")
    };
    let npm_cred =
        |w: &&Wire| matches!(w.source, Source::Static(_)) && w.host.as_deref().is_none_or(is_npmjs);
    let job_named = named(&job.name);
    for w in f.wires.iter().filter(npm_cred) {
        let step_named = w
            .step
            .and_then(|s| job.steps.get(s))
            .is_some_and(|s| named(&s.name));
        if !(job_named || step_named) {
            continue;
        }
        let (step, node) = match w.step.and_then(|s| job.steps.get(s).map(|st| (s, st.node))) {
            Some(x) => x,
            None => (job.steps.len().saturating_sub(1), job.node),
        };
        let mut p = Publish::simple(
            step,
            Loc::of(forest, node),
            Client::NamedJob,
            format!("a step of a job named like a release, with {}", w.what),
        );
        p.confidence = Confidence::Medium;
        p.reads_npm_token = true;
        f.publishes.push(p);
        return;
    }
}

fn env_entry(
    forest: &Forest,
    f: &mut Facts,
    e: &crate::model::EnvVar,
    step: Option<usize>,
    oidc: &[String],
) {
    let name = e.name.as_str();
    let upper = name.to_ascii_uppercase();
    if upper == "CI" && e.text.trim().eq_ignore_ascii_case("false") {
        f.ci_false = Some(Loc::of(forest, e.key));
    }
    if upper == "NPM_CONFIG_REGISTRY"
        && let Some(h) = host_of(&e.text)
    {
        f.registries
            .push(RegistrySetting::from((h, Loc::of(forest, e.value))));
    }
    if upper == "NPM_CONFIG_PROVENANCE" && e.text.trim().eq_ignore_ascii_case("true") {
        f.provenance.push(Loc::of(forest, e.key));
    }
    if upper == "NPM_ID_TOKEN" && (e.text.contains("CIRCLE_OIDC_TOKEN")) {
        f.audience_errors.push(AudienceError::from((
            Loc::of(forest, e.value),
            format!("NPM_ID_TOKEN is set to `{}`, whose audience is the CircleCI organization id, not npm:registry.npmjs.org", e.text.trim()),
        )));
    }
    if is_token_name(name) {
        let source = classify(&e.text, oidc);
        let loc = if matches!(source, Source::Placeholder) {
            Loc::of(forest, e.key)
        } else {
            Loc::of(forest, e.value)
        };
        f.wires.push(Wire {
            step,
            persistent: false,
            loc,
            what: name.to_string(),
            source,
            host: None,
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn uses_facts(
    forest: &Forest,
    follow: &Follower<'_>,
    f: &mut Facts,
    i: usize,
    name: &str,
    node: NodeId,
    inputs: &[crate::model::Input],
    oidc: &[String],
) {
    let lower = name.to_ascii_lowercase();
    let base = lower.split('@').next().unwrap_or("");
    let input = |k: &str| inputs.iter().find(|x| x.name == k);
    if let Some(nv) = input("node-version") {
        f.node_versions.push(NodeChoice::from((
            versions::parse_node(&nv.text),
            Loc::of(forest, nv.value),
            nv.text.clone(),
        )));
    } else if base.starts_with("./") || base.contains("setup-node") {
        // The repository may say which Node: a `node-version-file`, or the local action.
        let from_repo = if base.contains("setup-node") {
            input("node-version-file").and_then(|file| {
                node_from_file(follow, file.text.trim())
                    .map(|(spec, text)| (spec, Loc::of(forest, file.value), text))
            })
        } else {
            local_action_node(follow, name).map(|(spec, text)| (spec, Loc::of(forest, node), text))
        };
        match from_repo {
            Some(v) => f.node_versions.push(NodeChoice::from(v)),
            // A local or third-party setup action chooses a Node we cannot see.
            None => f.node_versions.push(NodeChoice::from((
                NodeSpec::Unknown,
                Loc::of(forest, node),
                format!("set up by `{name}`"),
            ))),
        }
    }
    let registry = input("registry-url")
        .or(input("registry"))
        .and_then(|r| host_of(&r.text));
    if let Some(r) = input("registry-url").or(input("registry"))
        && let Some(h) = host_of(&r.text)
    {
        f.registries
            .push(RegistrySetting::from((h, Loc::of(forest, r.value))));
    }
    for t in inputs.iter().filter(|x| is_token_input(&x.name)) {
        let source = classify(&t.text, oidc);
        f.wires.push(Wire {
            step: Some(i),
            persistent: false,
            loc: Loc::of(forest, t.value),
            what: format!("the `{}` input of `{name}`", t.name),
            source,
            host: registry.clone(),
        });
    }
    let reusable =
        base.contains(".github/workflows/") || base.ends_with(".yml") || base.ends_with(".yaml");
    // A command given to an action or orb as a parameter, followed into the repository
    // (from the directory the action is told to work in).
    let cwd = input("cwd")
        .or(input("working-directory"))
        .map(|c| {
            c.text
                .trim()
                .trim_start_matches("./")
                .trim_end_matches('/')
                .to_string()
        })
        .filter(|c| !c.contains("${{") && c != ".")
        .unwrap_or_default();
    let followed = |text: &str| -> Option<Found> {
        let script = shell::parse(text);
        let mut found = None;
        script.walk(&mut |c, _| {
            if found.is_none() {
                found = follow.command(c.argv(), &cwd, 0);
            }
        });
        found
    };
    let mut publish = |client: Client, what: String, reads: bool, via: Option<Found>| {
        let mut p = Publish::simple(i, Loc::of(forest, node), client, what);
        p.registry = registry.clone();
        p.reads_npm_token = reads;
        if let Some(v) = via {
            p.chain = v.chain;
            p.confidence = v.confidence;
            if p.registry.is_none() {
                p.registry = v.registry;
            }
            p.recursive = v.recursive;
        }
        f.publishes.push(p);
    };
    if reusable {
        let named = base.contains("publish") || base.contains("release");
        let passes_token = inputs.iter().any(|x| is_token_name(&x.name));
        // A workflow of this repository says itself whether it publishes to npm.
        let callee = if follow.is_repo_aware() {
            callee_publishes(forest, follow, name)
        } else {
            None
        };
        if callee.unwrap_or(named || passes_token) {
            publish(
                Client::ReusableWorkflow,
                format!("the reusable workflow `{name}`"),
                passes_token,
                None,
            );
        }
    } else if base.starts_with("js-devtools/npm-publish") {
        let dry = input("dry-run").is_some_and(|d| d.text.trim() == "true");
        if !dry {
            publish(Client::Action, format!("`{name}`"), false, None);
        }
    } else if base == "changesets/action" || base.starts_with("changesets/action/publish") {
        // `changesets/action@v1.4.1`: the action's own version decides whether it leaves
        // NPM_TOKEN out and lets npm exchange (from 1.8.0).
        if let Some(version) = name.split('@').nth(1) {
            f.tool_versions.push(ToolVersion::from((
                "changesets/action".into(),
                version.to_string(),
                Loc::of(forest, node),
            )));
        }
        let publish_input = input("publish").or(input("publish-script"));
        if base.starts_with("changesets/action/publish") {
            publish(Client::Changesets, format!("`{name}`"), true, None);
        } else if let Some(p) = publish_input {
            let script = shell::parse(&p.text);
            let dry = script.commands.iter().any(|c| is_dry_run(c.argv()));
            let via = followed(&p.text);
            // In a repository that shows the script does not publish, it does not.
            let refuted =
                follow.is_repo_aware() && via.is_none() && follow.read("package.json").is_some();
            if !dry && !refuted {
                publish(
                    Client::Changesets,
                    format!("`{name}` (publish: `{}`)", p.text.trim()),
                    true,
                    via,
                );
            }
        }
    } else if base.contains("semantic-release-action") {
        let dry = input("dry_run")
            .or(input("dry-run"))
            .is_some_and(|d| d.text.trim() == "true");
        if !dry {
            publish(Client::SemanticRelease, format!("`{name}`"), true, None);
        }
        if let Some(v) = input("semantic_version") {
            f.tool_versions.push(ToolVersion::from((
                "semantic-release".into(),
                v.text.trim().to_string(),
                Loc::of(forest, v.value),
            )));
        }
    } else if let Some(p) = input("publish") {
        // A CircleCI orb command (or action) that takes the publish command as a parameter.
        let found = followed(&p.text);
        let looks_like_script =
            !p.text.trim().is_empty() && p.text.trim() != "false" && p.text.trim() != "true";
        if found.is_some() || looks_like_script {
            let client = if base.contains("changeset") {
                Client::Changesets
            } else {
                Client::Action
            };
            publish(
                client,
                format!("`{name}` (publish: `{}`)", p.text.trim()),
                true,
                found,
            );
        }
    } else if base
        .rsplit('/')
        .next()
        .is_some_and(|n| n.contains("publish") && !n.contains("github") && !n.contains("docs"))
        && !base.starts_with("actions/")
        && !publishes_elsewhere(base)
    {
        publish(Client::Action, format!("`{name}`"), false, None);
    }
}

/// A token line committed in the repository's own `.npmrc` or `.yarnrc.yml`
/// (`//registry.npmjs.org/:_authToken=${NPM_TOKEN}`, `npmAuthToken: ${NPM_TOKEN}`) is a
/// stored credential of every npm publish run from the root: the CI provider fills the
/// variable from project or context settings (CircleCI, GitLab). Adds it to each
/// publishing job's wires, pointing at the publish with the file and line in `what`.
/// The lines of a committed `.npmrc`/`.yarnrc.yml` that read an npmjs token from a
/// variable: (0-based line, the variable reference, the registry host named if any).
pub fn committed_token_lines(text: &str) -> Vec<(usize, String, Option<String>)> {
    static LINE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"^\s*(?:(//[^\s:]+):)?(?:_authToken|npmAuthToken)\s*[=:]\s*['"]?(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?)"#)
            .expect("static regex")
    });
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if let Some(c) = LINE.captures(line) {
            let host = c.get(1).and_then(|h| host_of(h.as_str()));
            if host.as_deref().is_none_or(is_npmjs) {
                let var = c.get(2).map(|v| v.as_str().to_string()).unwrap_or_default();
                out.push((i, var, host));
            }
        }
    }
    out
}

pub fn committed_credentials(forest: &Forest, facts: &mut [Facts], follow: &Follower<'_>) {
    let mut lines = Vec::new();
    for file in [".npmrc", ".yarnrc.yml"] {
        let Some(text) = follow.read(file) else {
            continue;
        };
        for (i, var, host) in committed_token_lines(&text) {
            lines.push((format!("{file}:{}", i + 1), var, host));
        }
    }
    if lines.is_empty() {
        return;
    }
    let _ = forest;
    for f in facts.iter_mut() {
        let Some(p) = f.publishes.first() else {
            continue;
        };
        let (step, loc) = (p.step, p.loc);
        for (at, var, host) in &lines {
            f.wires.push(Wire {
                step: Some(step),
                persistent: true,
                loc,
                what: format!("the token line committed in {at}"),
                source: Source::Static(var.clone()),
                host: host.clone(),
            });
        }
    }
}

/// The Node version a repository file names (`.nvmrc`, `.node-version`, `.tool-versions`,
/// package.json `volta.node`/`engines.node`), with the text shown in messages.
fn node_from_file(follow: &Follower<'_>, path: &str) -> Option<(NodeSpec, String)> {
    let path = path.trim_start_matches("./");
    let text = follow.read(path)?;
    let value = if path.ends_with("package.json") {
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        json.pointer("/volta/node")
            .or_else(|| json.pointer("/engines/node"))?
            .as_str()?
            .trim_start_matches(">=")
            .trim()
            .to_string()
    } else if path.ends_with(".tool-versions") {
        text.lines()
            .find_map(|l| {
                l.strip_prefix("nodejs ")
                    .or_else(|| l.strip_prefix("node "))
            })?
            .trim()
            .to_string()
    } else {
        text.lines().next()?.trim().to_string()
    };
    let spec = versions::parse_node(&value);
    (!matches!(spec, NodeSpec::Unknown)).then(|| (spec, format!("{value} (from {path})")))
}

/// The Node a local composite action (`./.github/setup`) sets up, read from its
/// `action.yml`: the `node-version` or `node-version-file` it gives setup-node.
fn local_action_node(follow: &Follower<'_>, name: &str) -> Option<(NodeSpec, String)> {
    let dir = name.trim_start_matches("./").trim_end_matches('/');
    let text = ["action.yml", "action.yaml"]
        .iter()
        .find_map(|f| follow.read(&format!("{dir}/{f}")))?;
    for line in text.lines() {
        let l = line.trim();
        if let Some(v) = l.strip_prefix("node-version-file:") {
            return node_from_file(follow, v.trim().trim_matches(['"', '\'']));
        }
        if let Some(v) = l.strip_prefix("node-version:") {
            let v = v.trim().trim_matches(['"', '\'']);
            let spec = versions::parse_node(v);
            if !matches!(spec, NodeSpec::Unknown) {
                return Some((spec, format!("{v} (from {dir})")));
            }
        }
    }
    None
}

/// Actions and orbs that publish something other than an npm package (orbs, images,
/// other ecosystems' packages, sites).
fn publishes_elsewhere(base: &str) -> bool {
    const OTHER: &[&str] = &[
        "docker",
        "ecr",
        "gcr",
        "helm",
        "pages",
        "gh-release",
        "vsce",
        "marketplace",
        "pypi",
        "cargo",
        "crates",
        "maven",
        "gradle",
        "nuget",
        "gem",
        "snap",
        "chrome",
        "firefox",
        "unity",
        "pub-dev",
    ];
    base.starts_with("orb-tools/")
        || base.contains("/orb-tools")
        || base
            .split(['/', '-', '_', '@'])
            .any(|part| OTHER.contains(&part))
}

/// Whether a reusable workflow kept in this repository (`./.github/workflows/x.yml`, or
/// `owner/repo/.github/workflows/x.yml@ref` when that file exists here) has a job that
/// publishes to npm; `None` when it cannot be read.
fn callee_publishes(forest: &Forest, follow: &Follower<'_>, name: &str) -> Option<bool> {
    let path = name.split('@').next()?;
    let rel = match path.strip_prefix("./") {
        Some(r) => r.to_string(),
        None => path.get(path.find(".github/workflows/")?..)?.to_string(),
    };
    // The calling file itself is not its own callee.
    if forest
        .files
        .iter()
        .any(|f| *f.path == *rel || f.path.ends_with(&format!("/{rel}")))
    {
        return None;
    }
    let text = follow.read(&rel)?;
    let key = format!("workflow:{rel}");
    if !follow.enter(&key) {
        return Some(false);
    }
    let result = (|| {
        let mut callee = Forest::default();
        let root = callee.parse(&rel, &text).ok()?;
        if !callee.is_map(root) {
            return Some(false);
        }
        let wf = crate::github::build(&callee, root);
        Some(wf.jobs.iter().any(|j| {
            let f = collect(&callee, j, follow);
            f.publishes.iter().any(|p| {
                let target = p
                    .registry
                    .clone()
                    .or_else(|| f.registries.last().map(|r| r.host.clone()))
                    .unwrap_or_else(|| NPMJS.to_string());
                is_npmjs(&target)
            })
        }))
    })();
    follow.leave();
    result
}

/// Facts from one shell script. Returns the variables that received a minted token.
fn script_facts(
    ctx: &StepCtx<'_>,
    f: &mut Facts,
    script: &shell::Script,
    default_errexit: bool,
) -> Vec<String> {
    let mut errexit = default_errexit;
    let mut minted: Vec<String> = Vec::new();
    let cmds = &script.commands;
    for c in cmds {
        // set -e / set +e at the top level.
        let argv = c.argv();
        if c.name() == "set" {
            for w in &argv[1..] {
                let t = w.text.as_str();
                if t.starts_with('-') && !t.starts_with("--") && t.contains('e') {
                    errexit = true;
                } else if t.starts_with('+') && t.contains('e') {
                    errexit = false;
                } else if t == "errexit" {
                    errexit = argv.iter().any(|w| w.text == "-o");
                }
            }
        }
        command_facts(ctx, f, c, errexit, &mut minted, false);
        // Nested commands (inside substitutions) publish and configure too.
        for w in c.assigns.iter().map(|(_, w)| w).chain(&c.args) {
            for sub in &w.subs {
                sub.walk(&mut |inner, _| {
                    let mut ignore = Vec::new();
                    command_facts(ctx, f, inner, true, &mut ignore, true);
                });
            }
        }
    }
    minted
}

fn find_mint(script: &shell::Script) -> Option<&Command> {
    script.commands.iter().find(|c| is_mint(c))
}

fn is_mint(c: &Command) -> bool {
    let a = c.argv();
    a.len() >= 4
        && a[0].text.ends_with("circleci")
        && a[1].text == "run"
        && a[2].text == "oidc"
        && a[3].text == "get"
}

fn mint_claims(ctx: &StepCtx<'_>, m: &Command) -> Option<Claims> {
    let a = m.argv();
    for (i, w) in a.iter().enumerate() {
        if w.text == "--claims" {
            let v = a.get(i + 1)?;
            return Some(Claims {
                loc: ctx.loc(v.start, v.end),
                text: v.text.clone(),
            });
        }
        if let Some(rest) = w.text.strip_prefix("--claims=") {
            return Some(Claims {
                loc: ctx.loc(w.start, w.end),
                text: rest.to_string(),
            });
        }
    }
    None
}

fn command_facts(
    ctx: &StepCtx<'_>,
    f: &mut Facts,
    c: &Command,
    errexit: bool,
    minted: &mut Vec<String>,
    nested: bool,
) {
    let argv = c.argv();
    let name = c.name();
    let step = ctx.step;
    let mut oidc: Vec<String> = ctx.oidc_vars.to_vec();
    oidc.extend(minted.iter().cloned());

    // Publishing.
    if let Some(mut p) = ctx.follow.command(argv, "", 0) {
        let (start, end) = (p.start, p.end);
        if let Some(cred) = &p.credential {
            f.wires.push(Wire {
                step: Some(step),
                persistent: true,
                loc: ctx.loc(start, end),
                what: format!(
                    "a token line written by {}:{}",
                    cred.hop.file, cred.hop.line
                ),
                source: Source::Static(cred.source.clone()),
                host: cred.host.clone(),
            });
        }
        if !p.chain.is_empty() {
            let shown: Vec<&str> = argv.iter().take(4).map(|w| w.text.as_str()).collect();
            p.what = format!("`{}` (which runs {})", shown.join(" "), p.what);
        }
        f.publishes
            .push(Publish::from_found(step, ctx.loc(start, end), p));
        if argv
            .iter()
            .any(|w| w.text == "--provenance" || w.text == "--provenance=true")
        {
            f.provenance.push(ctx.loc(start, end));
        }
    }

    // A mint at the top level of this command (no substitution).
    if is_mint(c) && !nested {
        let to_file = c.writes_to(|_| true).is_some();
        let loc = ctx.loc(c.start, argv.get(3).map(|w| w.end).unwrap_or(c.end));
        if !to_file && c.joiner != Joiner::Pipe {
            f.logged.push(TokenPrinted::from((
                step,
                loc,
                "`circleci run oidc get` writes the token to stdout, which is the job log".into(),
            )));
        }
        f.mints.push(Mint {
            step,
            loc,
            claims: mint_claims(ctx, c),
            var: None,
            masked: None,
            to_bash_env: c.writes_to(word_is_bash_env).is_some(),
        });
    }
    // Printing the token (its length, `${#NPM_ID_TOKEN}`, is fine).
    if matches!(name, "echo" | "printf")
        && c.writes_to(|_| true).is_none()
        && c.joiner != Joiner::Pipe
    {
        let names: Vec<String> = std::iter::once("NPM_ID_TOKEN".to_string())
            .chain(minted.iter().cloned())
            .collect();
        if argv.iter().skip(1).any(|w| {
            let shown = w.text.replace("${#", "");
            names.iter().any(|v| refers_to(&shown, v))
        }) {
            f.logged.push(TokenPrinted::from((
                step,
                ctx.loc(c.start, c.end),
                format!("`{name}` prints the id token to the job log"),
            )));
        }
    }
    if matches!(name, "printenv" | "env" | "export" | "set")
        && argv.len() == 1
        && c.writes_to(|_| true).is_none()
        && c.joiner != Joiner::Pipe
    {
        f.logged.push(TokenPrinted::from((
            step,
            ctx.loc(c.start, c.end),
            format!("`{name}` prints every variable, the id token included"),
        )));
    }
    if name == "set"
        && argv.iter().skip(1).any(|w| {
            (w.text.starts_with('-') && !w.text.starts_with("--") && w.text.contains('x'))
                || w.text == "xtrace"
        })
    {
        f.xtrace.push(Xtrace::from((step, ctx.loc(c.start, c.end))));
    }

    // Mints inside a word of this command.
    let is_decl = matches!(
        name,
        "export" | "local" | "declare" | "readonly" | "typeset"
    );
    let words: Vec<(Option<&str>, &Word)> = c
        .assigns
        .iter()
        .map(|(n, w)| (Some(n.as_str()), w))
        .chain(argv.iter().map(|w| (None, w)))
        .collect();
    for (assign, w) in &words {
        for sub in &w.subs {
            let Some(m) = find_mint(sub) else { continue };
            let loc = ctx.loc(m.start, m.argv().get(3).map(|x| x.end).unwrap_or(m.end));
            let claims = mint_claims(ctx, m);
            let mut var = None;
            let mut masked = None;
            let mut to_bash_env = false;
            if m.joiner == Joiner::Or {
                masked = Some("`|| …` inside the substitution swallows the failure".to_string());
            }
            if let Some(n) = assign {
                var = Some(n.to_string());
                if argv.is_empty() {
                    if c.joiner == Joiner::Or {
                        masked = Some(format!("`{n}=$(…) || …` swallows the failure"));
                    } else if c.joiner == Joiner::Pipe || c.after == Joiner::Pipe {
                        masked = Some("the assignment is part of a pipeline".into());
                    } else if !errexit && masked.is_none() {
                        masked = Some("the script does not run with `set -e`, so a failed fetch leaves an empty variable and the script carries on".into());
                    }
                }
            } else if is_decl {
                if let Some(eq) = w.text.find('=') {
                    var = Some(w.text[..eq].to_string());
                }
                masked = Some(format!(
                    "`{name} {}=$(…)` returns the status of `{name}`, not of the fetch",
                    var.as_deref().unwrap_or("…")
                ));
            } else {
                if let Some((n, _)) = echoed_assignment(&w.text) {
                    var = Some(n);
                }
                to_bash_env = c.writes_to(word_is_bash_env).is_some();
                masked = Some(format!(
                    "the fetch runs inside an argument of `{name}`, whose exit status replaces it"
                ));
            }
            if masked.is_none() && (c.joiner == Joiner::Pipe || c.after == Joiner::Pipe) {
                masked = Some("the command is part of a pipeline".into());
            }
            if let Some(v) = &var {
                minted.push(v.clone());
            }
            f.mints.push(Mint {
                step,
                loc,
                claims,
                var,
                masked,
                to_bash_env,
            });
        }
    }

    // Assignments (plain and declared) of token variables.
    let mut assigned: Vec<(String, &Word)> =
        c.assigns.iter().map(|(n, w)| (n.clone(), w)).collect();
    if is_decl {
        for w in argv.iter().skip(1) {
            if let Some(eq) = w.text.find('=')
                && shell::is_assignment(&w.text)
            {
                assigned.push((w.text[..eq].to_string(), w));
            }
        }
    }
    for (n, w) in &assigned {
        let value = w
            .text
            .split_once('=')
            .map(|(a, b)| {
                if shell::is_assignment(&w.text) && is_decl && a == n {
                    b
                } else {
                    w.text.as_str()
                }
            })
            .unwrap_or(&w.text);
        let up = n.to_ascii_uppercase();
        if up == "NPM_ID_TOKEN" && value.contains("CIRCLE_OIDC_TOKEN") {
            f.audience_errors.push(AudienceError::from((
                ctx.loc(w.start, w.end),
                format!("NPM_ID_TOKEN is set from `{}`, whose audience is the CircleCI organization id, not npm:registry.npmjs.org", value.trim()),
            )));
        }
        if up == "NPM_ID_TOKEN"
            && value.contains("ACTIONS_ID_TOKEN_REQUEST_URL")
            && let Some(aud) = GITHUB_AUDIENCE.captures(value).and_then(|c| c.get(1))
        {
            let aud = aud.as_str().replace("%3A", ":").replace("%3a", ":");
            if aud != format!("npm:{NPMJS}") {
                f.audience_errors.push(AudienceError::from((
                    ctx.loc(w.start, w.end),
                    format!("NPM_ID_TOKEN is requested from GitHub with audience `{aud}`; npm accepts only npm:registry.npmjs.org (leave NPM_ID_TOKEN unset and npm requests the right one)"),
                )));
            }
        }
        if up == "NPM_ID_TOKEN" && oidc.iter().any(|v| refers_to(value, v)) && !minted.contains(n) {
            minted.push(n.clone());
        }
        if up == "CI" && value.trim().eq_ignore_ascii_case("false") {
            f.ci_false = Some(ctx.loc(w.start, w.end));
        }
        if is_token_name(n) {
            let source = classify(value, &oidc);
            if !matches!(source, Source::Placeholder) {
                f.wires.push(Wire {
                    step: Some(step),
                    persistent: false,
                    loc: ctx.loc(w.start.saturating_sub(n.len() + 1).max(c.start), w.end),
                    what: n.clone(),
                    source,
                    host: None,
                });
            }
        }
    }

    // echo/printf into $BASH_ENV or files; .npmrc auth lines; registry lines.
    let writer = matches!(name, "echo" | "printf" | "cat" | "tee");
    if writer {
        let to_bash_env = c.writes_to(word_is_bash_env).is_some();
        let to_file = c.writes_to(|_| true).is_some() || name == "tee";
        let mut texts: Vec<&Word> = argv.iter().skip(1).collect();
        if let Some(h) = &c.heredoc {
            texts.push(h);
        }
        for w in texts {
            if to_bash_env && let Some((n, v)) = echoed_assignment(&w.text) {
                if n == "NPM_ID_TOKEN" {
                    f.bash_env_exports
                        .push(BashEnvExport::from((step, n.clone())));
                    if v.contains("CIRCLE_OIDC_TOKEN") {
                        f.audience_errors.push(AudienceError::from((
                            ctx.loc(w.start, w.end),
                            format!("NPM_ID_TOKEN is set from `{}`, whose audience is the CircleCI organization id", v.trim()),
                        )));
                    }
                } else if is_token_name(&n) {
                    let source = classify(&v, &oidc);
                    if !matches!(source, Source::Placeholder) {
                        f.wires.push(Wire {
                            step: Some(step),
                            persistent: true,
                            loc: ctx.loc(w.start, w.end),
                            what: format!("{n} exported through $BASH_ENV"),
                            source,
                            host: None,
                        });
                    }
                }
            }
            if to_file || c.heredoc.is_some() {
                for cap in AUTH_LINE.captures_iter(&w.text) {
                    let host = cap.get(1).and_then(|h| host_of(h.as_str()));
                    let key = cap.get(2).map(|k| k.as_str()).unwrap_or("_authToken");
                    let value = cap.get(3).map(|v| v.as_str()).unwrap_or("");
                    let mut source = classify(value, &oidc);
                    if value.contains("%q") || value.contains("%s") {
                        // printf format: the value is the next argument.
                        source = argv
                            .get(2)
                            .map(|a| classify(&a.text, &oidc))
                            .unwrap_or(Source::Placeholder);
                    }
                    if matches!(source, Source::Placeholder) {
                        continue;
                    }
                    f.wires.push(Wire {
                        step: Some(step),
                        persistent: true,
                        loc: ctx.loc(w.start, w.end),
                        what: format!(
                            "an `{key}` line written to {}",
                            redirect_target(c).unwrap_or(".npmrc".into())
                        ),
                        source,
                        host,
                    });
                }
                for cap in REGISTRY_LINE.captures_iter(&w.text) {
                    if let Some(h) = cap.get(1).and_then(|u| host_of(u.as_str())) {
                        f.registries
                            .push(RegistrySetting::from((h, ctx.loc(w.start, w.end))));
                    }
                }
            }
        }
    }

    // npm/yarn/pnpm config set.
    if matches!(name, "npm" | "yarn" | "pnpm") {
        let pos = positionals(&argv[1..]);
        let subs: Vec<&str> = pos.iter().map(|p| p.1).collect();
        let set_at = match subs.as_slice() {
            ["config", "set", ..] => Some(2),
            ["set", ..] => Some(1),
            _ => None,
        };
        if let Some(k) = set_at
            && let Some(&(ki, key)) = pos.get(k)
        {
            let (key, value, vw) = match key.split_once('=') {
                Some((a, b)) => (a.to_string(), b.to_string(), &argv[1 + ki]),
                None => {
                    let vw = pos
                        .get(k + 1)
                        .map(|p| &argv[1 + p.0])
                        .unwrap_or(&argv[1 + ki]);
                    (key.to_string(), vw.text.clone(), vw)
                }
            };
            let lk = key.to_ascii_lowercase();
            if lk.contains("_authtoken")
                || lk.contains("npmauthtoken")
                || lk.ends_with(":_auth")
                || lk.ends_with(":_password")
            {
                let source = classify(&value, &oidc);
                if !matches!(source, Source::Placeholder) {
                    f.wires.push(Wire {
                        step: Some(step),
                        persistent: true,
                        loc: ctx.loc(argv[0].start, vw.end),
                        what: format!("`{name} config set {key}`"),
                        source,
                        host: host_of(&key),
                    });
                }
            } else if (lk == "registry" || lk.ends_with(":registry") || lk == "npmregistryserver")
                && let Some(h) = host_of(&value)
            {
                f.registries
                    .push(RegistrySetting::from((h, ctx.loc(argv[0].start, vw.end))));
            }
        }
        // Commands OIDC does not cover.
        if name == "npm"
            && let Some(&(_, s)) = pos.first()
            && matches!(
                s,
                "whoami"
                    | "dist-tag"
                    | "dist-tags"
                    | "access"
                    | "deprecate"
                    | "owner"
                    | "unpublish"
                    | "team"
                    | "token"
            )
        {
            let end = argv.get(1 + pos[0].0).map(|w| w.end).unwrap_or(c.end);
            f.token_commands.push(TokenCommand::from((
                step,
                ctx.loc(argv[0].start, end),
                format!("`npm {s}`"),
            )));
        }
        // npm install -g npm@X
        if name == "npm"
            && matches!(
                subs.first(),
                Some(&("install" | "i" | "add" | "update" | "up" | "upgrade" | "in"))
            )
            && argv
                .iter()
                .any(|w| w.text == "-g" || w.text == "--global" || w.text == "--location=global")
        {
            for &(pi, p) in pos.iter().skip(1) {
                let spec = if p == "npm" {
                    Some("latest")
                } else {
                    p.strip_prefix("npm@")
                };
                if let Some(spec) = spec {
                    let w = &argv[1 + pi];
                    f.npm_upgrades.push(NpmUpgrade::from((
                        step,
                        versions::lowest_npm(spec),
                        ctx.loc(argv[0].start, w.end),
                        spec.to_string(),
                    )));
                }
            }
        }
    }
    if name == "corepack" || name == "volta" {
        for w in argv.iter().skip(1) {
            if let Some(spec) = w.text.strip_prefix("npm@") {
                f.npm_upgrades.push(NpmUpgrade::from((
                    step,
                    versions::lowest_npm(spec),
                    ctx.loc(argv[0].start, w.end),
                    spec.to_string(),
                )));
            }
        }
    }

    // Empty checks: [ -z "$X" ], test -n "$X", [[ -z $X ]], ${X:?}.
    if matches!(name, "[" | "[[" | "test") {
        for (k, w) in argv.iter().enumerate() {
            if (w.text == "-z" || w.text == "-n")
                && let Some(v) = argv.get(k + 1)
            {
                for var in ["NPM_ID_TOKEN"]
                    .iter()
                    .map(|s| s.to_string())
                    .chain(oidc.iter().cloned())
                {
                    if refers_to(&v.text, &var) {
                        f.guards.push(Guard::from((step, var)));
                    }
                }
                if let Some(tok) = SECRET_REF
                    .captures(&v.text)
                    .and_then(|c| c.get(2))
                    .map(|m| m.as_str().to_string())
                    && is_token_name(&tok)
                {
                    f.token_commands.push(TokenCommand::from((
                        step,
                        ctx.loc(argv[0].start, c.end.max(v.end)),
                        format!("a check that {tok} is set"),
                    )));
                }
            }
        }
    }
    for w in argv.iter().chain(c.assigns.iter().map(|(_, w)| w)) {
        if let Some(i) = w.text.find(":?") {
            let before = &w.text[..i];
            if let Some(var) = before.rsplit("${").next() {
                f.guards.push(Guard::from((step, var.to_string())));
            }
        }
    }
}

fn redirect_target(c: &Command) -> Option<String> {
    c.writes_to(|_| true)
        .map(|r| format!("`{}`", r.target.text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pubs(src: &str) -> Vec<String> {
        let s = shell::parse(src);
        let mut out = Vec::new();
        s.walk(&mut |c, _| {
            if let Some(p) = publish_of(c.argv()) {
                out.push(p.what);
            }
        });
        out
    }

    #[test]
    fn recognises_publish_commands() {
        assert_eq!(pubs("npm publish --access public"), ["`npm publish`"]);
        assert_eq!(
            pubs("pnpm -r publish --no-git-checks"),
            ["`pnpm publish --recursive`"]
        );
        assert_eq!(pubs("yarn npm publish"), ["`yarn npm publish`"]);
        assert_eq!(pubs("npx semantic-release@25"), ["`npx semantic-release`"]);
        assert_eq!(pubs("pnpm release:publish"), ["`pnpm release:publish`"]);
        assert_eq!(
            pubs("npm run release:publish-packages -- --verbose"),
            ["`npm run release:publish-packages`"]
        );
        assert!(pubs("npm publish --dry-run").is_empty());
        assert!(pubs("pnpm exec pkg-pr-new publish").is_empty());
        assert!(pubs("npm run build && npm ci").is_empty());
        assert_eq!(pubs("sudo npm publish"), ["`npm publish`"]);
        assert_eq!(
            pubs("npx lerna publish from-package --yes"),
            ["`npx lerna publish`"]
        );
    }

    #[test]
    fn classifies_credentials() {
        assert_eq!(
            classify("${{ secrets.NPM_TOKEN }}", &[]),
            Source::Static("secrets.NPM_TOKEN".into())
        );
        assert_eq!(classify("nada", &[]), Source::Placeholder);
        assert_eq!(classify("", &[]), Source::Placeholder);
        assert!(matches!(
            classify("$(circleci run oidc get --claims x)", &[]),
            Source::Oidc(_)
        ));
        assert!(matches!(classify("${NPM_ID_TOKEN}", &[]), Source::Oidc(_)));
        assert!(matches!(classify("$NPM_TOKEN", &[]), Source::Static(_)));
        assert_eq!(
            classify("XXXXX-XXXXX-XXXXX-XXXXX", &[]),
            Source::Placeholder
        );
        assert_eq!(
            classify("npm_abcdefghijklmnopqrstuvwxyz0123456789", &[]),
            Source::Static("a hard-coded npm token".into())
        );
        assert_eq!(
            classify("0f3c9a7e-1b2d-4e5f-8a9b-0c1d2e3f4a5b", &[]),
            Source::Static("a hard-coded token".into())
        );
        assert_eq!(
            redact("x npm_abcdefghijklmnopqrstuvwxyz0123456789 y"),
            "x npm_…6789 y"
        );
        assert!(
            is_token_name("NPM_TOKEN")
                && is_token_name("NODE_AUTH_TOKEN")
                && !is_token_name("NPM_ID_TOKEN")
        );
    }
}
