//! CircleCI: the legacy token steps go, the id token is minted in the publishing step
//! (`circleci.md` §2.6), npm is raised where it is too old, `NPM_TOKEN` leaves the job's
//! `environment`, and the workflow job is bound to the publish context.

use std::collections::BTreeSet;

use super::script::{self, Edit};
use super::{Draft, JobIn, Op, Value, env_removals, publish_line, script_change};
use crate::finding::RuleId;
use crate::model::StepKind;
use crate::yaml::NodeId;

/// The npm that CircleCI's exchange needs (npm reads `NPM_ID_TOKEN` from 11.11).
pub const NPM_FLOOR: &str = "^11.11.0";

const OIDC_RULES: &[RuleId] = &[
    RuleId::StaticTokenPublish,
    RuleId::TokenFallback,
    RuleId::OidcTokenMissing,
    RuleId::OidcTokenUnguarded,
    RuleId::OidcTokenMisused,
    RuleId::OidcAudienceMismatch,
];

pub fn fix_job(input: &JobIn<'_>, d: &mut Draft) {
    let job = input.job();
    let f = input.facts();
    let wants_oidc = OIDC_RULES.iter().any(|r| input.has(*r));
    // A mint is rewritten when it is masked or misused, or when its audience is wrong
    // (not when the mismatch is a publish to another registry, which no mint fixes).
    let wrong_audience = input.has(RuleId::OidcAudienceMismatch)
        && (!f.audience_errors.is_empty()
            || f.mints.iter().any(|m| {
                m.claims
                    .as_ref()
                    .is_none_or(|c| !c.text.contains(&format!("\"{}\"", script::NPM_AUDIENCE)))
            }));
    let rewrite_mint = input.has(RuleId::OidcTokenUnguarded)
        || input.has(RuleId::OidcTokenMisused)
        || wrong_audience;
    let publish = input.j.publishes.first().copied();
    let publish_step = publish.map(|p| p.step);
    let mint_steps: BTreeSet<usize> = f.mints.iter().map(|m| m.step).collect();
    let need_mint = wants_oidc && (!input.j.all_reach || rewrite_mint);

    for (i, step) in job.steps.iter().enumerate() {
        let StepKind::Run { node, text, exact } = &step.kind else {
            continue;
        };
        let (mut new, mut what) = super::common_script_edits(input, d, i, step, text, wants_oidc);
        if need_mint {
            let mints_here = mint_steps.contains(&i);
            let publish_mints = publish_step.is_some_and(|p| mint_steps.contains(&p));
            let edit = if mints_here && publish_step != Some(i) && publish_mints {
                // The publishing step mints its own token: this one is not needed.
                Some(script::without_mint(&new))
            } else if mints_here {
                // Replace the existing mint; it must cross steps when the publish is elsewhere.
                let crosses = publish_step.is_some_and(|p| p != i);
                Some(script::with_mint(&new, None, crosses))
            } else if publish_step == Some(i) && !mint_steps.iter().any(|m| *m < i) {
                let line = publish.and_then(|p| publish_line(input, *node, text, &new, p.loc));
                Some(match line {
                    Some(l) => script::with_mint(&new, Some(l), false),
                    None => Edit::Unsure("the publish line was not found in its step".into()),
                })
            } else {
                None
            };
            match edit {
                Some(Edit::Changed(t)) => {
                    new = t;
                    what.push("mints the id token in the step (guarded, not printed)");
                }
                Some(Edit::Unsure(r)) => d
                    .refusals
                    .push(format!("step `{}`: {r}", super::step_label(step))),
                _ => {}
            }
        }
        script_change(input, d, step, *node, text, *exact, &new, &what);
    }

    // A publish in an orb command or reusable command with no mint before it: mint in a
    // step of its own just before, handing the token on through $BASH_ENV.
    if need_mint
        && let Some(p) = publish
        && !matches!(
            job.steps.get(p.step).map(|s| &s.kind),
            Some(StepKind::Run { .. })
        )
        && !mint_steps.iter().any(|m| *m < p.step)
    {
        let mut block = vec!["set -euo pipefail".to_string()];
        block.extend(script::canonical_mint("", true));
        let run = block.join("\n") + "\n";
        super::insert_step_before(
            input,
            d,
            p.step,
            Value::map([(
                "run",
                Value::map([
                    ("name", Value::str("Mint the npm id token")),
                    ("command", Value::str(run)),
                ]),
            )]),
            "adds a step that mints the id token for the orb's publish",
        );
    }

    let job_route = input
        .forest()
        .path(input.root(), &["jobs", input.j.name()])
        .and_then(|n| input.route(n).ok());
    let raised = own_executor_image(input, d)
        .or_else(|| super::raise_node_image(input, d, job_route.as_ref()));
    if input.needs_npm_upgrade(crate::versions::NPM_MIN_CIRCLECI)
        && !super::ships_npm(raised.as_deref(), crate::versions::NPM_MIN_CIRCLECI)
        && let Some(p) = publish
    {
        super::insert_step_before(
            input,
            d,
            p.step,
            Value::map([("run", Value::str(super::npm_upgrade(input, NPM_FLOOR)))]),
            "upgrades npm before the publish",
        );
    }

    if wants_oidc {
        env_removals(input, d, &job.env, "the job's `environment`");
        for step in &job.steps {
            env_removals(input, d, &step.env, "the step's `environment`");
        }
    }

    if wants_oidc || input.has(RuleId::BranchFilterOnly) {
        bind_context(input, d);
    }
}

