//! `untrusted-trigger-publish`: a publish reachable from pull requests, forks,
//! `pull_request_target`, `workflow_run`, merge-request pipelines, or (CircleCI) from
//! every branch push.

use std::collections::HashMap;

use super::{FileCx, Model, Out};
use crate::circleci::{self, Reach};
use crate::finding::{RuleId, RuleMeta, Severity};
use crate::github;
use crate::model::Loc;

pub const META: RuleMeta = RuleMeta {
    id: RuleId::UntrustedTriggerPublish,
    default_severity: Severity::High,
    summary: "A publish reachable from pull requests, forks or other untrusted triggers.",
};

const ID: RuleId = META.id;

pub fn check(cx: &FileCx<'_>, out: &mut Out<'_>) {
    match cx.model {
        Model::CircleCi(cfg) => circle(cx, cfg, out),
        Model::GitHub(wf) => gh(cx, wf, out),
        Model::GitLab(cfg) => {
            for j in &cx.jobs {
                let Some(p) = j.first() else { continue };
                out.job(j.index);
                if let Some(node) = cfg.mr.get(j.index).copied().flatten() {
                    out.push(
                        ID,
                        None,
                        Loc::of(cx.forest, node),
                        format!("job `{}` runs {} in merge-request pipelines, which anyone who opens a merge request can start (fork MRs carry the fork's claims)", j.name(), p.what),
                        "run the publish job only on protected branches or tags (`if: $CI_COMMIT_TAG` or `$CI_COMMIT_REF_PROTECTED == \"true\"`)",
                    );
                }
            }
        }
    }
}

fn circle(cx: &FileCx<'_>, cfg: &circleci::Config, out: &mut Out<'_>) {
    let forest = cx.forest;
    let by_name: HashMap<&str, usize> = cx.jobs.iter().map(|j| (j.name(), j.index)).collect();
    for e in &cfg.entries {
        if e.is_approval {
            continue;
        }
        let Some(j) = by_name.get(e.job.as_str()).and_then(|i| cx.jobs.get(*i)) else {
            continue;
        };
        let Some(p) = j.first() else { continue };
        out.job(j.index);
        let reach = circleci::reach(forest, e.filters.map(|f| f.1));
        let at = e.filters.map(|f| f.0).unwrap_or(e.node);
        let why = match &reach {
            Reach::Restricted => continue,
            Reach::AllBranches(why) => why.to_string(),
            Reach::MostBranches(pats) => {
                format!("its filters only ignore {pats}, so it runs on every other branch")
            }
        };
        let mut severity = None;
        let mut guard_note = String::new();
        if !e.contexts.is_empty() {
            severity = Some(Severity::Medium);
            guard_note = format!(
                "; only the restrictions of context `{}` can stop it",
                e.contexts
                    .iter()
                    .map(|c| c.0.as_str())
                    .collect::<Vec<_>>()
                    .join("`, `")
            );
        } else if e.behind_approval || e.workflow_conditional {
            severity = Some(Severity::Medium);
            guard_note = "; a workflow condition or approval is the only gate, and the config is editable by anyone who can push".to_string();
        }
        out.push(
            ID,
            severity,
            Loc::of(forest, at),
            format!("publish job `{}` in workflow `{}` runs {}: {why}{guard_note}", e.name, e.workflow, p.what),
            "restrict the job to the release branch or tags (`branches: ignore: /.*/` with tag filters) and rely on a restricted context",
        );
    }
}

fn gh(cx: &FileCx<'_>, wf: &github::Workflow, out: &mut Out<'_>) {
    for j in &cx.jobs {
        let Some(p) = j.first() else { continue };
        out.job(j.index);
        for (event, node) in &wf.triggers {
            if !matches!(
                event.as_str(),
                "pull_request_target" | "workflow_run" | "pull_request"
            ) {
                continue;
            }
            let mut conds: Vec<&str> = Vec::new();
            if let Some(c) = wf.job_ifs.get(j.index).and_then(|c| c.as_deref()) {
                conds.push(c);
            }
            if let Some(c) = wf
                .step_ifs
                .get(j.index)
                .and_then(|s| s.get(p.step))
                .and_then(|c| c.as_deref())
            {
                conds.push(c);
            }
            if conds.iter().any(|c| github::excludes(c, event)) {
                continue;
            }
            let threat = match event.as_str() {
                "pull_request_target" => {
                    "runs with the base repository's secrets and permissions for pull requests from forks"
                }
                "workflow_run" => {
                    "runs with full permissions after a workflow that pull requests can trigger"
                }
                _ => "runs for every pull request",
            };
            out.push(
                ID,
                None,
                Loc::of(cx.forest, *node),
                format!("the workflow triggers on `{event}`, which {threat}, and job `{}` runs {} with no condition excluding it", j.name(), p.what),
                "publish from a separate workflow triggered by `push` to tags or `release`, or guard the job with `if: github.event_name == 'push'`",
            );
        }
    }
}
