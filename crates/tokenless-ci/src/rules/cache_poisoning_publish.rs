//! `cache-poisoning-publish`: a job that can mint an id token restores a cache that code
//! from untrusted triggers can write, or runs install scripts after restoring one
//! (CVE-2026-45321: a `pull_request_target` job poisoned the build cache a release job
//! restored, and the attacker's code read the job's OIDC id token).

use super::{FileCx, Model, Out};
use crate::circleci::{self, Reach};
use crate::finding::{RuleId, RuleMeta, Severity};
use crate::github;
use crate::gitlab;
use crate::model::{Job, Loc, StepKind};
use crate::yaml::NodeId;

pub const META: RuleMeta = RuleMeta {
    id: RuleId::CachePoisoningPublish,
    default_severity: Severity::High,
    summary: "A job that can mint an id token restores a cache untrusted code can write, or runs install scripts after restoring one.",
};

const ID: RuleId = META.id;

pub fn check(cx: &FileCx<'_>, out: &mut Out<'_>) {
    match cx.model {
        Model::GitHub(wf) => gh(cx, wf, out),
        Model::CircleCi(cfg) => circle(cx, cfg, out),
        Model::GitLab(cfg) => lab(cx, cfg, out),
    }
}

// ---------------------------------------------------------------- GitHub Actions

/// GitHub events whose runs write caches in the base branch's scope while running code
/// (or inputs) from outside the repository. `pull_request` caches are scoped to the
/// pull request's merge ref and cannot be restored by a push or release run.
const UNTRUSTED: &[&str] = &["pull_request_target", "workflow_run", "issue_comment"];

#[derive(Debug, PartialEq)]
enum GhKind {
    /// `actions/cache` and its `restore`/`save` halves.
    Cache,
    /// A `setup-*` action's built-in cache: (action, `cache:` value).
    Setup(String, String),
}

struct GhCache {
    step: usize,
    kind: GhKind,
    key: String,
    restore_keys: Vec<String>,
    restores: bool,
    saves: bool,
    node: NodeId,
    what: String,
}

