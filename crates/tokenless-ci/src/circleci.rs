//! CircleCI: jobs (with reusable `commands:` expanded, `<< parameters.x >>` substituted,
//! executors resolved to images, orb commands kept as steps with inputs) and workflow
//! entries (context, filters, approvals), plus the rules that read workflows.

use std::collections::HashMap;

use crate::model::{EnvVar, IdTokenDecl, Input, Job, Step, StepKind};
use crate::yaml::{Forest, NodeId};

/// Reusable commands nested deeper than this are not expanded.
const MAX_COMMAND_DEPTH: usize = 12;
/// Steps per job after expansion.
const MAX_STEPS: usize = 5_000;

type Bindings = Vec<(String, String)>;

/// One use of a job in a workflow.
#[derive(Debug, Clone)]
pub struct Entry {
    pub workflow: String,
    pub job: String,
    /// Display name (`name:` or the job name).
    pub name: String,
    pub node: NodeId,
    pub contexts: Vec<(String, NodeId)>,
    /// The `filters` key and its value.
    pub filters: Option<(NodeId, NodeId)>,
    /// The workflow has a `when:`/`unless:` condition or triggers.
    pub workflow_conditional: bool,
    /// It waits for an approval job.
    pub behind_approval: bool,
    /// This entry is itself an approval (the job's steps never run).
    pub is_approval: bool,
}

pub struct Config {
    pub jobs: Vec<Job>,
    pub entries: Vec<Entry>,
    /// Per job (parallel to `jobs`): its `restore_cache`/`save_cache` steps, reusable
    /// commands expanded (orb jobs and orb commands: none visible).
    pub caches: Vec<Vec<CacheOp>>,
}

/// One cache key a job restores or saves.
#[derive(Debug, Clone)]
pub struct CacheOp {
    /// `save_cache` (else `restore_cache`, whose keys match by prefix).
    pub save: bool,
    /// The key template as written (`deps-{{ checksum "package-lock.json" }}`).
    pub key: String,
    pub node: NodeId,
}

/// The `restore_cache`/`save_cache` keys of a job's steps, through reusable commands.
fn cache_ops(
    forest: &Forest,
    commands: &HashMap<&str, NodeId>,
    steps: NodeId,
    depth: usize,
    out: &mut Vec<CacheOp>,
) {
    if depth > MAX_COMMAND_DEPTH || out.len() > MAX_STEPS {
        return;
    }
    for &s in forest.items(steps) {
        let (key, v) = match forest.str(s) {
            Some(name) => (name.to_string(), None),
            None => match forest.entries(s).first() {
                Some(&(k, v)) => (forest.text(k).to_string(), Some(v)),
                None => continue,
            },
        };
        match (key.as_str(), v) {
            ("restore_cache" | "save_cache", Some(v)) => {
                let save = key == "save_cache";
                let mut keys: Vec<(NodeId, &str)> = Vec::new();
                if let Some(k) = forest.get(v, "key") {
                    keys.extend(forest.str_or_list(k));
                }
                if let Some(k) = forest.get(v, "keys") {
                    keys.extend(forest.str_or_list(k));
                }
                for (node, text) in keys {
                    out.push(CacheOp {
                        save,
                        key: text.to_string(),
                        node,
                    });
                }
            }
            ("when" | "unless", Some(v)) => {
                if let Some(inner) = forest.get(v, "steps") {
                    cache_ops(forest, commands, inner, depth + 1, out);
                }
            }
            (name, _) => {
                if let Some(inner) = commands.get(name).and_then(|d| forest.get(*d, "steps")) {
                    cache_ops(forest, commands, inner, depth + 1, out);
                }
            }
        }
    }
}

