//! GitLab CI: local `include:`s (read through [`FileSource`]), hidden templates and
//! `extends:` (deep merge of `variables` and `id_tokens`, later parents win, the job
//! wins over all), `default:`, global `variables`, scripts as steps, and the rule that
//! reads `rules:`/`only:` for merge-request pipelines.

use crate::FileSource;
use crate::model::{EnvVar, GitlabIdToken, IdTokenDecl, Job, Step, StepKind};
use crate::yaml::{Forest, NodeId};

const RESERVED: &[&str] = &[
    "image",
    "services",
    "stages",
    "variables",
    "default",
    "include",
    "workflow",
    "before_script",
    "after_script",
    "cache",
    "types",
    "spec",
];
const MAX_INCLUDES: usize = 64;
const MAX_EXTENDS_DEPTH: usize = 11;

/// The main file's root followed by the roots of included files.
pub struct Roots {
    pub roots: Vec<NodeId>,
}

/// Top-level keys of all files, the main file winning (key node, value node).
type Index<'f> = std::collections::HashMap<&'f str, (NodeId, NodeId)>;

fn top_index<'f>(forest: &'f Forest, roots: &Roots) -> Index<'f> {
    let mut out = Index::new();
    for r in &roots.roots {
        for &(k, v) in forest.entries(*r) {
            if let Some(name) = forest.str(k) {
                out.entry(name).or_insert((k, v));
            }
        }
    }
    out
}

/// Parse local includes. Returns the roots and parse errors (path, line, column, message).
pub fn load(
    forest: &mut Forest,
    main: NodeId,
    files: &dyn FileSource,
) -> (Roots, Vec<(String, usize, usize, String)>) {
    let mut roots = vec![main];
    let mut errors = Vec::new();
    let mut queue = vec![main];
    let mut seen: Vec<String> = Vec::new();
    while let Some(r) = queue.pop() {
        let Some(inc) = forest.get(r, "include") else {
            continue;
        };
        let mut paths: Vec<String> = Vec::new();
        let items: Vec<NodeId> = if forest.is_seq(inc) {
            forest.items(inc).to_vec()
        } else {
            vec![inc]
        };
        for i in items {
            if let Some(s) = forest.str(i) {
                if !s.contains("://") {
                    paths.push(s.to_string());
                }
            } else if let Some(l) = forest.get(i, "local") {
                paths.push(forest.text(l).to_string());
            }
        }
        for p in paths {
            let p = p.trim().trim_start_matches('/').to_string();
            if p.contains('*') || seen.contains(&p) || seen.len() >= MAX_INCLUDES {
                continue;
            }
            seen.push(p.clone());
            let Ok(text) = files.read(&p) else { continue };
            match forest.parse(&p, &text) {
                Ok(id) => {
                    if forest.is_map(id) {
                        roots.push(id);
                        queue.push(id);
                    }
                }
                Err(e) => errors.push((p.clone(), e.line, e.column, e.message)),
            }
        }
    }
    (Roots { roots }, errors)
}

pub struct Config {
    pub jobs: Vec<Job>,
    /// Per job: whether it runs in merge-request pipelines, and the node that says so.
    pub mr: Vec<Option<NodeId>>,
    /// Per job: the caches it uses (job, its `extends:` parents, `default:`, global).
    pub caches: Vec<Vec<Cache>>,
}

/// One `cache:` entry of a job.
#[derive(Debug, Clone)]
pub struct Cache {
    /// The key as written (`key: { files: [...] }` as its YAML text); `default` when absent.
    pub key: String,
    /// The node to point at for the cache (its key, else the cache entry).
    pub node: NodeId,
    /// The `unprotect: true` value, when set.
    pub unprotect: Option<NodeId>,
    /// `policy:` (`pull-push` when absent).
    pub policy: String,
}

