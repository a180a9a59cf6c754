//! Following a command to the publish it runs.
//!
//! A CI step rarely says `npm publish`. It runs a package script (`yarn release`), a
//! script file kept in the repository (`bash ci/release.sh`), a Makefile target, a
//! wrapper around another command (`sh -c "…"`, `xargs`, `lerna exec --`, `nix-shell
//! --run`), a monorepo runner that runs a script in every package (`pnpm -r run x`,
//! `turbo run x`), or a release tool configured in its own file. [`Follower::command`]
//! recognises the publishing command itself and, when it was given the repository
//! (through a [`FileSource`]), follows everything else to its end, recording each hop.
//!
//! Without the repository the same function recognises direct publishes and wrappers,
//! and judges package scripts by their names only (with lower confidence).
//!
//! Work is bounded: files read, bytes per file, commands examined and depth all have
//! limits ([`Limits`]); a script that calls itself (directly or through others) ends
//! the path cleanly; each package script is evaluated once.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::LazyLock;
use std::sync::{Arc, Mutex, MutexGuard};

use regex::Regex;

use crate::FileSource;
use crate::finding::{Confidence, Hop};
use crate::publish::{Client, Found, ScriptCredential, host_of};
use crate::shell::{self, Word};
use crate::yaml::{Forest, Kind, NodeId};

/// Bounds on how much of the repository one lint run reads while following.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_depth: usize,
    pub max_files: usize,
    pub max_file_bytes: usize,
    pub max_commands: usize,
    pub max_packages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 12,
            max_files: 2_000,
            max_file_bytes: 4 * 1024 * 1024,
            max_commands: 200_000,
            max_packages: 1_000,
        }
    }
}

/// A parsed `package.json`.
struct Package {
    path: String,
    text: Arc<str>,
    json: serde_json::Value,
}

impl Package {
    fn scripts(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        self.json.get("scripts").and_then(|s| s.as_object())
    }

    fn script(&self, name: &str) -> Option<&str> {
        self.scripts()?.get(name)?.as_str()
    }

    fn name(&self) -> Option<&str> {
        self.json.get("name").and_then(|n| n.as_str())
    }

    fn private(&self) -> bool {
        self.json.get("private").and_then(|p| p.as_bool()) == Some(true)
    }

    /// The 1-based line of `"key"` after the first occurrence of `"within"` (or anywhere).
    fn line_of_key(&self, within: Option<&str>, key: &str) -> usize {
        line_of_key(&self.text, within, key)
    }
}

fn line_of_key(text: &str, within: Option<&str>, key: &str) -> usize {
    let from = within
        .and_then(|w| text.find(&format!("\"{w}\"")))
        .unwrap_or(0);
    let quoted = serde_json::to_string(key).unwrap_or_else(|_| format!("\"{key}\""));
    let at = text
        .get(from..)
        .and_then(|rest| rest.find(&quoted))
        .map(|i| from + i)
        .unwrap_or(from);
    line_at(text, at)
}

fn line_at(text: &str, byte: usize) -> usize {
    let end = byte.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Which package manager runs a script: decides `pre`/`post` hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pm {
    Npm,
    Pnpm,
    Yarn,
    Bun,
}

impl Pm {
    fn of(name: &str) -> Option<Pm> {
        match name {
            "npm" => Some(Pm::Npm),
            "pnpm" => Some(Pm::Pnpm),
            "yarn" => Some(Pm::Yarn),
            "bun" => Some(Pm::Bun),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Pm::Npm => "npm",
            Pm::Pnpm => "pnpm",
            Pm::Yarn => "yarn",
            Pm::Bun => "bun",
        }
    }
}

/// Which packages a script runs in.
#[derive(Debug, Clone)]
enum Scope {
    /// The package in the working directory.
    Here,
    /// Every workspace package.
    All,
    /// Workspace packages matching a filter (`--filter`, `-w`, `yarn workspace NAME`).
    Filter(String),
}

/// What following a package script found.
enum ScriptResult {
    Found(Found),
    /// The script exists and does not publish.
    NoPublish,
    /// The repository does not say (no package.json, or no such script).
    Unknown,
}

/// What a release tool's own config says about publishing to npm.
enum ToolConfig {
    Publishes {
        hop: Option<Hop>,
        registry: Option<String>,
        confidence: Confidence,
    },
    NoNpm,
    Unknown,
}

/// Follows commands; see the module docs.
pub struct Follower<'a> {
    files: Option<&'a dyn FileSource>,
    limits: Limits,
    cache: Cache<'a>,
    active: RefCell<Vec<String>>,
    files_read: Cell<usize>,
    commands: Cell<usize>,
}

/// What following learns about one repository: file texts, parsed package.json files,
/// workspace directories and the result of each package script. Share one between the
/// files of a repository ([`Follower::shared`]) and each is read and parsed once for all
/// of them, from any thread.
#[derive(Default)]
pub struct RepoCache {
    texts: Mutex<HashMap<String, Option<Arc<str>>>>,
    packages: Mutex<HashMap<String, Option<Arc<Package>>>>,
    memo: Mutex<HashMap<String, Option<Found>>>,
    /// Workspace package directories with their package names.
    workspaces: Mutex<Option<Workspaces>>,
}

/// Workspace package directories with their package names.
type Workspaces = Arc<Vec<(String, Option<String>)>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

enum Cache<'a> {
    Owned(RepoCache),
    Shared(&'a RepoCache),
}

impl Cache<'_> {
    fn get(&self) -> &RepoCache {
        match self {
            Cache::Owned(c) => c,
            Cache::Shared(c) => c,
        }
    }
}

static JS_PUBLISH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(npm|pnpm|yarn|bun)(?:\s+npm)?\s+publish\b|['"`](npm|pnpm|yarn)['"`]\s*,\s*\[\s*['"`]publish['"`]"#)
        .expect("static regex")
});
static SCRIPT_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?://([^\s:'"/]+)[^\s:'"]*:)?(?:_authToken|npmAuthToken)['"]?(?:\s*[=:]\s*|\s+)['"]?(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?)"#)
        .expect("static regex")
});
static NPMRC_FROM_VAR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\$\{?[A-Za-z0-9_]*(?:NPM|NODE_AUTH)[A-Za-z0-9_]*(?:TOKEN|NPMRC|AUTH)[A-Za-z0-9_]*\}?",
    )
    .expect("static regex")
});
static JS_SHELL_FILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"['"`]\s*(?:bash|sh)\s+(\.{0,2}/?[A-Za-z0-9_][A-Za-z0-9_./-]*)"#)
        .expect("static regex")
});

fn strip_version(tool: &str) -> &str {
    match tool.strip_prefix('@') {
        Some(rest) => match rest.find('@') {
            Some(i) => &tool[..i + 1],
            None => tool,
        },
        None => tool.split('@').next().unwrap_or(tool),
    }
}

/// `--dry-run` for certain: not `--dry-run=false`, and not `--dry-run "$X"`, whose value
/// (and so whether anything is published) is decided at run time.
pub fn is_dry_run(args: &[Word]) -> bool {
    args.iter().enumerate().any(|(i, w)| {
        let t = w.text.to_ascii_lowercase();
        let flag = t == "--dry-run" || t == "--dryrun" || t == "--dry_run";
        let valued = args
            .get(i + 1)
            .is_some_and(|n| n.text.contains('$') || n.text == "false" || n.text == "true");
        (flag && !valued)
            || t == "--dry-run=true"
            || (flag && args.get(i + 1).is_some_and(|n| n.text == "true"))
    })
}

/// `npm config set registry X` (or `registry=X`, pnpm/yarn alike): the registry host set.
fn config_set_registry(argv: &[Word]) -> Option<String> {
    let name = argv.first()?.text.as_str();
    if !matches!(name, "npm" | "pnpm" | "yarn") {
        return None;
    }
    let words: Vec<&str> = argv.iter().skip(1).map(|w| w.text.as_str()).collect();
    let rest = match words.as_slice() {
        ["config", "set", rest @ ..] => rest,
        _ => return None,
    };
    match rest {
        [kv, ..] if kv.starts_with("registry=") || kv.starts_with("npmRegistryServer=") => {
            host_of(kv.split_once('=')?.1)
        }
        [k, v, ..] if *k == "registry" || *k == "npmRegistryServer" => host_of(v),
        _ => None,
    }
}

/// The words after the script name (without a leading `--`), as the script receives them.
fn script_args(args: &[Word], script_at: usize) -> String {
    let rest = args.get(script_at..).unwrap_or_default();
    let rest = match rest.first() {
        Some(w) if w.text == "--" => &rest[1..],
        _ => rest,
    };
    rest.iter()
        .filter(|w| !w.text.contains(['\'', '"', ';', '&', '|', '`', '$']))
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn registry_arg(args: &[Word]) -> Option<String> {
    for (i, w) in args.iter().enumerate() {
        if let Some(v) = w.text.strip_prefix("--registry=") {
            return host_of(v);
        }
        if w.text == "--registry" {
            return args.get(i + 1).and_then(|n| host_of(&n.text));
        }
    }
    None
}