fn subst(text: &str, b: &Bindings) -> String {
    if !text.contains("<<") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("<<") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find(">>") else {
            out.push_str(&rest[i..]);
            return out;
        };
        let expr = after[..j].trim();
        match expr
            .strip_prefix("parameters.")
            .and_then(|p| b.iter().find(|(k, _)| k == p))
        {
            Some((_, v)) => out.push_str(v),
            None => out.push_str(&rest[i..i + 2 + j + 2]),
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    out
}

/// Parameter defaults declared under `parameters:`.
fn defaults(forest: &Forest, def: NodeId) -> Bindings {
    let mut b = Vec::new();
    if let Some(params) = forest.get(def, "parameters") {
        for (k, v) in forest.entries(params) {
            if let Some(d) = forest.get(*v, "default")
                && let Some(s) = forest.str(d)
            {
                b.push((forest.text(*k).to_string(), s.to_string()));
            }
        }
    }
    b
}

/// Bindings for a call: declared defaults overridden by the call's arguments.
fn call_bindings(forest: &Forest, def: NodeId, args: Option<NodeId>, outer: &Bindings) -> Bindings {
    let mut b = defaults(forest, def);
    if let Some(args) = args {
        for (k, v) in forest.entries(args) {
            let Some(val) = forest.str(*v) else { continue };
            let key = forest.text(*k).to_string();
            let val = subst(val, outer);
            if let Some(slot) = b.iter_mut().find(|(n, _)| *n == key) {
                slot.1 = val;
            } else {
                b.push((key, val));
            }
        }
    }
    b
}

fn env_of(forest: &Forest, map: Option<NodeId>, b: &Bindings) -> Vec<EnvVar> {
    let Some(map) = map else { return Vec::new() };
    let mut out = Vec::new();
    if forest.is_map(map) {
        for (k, v) in forest.entries(map) {
            out.push(EnvVar {
                name: forest.text(*k).to_string(),
                key: *k,
                value: *v,
                text: subst(forest.text(*v), b),
            });
        }
    } else {
        // A list of `NAME=value` strings or single-key maps.
        for item in forest.items(map) {
            if let Some(s) = forest.str(*item)
                && let Some((n, v)) = s.split_once('=')
            {
                out.push(EnvVar {
                    name: n.to_string(),
                    key: *item,
                    value: *item,
                    text: subst(v, b),
                });
            } else {
                out.extend(env_of(forest, Some(*item), b));
            }
        }
    }
    out
}

struct Expander<'a> {
    forest: &'a Forest,
    commands: &'a HashMap<&'a str, NodeId>,
    orbs: Option<NodeId>,
    steps: Vec<Step>,
}

impl Expander<'_> {
    fn expand(&mut self, steps: NodeId, b: &Bindings, depth: usize) {
        let forest = self.forest;
        for &s in forest.items(steps) {
            if self.steps.len() >= MAX_STEPS {
                return;
            }
            if let Some(name) = forest.str(s) {
                let name = subst(name, b);
                self.call(&name, s, s, None, b, depth);
                continue;
            }
            let Some(&(k, v)) = forest.entries(s).first() else {
                continue;
            };
            let key = forest.text(k).to_string();
            match key.as_str() {
                // `deploy` is the deprecated spelling of `run` (CircleCI 2.0 configs).
                "run" | "deploy" => self.run(s, v, b),
                "when" | "unless" => {
                    if let Some(inner) = forest.get(v, "steps") {
                        self.expand(inner, b, depth);
                    }
                }
                _ => self.call(&key, s, k, Some(v), b, depth),
            }
        }
    }

    fn run(&mut self, step: NodeId, v: NodeId, b: &Bindings) {
        let forest = self.forest;
        let (cmd_node, env, name) = if forest.is_map(v) {
            let Some(c) = forest.get(v, "command") else {
                return;
            };
            let env = env_of(forest, forest.get(v, "environment"), b);
            let name = forest.get(v, "name").map(|n| forest.text(n).to_string());
            (c, env, name)
        } else {
            (v, Vec::new(), None)
        };
        let raw = forest.text(cmd_node);
        let text = subst(raw, b);
        let exact = text == raw;
        // Redacted before it is cut: a cut token no longer looks like one.
        let name = name.unwrap_or_else(|| {
            crate::facts::redact(text.lines().next().unwrap_or(""))
                .chars()
                .take(60)
                .collect()
        });
        self.steps.push(Step {
            kind: StepKind::Run {
                node: cmd_node,
                text,
                exact,
            },
            env,
            node: step,
            name,
        });
    }

    fn call(
        &mut self,
        name: &str,
        step: NodeId,
        name_node: NodeId,
        args: Option<NodeId>,
        b: &Bindings,
        depth: usize,
    ) {
        let forest = self.forest;
        if let Some(&def) = self.commands.get(name) {
            if depth >= MAX_COMMAND_DEPTH {
                return;
            }
            let inner = call_bindings(forest, def, args.filter(|a| forest.is_map(*a)), b);
            if let Some(steps) = forest.get(def, "steps") {
                self.expand(steps, &inner, depth + 1);
            }
            return;
        }
        let is_orb = name
            .split_once('/')
            .is_some_and(|(alias, _)| self.orbs.and_then(|o| forest.get(o, alias)).is_some());
        if is_orb {
            let mut inputs = Vec::new();
            if let Some(a) = args {
                for (k, v) in forest.entries(a) {
                    inputs.push(Input {
                        name: forest.text(*k).to_string(),
                        key: *k,
                        value: *v,
                        text: subst(forest.text(*v), b),
                    });
                }
            }
            self.steps.push(Step {
                kind: StepKind::Uses {
                    name: name.to_string(),
                    node: name_node,
                    inputs,
                },
                env: Vec::new(),
                node: step,
                name: name.to_string(),
            });
        }
    }
}