fn caches_of(forest: &Forest, node: NodeId) -> Vec<Cache> {
    let items: Vec<NodeId> = if forest.is_seq(node) {
        forest.items(node).to_vec()
    } else {
        vec![node]
    };
    items
        .into_iter()
        .filter(|c| forest.is_map(*c))
        .map(|c| {
            let key = forest.get(c, "key");
            Cache {
                key: key.map_or_else(|| "default".to_string(), |k| forest.text(k).to_string()),
                node: key.unwrap_or(c),
                unprotect: forest
                    .get(c, "unprotect")
                    .filter(|u| forest.text(*u).trim() == "true"),
                policy: forest
                    .get(c, "policy")
                    .map_or_else(|| "pull-push".to_string(), |p| forest.text(p).to_string()),
            }
        })
        .collect()
}

fn lookup(index: &Index<'_>, key: &str) -> Option<(NodeId, NodeId)> {
    index.get(key).copied()
}

/// The definitions in effect for a job: its ancestors (through `extends`) first, the job last.
fn chain(forest: &Forest, roots: &Index<'_>, def: NodeId) -> Vec<NodeId> {
    let mut out = Vec::new();
    fn go(forest: &Forest, roots: &Index<'_>, def: NodeId, depth: usize, out: &mut Vec<NodeId>) {
        if depth > MAX_EXTENDS_DEPTH || out.len() > 64 {
            return;
        }
        if let Some(ext) = forest.get(def, "extends") {
            for (_, name) in forest.str_or_list(ext) {
                if let Some((_, parent)) = lookup(roots, name) {
                    go(forest, roots, parent, depth + 1, out);
                }
            }
        }
        out.push(def);
    }
    go(forest, roots, def, 0, &mut out);
    out
}

fn field(forest: &Forest, chain: &[NodeId], key: &str) -> Option<NodeId> {
    chain.iter().rev().find_map(|d| forest.get(*d, key))
}

fn vars(forest: &Forest, map: NodeId, out: &mut Vec<EnvVar>) {
    for (k, v) in forest.entries(map) {
        let (value, text) = match forest.get(*v, "value") {
            Some(val) => (val, forest.text(val).to_string()),
            None => (*v, forest.text(*v).to_string()),
        };
        let name = forest.text(*k).to_string();
        out.retain(|e| e.name != name);
        out.push(EnvVar {
            name,
            key: *k,
            value,
            text,
        });
    }
}

fn scripts(forest: &Forest, node: NodeId, steps: &mut Vec<Step>, depth: usize) {
    if depth > 4 {
        return;
    }
    if forest.tag(node).is_some_and(|t| t.contains("reference")) {
        return;
    }
    if let Some(s) = forest.str(node) {
        steps.push(Step {
            kind: StepKind::Run {
                node,
                text: s.to_string(),
                exact: true,
            },
            env: Vec::new(),
            node,
            name: crate::facts::redact(s.lines().next().unwrap_or(""))
                .chars()
                .take(60)
                .collect(),
        });
        return;
    }
    for i in forest.items(node) {
        scripts(forest, *i, steps, depth + 1);
    }
}

fn image(forest: &Forest, node: NodeId) -> Option<(String, NodeId)> {
    match forest.str(node) {
        Some(s) => Some((s.to_string(), node)),
        None => forest
            .get(node, "name")
            .map(|n| (forest.text(n).to_string(), n)),
    }
}