/// Flags of npm/pnpm/yarn that take a separate value.
fn takes_value(flag: &str) -> bool {
    matches!(
        flag,
        "--filter"
            | "-F"
            | "--dir"
            | "-C"
            | "--workspace"
            | "-w"
            | "--prefix"
            | "--registry"
            | "--tag"
            | "--access"
            | "--otp"
            | "--cwd"
            | "--loglevel"
            | "-p"
            | "--package"
            | "--include"
            | "--exclude"
            | "--from"
            | "--since"
            | "--scope"
            | "--ignore"
    )
}

/// Positional arguments (flags and their values skipped), with their indices.
pub fn positionals(args: &[Word]) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let t = args[i].text.as_str();
        if t == "--" {
            break;
        }
        if t.starts_with('-') {
            i += if !t.contains('=') && takes_value(t) {
                2
            } else {
                1
            };
            continue;
        }
        out.push((i, t));
        i += 1;
    }
    out
}

/// The value of a flag (`--filter x`, `--filter=x`).
fn flag_value<'w>(args: &'w [Word], names: &[&str]) -> Option<&'w str> {
    for (i, w) in args.iter().enumerate() {
        let t = w.text.as_str();
        if t == "--" {
            break;
        }
        for n in names {
            if t == *n {
                return args.get(i + 1).map(|v| v.text.as_str());
            }
            if let Some(v) = t.strip_prefix(n).and_then(|r| r.strip_prefix('=')) {
                return Some(v);
            }
        }
    }
    None
}

fn has_flag(args: &[Word], names: &[&str]) -> bool {
    args.iter()
        .take_while(|w| w.text != "--")
        .any(|w| names.contains(&w.text.as_str()))
}

/// A script name that says it publishes (used when its body cannot be read).
pub fn publishy_script(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    // `pre-publish`, `prepublishOnly`, `post_publish`: steps around a publish, not one.
    let compact = n.replace(['-', '_', ':', '.'], "");
    n.contains("publish")
        && !compact.contains("prepublish")
        && !compact.contains("postpublish")
        && !n.contains("doc")
        && !n.contains("storybook")
}

/// Package-manager subcommands that are not script names.
fn is_builtin(pm: Pm, sub: &str) -> bool {
    const COMMON: &[&str] = &[
        "install",
        "i",
        "add",
        "remove",
        "rm",
        "ci",
        "config",
        "set",
        "get",
        "audit",
        "outdated",
        "link",
        "why",
        "version",
        "info",
        "view",
        "pack",
        "cache",
        "store",
        "init",
        "create",
        "login",
        "logout",
        "whoami",
        "dedupe",
        "prune",
        "rebuild",
        "up",
        "upgrade",
        "update",
        "import",
        "patch",
        "setup",
        "env",
        "bin",
        "root",
        "list",
        "ls",
        "licenses",
        "owner",
        "tag",
        "dist-tag",
        "team",
        "access",
        "unpublish",
        "deprecate",
        "fetch",
        "node",
        "plugin",
        "constraints",
        "explain",
        "token",
        "help",
        "--version",
        "-v",
        "uninstall",
    ];
    COMMON.contains(&sub)
        || (pm == Pm::Npm && !matches!(sub, "test" | "start" | "stop" | "restart"))
}

/// Make a path inside the repository from `cwd` and a relative path; `None` when it is
/// absolute, refers to a home directory or a variable, or leaves the root.
fn join(cwd: &str, path: &str) -> Option<String> {
    if path.starts_with('/') || path.starts_with('~') || path.contains('$') || path.is_empty() {
        return None;
    }
    let mut parts: Vec<&str> = cwd
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            _ => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

fn file_in(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn abbreviate(s: &str) -> String {
    let s = crate::facts::redact(s.trim());
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 80 {
        format!("{}…", one_line.chars().take(77).collect::<String>())
    } else {
        one_line
    }
}

/// A JSON-ish view of a YAML node (for release-tool configs written in YAML).
fn yaml_to_json(forest: &Forest, node: NodeId, depth: usize) -> serde_json::Value {
    if depth > 32 {
        return serde_json::Value::Null;
    }
    match &forest.node(node).kind {
        Kind::Scalar(s, _) => match &**s {
            "true" => serde_json::Value::Bool(true),
            "false" => serde_json::Value::Bool(false),
            other => serde_json::Value::String(other.to_string()),
        },
        Kind::Seq(items) => serde_json::Value::Array(
            items
                .iter()
                .map(|i| yaml_to_json(forest, *i, depth + 1))
                .collect(),
        ),
        Kind::Map(entries) => serde_json::Value::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    (
                        forest.text(*k).to_string(),
                        yaml_to_json(forest, *v, depth + 1),
                    )
                })
                .collect(),
        ),
    }
}