/// A job on a shared executor that is nothing but one Node image too old for npm 11
/// gets that image, raised, as its own `docker:` (the executor and its other users are
/// left alone). True when it did.
fn own_executor_image(input: &JobIn<'_>, d: &mut Draft) -> Option<String> {
    if !input.has(RuleId::NpmTooOld) {
        return None;
    }
    let forest = input.forest();
    let def = forest.path(input.root(), &["jobs", input.j.name()])?;
    let executor = forest.get(def, "executor").and_then(|e| forest.str(e))?;
    let exec = forest.path(input.root(), &["executors", executor])?;
    let [(k, docker)] = forest.entries(exec) else {
        return None;
    };
    let [item] = forest.items(*docker) else {
        return None;
    };
    let [(ik, image)] = forest.entries(*item) else {
        return None;
    };
    if forest.text(*k) != "docker" || forest.text(*ik) != "image" {
        return None;
    }
    let old = forest.text(*image);
    let new = super::raised_image(old.trim())?;
    let route = d.route(input, def, &format!("job `{}`", input.j.name()))?;
    d.patch(
        input,
        route.clone(),
        Op::Set {
            key: "docker".into(),
            value: Value::Seq(vec![Value::map([("image", Value::str(new.clone()))])]),
            before: Some("executor".into()),
        },
    );
    d.patch(input, route.key("executor"), Op::Remove);
    d.changes.push(format!(
        "job `{}`: runs on its own image `{new}` instead of the executor `{executor}` (`{old}`, shared with other jobs)",
        input.j.name()
    ));
    Some(new)
}

/// Bind every workflow use of the job to the publish context.
fn bind_context(input: &JobIn<'_>, d: &mut Draft) {
    let forest = input.forest();
    let ctx = &input.opts.context;
    let name = input.j.name();
    let Some(workflows) = forest.get(input.root(), "workflows") else {
        return;
    };
    let mut bound = false;
    let mut kept: Vec<String> = Vec::new();
    for &(_, wf) in forest.entries(workflows) {
        let Some(list) = forest.get(wf, "jobs") else {
            continue;
        };
        for &item in forest.items(list) {
            let (job, cfg): (&str, Option<NodeId>) = match forest.str(item) {
                Some(s) => (s, None),
                None => match forest.entries(item).first() {
                    Some(&(k, v)) => (forest.text(k), Some(v)),
                    None => continue,
                },
            };
            if job != name {
                continue;
            }
            if cfg
                .and_then(|c| forest.get(c, "type"))
                .is_some_and(|t| forest.text(t) == "approval")
            {
                continue;
            }
            let contexts: Vec<(NodeId, &str)> = cfg
                .and_then(|c| forest.get(c, "context"))
                .map(|c| forest.str_or_list(c))
                .unwrap_or_default();
            if contexts.iter().any(|(_, c)| c == ctx) {
                continue;
            }
            kept.extend(contexts.iter().map(|(_, c)| c.to_string()));
            let with_context = Value::map([("context", Value::str(ctx.clone()))]);
            match cfg {
                Some(c) if forest.is_map(c) => {
                    let Some(route) = d.route(input, c, &format!("the workflow entry of `{name}`"))
                    else {
                        continue;
                    };
                    let value = match forest.get(c, "context") {
                        None => Value::str(ctx.clone()),
                        Some(_) => Value::Seq(
                            contexts
                                .iter()
                                .map(|(_, c)| Value::str(*c))
                                .chain([Value::str(ctx.clone())])
                                .collect(),
                        ),
                    };
                    d.patch(
                        input,
                        route,
                        Op::Set {
                            key: "context".into(),
                            value,
                            before: None,
                        },
                    );
                }
                _ => {
                    let Some(route) =
                        d.route(input, item, &format!("the workflow entry of `{name}`"))
                    else {
                        continue;
                    };
                    d.patch(
                        input,
                        route,
                        Op::Replace {
                            value: Value::map([(name.to_string(), with_context)]),
                        },
                    );
                }
            }
            bound = true;
            d.changes.push(format!(
                "workflow job `{name}`: runs in the context `{ctx}`"
            ));
        }
    }
    kept.sort();
    kept.dedup();
    for k in kept {
        d.notes.push(format!(
            "the job keeps the context `{k}`: if it holds NPM_TOKEN, delete that variable (`tokenless apply` does)"
        ));
    }
    if bound {
        d.notes.push(format!(
            "the context `{ctx}` must exist with an expression restriction such as `pipeline.git.branch == \"main\" and not job.ssh.enabled`, and its id must be in the package's trust config (`tokenless apply` creates both)"
        ));
    }
}