/// Image of an executor reference (`executor: name` or `executor: {name, params…}`).
fn executor_images(
    forest: &Forest,
    executors: &HashMap<&str, NodeId>,
    exec: NodeId,
    b: &Bindings,
) -> Vec<(String, NodeId)> {
    let (name, args) = match forest.str(exec) {
        Some(n) => (subst(n, b), None),
        None => match forest.get(exec, "name") {
            Some(n) => (subst(forest.text(n), b), Some(exec)),
            None => return Vec::new(),
        },
    };
    let Some(&def) = executors.get(name.as_str()) else {
        return Vec::new();
    };
    let eb = call_bindings(forest, def, args, b);
    images_of(forest, def, &eb)
}

fn images_of(forest: &Forest, def: NodeId, b: &Bindings) -> Vec<(String, NodeId)> {
    let mut out = Vec::new();
    if let Some(docker) = forest.get(def, "docker") {
        // The primary container is the first; services follow.
        if let Some(first) = forest.items(docker).first()
            && let Some(img) = forest.get(*first, "image")
        {
            out.push((subst(forest.text(img), b), img));
        }
    }
    out
}

/// Name → definition for a mapping of named definitions (first definition wins).
fn index(forest: &Forest, map: Option<NodeId>) -> HashMap<&str, NodeId> {
    let mut out = HashMap::new();
    for &(k, v) in map.map(|m| forest.entries(m)).unwrap_or(&[]) {
        if let Some(name) = forest.str(k) {
            out.entry(name).or_insert(v);
        }
    }
    out
}