impl<'a> Follower<'a> {
    /// Recognise publishes in commands only; package scripts are judged by their names.
    pub fn config_only() -> Follower<'static> {
        Follower {
            files: None,
            limits: Limits::default(),
            cache: Cache::Owned(RepoCache::default()),
            active: RefCell::default(),
            files_read: Cell::new(0),
            commands: Cell::new(0),
        }
    }

    /// Follow commands into the repository that `files` reads from.
    pub fn repo(files: &'a dyn FileSource, limits: Limits) -> Follower<'a> {
        Follower {
            files: Some(files),
            limits,
            ..Follower::config_only()
        }
    }

    /// Like [`Follower::repo`], learning through a cache shared with the other files of
    /// the same repository.
    pub fn shared(files: &'a dyn FileSource, limits: Limits, cache: &'a RepoCache) -> Follower<'a> {
        Follower {
            files: Some(files),
            limits,
            cache: Cache::Shared(cache),
            active: RefCell::default(),
            files_read: Cell::new(0),
            commands: Cell::new(0),
        }
    }

    pub fn is_repo_aware(&self) -> bool {
        self.files.is_some()
    }

    /// Start following `key` (a file or script); false when it is already being followed
    /// (a cycle) or the depth limit is reached. Pair with [`Follower::leave`].
    pub fn enter(&self, key: &str) -> bool {
        let mut active = self.active.borrow_mut();
        if active.iter().any(|k| k == key) || active.len() >= self.limits.max_depth {
            return false;
        }
        active.push(key.to_string());
        true
    }

    pub fn leave(&self) {
        self.active.borrow_mut().pop();
    }

    /// A repository file's text (bounded, text only), cached.
    pub fn read(&self, path: &str) -> Option<Arc<str>> {
        let files = self.files?;
        if let Some(t) = lock(&self.cache.get().texts).get(path) {
            return t.clone();
        }
        let text = if self.files_read.get() >= self.limits.max_files {
            None
        } else {
            self.files_read.set(self.files_read.get() + 1);
            files
                .read(path)
                .ok()
                .filter(|t| t.len() <= self.limits.max_file_bytes && !t.contains('\0'))
                .map(Arc::from)
        };
        lock(&self.cache.get().texts).insert(path.to_string(), text.clone());
        text
    }

    fn package(&self, dir: &str) -> Option<Arc<Package>> {
        if let Some(p) = lock(&self.cache.get().packages).get(dir) {
            return p.clone();
        }
        let path = file_in(dir, "package.json");
        let pkg = self.read(&path).and_then(|text| {
            let json: serde_json::Value = serde_json::from_str(&text).ok()?;
            json.is_object().then(|| {
                Arc::new(Package {
                    path: path.clone(),
                    text,
                    json,
                })
            })
        });
        lock(&self.cache.get().packages).insert(dir.to_string(), pkg.clone());
        pkg
    }

    fn tick(&self) -> bool {
        let n = self.commands.get() + 1;
        self.commands.set(n);
        n <= self.limits.max_commands
    }

    /// Does this command publish a package, directly or through what it runs?
    /// `argv` is the command without wrappers such as `sudo`/`env`; `cwd` is the
    /// repository-relative directory it runs in ("" for the root).
    pub fn command(&self, argv: &[Word], cwd: &str, depth: usize) -> Option<Found> {
        let first = argv.first()?;
        if depth > self.limits.max_depth || !self.tick() || is_dry_run(argv) {
            return None;
        }
        let span = (first.start, argv.last().map(|w| w.end).unwrap_or(first.end));
        let at = |k: usize| -> (usize, usize) {
            (first.start, argv.get(k).map(|w| w.end).unwrap_or(first.end))
        };
        let mk = |client: Client, what: &str, k: usize| {
            let (start, end) = at(k);
            let mut f = Found::new(client, format!("`{what}`"), start, end);
            f.registry = registry_arg(argv);
            f
        };
        // A nested result takes this command's span.
        let outer = |mut f: Found| {
            f.start = span.0;
            f.end = span.1;
            f
        };
        let raw = first.text.as_str();
        let name = strip_version(raw.rsplit('/').next().unwrap_or(""));
        let args = &argv[1..];
        let pos = positionals(args);
        let sub = pos.first().map(|(_, s)| *s).unwrap_or("");

        // A file in the repository run by path.
        if (raw.starts_with("./") || raw.starts_with("../") || raw.contains('/'))
            && !raw.starts_with('/')
            && !raw.contains("node_modules/.bin/")
        {
            return self.file(raw, cwd, depth).map(outer);
        }

        match name {
            "npx" | "pnpx" | "bunx" => {
                let (i, _) = *pos.first()?;
                return self.command(&args[i..], cwd, depth + 1).map(|mut p| {
                    p.start = first.start;
                    p.what = format!("`{name} {}`", p.what.trim_matches('`'));
                    p
                });
            }
            "npm" | "pnpm" | "yarn" | "bun" => {
                let pm = Pm::of(name)?;
                return self.package_manager(pm, argv, cwd, depth);
            }
            "sh" | "bash" | "zsh" | "dash" => {
                if let Some(c) = flag_value(args, &["-c"]).or_else(|| {
                    args.iter()
                        .position(|w| w.text.starts_with('-') && w.text.ends_with('c'))
                        .and_then(|i| args.get(i + 1))
                        .map(|w| w.text.as_str())
                }) {
                    return self.inline(c, cwd, depth).map(outer);
                }
                let (_, file) = *pos.first()?;
                return self.file(file, cwd, depth).map(outer);
            }
            "source" | "." => {
                let (_, file) = *pos.first()?;
                return self.file(file, cwd, depth).map(outer);
            }
            "node" | "tsx" | "ts-node" | "zx" | "esno" | "vite-node" | "tsn" | "jiti" => {
                // A script asked only to check or rehearse does not publish.
                if has_flag(
                    args,
                    &[
                        "--check",
                        "--check-only",
                        "--verify",
                        "--dry-run",
                        "--dryrun",
                    ],
                ) {
                    return None;
                }
                let (_, file) = *pos.first()?;
                return self.js_file(file, cwd, depth).map(outer);
            }
            "deno" if sub == "run" => {
                let (_, file) = *pos.get(1)?;
                return self.js_file(file, cwd, depth).map(outer);
            }
            "xargs" => {
                let mut i = 0;
                while let Some(w) = args.get(i) {
                    let t = w.text.as_str();
                    if !t.starts_with('-') {
                        break;
                    }
                    i += if matches!(t, "-I" | "-n" | "-P" | "-L" | "-d" | "-E" | "-s") {
                        2
                    } else {
                        1
                    };
                }
                return self.command(args.get(i..)?, cwd, depth + 1).map(|mut f| {
                    f.recursive = true;
                    outer(f)
                });
            }
            "nix-shell" => {
                let run = flag_value(args, &["--run", "--command"])?;
                return self.inline(run, cwd, depth).map(outer);
            }
            "nix" | "devbox" | "poetry" | "pipenv" | "uv"
                if matches!(sub, "develop" | "shell" | "run") =>
            {
                let i = args
                    .iter()
                    .position(|w| matches!(w.text.as_str(), "-c" | "--command" | "--"))?;
                return self.command(args.get(i + 1..)?, cwd, depth + 1).map(outer);
            }
            "cross-env" | "dotenv" | "with-env" | "op" | "doppler" | "infisical" => {
                let i = match args.iter().position(|w| w.text == "--") {
                    Some(i) => i + 1,
                    None => args
                        .iter()
                        .position(|w| !w.text.starts_with('-') && !shell::is_assignment(&w.text))
                        .filter(|_| name == "cross-env")?,
                };
                return self.command(args.get(i..)?, cwd, depth + 1).map(outer);
            }
            "make" | "gmake" | "$(MAKE)" | "${MAKE}" => {
                let target = pos.first().map(|p| p.1).unwrap_or("");
                let dir = flag_value(args, &["-C"]).and_then(|d| join(cwd, d));
                return self
                    .make(dir.as_deref().unwrap_or(cwd), target, depth)
                    .map(outer);
            }
            "lerna" => match sub {
                "publish" => {
                    let mut f = mk(Client::Lerna, "lerna publish", 1 + pos[0].0);
                    f.recursive = true;
                    if let Some(h) = self.lerna_registry(&mut f.chain)
                        && f.registry.is_none()
                    {
                        f.registry = Some(h);
                    }
                    return Some(f);
                }
                "exec" => {
                    let i = args.iter().position(|w| w.text == "--")?;
                    return self
                        .command(args.get(i + 1..)?, cwd, depth + 1)
                        .map(|mut f| {
                            f.recursive = true;
                            outer(f)
                        });
                }
                "run" => {
                    let script = pos.get(1)?.1;
                    return self
                        .run_everywhere(Pm::Npm, script, Scope::All, cwd, depth)
                        .map(outer);
                }
                _ => return None,
            },
            "turbo" => {
                let script = if sub == "run" { pos.get(1)?.1 } else { sub };
                let scope = flag_value(args, &["--filter", "-F"])
                    .map(|f| Scope::Filter(f.to_string()))
                    .unwrap_or(Scope::All);
                return self
                    .run_everywhere(Pm::Npm, script, scope, cwd, depth)
                    .map(outer);
            }
            "nx" => {
                if sub == "release"
                    && (pos.get(1).map(|p| p.1) == Some("publish")
                        || (pos.len() == 1 && !has_flag(args, &["--skip-publish"])))
                {
                    let mut f = mk(
                        Client::NxRelease,
                        "nx release publish",
                        1 + pos.last().map(|p| p.0).unwrap_or(0),
                    );
                    f.recursive = true;
                    self.config_hop(&mut f.chain, "nx.json", "release");
                    return Some(f);
                }
                if sub == "run-many" || sub == "affected" {
                    let target = flag_value(args, &["--target", "-t", "--targets"])?;
                    let target = target.split(',').next().unwrap_or(target);
                    return self
                        .run_everywhere(Pm::Npm, target, Scope::All, cwd, depth)
                        .map(outer);
                }
                return None;
            }
            _ => {}
        }
        self.tool(name, argv, &pos, cwd, mk)
    }

    /// Release tools and other publishing binaries.
    fn tool(
        &self,
        name: &str,
        argv: &[Word],
        pos: &[(usize, &str)],
        cwd: &str,
        mk: impl Fn(Client, &str, usize) -> Found,
    ) -> Option<Found> {
        let sub = pos.first().map(|(_, s)| *s).unwrap_or("");
        let with_config = |mut f: Found, cfg: ToolConfig| -> Option<Found> {
            match cfg {
                ToolConfig::NoNpm => None,
                ToolConfig::Unknown => Some(f),
                ToolConfig::Publishes {
                    hop,
                    registry,
                    confidence,
                } => {
                    f.chain.extend(hop);
                    if f.registry.is_none() {
                        f.registry = registry;
                    }
                    f.confidence = f.confidence.min(confidence);
                    Some(f)
                }
            }
        };
        match name {
            "semantic-release" | "multi-semantic-release" => {
                let f = mk(Client::SemanticRelease, "semantic-release", 0);
                with_config(f, self.semantic_release(cwd, argv))
            }
            "changeset" | "changesets" if sub == "publish" => {
                let mut f = mk(Client::Changesets, "changeset publish", 1 + pos[0].0);
                f.recursive = true;
                self.config_hop(&mut f.chain, ".changeset/config.json", "");
                Some(f)
            }
            "auto" if sub == "shipit" => Some(mk(Client::Auto, "auto shipit", 1 + pos[0].0)),
            "np" => Some(mk(Client::Np, "np", 0)),
            "release-it" => {
                let f = mk(Client::ReleaseIt, "release-it", 0);
                with_config(f, self.release_it(cwd))
            }
            "clean-publish" => Some(mk(Client::CleanPublish, "clean-publish", 0)),
            _ => None,
        }
    }

    /// `npm …`, `pnpm …`, `yarn …`, `bun …`.
    fn package_manager(&self, pm: Pm, argv: &[Word], cwd: &str, depth: usize) -> Option<Found> {
        let first = argv.first()?;
        let args = &argv[1..];
        let name = pm.as_str();
        let pos = positionals(args);
        let (i0, s0) = pos.first().copied()?;
        let span = (first.start, argv.last().map(|w| w.end).unwrap_or(first.end));
        let at = |k: usize| (first.start, argv.get(k).map(|w| w.end).unwrap_or(first.end));
        let cwd_flag =
            flag_value(args, &["--dir", "-C", "--prefix", "--cwd"]).and_then(|d| join(cwd, d));
        let cwd = cwd_flag.as_deref().unwrap_or(cwd);
        let recursive_flag = has_flag(args, &["-r", "--recursive", "--workspaces", "-ws"]);
        let filter = flag_value(args, &["--filter", "-F", "--workspace", "-w"]);
        let scope = match filter {
            Some(f) if !(pm == Pm::Npm && f.is_empty()) => Scope::Filter(f.to_string()),
            _ if recursive_flag => Scope::All,
            _ => Scope::Here,
        };
        let direct = |client: Client, what: String, k: usize| {
            let (start, end) = at(k);
            let mut f = Found::new(client, what, start, end);
            f.registry = registry_arg(argv).or_else(|| self.registry_at(cwd, pm));
            f.recursive = !matches!(scope, Scope::Here);
            if let Some(hop) = self.registry_hop(cwd) {
                f.chain.push(hop);
            }
            Some(f)
        };
        let outer = |mut f: Found| {
            f.start = span.0;
            f.end = span.1;
            f
        };
        match s0 {
            "publish" => {
                let client = match pm {
                    Pm::Npm => Client::Npm,
                    Pm::Pnpm => Client::Pnpm,
                    Pm::Yarn => Client::YarnClassic,
                    Pm::Bun => Client::Bun,
                };
                let what = if recursive_flag {
                    format!("`{name} publish --recursive`")
                } else {
                    format!("`{name} publish`")
                };
                direct(client, what, 1 + i0)
            }
            "stage" if pos.get(1).map(|p| p.1) == Some("publish") => {
                direct(Client::Npm, format!("`{name} stage publish`"), 1 + pos[1].0)
            }
            "npm" if pm == Pm::Yarn && pos.get(1).map(|p| p.1) == Some("publish") => {
                direct(Client::YarnBerry, "`yarn npm publish`".into(), 1 + pos[1].0)
            }
            "workspaces" if pm == Pm::Yarn => {
                // yarn workspaces foreach [flags] (npm publish | run X | exec cmd | X)
                let rest: Vec<&str> = pos.iter().skip(1).map(|p| p.1).collect();
                match rest.as_slice() {
                    ["foreach", "npm", "publish", ..] => {
                        let k = pos.get(3).map(|p| p.0).unwrap_or(i0);
                        let (start, end) = at(1 + k);
                        let mut f = Found::new(
                            Client::YarnBerry,
                            "`yarn workspaces foreach npm publish`".into(),
                            start,
                            end,
                        );
                        f.recursive = true;
                        Some(f)
                    }
                    ["foreach", "exec", ..] => {
                        let k = pos.get(2)?.0;
                        self.command(args.get(k + 1..)?, cwd, depth + 1).map(outer)
                    }
                    ["foreach", "run", script, ..] | ["foreach", script, ..] => self
                        .run_everywhere(pm, script, Scope::All, cwd, depth)
                        .map(outer),
                    ["run", script, ..] => self
                        .run_everywhere(pm, script, Scope::All, cwd, depth)
                        .map(outer),
                    _ => None,
                }
            }
            "workspace" if pm == Pm::Yarn => {
                let ws = pos.get(1)?.1;
                let script = pos.get(2)?.1;
                if script == "exec" || script == "run" && pos.get(3).is_none() {
                    let k = pos.get(2)?.0;
                    return self.command(args.get(k + 1..)?, cwd, depth + 1).map(outer);
                }
                let script = if script == "run" {
                    pos.get(3)?.1
                } else {
                    script
                };
                if script == "publish" || script == "npm" {
                    let (start, end) = at(1 + pos.get(2)?.0);
                    return Some(Found::new(
                        Client::YarnBerry,
                        format!("`yarn workspace {ws} npm publish`"),
                        start,
                        end,
                    ));
                }
                self.run_everywhere(pm, script, Scope::Filter(ws.to_string()), cwd, depth)
                    .map(outer)
            }
            "exec" | "dlx" | "x" => {
                // The command starts at the first positional after the subcommand
                // (`pnpm dlx --package a --package b lerna publish`).
                let rest = args.get(i0 + 1..)?;
                let start = rest
                    .iter()
                    .position(|w| w.text == "--")
                    .map(|i| i + 1)
                    .or_else(|| positionals(rest).first().map(|p| p.0))?;
                self.command(rest.get(start..)?, cwd, depth + 1)
                    .map(|mut f| {
                        f.start = first.start;
                        if !matches!(scope, Scope::Here) {
                            f.recursive = true;
                        }
                        f
                    })
            }
            "run" | "run-script" => {
                let (_, script) = *pos.get(1)?;
                self.script_or_name(
                    pm,
                    script,
                    scope,
                    cwd,
                    depth,
                    at(1 + pos[1].0),
                    format!("{name} run {script}"),
                    &script_args(args, 1 + pos[1].0),
                )
            }
            _ if pm == Pm::Npm && !matches!(s0, "test" | "start" | "stop" | "restart") => None,
            _ if is_builtin(pm, s0) => None,
            _ => {
                // `yarn release`, `pnpm ci:ship`: a script, else a package binary
                // (`pnpm changeset publish`, `yarn semantic-release`).
                if let Some(f) = self.script_or_name(
                    pm,
                    s0,
                    scope.clone(),
                    cwd,
                    depth,
                    at(1 + i0),
                    format!("{name} {s0}"),
                    &script_args(args, 1 + i0),
                ) {
                    return Some(f);
                }
                if self.files.is_some()
                    && let Some(pkg) = self.package_for(cwd)
                    && pkg.script(s0).is_some()
                {
                    return None;
                }
                self.command(args.get(i0..)?, cwd, depth + 1).map(|mut p| {
                    p.start = first.start;
                    p.what = format!("`{name} {}`", p.what.trim_matches('`'));
                    p
                })
            }
        }
    }

    /// The nearest package.json at or above `cwd`.
    fn package_for(&self, cwd: &str) -> Option<Arc<Package>> {
        let mut dir = cwd.to_string();
        loop {
            if let Some(p) = self.package(&dir) {
                return Some(p);
            }
            if dir.is_empty() {
                return None;
            }
            dir = match dir.rfind('/') {
                Some(i) => dir[..i].to_string(),
                None => String::new(),
            };
        }
    }

    /// Follow a package script; without the repository judge it by its name.
    #[allow(clippy::too_many_arguments)]
    fn script_or_name(
        &self,
        pm: Pm,
        script: &str,
        scope: Scope,
        cwd: &str,
        depth: usize,
        span: (usize, usize),
        label: String,
        args: &str,
    ) -> Option<Found> {
        let by_name = || {
            publishy_script(script).then(|| {
                let mut f = Found::new(Client::NamedScript, format!("`{label}`"), span.0, span.1);
                f.confidence = Confidence::Medium;
                f
            })
        };
        let result = match scope {
            Scope::Here => self.run_script(pm, script, args, cwd, depth),
            other => match self.run_everywhere(pm, script, other, cwd, depth) {
                Some(f) => ScriptResult::Found(f),
                None if self.files.is_some() && self.package(cwd).is_some() => {
                    ScriptResult::NoPublish
                }
                None => ScriptResult::Unknown,
            },
        };
        match result {
            ScriptResult::Found(mut f) => {
                f.start = span.0;
                f.end = span.1;
                Some(f)
            }
            // The script exists and nothing it runs could be seen to publish; when its
            // name says it publishes, what it runs was opaque (a JS API, an unknown
            // binary): a publish by name, with low confidence.
            ScriptResult::NoPublish => by_name().map(|mut f| {
                f.confidence = Confidence::Low;
                if let Some(pkg) = self.package_for(cwd) {
                    f.chain.push(Hop {
                        file: pkg.path.clone(),
                        line: pkg.line_of_key(Some("scripts"), script),
                        what: abbreviate(&format!(
                            "\"{script}\": \"{}\"",
                            pkg.script(script).unwrap_or("")
                        )),
                    });
                }
                f
            }),
            ScriptResult::Unknown => {
                if self.files.is_some() && self.package_for(cwd).is_some() {
                    // The package exists and has no such script: not a publish.
                    None
                } else {
                    by_name()
                }
            }
        }
    }

    /// Run `script` in the package at `cwd` (with npm/yarn/bun `pre`/`post` hooks).
    fn run_script(
        &self,
        pm: Pm,
        script: &str,
        args: &str,
        cwd: &str,
        depth: usize,
    ) -> ScriptResult {
        if self.files.is_none() {
            return ScriptResult::Unknown;
        }
        let Some(pkg) = self.package_for(cwd) else {
            return ScriptResult::Unknown;
        };
        if pkg.script(script).is_none() {
            return ScriptResult::Unknown;
        }
        let dir = pkg
            .path
            .strip_suffix("package.json")
            .unwrap_or("")
            .trim_end_matches('/')
            .to_string();
        let hooks = matches!(pm, Pm::Npm | Pm::Yarn | Pm::Bun);
        let names: Vec<String> = if hooks {
            vec![
                format!("pre{script}"),
                script.to_string(),
                format!("post{script}"),
            ]
        } else {
            vec![script.to_string()]
        };
        for n in &names {
            // Arguments after the script name go to the script itself, not its hooks.
            let extra = if n == script { args } else { "" };
            if let Some(f) = self.one_script(&pkg, &dir, n, extra, depth) {
                return ScriptResult::Found(f);
            }
        }
        ScriptResult::NoPublish
    }

    fn one_script(
        &self,
        pkg: &Package,
        dir: &str,
        name: &str,
        args: &str,
        depth: usize,
    ) -> Option<Found> {
        let script_body = pkg.script(name)?;
        let key = format!("script:{}#{name} {args}", pkg.path);
        if self.active.borrow().contains(&key) {
            return None;
        }
        if let Some(m) = lock(&self.cache.get().memo).get(&key) {
            return m.clone();
        }
        self.active.borrow_mut().push(key.clone());
        let body = if args.is_empty() {
            script_body.to_string()
        } else {
            format!("{script_body} {args}")
        };
        let found = self.inline(&body, dir, depth + 1).map(|mut f| {
            f.chain.insert(
                0,
                Hop {
                    file: pkg.path.clone(),
                    line: pkg.line_of_key(Some("scripts"), name),
                    what: abbreviate(&format!("\"{name}\": \"{script_body}\"")),
                },
            );
            f
        });
        self.active.borrow_mut().pop();
        lock(&self.cache.get().memo).insert(key, found.clone());
        found
    }

    /// Run `script` in the workspace packages that `scope` selects (then the root).
    fn run_everywhere(
        &self,
        pm: Pm,
        script: &str,
        scope: Scope,
        cwd: &str,
        depth: usize,
    ) -> Option<Found> {
        self.files?;
        let dirs = self.workspace_dirs();
        let filter = match &scope {
            Scope::Filter(f) => {
                let f = f
                    .trim_start_matches("./")
                    .trim_end_matches("...")
                    .trim_start_matches("...");
                Some(f.trim_matches(['{', '}']).to_string())
            }
            _ => None,
        };
        let slash_f = filter.as_deref().map(|f| format!("/{f}"));
        let selected = dirs.iter().filter(|(d, name)| match &filter {
            Some(f) => {
                let f = f.as_str();
                let glob = f.strip_suffix('*');
                match glob {
                    Some(prefix) => {
                        d.starts_with(prefix)
                            || name.as_deref().is_some_and(|n| n.starts_with(prefix))
                    }
                    None => {
                        d.as_str() == f
                            || slash_f.as_deref().is_some_and(|s| d.ends_with(s))
                            || name.as_deref() == Some(f)
                    }
                }
            }
            None => true,
        });
        for (d, _) in selected.take(self.limits.max_packages) {
            if let Some(pkg) = self.package(d)
                && pkg.script(script).is_some()
                && let ScriptResult::Found(f) = self.run_script(pm, script, "", d, depth)
            {
                let mut f = f;
                f.recursive = true;
                return Some(f);
            }
        }
        match self.run_script(pm, script, "", cwd, depth) {
            ScriptResult::Found(f) => Some(f),
            _ => None,
        }
    }

    /// Workspace package directories from package.json `workspaces`, pnpm-workspace.yaml
    /// and lerna.json.
    fn workspace_dirs(&self) -> Workspaces {
        if let Some(w) = lock(&self.cache.get().workspaces).as_ref() {
            return w.clone();
        }
        let mut patterns: Vec<String> = Vec::new();
        if let Some(root) = self.package("") {
            let ws = root.json.get("workspaces");
            let list = ws.and_then(|w| w.as_array()).or_else(|| {
                ws.and_then(|w| w.get("packages"))
                    .and_then(|p| p.as_array())
            });
            for p in list.into_iter().flatten() {
                if let Some(s) = p.as_str() {
                    patterns.push(s.to_string());
                }
            }
        }
        if let Some(text) = self.read("pnpm-workspace.yaml") {
            let mut forest = Forest::default();
            if let Ok(root) = forest.parse("pnpm-workspace.yaml", &text)
                && forest.is_map(root)
                && let Some(pk) = forest.get(root, "packages")
            {
                for (_, s) in forest.str_or_list(pk) {
                    patterns.push(s.to_string());
                }
            }
        }
        if let Some(text) = self.read("lerna.json")
            && let Ok(json) = serde_json::from_str::<serde_json::Value>(&text)
        {
            for p in json
                .get("packages")
                .and_then(|p| p.as_array())
                .into_iter()
                .flatten()
            {
                if let Some(s) = p.as_str() {
                    patterns.push(s.to_string());
                }
            }
        }
        let mut dirs: Vec<String> = Vec::new();
        for p in patterns {
            if p.starts_with('!') {
                continue;
            }
            let p = p.trim_start_matches("./").trim_end_matches('/');
            let p = p
                .strip_suffix("/**")
                .map(|s| format!("{s}/*"))
                .unwrap_or(p.to_string());
            if let Some(parent) = p.strip_suffix("/*").or((p == "*").then_some("")) {
                if parent.contains('*') {
                    continue;
                }
                if let Some(files) = self.files
                    && let Ok(mut names) = files.list(parent)
                {
                    names.sort();
                    for n in names.into_iter().take(self.limits.max_packages) {
                        dirs.push(file_in(parent, &n));
                    }
                }
            } else if !p.contains('*') {
                dirs.push(p.to_string());
            }
            if dirs.len() >= self.limits.max_packages {
                break;
            }
        }
        dirs.dedup();
        let dirs: Vec<(String, Option<String>)> = dirs
            .into_iter()
            .map(|d| {
                let name = self.package(&d).and_then(|p| p.name().map(str::to_string));
                (d, name)
            })
            .collect();
        let dirs = Arc::new(dirs);
        *lock(&self.cache.get().workspaces) = Some(dirs.clone());
        dirs
    }

    /// A shell string (a package script body, `sh -c`): the first publishing command.
    fn inline(&self, text: &str, cwd: &str, depth: usize) -> Option<Found> {
        self.walk(text, None, cwd, depth)
    }

    /// Walk a shell script; `file` names it when it is a repository file (each hop then
    /// records the command's line).
    fn walk(&self, text: &str, file: Option<&str>, cwd: &str, depth: usize) -> Option<Found> {
        if depth > self.limits.max_depth {
            return None;
        }
        let script = shell::parse(text);
        let mut dir = cwd.to_string();
        let mut found: Option<Found> = None;
        let mut credential: Option<ScriptCredential> = None;
        let mut registry: Option<String> = None;
        let mut previous = String::new();
        script.walk(&mut |c, nesting| {
            if found.is_some() {
                return;
            }
            let snippet = text.get(c.start..c.end).unwrap_or("");
            // A whole .npmrc written from a token variable (`echo "$NPM_TOKEN" | base64 -d
            // > ~/.npmrc`): the redirect is on the last command of the pipeline.
            let piped_from = if c.after == shell::Joiner::Pipe {
                previous.as_str()
            } else {
                ""
            };
            let feeding = format!("{piped_from} {snippet}");
            previous = snippet.to_string();
            if credential.is_none()
                && c.writes_to(|t| t.ends_with(".npmrc")).is_some()
                && let Some(var) = NPMRC_FROM_VAR.find(&feeding)
            {
                credential = Some(ScriptCredential {
                    hop: Hop {
                        file: file.unwrap_or("").to_string(),
                        line: line_at(text, c.start),
                        what: abbreviate(snippet),
                    },
                    source: var.as_str().to_string(),
                    host: None,
                });
            }
            if credential.is_none()
                && let Some(m) = SCRIPT_TOKEN.captures(snippet)
            {
                credential = Some(ScriptCredential {
                    hop: Hop {
                        file: file.unwrap_or("").to_string(),
                        line: line_at(text, c.start),
                        what: abbreviate(snippet),
                    },
                    source: m.get(2).map(|v| v.as_str().to_string()).unwrap_or_default(),
                    host: m.get(1).and_then(|h| host_of(h.as_str())),
                });
            }
            let argv = c.argv();
            if let Some(r) = config_set_registry(argv) {
                registry = Some(r);
                return;
            }
            if nesting == 0
                && c.name() == "cd"
                && let Some(d) = argv.get(1)
            {
                if let Some(j) = join(&dir, &d.text) {
                    dir = j;
                }
                return;
            }
            if let Some(mut f) = self.command(argv, &dir, depth + 1) {
                if f.registry.is_none() {
                    f.registry = registry.clone();
                }
                if let Some(path) = file {
                    let snippet = text.get(c.start..c.end).unwrap_or("");
                    f.chain.insert(
                        0,
                        Hop {
                            file: path.to_string(),
                            line: line_at(text, c.start),
                            what: abbreviate(snippet),
                        },
                    );
                }
                found = Some(f);
            }
        });
        if let Some(f) = found.as_mut()
            && f.credential.is_none()
            && let Some(mut cred) = credential
            && file.is_some()
        {
            cred.hop.file = file.unwrap_or("").to_string();
            f.credential = Some(cred);
        }
        found
    }

    /// A file run by path: a shell script, or JS/TS read as text.
    fn file(&self, path: &str, cwd: &str, depth: usize) -> Option<Found> {
        let lower = path.to_ascii_lowercase();
        if [".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"]
            .iter()
            .any(|e| lower.ends_with(e))
        {
            return self.js_file(path, cwd, depth);
        }
        let rel = join(cwd, path)?;
        let key = format!("file:{rel}");
        if self.active.borrow().contains(&key) {
            return None;
        }
        if let Some(m) = lock(&self.cache.get().memo).get(&key) {
            return m.clone();
        }
        let text = self.read(&rel)?;
        if text.starts_with("#!") && text.lines().next().is_some_and(|l| l.contains("node")) {
            return self.js_text(&rel, &text, cwd, depth);
        }
        self.active.borrow_mut().push(key.clone());
        let found = self.walk(&text, Some(&rel), cwd, depth + 1);
        self.active.borrow_mut().pop();
        lock(&self.cache.get().memo).insert(key, found.clone());
        found
    }

    fn js_file(&self, path: &str, cwd: &str, depth: usize) -> Option<Found> {
        let rel = join(cwd, path)?;
        let text = self.read(&rel)?;
        self.js_text(&rel, &text, cwd, depth).or_else(|| {
            // Nothing readable as a publish, but the file says it publishes: it most
            // likely calls a publishing API (low confidence).
            let name = rel.rsplit('/').next().unwrap_or("");
            publishy_script(name).then(|| {
                let mut f = Found::new(Client::ScriptText, format!("`{rel}`"), 0, 0);
                f.confidence = Confidence::Low;
                f.chain.push(Hop {
                    file: rel.clone(),
                    line: 1,
                    what: "a script named like a publish (no publish command readable)".into(),
                });
                f
            })
        })
    }

    /// JS/TS read as text: a publish command in a string, or a shell script it runs.
    fn js_text(&self, rel: &str, text: &str, cwd: &str, depth: usize) -> Option<Found> {
        let key = format!("js:{rel}");
        if self.active.borrow().contains(&key) || depth > self.limits.max_depth {
            return None;
        }
        for m in JS_PUBLISH.find_iter(text) {
            let line_start = text[..m.start()].rfind('\n').map(|i| i + 1).unwrap_or(0);
            let line_end = text[m.end()..]
                .find('\n')
                .map(|i| m.end() + i)
                .unwrap_or(text.len());
            let line = &text[line_start..line_end];
            if line.contains("--dry-run") || line.trim_start().starts_with("//") {
                continue;
            }
            let word = m.as_str();
            let client = if word.contains("pnpm") {
                Client::Pnpm
            } else if word.contains("yarn") {
                Client::YarnClassic
            } else if word.contains("bun") {
                Client::Bun
            } else {
                Client::Npm
            };
            let mut f = Found::new(client, format!("`{}` (in {rel})", abbreviate(word)), 0, 0);
            f.confidence = Confidence::Low;
            f.chain.push(Hop {
                file: rel.to_string(),
                line: line_at(text, m.start()),
                what: abbreviate(line),
            });
            return Some(f);
        }
        self.active.borrow_mut().push(key);
        let mut found = None;
        for c in JS_SHELL_FILE.captures_iter(text) {
            let Some(p) = c.get(1) else { continue };
            if let Some(mut f) = self.file(p.as_str(), cwd, depth + 1) {
                f.confidence = f.confidence.min(Confidence::Low);
                f.chain.insert(
                    0,
                    Hop {
                        file: rel.to_string(),
                        line: line_at(text, p.start()),
                        what: abbreviate(c.get(0).map(|m| m.as_str()).unwrap_or("")),
                    },
                );
                found = Some(f);
                break;
            }
        }
        self.active.borrow_mut().pop();
        found
    }

    /// A Makefile target's recipe (and its prerequisites).
    fn make(&self, dir: &str, target: &str, depth: usize) -> Option<Found> {
        let rel = ["Makefile", "makefile", "GNUmakefile"]
            .iter()
            .map(|n| file_in(dir, n))
            .find(|p| self.read(p).is_some())?;
        let text = self.read(&rel)?;
        let key = format!("make:{rel}:{target}");
        if self.active.borrow().contains(&key) || depth > self.limits.max_depth {
            return None;
        }
        self.active.borrow_mut().push(key);
        let mut found = None;
        let mut current: Option<&str> = None;
        let mut default_target: Option<&str> = None;
        let mut offset = 0usize;
        let mut prereqs: Vec<String> = Vec::new();
        for line in text.split_inclusive('\n') {
            let start = offset;
            offset += line.len();
            if let Some(recipe) = line.strip_prefix('\t') {
                if current.is_some_and(|t| {
                    t == target || (target.is_empty() && Some(t) == default_target)
                }) {
                    let cmd = recipe.trim().trim_start_matches(['@', '-', '+']);
                    if let Some(mut f) = self.inline(cmd, dir, depth + 1) {
                        f.chain.insert(
                            0,
                            Hop {
                                file: rel.clone(),
                                line: line_at(&text, start),
                                what: abbreviate(cmd),
                            },
                        );
                        found = Some(f);
                        break;
                    }
                }
                continue;
            }
            current = None;
            if let Some((t, rest)) = line.split_once(':')
                && !t.contains(['=', '$', '#', ' '])
                && !rest.starts_with('=')
                && !t.trim().is_empty()
            {
                let t = t.trim();
                if !t.starts_with('.') && default_target.is_none() {
                    default_target = Some(t);
                }
                current = Some(t);
                if t == target || (target.is_empty() && Some(t) == default_target) {
                    prereqs.extend(rest.split_whitespace().map(str::to_string));
                }
            }
        }
        if found.is_none() {
            for p in prereqs.iter().take(32) {
                if let Some(f) = self.make(dir, p, depth + 1) {
                    found = Some(f);
                    break;
                }
            }
        }
        self.active.borrow_mut().pop();
        found
    }

    /// A hop to a tool's config file (the line of `key`, or line 1), when it exists.
    fn config_hop(&self, chain: &mut Vec<Hop>, path: &str, key: &str) {
        if let Some(text) = self.read(path) {
            let line = if key.is_empty() {
                1
            } else {
                line_of_key(&text, None, key)
            };
            chain.push(Hop {
                file: path.to_string(),
                line,
                what: if key.is_empty() {
                    "its config".to_string()
                } else {
                    format!("`{key}`")
                },
            });
        }
    }

    fn lerna_registry(&self, chain: &mut Vec<Hop>) -> Option<String> {
        let text = self.read("lerna.json")?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        let reg = json
            .pointer("/command/publish/registry")
            .or_else(|| json.get("registry"))
            .and_then(|r| r.as_str())?;
        chain.push(Hop {
            file: "lerna.json".into(),
            line: line_of_key(&text, None, "registry"),
            what: format!("registry {reg}"),
        });
        host_of(reg)
    }

    /// The registry a publish from `cwd` goes to, from the package's `publishConfig`,
    /// then `.npmrc`/`.yarnrc.yml` at the package and the root.
    fn registry_at(&self, cwd: &str, pm: Pm) -> Option<String> {
        self.files?;
        if let Some(pkg) = self.package_for(cwd)
            && let Some(r) = pkg
                .json
                .pointer("/publishConfig/registry")
                .and_then(|r| r.as_str())
        {
            return host_of(r);
        }
        let scope = self.package_for(cwd).and_then(|p| {
            p.name()
                .and_then(|n| n.split_once('/'))
                .map(|(s, _)| s.to_string())
        });
        for dir in [cwd, ""] {
            if let Some(text) = self.read(&file_in(dir, ".npmrc")) {
                for line in text.lines() {
                    let line = line.trim();
                    let Some((k, v)) = line.split_once('=') else {
                        continue;
                    };
                    let k = k.trim();
                    let scoped = scope
                        .as_deref()
                        .is_some_and(|s| k == format!("{s}:registry"));
                    if k == "registry" || scoped {
                        return host_of(v);
                    }
                }
            }
            if pm == Pm::Yarn
                && let Some(text) = self.read(&file_in(dir, ".yarnrc.yml"))
            {
                for line in text.lines() {
                    let l = line.trim();
                    for key in ["npmPublishRegistry:", "npmRegistryServer:"] {
                        if let Some(v) = l.strip_prefix(key) {
                            return host_of(v);
                        }
                    }
                }
            }
            if dir.is_empty() {
                break;
            }
        }
        None
    }

    fn registry_hop(&self, cwd: &str) -> Option<Hop> {
        let pkg = self.package_for(cwd)?;
        let r = pkg.json.pointer("/publishConfig/registry")?.as_str()?;
        Some(Hop {
            file: pkg.path.clone(),
            line: pkg.line_of_key(Some("publishConfig"), "registry"),
            what: format!("publishConfig.registry {r}"),
        })
    }

    /// A release tool's config: the first of `names` at `cwd` then the root, else
    /// `package.json#key`. Returns (path, text, parsed value) — JS configs parse to None.
    fn tool_config(
        &self,
        cwd: &str,
        names: &[&str],
        key: &str,
    ) -> Option<(String, Arc<str>, Option<serde_json::Value>)> {
        for dir in [cwd, ""] {
            for n in names {
                let path = file_in(dir, n);
                if let Some(text) = self.read(&path) {
                    let lower = n.to_ascii_lowercase();
                    let value = if lower.ends_with(".json") {
                        serde_json::from_str(&text).ok()
                    } else if lower.ends_with(".yaml")
                        || lower.ends_with(".yml")
                        || !lower.contains('.')
                        || lower.ends_with("rc")
                    {
                        serde_json::from_str(&text).ok().or_else(|| {
                            let mut forest = Forest::default();
                            let root = forest.parse(&path, &text).ok()?;
                            Some(yaml_to_json(&forest, root, 0))
                        })
                    } else {
                        None
                    };
                    return Some((path, text, value));
                }
            }
            if let Some(pkg) = self.package(dir)
                && let Some(v) = pkg.json.get(key)
            {
                return Some((pkg.path.clone(), pkg.text.clone(), Some(v.clone())));
            }
            if dir.is_empty() {
                break;
            }
        }
        None
    }

    /// Whether semantic-release publishes to npm here: `@semantic-release/npm` (or a pnpm
    /// or yarn variant) among the plugins with `npmPublish` not false, a publish in
    /// `@semantic-release/exec`'s `publishCmd`, or the default plugins.
    fn semantic_release(&self, cwd: &str, argv: &[Word]) -> ToolConfig {
        if self.files.is_none() {
            return ToolConfig::Unknown;
        }
        if has_flag(argv, &["--no-ci"]) && has_flag(argv, &["--dry-run", "-d"]) {
            return ToolConfig::NoNpm;
        }
        let names = [
            ".releaserc",
            ".releaserc.json",
            ".releaserc.yaml",
            ".releaserc.yml",
            ".releaserc.js",
            ".releaserc.cjs",
            ".releaserc.mjs",
            "release.config.js",
            "release.config.cjs",
            "release.config.mjs",
            "release.config.ts",
        ];
        let private = self.package_for(cwd).is_some_and(|p| p.private());
        // `--extends ./file.js` names the config to use.
        let extends = flag_value(argv, &["--extends", "-e"])
            .filter(|e| e.starts_with("./") || e.ends_with(".js") || e.ends_with(".json"))
            .and_then(|e| join(cwd, e))
            .and_then(|rel| {
                let text = self.read(&rel)?;
                let value = rel
                    .ends_with(".json")
                    .then(|| serde_json::from_str(&text).ok())
                    .flatten();
                Some((rel, text, value))
            });
        let Some((path, text, value)) =
            extends.or_else(|| self.tool_config(cwd, &names, "release"))
        else {
            if self.package_for(cwd).is_none() {
                return ToolConfig::Unknown;
            }
            if private {
                return ToolConfig::NoNpm;
            }
            return ToolConfig::Publishes {
                hop: None,
                registry: None,
                confidence: Confidence::Medium,
            };
        };
        let Some(value) = value else {
            // A JS config, read as text.
            if text.contains("npmPublish: false") || text.contains("npmPublish:false") {
                return ToolConfig::NoNpm;
            }
            let npm = [
                "@semantic-release/npm",
                "semantic-release-pnpm",
                "semantic-release-yarn",
            ]
            .iter()
            .find_map(|p| text.find(p));
            return match npm {
                Some(at) => ToolConfig::Publishes {
                    hop: Some(Hop {
                        file: path.clone(),
                        line: line_at(&text, at),
                        what: "an npm plugin".into(),
                    }),
                    registry: None,
                    confidence: Confidence::Medium,
                },
                None if !text.contains("plugins") && !private => ToolConfig::Publishes {
                    hop: Some(Hop {
                        file: path.clone(),
                        line: 1,
                        what: "no `plugins`: the defaults include @semantic-release/npm".into(),
                    }),
                    registry: None,
                    confidence: Confidence::Medium,
                },
                None => ToolConfig::NoNpm,
            };
        };
        let Some(plugins) = value.get("plugins").and_then(|p| p.as_array()) else {
            if value.get("extends").is_some() {
                return ToolConfig::Publishes {
                    hop: Some(Hop {
                        file: path.clone(),
                        line: line_of_key(&text, None, "extends"),
                        what: "a shared config (`extends`)".into(),
                    }),
                    registry: None,
                    confidence: Confidence::Medium,
                };
            }
            if private {
                return ToolConfig::NoNpm;
            }
            return ToolConfig::Publishes {
                hop: Some(Hop {
                    file: path.clone(),
                    line: 1,
                    what: "no `plugins`: the defaults include @semantic-release/npm".into(),
                }),
                registry: None,
                confidence: Confidence::High,
            };
        };
        for p in plugins {
            let (name, opts) = match p {
                serde_json::Value::String(s) => (s.as_str(), None),
                serde_json::Value::Array(a) => match a.first().and_then(|n| n.as_str()) {
                    Some(n) => (n, a.get(1)),
                    None => continue,
                },
                _ => continue,
            };
            let npm_like = name == "@semantic-release/npm"
                || name.ends_with("semantic-release-pnpm")
                || name.ends_with("semantic-release-yarn")
                || name.ends_with("/semantic-release-npm");
            if npm_like {
                let off = opts
                    .and_then(|o| o.get("npmPublish"))
                    .and_then(|v| v.as_bool())
                    == Some(false);
                if off || (private && opts.and_then(|o| o.get("npmPublish")).is_none()) {
                    continue;
                }
                return ToolConfig::Publishes {
                    hop: Some(Hop {
                        file: path.clone(),
                        line: line_at(&text, text.find(name).unwrap_or(0)),
                        what: name.to_string(),
                    }),
                    registry: None,
                    confidence: Confidence::High,
                };
            }
            if name == "@semantic-release/exec"
                && let Some(cmd) = opts
                    .and_then(|o| o.get("publishCmd"))
                    .and_then(|c| c.as_str())
                && let Some(f) = self.inline(cmd, cwd, 1)
            {
                let mut chain = vec![Hop {
                    file: path.clone(),
                    line: line_at(&text, text.find("publishCmd").unwrap_or(0)),
                    what: format!("@semantic-release/exec publishCmd `{}`", abbreviate(cmd)),
                }];
                chain.extend(f.chain);
                return ToolConfig::Publishes {
                    hop: chain.into_iter().next(),
                    registry: f.registry,
                    confidence: f.confidence,
                };
            }
        }
        ToolConfig::NoNpm
    }

    /// release-it publishes to npm unless `npm.publish` is false (or the package is private).
    fn release_it(&self, cwd: &str) -> ToolConfig {
        if self.files.is_none() {
            return ToolConfig::Unknown;
        }
        let names = [
            ".release-it.json",
            ".release-it.yaml",
            ".release-it.yml",
            ".release-it.js",
            ".release-it.cjs",
            ".release-it.ts",
            ".release-it.toml",
        ];
        let private = self.package_for(cwd).is_some_and(|p| p.private());
        match self.tool_config(cwd, &names, "release-it") {
            Some((path, text, Some(v))) => {
                if v.pointer("/npm/publish").and_then(|p| p.as_bool()) == Some(false) || private {
                    ToolConfig::NoNpm
                } else {
                    ToolConfig::Publishes {
                        hop: Some(Hop {
                            file: path,
                            line: line_of_key(&text, None, "npm"),
                            what: "release-it config (npm publish on)".into(),
                        }),
                        registry: None,
                        confidence: Confidence::High,
                    }
                }
            }
            Some((path, text, None)) => {
                let compact: String = text.split_whitespace().collect();
                if compact.contains("publish:false") || compact.contains("publish=false") {
                    ToolConfig::NoNpm
                } else {
                    ToolConfig::Publishes {
                        hop: Some(Hop {
                            file: path,
                            line: 1,
                            what: "release-it config".into(),
                        }),
                        registry: None,
                        confidence: Confidence::Medium,
                    }
                }
            }
            None if private => ToolConfig::NoNpm,
            None => ToolConfig::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Mem(BTreeMap<&'static str, &'static str>);

    impl FileSource for Mem {
        fn read(&self, path: &str) -> Result<String, String> {
            self.0
                .get(path)
                .map(|s| s.to_string())
                .ok_or_else(|| format!("{path}: no such file"))
        }
        fn list(&self, dir: &str) -> Result<Vec<String>, String> {
            let prefix = format!("{dir}/");
            let mut out: Vec<String> = self
                .0
                .keys()
                .filter_map(|k| k.strip_prefix(&prefix))
                .filter_map(|r| r.split('/').next())
                .map(str::to_string)
                .collect();
            out.dedup();
            Ok(out)
        }
    }

    fn follow(files: &Mem, cmd: &str) -> Option<Found> {
        let f = Follower::repo(files, Limits::default());
        let s = shell::parse(cmd);
        let mut out = None;
        s.walk(&mut |c, _| {
            if out.is_none() {
                out = f.command(c.argv(), "", 0);
            }
        });
        out
    }

    fn chain(f: &Found) -> Vec<String> {
        f.chain
            .iter()
            .map(|h| format!("{}:{} {}", h.file, h.line, h.what))
            .collect()
    }

    #[test]
    fn package_script_to_semantic_release_config() {
        let files = Mem(BTreeMap::from([
            (
                "package.json",
                "{\n  \"name\": \"x\",\n  \"scripts\": {\n    \"release\": \"semantic-release\"\n  }\n}\n",
            ),
            (
                ".releaserc.json",
                "{\n  \"plugins\": [\n    \"@semantic-release/commit-analyzer\",\n    \"@semantic-release/npm\"\n  ]\n}\n",
            ),
        ]));
        let f = follow(&files, "yarn release").expect("publishes");
        assert_eq!(f.client, Client::SemanticRelease);
        assert_eq!(
            chain(&f),
            [
                "package.json:4 \"release\": \"semantic-release\"",
                ".releaserc.json:4 @semantic-release/npm"
            ]
        );
    }

    #[test]
    fn semantic_release_without_npm_plugin_does_not_publish() {
        let files = Mem(BTreeMap::from([
            (
                "package.json",
                "{\"scripts\": {\"release\": \"semantic-release\"}}",
            ),
            (
                ".releaserc.yml",
                "plugins:\n  - '@semantic-release/github'\n  - - '@semantic-release/npm'\n    - npmPublish: false\n",
            ),
        ]));
        assert!(follow(&files, "npm run release").is_none());
    }

    #[test]
    fn scripts_files_make_and_wrappers() {
        let files = Mem(BTreeMap::from([
            (
                "package.json",
                "{\"scripts\": {\"ci:ship\": \"bash scripts/ship.sh\", \"prerelease\": \"echo hi\", \"loop\": \"npm run loop\"}}",
            ),
            ("scripts/ship.sh", "#!/bin/bash\nset -e\nmake release\n"),
            (
                "Makefile",
                "all:\n\techo\nrelease: build\n\t@cd dist && npm publish --access public\nbuild:\n\ttrue\n",
            ),
        ]));
        let f = follow(&files, "pnpm ci:ship").expect("publishes");
        assert_eq!(f.client, Client::Npm);
        assert_eq!(
            chain(&f),
            [
                "package.json:1 \"ci:ship\": \"bash scripts/ship.sh\"",
                "scripts/ship.sh:3 make release",
                "Makefile:4 cd dist && npm publish --access public"
            ]
        );
        assert!(follow(&files, "npm run loop").is_none(), "a cycle ends");
        assert!(follow(&files, "sh -c 'npm publish'").is_some());
        assert!(follow(&files, "xargs -n1 npm publish").is_some());
        assert!(follow(&files, "nix-shell --run 'pnpm publish -r'").is_some());
        assert!(follow(&files, "npm run nothing").is_none());
        // Without the repository, names decide.
        let f = Follower::config_only();
        let s = shell::parse("npm run publish-all");
        let got = f.command(s.commands[0].argv(), "", 0).expect("by name");
        assert_eq!(got.confidence, Confidence::Medium);
    }

    #[test]
    fn workspaces_and_registries() {
        let files = Mem(BTreeMap::from([
            (
                "package.json",
                "{\"workspaces\": [\"packages/*\"], \"scripts\": {}}",
            ),
            (
                "packages/a/package.json",
                "{\"name\": \"@s/a\", \"scripts\": {\"ship\": \"npm publish\"}, \"publishConfig\": {\"registry\": \"https://npm.pkg.github.com\"}}",
            ),
            (
                "packages/b/package.json",
                "{\"name\": \"@s/b\", \"scripts\": {}}",
            ),
        ]));
        let f = follow(&files, "pnpm -r run ship").expect("publishes");
        assert_eq!(f.registry.as_deref(), Some("npm.pkg.github.com"));
        assert!(f.recursive);
        assert!(follow(&files, "turbo run ship --filter=@s/b").is_none());
    }

    #[test]
    fn registries_extends_and_rehearsals() {
        let files = Mem(BTreeMap::from([
            (
                "scripts/local.sh",
                "npm config set registry=http://localhost:4873\nnpm publish --tag beta\n",
            ),
            ("package.json", "{\"name\": \"x\"}"),
            (
                "vsce.release.config.js",
                "module.exports = {plugins: [['@semantic-release/npm', {npmPublish: false}]]}",
            ),
            ("scripts/check.ts", "execSync('npm publish')"),
        ]));
        let f = follow(&files, "bash scripts/local.sh").expect("publishes");
        assert_eq!(f.registry.as_deref(), Some("localhost"));
        assert!(
            follow(
                &files,
                "npx semantic-release --extends ./vsce.release.config.js"
            )
            .is_none()
        );
        assert!(follow(&files, "node scripts/check.ts --check-only").is_none());
        assert!(follow(&files, "semantic-release --dry-run \"$DRY\"").is_some());
    }

    #[test]
    fn opaque_scripts_named_like_a_publish_are_low_confidence_publishes() {
        let files = Mem(BTreeMap::from([
            (
                "package.json",
                "{\"scripts\": {\"release:publish-packages\": \"node scripts/run.js\", \"prep\": \"node scripts/pre-publish.mjs\"}}",
            ),
            (
                "scripts/run.js",
                "require('./tools').publishPackages({ cwd: '.' })\n",
            ),
            ("scripts/pre-publish.mjs", "console.log('optimise')\n"),
            ("scripts/publish-all.ts", "await releaseTools.publish()\n"),
        ]));
        let f = follow(&files, "npm run release:publish-packages").expect("by name");
        assert_eq!(f.confidence, Confidence::Low);
        assert_eq!(f.chain[0].file, "package.json");
        assert!(follow(&files, "npm run prep").is_none());
        let f = follow(&files, "npx tsx scripts/publish-all.ts").expect("by file name");
        assert_eq!(f.confidence, Confidence::Low);
    }

    #[test]
    fn js_scripts_are_read_as_text_with_low_confidence() {
        let files = Mem(BTreeMap::from([(
            "scripts/publish.ts",
            "import {execSync} from 'child_process'\nexecSync('npm publish --access public')\n",
        )]));
        let f = follow(&files, "npx tsx scripts/publish.ts").expect("publishes");
        assert_eq!(f.confidence, Confidence::Low);
        assert_eq!(f.chain[0].line, 2);
    }
}