pub fn build(forest: &Forest, roots: &Roots) -> Config {
    let index = top_index(forest, roots);
    let default = lookup(&index, "default").map(|d| d.1);
    let mut jobs = Vec::new();
    let mut mr = Vec::new();
    let mut caches = Vec::new();
    let mut names: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for r in &roots.roots {
        for &(k, def) in forest.entries(*r) {
            let name = forest.text(k);
            if name.starts_with('.')
                || RESERVED.contains(&name)
                || !forest.is_map(def)
                || !names.insert(name)
            {
                continue;
            }
            let ch = chain(forest, &index, def);
            let in_default = |key: &str| default.and_then(|d| forest.get(d, key));
            let global = |key: &str| lookup(&index, key).map(|e| e.1);
            let mut env = Vec::new();
            for r in roots.roots.iter().rev() {
                if let Some(v) = forest.get(*r, "variables") {
                    vars(forest, v, &mut env);
                }
            }
            for d in &ch {
                if let Some(v) = forest.get(*d, "variables") {
                    vars(forest, v, &mut env);
                }
            }
            let mut id_tokens = Vec::new();
            let mut tok_sources: Vec<NodeId> = in_default("id_tokens").into_iter().collect();
            tok_sources.extend(ch.iter().filter_map(|d| forest.get(*d, "id_tokens")));
            for t in tok_sources {
                for (tk, tv) in forest.entries(t) {
                    let tname = forest.text(*tk).to_string();
                    let aud = forest.get(*tv, "aud");
                    let (aud_text, aud_node) = match aud {
                        Some(a) => {
                            let list = forest.str_or_list(a);
                            let text = list.iter().map(|x| x.1).collect::<Vec<_>>().join(", ");
                            (text, a)
                        }
                        None => (String::new(), *tv),
                    };
                    id_tokens.retain(|x: &GitlabIdToken| x.var != tname);
                    id_tokens.push(GitlabIdToken {
                        var: tname,
                        var_node: *tk,
                        aud: aud_text,
                        aud_node,
                    });
                }
            }
            let mut steps = Vec::new();
            for key in ["before_script", "script"] {
                let node = field(forest, &ch, key)
                    .or_else(|| in_default(key))
                    .or_else(|| {
                        if key == "before_script" {
                            global(key)
                        } else {
                            None
                        }
                    });
                if let Some(n) = node {
                    scripts(forest, n, &mut steps, 0);
                }
            }
            let images = field(forest, &ch, "image")
                .or_else(|| in_default("image"))
                .or_else(|| global("image"))
                .and_then(|i| image(forest, i))
                .into_iter()
                .collect();
            mr.push(merge_request_reach(forest, &ch));
            caches.push(
                field(forest, &ch, "cache")
                    .or_else(|| in_default("cache"))
                    .or_else(|| global("cache"))
                    .map(|c| caches_of(forest, c))
                    .unwrap_or_default(),
            );
            jobs.push(Job {
                name: name.to_string(),
                node: k,
                steps,
                env,
                images,
                id_token: IdTokenDecl {
                    github_write: None,
                    github_denied: None,
                    gitlab: id_tokens,
                },
                errexit: true,
                orb_job: false,
            });
        }
    }
    Config { jobs, mr, caches }
}

/// The node that lets a job run in merge-request pipelines, if any.
fn merge_request_reach(forest: &Forest, ch: &[NodeId]) -> Option<NodeId> {
    if let Some(rules) = field(forest, ch, "rules") {
        for r in forest.items(rules) {
            let Some(cond) = forest.get(*r, "if") else {
                continue;
            };
            let c = forest.text(cond).replace(' ', "");
            let never = forest
                .get(*r, "when")
                .is_some_and(|w| forest.text(w) == "never");
            if never {
                // `when: never` on MR events closes them for the rules after it.
                if c.contains("merge_request_event") || c.contains("CI_MERGE_REQUEST") {
                    return None;
                }
                continue;
            }
            if c.contains("==\"merge_request_event\"")
                || c.contains("=='merge_request_event'")
                || (c.contains("$CI_MERGE_REQUEST_I") && !c.contains("!$CI_MERGE_REQUEST_I"))
            {
                return Some(cond);
            }
        }
        return None;
    }
    if let Some(only) = field(forest, ch, "only") {
        let refs = forest.get(only, "refs").unwrap_or(only);
        for (n, s) in forest.str_or_list(refs) {
            if s == "merge_requests" {
                return Some(n);
            }
        }
    }
    None
}