pub fn build(forest: &Forest, root: NodeId) -> Config {
    let commands = index(forest, forest.get(root, "commands"));
    let executors = index(forest, forest.get(root, "executors"));
    let orbs = forest.get(root, "orbs");
    let mut jobs = Vec::new();
    let mut caches = Vec::new();
    if let Some(jmap) = forest.get(root, "jobs") {
        for &(k, def) in forest.entries(jmap) {
            if !forest.is_map(def) {
                continue;
            }
            let mut ops = Vec::new();
            if let Some(steps) = forest.get(def, "steps") {
                cache_ops(forest, &commands, steps, 0, &mut ops);
            }
            caches.push(ops);
            let b = defaults(forest, def);
            let mut ex = Expander {
                forest,
                commands: &commands,
                orbs,
                steps: Vec::new(),
            };
            if let Some(steps) = forest.get(def, "steps") {
                ex.expand(steps, &b, 0);
            }
            let mut images = images_of(forest, def, &b);
            if images.is_empty()
                && let Some(e) = forest.get(def, "executor")
            {
                images = executor_images(forest, &executors, e, &b);
            }
            let shell = forest.get(def, "shell").map(|s| forest.text(s).to_string());
            jobs.push(Job {
                name: forest.text(k).to_string(),
                node: k,
                steps: ex.steps,
                env: env_of(forest, forest.get(def, "environment"), &b),
                images,
                id_token: IdTokenDecl::default(),
                // CircleCI runs steps with `/bin/bash -eo pipefail` unless `shell:` says otherwise.
                errexit: shell.is_none_or(|s| s.contains("-e")),
                orb_job: false,
            });
        }
    }
    let mut entries = Vec::new();
    let mut orb_jobs: Vec<(String, NodeId, Option<NodeId>)> = Vec::new();
    if let Some(wmap) = forest.get(root, "workflows") {
        for &(wk, wf) in forest.entries(wmap) {
            let Some(list) = forest.get(wf, "jobs") else {
                continue;
            };
            let workflow = forest.text(wk).to_string();
            let conditional = ["when", "unless", "triggers"]
                .iter()
                .any(|k| forest.get(wf, k).is_some());
            let mut approvals: Vec<String> = Vec::new();
            let mut raw: Vec<Entry> = Vec::new();
            let mut requires: Vec<Vec<String>> = Vec::new();
            for &item in forest.items(list) {
                let (job, node, cfg) = match forest.str(item) {
                    Some(s) => (s.to_string(), item, None),
                    None => match forest.entries(item).first() {
                        Some(&(k, v)) => (forest.text(k).to_string(), k, Some(v)),
                        None => continue,
                    },
                };
                let get = |key: &str| cfg.and_then(|c| forest.get(c, key));
                if job.contains('/') && !orb_jobs.iter().any(|(j, _, _)| *j == job) {
                    orb_jobs.push((job.clone(), node, cfg));
                }
                let name = get("name")
                    .map(|n| forest.text(n).to_string())
                    .unwrap_or_else(|| job.clone());
                let is_approval = get("type").is_some_and(|t| forest.text(t) == "approval");
                if is_approval {
                    approvals.push(name.clone());
                }
                let contexts = get("context")
                    .map(|c| {
                        forest
                            .str_or_list(c)
                            .into_iter()
                            .map(|(n, s)| (s.to_string(), n))
                            .collect()
                    })
                    .unwrap_or_default();
                requires.push(
                    get("requires")
                        .map(|r| {
                            forest
                                .str_or_list(r)
                                .into_iter()
                                .map(|(_, s)| s.to_string())
                                .collect()
                        })
                        .unwrap_or_default(),
                );
                raw.push(Entry {
                    workflow: workflow.clone(),
                    job,
                    name,
                    node,
                    contexts,
                    filters: cfg.and_then(|c| forest.entry(c, "filters")),
                    workflow_conditional: conditional,
                    behind_approval: false,
                    is_approval,
                });
            }
            for (mut e, req) in raw.into_iter().zip(requires) {
                e.behind_approval = req.iter().any(|r| approvals.contains(r));
                entries.push(e);
            }
        }
    }
    // Orb jobs (`auto/publish`): one step named after the job, with the parameters the
    // workflow gives it, so a publishing orb job is judged like a publishing orb command.
    for (name, node, cfg) in orb_jobs {
        if jobs.iter().any(|j| j.name == name) {
            continue;
        }
        const NOT_PARAMETERS: &[&str] = &[
            "name",
            "context",
            "filters",
            "requires",
            "type",
            "matrix",
            "pre-steps",
            "post-steps",
        ];
        let inputs = cfg
            .map(|c| {
                forest
                    .entries(c)
                    .iter()
                    .filter(|(k, _)| !NOT_PARAMETERS.contains(&forest.text(*k)))
                    .map(|&(k, v)| Input {
                        name: forest.text(k).to_string(),
                        key: k,
                        value: v,
                        text: forest.text(v).to_string(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        jobs.push(Job {
            name: name.clone(),
            node,
            steps: vec![Step {
                kind: StepKind::Uses {
                    name: name.clone(),
                    node,
                    inputs,
                },
                env: Vec::new(),
                node,
                name,
            }],
            env: Vec::new(),
            images: Vec::new(),
            id_token: IdTokenDecl::default(),
            errexit: true,
            orb_job: true,
        });
        caches.push(Vec::new());
    }
    // A 2.0 config without `workflows:` runs its `build` job on every push.
    if forest.get(root, "workflows").is_none()
        && let Some(build) = jobs.iter().find(|j| j.name == "build")
    {
        entries.push(Entry {
            workflow: "(none: CircleCI runs `build` on every push)".to_string(),
            job: build.name.clone(),
            name: build.name.clone(),
            node: build.node,
            contexts: Vec::new(),
            filters: None,
            workflow_conditional: false,
            behind_approval: false,
            is_approval: false,
        });
    }
    Config {
        jobs,
        entries,
        caches,
    }
}

/// What a publish job's filters let through.
pub enum Reach {
    /// Every branch push.
    AllBranches(&'static str),
    /// Every branch but some.
    MostBranches(String),
    Restricted,
}

pub fn reach(forest: &Forest, filters: Option<NodeId>) -> Reach {
    let Some(f) = filters else {
        return Reach::AllBranches("it has no filters, so it runs on every branch push");
    };
    if let Some(expr) = forest.str(f) {
        let e = expr.replace(' ', "");
        if e.contains("pipeline.git.branch==")
            || e.contains("pipeline.git.tagstarts-with\"v")
            || e.contains("pipeline.git.tag==")
        {
            return Reach::Restricted;
        }
        if e.contains("pipeline.git.tagstarts-with\"\"") {
            return Reach::AllBranches(
                "its filter `pipeline.git.tag starts-with \"\"` admits any ref",
            );
        }
        return Reach::Restricted;
    }
    let branches = forest.get(f, "branches");
    let only = branches.and_then(|b| forest.get(b, "only"));
    let ignore = branches.and_then(|b| forest.get(b, "ignore"));
    if let Some(only) = only {
        let everything = forest
            .str_or_list(only)
            .iter()
            .any(|(_, p)| matches!(*p, "/.*/" | "/.+/" | "/^.*$/" | "/^.*/"));
        if everything {
            return Reach::AllBranches("its branch filter `only` matches every branch");
        }
        return Reach::Restricted;
    }
    if let Some(ig) = ignore {
        let pats: Vec<&str> = forest.str_or_list(ig).into_iter().map(|(_, s)| s).collect();
        if pats
            .iter()
            .any(|p| matches!(*p, "/.*/" | "/.+/" | "/^.*$/" | "/^.*/"))
        {
            return Reach::Restricted;
        }
        return Reach::MostBranches(pats.join(", "));
    }
    if forest.get(f, "tags").is_some() {
        return Reach::AllBranches(
            "it has tag filters but no `branches: ignore: /.*/`, so it also runs on every branch push",
        );
    }
    Reach::AllBranches("its filters do not restrict branches, so it runs on every branch push")
}
