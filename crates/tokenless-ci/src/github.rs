//! GitHub Actions: jobs with their steps, env (workflow → job → step), the `id-token`
//! permission in force (job-level `permissions` replace the workflow's), triggers, and
//! the rule that reads triggers and `if:` conditions.

use crate::model::{EnvVar, IdTokenDecl, Input, Job, Step, StepKind};
use crate::yaml::{Forest, NodeId};

pub struct Workflow {
    pub jobs: Vec<Job>,
    /// Per job: its `if:` text.
    pub job_ifs: Vec<Option<String>>,
    /// Per job, per step: the step's `if:` text.
    pub step_ifs: Vec<Vec<Option<String>>>,
    /// Triggers: (event name, key node).
    pub triggers: Vec<(String, NodeId)>,
}

fn env_map(forest: &Forest, map: Option<NodeId>) -> Vec<EnvVar> {
    let Some(map) = map else { return Vec::new() };
    forest
        .entries(map)
        .iter()
        .map(|(k, v)| EnvVar {
            name: forest.text(*k).to_string(),
            key: *k,
            value: *v,
            text: forest.text(*v).to_string(),
        })
        .collect()
}

/// The id-token permission a permissions block gives: Some(node) when granted.
/// `(key, value)` is the `permissions` entry; a denial points at the key.
fn id_token(forest: &Forest, (key, perms): (NodeId, NodeId)) -> (Option<NodeId>, Option<NodeId>) {
    if let Some(s) = forest.str(perms) {
        return if s.trim() == "write-all" {
            (Some(perms), None)
        } else {
            (None, Some(key))
        };
    }
    match forest.get(perms, "id-token") {
        Some(v) if forest.text(v).trim() == "write" => (Some(v), None),
        Some(v) => (None, Some(v)),
        None => (None, Some(key)),
    }
}

/// `${{ matrix.k }}` resolves to the matrix entry with the lowest Node version (the one
/// that decides whether every leg can publish); anything else stays as written.
fn matrix_value(forest: &Forest, matrix: Option<NodeId>, value: NodeId) -> (NodeId, String) {
    let text = forest.text(value);
    let key = text
        .trim()
        .strip_prefix("${{")
        .and_then(|t| t.strip_suffix("}}"))
        .and_then(|t| t.trim().strip_prefix("matrix."));
    let items = key
        .and_then(|k| matrix.and_then(|m| forest.get(m, k)))
        .map(|l| forest.items(l));
    let lowest = items.and_then(|items| {
        items
            .iter()
            .filter_map(|i| forest.str(*i).map(|t| (*i, t)))
            .min_by_key(|(_, t)| {
                crate::versions::node_version(crate::versions::parse_node(t))
                    .unwrap_or(crate::versions::Version(u32::MAX, 0, 0))
            })
    });
    match lowest {
        Some((node, t)) => (node, t.to_string()),
        None => (value, text.to_string()),
    }
}

/// `${{ env.NAME }}` resolves to the value the workflow, the job or the step gives `NAME`
/// in this file (the step's own `env:` wins, then the job's, then the workflow's), and
/// that value in turn through the matrix; `${{ vars.NAME }}` and anything else stays as
/// written (repository variables are not in the file).
fn env_value(
    forest: &Forest,
    matrix: Option<NodeId>,
    scopes: [&[EnvVar]; 2],
    value: NodeId,
    text: &str,
) -> Option<(NodeId, String)> {
    let name = text
        .trim()
        .strip_prefix("${{")
        .and_then(|t| t.strip_suffix("}}"))
        .and_then(|t| t.trim().strip_prefix("env."))
        .map(str::trim)?;
    let var = scopes
        .iter()
        .find_map(|vars| vars.iter().rev().find(|v| v.name == name))?;
    if var.value == value {
        return None;
    }
    Some(matrix_value(forest, matrix, var.value))
}