fn gh_caches(job: &Job) -> Vec<GhCache> {
    let mut out = Vec::new();
    for (i, s) in job.steps.iter().enumerate() {
        let StepKind::Uses { name, node, inputs } = &s.kind else {
            continue;
        };
        let base = name
            .split('@')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let input = |n: &str| inputs.iter().find(|x| x.name == n);
        let (restores, saves) = match base.as_str() {
            "actions/cache" => (true, true),
            "actions/cache/restore" => (true, false),
            "actions/cache/save" => (false, true),
            _ => {
                let action = base.rsplit('/').next().unwrap_or("");
                if !action.starts_with("setup-") {
                    continue;
                }
                let Some(c) = input("cache") else { continue };
                let v = c.text.trim().to_ascii_lowercase();
                if v.is_empty() || v == "false" {
                    continue;
                }
                out.push(GhCache {
                    step: i,
                    kind: GhKind::Setup(base.clone(), v),
                    key: c.text.trim().to_string(),
                    restore_keys: Vec::new(),
                    restores: true,
                    saves: true,
                    node: c.value,
                    what: format!("the `{base}` cache (`cache: {}`)", c.text.trim()),
                });
                continue;
            }
        };
        let key = input("key");
        // `lookup-only` restores nothing.
        let lookup_only = input("lookup-only").is_some_and(|x| x.text.trim() == "true");
        let key_text = key.map_or(String::new(), |k| k.text.trim().to_string());
        out.push(GhCache {
            step: i,
            kind: GhKind::Cache,
            restore_keys: input("restore-keys")
                .map(|r| {
                    r.text
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            restores: restores && !lookup_only,
            saves,
            node: key.map_or(*node, |k| k.value),
            what: format!("`{base}` key `{}`", super::abbreviate(&key_text)),
            key: key_text,
        });
    }
    out
}

/// A key with each `${{ … }}` replaced by one placeholder character.
fn gh_shape(key: &str) -> String {
    let mut out = String::new();
    let mut rest = key.trim();
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        out.push('\u{E000}');
        rest = match rest[i..].find("}}") {
            Some(j) => &rest[i + j + 2..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

fn hash_only(key: &str) -> bool {
    let k = key.trim();
    gh_shape(k) == "\u{E000}" && k.contains("hashFiles(")
}

/// Can a save with key `w` be restored by `r`?
fn gh_shared(r: &GhCache, w: &GhCache) -> bool {
    match (&r.kind, &w.kind) {
        (GhKind::Setup(a, x), GhKind::Setup(b, y)) => a == b && x == y,
        (GhKind::Cache, GhKind::Cache) => {
            let (rs, ws) = (gh_shape(&r.key), gh_shape(&w.key));
            let prefix = |s: &str| s.split('\u{E000}').next().unwrap_or("").to_string();
            r.key == w.key
                || hash_only(&r.key)
                || hash_only(&w.key)
                || rs == ws
                || (!prefix(&rs).is_empty() && prefix(&rs) == prefix(&ws))
                || r.restore_keys.iter().any(|k| {
                    let ks = gh_shape(k);
                    !ks.is_empty() && ks != "\u{E000}" && ws.starts_with(&ks)
                })
        }
        _ => false,
    }
}

/// Does a `workflow_run` job check out the triggering run's head or take its artifacts?
fn takes_triggering_run(job: &Job) -> bool {
    job.steps.iter().any(|s| match &s.kind {
        StepKind::Uses { name, inputs, .. } => {
            name.contains("download-artifact")
                || inputs
                    .iter()
                    .any(|i| i.text.contains("github.event.workflow_run.head"))
        }
        StepKind::Run { text, .. } => {
            text.contains("gh run download") || text.contains("github.event.workflow_run.head")
        }
    })
}

/// The first install that runs lifecycle scripts in steps `from..=to`: (step, command).
fn install_with_scripts(job: &Job, from: usize, to: usize) -> Option<(usize, String)> {
    let off = |env: &[crate::model::EnvVar]| {
        env.iter().any(|e| {
            e.name.eq_ignore_ascii_case("npm_config_ignore_scripts")
                && e.text.trim().eq_ignore_ascii_case("true")
        })
    };
    if off(&job.env) {
        return None;
    }
    for (i, s) in job.steps.iter().enumerate().take(to + 1).skip(from) {
        let StepKind::Run { text, .. } = &s.kind else {
            continue;
        };
        if off(&s.env) {
            continue;
        }
        for line in text.lines() {
            for cmd in line.split(['&', ';', '|']) {
                if let Some(c) = install_command(cmd) {
                    return Some((i, c));
                }
            }
        }
    }
    None
}

/// `npm ci`, `npm install`, `yarn`, `yarn install`, `pnpm install`, `bun install` without
/// `--ignore-scripts` (global installs aside).
fn install_command(cmd: &str) -> Option<String> {
    let words: Vec<&str> = cmd
        .split_whitespace()
        .skip_while(|w| w.contains('=') || *w == "sudo")
        .collect();
    let (tool, sub) = (*words.first()?, words.get(1).copied().unwrap_or(""));
    let install = match tool {
        "npm" => matches!(sub, "ci" | "install" | "i" | "add"),
        "pnpm" | "bun" => matches!(sub, "install" | "i"),
        "yarn" => sub.is_empty() || sub == "install" || sub.starts_with("--"),
        _ => false,
    };
    let skip = words.iter().any(|w| {
        matches!(
            *w,
            "-g" | "--global" | "--ignore-scripts" | "--mode=skip-build"
        )
    });
    (install && !skip).then(|| words.join(" "))
}

fn gh(cx: &FileCx<'_>, wf: &github::Workflow, out: &mut Out<'_>) {
    let caches: Vec<Vec<GhCache>> = cx.jobs.iter().map(|j| gh_caches(j.job)).collect();
    let cond_excludes = |job: usize, step: usize, event: &str| {
        let job_if = wf.job_ifs.get(job).and_then(|c| c.as_deref());
        let step_if = wf
            .step_ifs
            .get(job)
            .and_then(|s| s.get(step))
            .and_then(|c| c.as_deref());
        [job_if, step_if]
            .into_iter()
            .flatten()
            .any(|c| github::excludes(c, event))
    };
    for j in &cx.jobs {
        if j.job.id_token.github_write.is_none() || j.publishes.is_empty() {
            continue;
        }
        let last = j.publishes.iter().map(|p| p.step).max().unwrap_or(0);
        out.job(j.index);
        for r in caches[j.index]
            .iter()
            .filter(|r| r.restores && r.step <= last)
        {
            let install = install_with_scripts(j.job, r.step + 1, last);
            let install_note = install
                .as_ref()
                .map(|(s, c)| {
                    format!(
                        "; it then runs `{}` (step {}) with install scripts enabled",
                        super::abbreviate(c),
                        s + 1
                    )
                })
                .unwrap_or_default();
            let writer = wf.triggers.iter().find_map(|(event, _)| {
                if !UNTRUSTED.contains(&event.as_str()) {
                    return None;
                }
                // A `workflow_run` job runs the default branch's code: it writes what the
                // triggering run produced only if it takes that run's head or artifacts.
                cx.jobs.iter().find_map(|w| {
                    if event == "workflow_run" && !takes_triggering_run(w.job) {
                        return None;
                    }
                    caches[w.index]
                        .iter()
                        .find(|c| {
                            c.saves && gh_shared(r, c) && !cond_excludes(w.index, c.step, event)
                        })
                        .map(|c| (w.name(), event.as_str(), c))
                })
            });
            if let Some((wname, event, c)) = writer {
                out.push(
                    ID,
                    None,
                    Loc::of(cx.forest, r.node),
                    format!(
                        "job `{}` can mint an id token (`id-token: write`) and restores {}, which job `{wname}` also saves ({}) when the workflow runs on `{event}`, a trigger that runs code or input from outside the repository in the base branch's cache scope: a poisoned entry would run with the publish job's id token in reach{install_note}",
                        j.name(),
                        r.what,
                        c.what,
                    ),
                    "do not restore caches in the job that has `id-token: write`: build in a job without it and pass the result as an artifact, or give the release job cache keys no `pull_request_target`/`workflow_run`/`issue_comment` job saves (use `actions/cache/restore` there, which never saves); install with `--ignore-scripts`",
                );
            } else if let Some((s, c)) = install {
                out.push(
                    ID,
                    Some(Severity::Medium),
                    Loc::of(cx.forest, r.node),
                    format!(
                        "job `{}` can mint an id token (`id-token: write`), restores {} and then runs `{}` (step {}) with install scripts enabled before publishing: no job reachable from untrusted triggers writes this cache in this workflow, but a poisoned entry (from another workflow of the repository) would run its code with the id token in reach",
                        j.name(),
                        r.what,
                        super::abbreviate(&c),
                        s + 1
                    ),
                    "install with `--ignore-scripts` (or `NPM_CONFIG_IGNORE_SCRIPTS: true`) in the publish job, or drop the cache from the job that has `id-token: write` and build in a job without it",
                );
            }
        }
    }
}

// ---------------------------------------------------------------- CircleCI

const ANY: char = '\u{E000}';
const BRANCH: char = '\u{E001}';
const REVISION: char = '\u{E002}';

/// A key template with `{{ .Branch }}`, `{{ .Revision }}` and other templates replaced by
/// placeholder characters.
fn circle_shape(key: &str) -> String {
    let mut out = String::new();
    let mut rest = key.trim();
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let (inner, after) = match rest[i..].find("}}") {
            Some(j) => (&rest[i + 2..i + j], &rest[i + j + 2..]),
            None => (&rest[i + 2..], ""),
        };
        out.push(if inner.contains(".Branch") {
            BRANCH
        } else if inner.contains(".Revision") {
            REVISION
        } else {
            ANY
        });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Can `restore_cache` key `r` (a prefix match) restore what `save_cache` key `w` saved
/// on another branch? Not when both put the branch (or revision) at the same place.
fn circle_shared(r: &str, w: &str) -> bool {
    let (rs, ws): (Vec<char>, Vec<char>) = (
        circle_shape(r).chars().collect(),
        circle_shape(w).chars().collect(),
    );
    if rs.is_empty() || rs.len() > ws.len() {
        return false;
    }
    for (a, b) in rs.iter().zip(&ws) {
        if a != b {
            return false;
        }
        if *a == BRANCH || *a == REVISION {
            return false;
        }
    }
    true
}

fn circle(cx: &FileCx<'_>, cfg: &circleci::Config, out: &mut Out<'_>) {
    let forest = cx.forest;
    for j in &cx.jobs {
        let mints = !j.facts.mints.is_empty() || (!j.publishes.is_empty() && j.exchange);
        if !mints {
            continue;
        }
        out.job(j.index);
        let Some(ops) = cfg.caches.get(j.index) else {
            continue;
        };
        for r in ops.iter().filter(|o| !o.save) {
            let writer = cx.jobs.iter().find_map(|w| {
                let save = cfg
                    .caches
                    .get(w.index)?
                    .iter()
                    .find(|s| s.save && circle_shared(&r.key, &s.key))?;
                let entry = cfg.entries.iter().find_map(|e| {
                    if e.is_approval || e.job != w.name() {
                        return None;
                    }
                    match circleci::reach(forest, e.filters.map(|f| f.1)) {
                        Reach::Restricted => None,
                        Reach::AllBranches(why) => Some((e, why.to_string())),
                        Reach::MostBranches(p) => Some((
                            e,
                            format!(
                                "its filters only ignore {p}, so it runs on every other branch"
                            ),
                        )),
                    }
                })?;
                Some((w.name(), save, entry))
            });
            let Some((wname, save, (entry, why))) = writer else {
                continue;
            };
            out.push(
                ID,
                None,
                Loc::of(forest, r.node),
                format!(
                    "job `{}` mints an id token and restores cache key `{}`, which job `{wname}` saves (key `{}`) in workflow `{}`, where {why}: a branch push (or a forked pull request, with \"Build forked pull requests\" on) can write a poisoned entry that runs with the id token in reach. Branch filters on the writer are what CircleCI offers to keep other branches from writing the key, and context restrictions on the publisher to keep the token from untrusted runs",
                    j.name(),
                    super::abbreviate(&r.key),
                    super::abbreviate(&save.key),
                    entry.workflow,
                ),
                "restrict the cache writer with branch filters (`branches: only: main`), or give the publish job cache keys no unfiltered job saves (`{{ .Branch }}` in every key it restores), and run the publish job with a restricted context",
            );
        }
    }
}

// ---------------------------------------------------------------- GitLab

fn lab(cx: &FileCx<'_>, cfg: &gitlab::Config, out: &mut Out<'_>) {
    for j in &cx.jobs {
        if j.job.id_token.gitlab.is_empty() {
            continue;
        }
        out.job(j.index);
        let Some(caches) = cfg.caches.get(j.index) else {
            continue;
        };
        for c in caches {
            let Some(u) = c.unprotect else { continue };
            // Another job sharing the key outside protected refs, merge-request jobs first.
            let writers = cx
                .jobs
                .iter()
                .filter(|w| w.index != j.index)
                .filter_map(|w| {
                    cfg.caches
                        .get(w.index)?
                        .iter()
                        .find(|x| x.key == c.key && x.unprotect.is_some() && x.policy != "pull")
                        .map(|_| w)
                });
            let writer = writers
                .clone()
                .find(|w| cfg.mr.get(w.index).copied().flatten().is_some())
                .map(|w| {
                    format!(
                        "job `{}` saves the same key in merge-request pipelines",
                        w.name()
                    )
                })
                .or_else(|| {
                    writers.clone().next().map(|w| {
                        format!(
                            "job `{}` saves the same key with `unprotect: true`",
                            w.name()
                        )
                    })
                })
                .unwrap_or_else(|| {
                    "any pipeline on an unprotected branch can save it with the same key".into()
                });
            out.push(
                ID,
                None,
                Loc::of(cx.forest, u),
                format!(
                    "job `{}` has `id_tokens` and uses cache `{}` with `unprotect: true`, so protected and unprotected branches share it ({writer}): a poisoned entry would run with the id token in reach",
                    j.name(),
                    super::abbreviate(&c.key),
                ),
                "remove `unprotect: true` from caches of jobs with `id_tokens` (GitLab then keeps protected-branch caches apart), or give the publish job no cache",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_keys() {
        let c = |key: &str, rk: &[&str]| GhCache {
            step: 0,
            kind: GhKind::Cache,
            key: key.into(),
            restore_keys: rk.iter().map(|s| s.to_string()).collect(),
            restores: true,
            saves: true,
            node: 0,
            what: String::new(),
        };
        let h = "${{ hashFiles('**/package-lock.json') }}";
        assert!(gh_shared(&c(h, &[]), &c("other-${{ github.sha }}", &[])));
        assert!(gh_shared(
            &c("npm-${{ github.sha }}", &[]),
            &c("npm-${{ github.run_id }}", &[])
        ));
        assert!(gh_shared(
            &c("${{ runner.os }}-node-${{ github.sha }}", &[]),
            &c("${{ runner.os }}-node-${{ github.run_id }}", &[])
        ));
        assert!(!gh_shared(
            &c("${{ runner.os }}-node-${{ github.sha }}", &[]),
            &c("${{ runner.os }}-pip-${{ github.sha }}", &[])
        ));
        assert!(gh_shared(
            &c("release-${{ github.sha }}", &["${{ runner.os }}-"]),
            &c("${{ runner.os }}-pr", &[])
        ));
    }

    #[test]
    fn circleci_keys() {
        assert!(circle_shared(
            "deps-",
            "deps-{{ checksum \"package-lock.json\" }}"
        ));
        assert!(circle_shared(
            "deps-{{ checksum \"package-lock.json\" }}",
            "deps-{{ checksum \"package-lock.json\" }}"
        ));
        assert!(!circle_shared(
            "deps-{{ .Branch }}-{{ checksum \"x\" }}",
            "deps-{{ .Branch }}-{{ checksum \"x\" }}"
        ));
        assert!(!circle_shared("build-", "deps-"));
    }

    #[test]
    fn installs() {
        assert_eq!(install_command("npm ci").as_deref(), Some("npm ci"));
        assert_eq!(
            install_command(" yarn --frozen-lockfile").as_deref(),
            Some("yarn --frozen-lockfile")
        );
        assert!(install_command("npm ci --ignore-scripts").is_none());
        assert!(install_command("npm install -g npm@11").is_none());
        assert!(install_command("npm run build").is_none());
        assert!(install_command("yarn build").is_none());
        assert!(install_command("pnpm install --frozen-lockfile").is_some());
    }
}
