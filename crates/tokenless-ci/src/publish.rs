//! The publish-path model: for each publish a job performs, the client that publishes,
//! the registry it targets, how sure we are, and the chain of files and lines that led
//! from the CI step to the command that publishes. Rules judge jobs through these types;
//! nothing here is decided by reading display text.

use crate::finding::{Confidence, Hop};
use crate::model::Loc;

pub const NPMJS: &str = "registry.npmjs.org";

/// What performs the publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    Npm,
    Pnpm,
    /// `yarn publish` (yarn 1, no OIDC).
    YarnClassic,
    /// `yarn npm publish` (yarn berry).
    YarnBerry,
    Bun,
    SemanticRelease,
    Changesets,
    Lerna,
    NxRelease,
    ReleaseIt,
    Auto,
    Np,
    CleanPublish,
    /// A publishing GitHub action or CircleCI orb command.
    Action,
    /// A reusable workflow that publishes (by name, or because it receives a token).
    ReusableWorkflow,
    /// A package script whose body could not be read, named like a publish.
    NamedScript,
    /// A job or step named like a release that wires an npm credential.
    NamedJob,
    /// A JS/TS file that, read as text, runs a publish.
    ScriptText,
}

impl Client {
    /// A stable name for JSON (`npm`, `semantic-release`, `named-job`…).
    pub fn as_str(self) -> &'static str {
        match self {
            Client::Npm => "npm",
            Client::Pnpm => "pnpm",
            Client::YarnClassic => "yarn-classic",
            Client::YarnBerry => "yarn-berry",
            Client::Bun => "bun",
            Client::SemanticRelease => "semantic-release",
            Client::Changesets => "changesets",
            Client::Lerna => "lerna",
            Client::NxRelease => "nx-release",
            Client::ReleaseIt => "release-it",
            Client::Auto => "auto",
            Client::Np => "np",
            Client::CleanPublish => "clean-publish",
            Client::Action => "action",
            Client::ReusableWorkflow => "reusable-workflow",
            Client::NamedScript => "named-script",
            Client::NamedJob => "named-job",
            Client::ScriptText => "script-text",
        }
    }

    /// A release tool whose npm publish can be switched off in its own config; in a
    /// file where another job publishes explicitly it is not the publishing job.
    pub fn is_release_tool(self) -> bool {
        matches!(self, Client::SemanticRelease | Client::ReleaseIt)
    }

    /// Publishes package after package (one id token may not last the whole run).
    pub fn publishes_many(self) -> bool {
        matches!(self, Client::Changesets | Client::Lerna | Client::NxRelease)
    }

    /// Reads `NPM_TOKEN` from the environment without the config mentioning it.
    pub fn reads_npm_token(self) -> bool {
        matches!(
            self,
            Client::SemanticRelease | Client::Changesets | Client::Auto
        )
    }
}

/// A publish recognised in one command (and whatever it led to), with byte offsets into
/// the script the command was read from.
#[derive(Debug, Clone)]
pub struct Found {
    pub client: Client,
    /// What publishes, for messages (e.g. "`npm publish`").
    pub what: String,
    pub start: usize,
    pub end: usize,
    /// Registry host given on the command or configured where the publish runs.
    pub registry: Option<String>,
    /// `-r`/`--workspaces`/`foreach`: several packages.
    pub recursive: bool,
    pub reads_npm_token: bool,
    /// The hops inside the repository after the CI step (empty for a direct publish).
    pub chain: Vec<Hop>,
    pub confidence: Confidence,
    /// A stored npm token that a followed script writes before it publishes.
    pub credential: Option<ScriptCredential>,
}

/// A token line written by a script in the repository (`echo "//registry.npmjs.org/:
/// _authToken=$NPM_TOKEN" > ~/.npmrc`, `npm config set …:_authToken "$X"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptCredential {
    pub hop: Hop,
    /// The variable it reads (`$NPM_TOKEN`).
    pub source: String,
    /// The registry host the line is for, when it names one.
    pub host: Option<String>,
}

impl Found {
    pub fn new(client: Client, what: String, start: usize, end: usize) -> Found {
        Found {
            client,
            what,
            start,
            end,
            registry: None,
            recursive: false,
            reads_npm_token: client.reads_npm_token(),
            chain: Vec::new(),
            confidence: Confidence::High,
            credential: None,
        }
    }
}

/// A publish a job performs.
#[derive(Debug, Clone)]
pub struct Publish {
    pub step: usize,
    pub loc: Loc,
    pub client: Client,
    /// What publishes, for messages.
    pub what: String,
    /// Registry host given on the command, to the action, or in the package's config.
    pub registry: Option<String>,
    pub recursive: bool,
    /// The tool reads NPM_TOKEN from the environment by itself.
    pub reads_npm_token: bool,
    /// The hops inside the repository that led to the publish.
    pub chain: Vec<Hop>,
    pub confidence: Confidence,
}

impl Publish {
    pub fn from_found(step: usize, loc: Loc, f: Found) -> Publish {
        Publish {
            step,
            loc,
            client: f.client,
            what: f.what,
            registry: f.registry,
            recursive: f.recursive,
            reads_npm_token: f.reads_npm_token,
            chain: f.chain,
            confidence: f.confidence,
        }
    }

    /// A publish with no chain, at `loc` (actions, orbs, heuristics).
    pub fn simple(step: usize, loc: Loc, client: Client, what: String) -> Publish {
        Publish {
            step,
            loc,
            client,
            what,
            registry: None,
            recursive: false,
            reads_npm_token: client.reads_npm_token(),
            chain: Vec::new(),
            confidence: Confidence::High,
        }
    }
}

/// The host of a registry URL (`https://host:port/path` → `host`).
pub fn host_of(url: &str) -> Option<String> {
    let u = url.trim().trim_matches(['"', '\'']);
    let u = u.split_once("://").map(|(_, r)| r).unwrap_or(u);
    let u = u.trim_start_matches("//");
    let host = u.split(['/', ':', '?']).next()?.trim();
    if host.is_empty() {
        None
    } else {
        Some(host.to_ascii_lowercase())
    }
}

/// Whether a host is npm's public registry (or npmjs.org aliases).
pub fn is_npmjs(host: &str) -> bool {
    matches!(
        host,
        "registry.npmjs.org" | "registry.npmjs.com" | "registry.yarnpkg.com"
    )
}