pub fn build(forest: &Forest, root: NodeId) -> Workflow {
    let mut triggers = Vec::new();
    if let Some(on) = forest.get(root, "on").or_else(|| forest.get(root, "true")) {
        if let Some(s) = forest.str(on) {
            triggers.push((s.to_string(), on));
        }
        for item in forest.items(on) {
            if let Some(s) = forest.str(*item) {
                triggers.push((s.to_string(), *item));
            }
        }
        for (k, _) in forest.entries(on) {
            triggers.push((forest.text(*k).to_string(), *k));
        }
    }
    let wf_perms = forest.entry(root, "permissions");
    let wf_env = env_map(forest, forest.get(root, "env"));
    let mut jobs = Vec::new();
    let mut job_ifs = Vec::new();
    let mut step_ifs = Vec::new();
    if let Some(jmap) = forest.get(root, "jobs") {
        for &(k, def) in forest.entries(jmap) {
            if !forest.is_map(def) {
                continue;
            }
            let perms = forest.entry(def, "permissions").or(wf_perms);
            let (write, denied) = match perms {
                Some(p) => id_token(forest, p),
                // No permissions anywhere: the repository default, which never includes id-token.
                None => (None, None),
            };
            let matrix = forest.path(def, &["strategy", "matrix"]);
            let mut env = wf_env.clone();
            env.extend(env_map(forest, forest.get(def, "env")));
            let mut steps = Vec::new();
            let mut ifs = Vec::new();
            if let Some(list) = forest.get(def, "steps") {
                for &s in forest.items(list) {
                    let name = forest
                        .get(s, "name")
                        .map(|n| forest.text(n).to_string())
                        .unwrap_or_default();
                    let senv = env_map(forest, forest.get(s, "env"));
                    let kind = if let Some(run) = forest.get(s, "run") {
                        StepKind::Run {
                            node: run,
                            text: forest.text(run).to_string(),
                            exact: true,
                        }
                    } else if let Some(uses) = forest.get(s, "uses") {
                        let inputs = forest
                            .get(s, "with")
                            .map(|w| {
                                forest
                                    .entries(w)
                                    .iter()
                                    .map(|(ik, iv)| {
                                        let (value, text) = matrix_value(forest, matrix, *iv);
                                        let (value, text) =
                                            env_value(forest, matrix, [&senv, &env], value, &text)
                                                .unwrap_or((value, text));
                                        Input {
                                            name: forest.text(*ik).to_string(),
                                            key: *ik,
                                            value,
                                            text,
                                        }
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        StepKind::Uses {
                            name: forest.text(uses).to_string(),
                            node: uses,
                            inputs,
                        }
                    } else {
                        continue;
                    };
                    ifs.push(forest.get(s, "if").map(|i| forest.text(i).to_string()));
                    steps.push(Step {
                        kind,
                        env: senv,
                        node: s,
                        name,
                    });
                }
            }
            // A call to a reusable workflow: one step with its inputs and secrets.
            if let Some(uses) = forest.get(def, "uses") {
                let mut inputs = Vec::new();
                for key in ["with", "secrets"] {
                    for (ik, iv) in forest
                        .get(def, key)
                        .map(|w| forest.entries(w))
                        .unwrap_or(&[])
                    {
                        inputs.push(Input {
                            name: forest.text(*ik).to_string(),
                            key: *ik,
                            value: *iv,
                            text: forest.text(*iv).to_string(),
                        });
                    }
                }
                ifs.push(None);
                steps.push(Step {
                    kind: StepKind::Uses {
                        name: forest.text(uses).to_string(),
                        node: uses,
                        inputs,
                    },
                    env: Vec::new(),
                    node: uses,
                    name: String::new(),
                });
            }
            let images = forest
                .get(def, "container")
                .and_then(|c| {
                    forest.str(c).map(|s| (s.to_string(), c)).or_else(|| {
                        forest
                            .get(c, "image")
                            .map(|i| (forest.text(i).to_string(), i))
                    })
                })
                .into_iter()
                .collect();
            job_ifs.push(forest.get(def, "if").map(|i| forest.text(i).to_string()));
            step_ifs.push(ifs);
            jobs.push(Job {
                name: forest.text(k).to_string(),
                node: k,
                steps,
                env,
                images,
                id_token: IdTokenDecl {
                    github_write: write,
                    github_denied: denied,
                    gitlab: Vec::new(),
                },
                errexit: true,
                orb_job: false,
            });
        }
    }
    Workflow {
        jobs,
        job_ifs,
        step_ifs,
        triggers,
    }
}

/// Whether a condition keeps `event` away from the job.
pub fn excludes(cond: &str, event: &str) -> bool {
    let c = cond.replace(['"', ' '], "");
    let c = c.as_str();
    // An equality on event_name to a trusted event.
    for trusted in ["push", "release", "workflow_dispatch", "schedule", "create"] {
        if c.contains(&format!("github.event_name=='{trusted}'")) && !c.contains("||") {
            return true;
        }
    }
    if c.contains(&format!("github.event_name!='{event}'")) {
        return true;
    }
    // A ref name that must start with a literal (`startsWith(github.ref_name, 'v4')`): a
    // pull request's ref name is `<number>/merge` (not so for pull_request_target, whose
    // ref is the base branch).
    if c.contains("startsWith(github.ref,'refs/tags/")
        || c.contains("github.ref_type=='tag'")
        || (event == "pull_request"
            && c.contains("startsWith(github.ref_name,'")
            && !c.contains("||"))
    {
        return true;
    }
    if event == "pull_request"
        && (c.contains("github.ref=='refs/heads/") || c.contains("github.event_name=='push'"))
    {
        return true;
    }
    // A `closed` pull request that was merged: the job runs the merged code of the base
    // branch, not a contributor's.
    if event == "pull_request"
        && (c.contains("github.event.pull_request.merged==true")
            || (c.contains("github.event.pull_request.merged")
                && !c.contains("merged==false")
                && !c.contains("!github.event.pull_request.merged")))
        && !c.contains("||")
    {
        return true;
    }
    false
}
