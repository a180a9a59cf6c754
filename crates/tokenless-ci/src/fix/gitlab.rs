//! GitLab CI: `id_tokens: NPM_ID_TOKEN: aud: "npm:registry.npmjs.org"` on the publish
//! job, the stored-token variables and `.npmrc` lines gone, npm raised before the publish
//! where the image's is too old.

use super::script::NPM_AUDIENCE;
use super::{Draft, JobIn, Op, Seg, Value, env_removals, script_change};
use crate::finding::RuleId;
use crate::model::StepKind;

const OIDC_RULES: &[RuleId] = &[
    RuleId::StaticTokenPublish,
    RuleId::TokenFallback,
    RuleId::OidcTokenMissing,
    RuleId::OidcAudienceMismatch,
];

pub fn fix_job(input: &JobIn<'_>, d: &mut Draft) {
    let job = input.job();
    let name = input.j.name();
    let wants_oidc = OIDC_RULES.iter().any(|r| input.has(*r));
    for (i, step) in job.steps.iter().enumerate() {
        let StepKind::Run { node, text, exact } = &step.kind else {
            continue;
        };
        let (new, what) = super::common_script_edits(input, d, i, step, text, wants_oidc);
        script_change(input, d, step, *node, text, *exact, &new, &what);
    }
    let job_route = input.top(name).and_then(|n| input.route(n).ok());
    let raised = super::raise_node_image(input, d, job_route.as_ref());
    if wants_oidc {
        env_removals(input, d, &job.env, "the job's `variables`");
        id_token(input, d);
    }
    if input.needs_npm_upgrade(crate::versions::NPM_MIN_OTHER)
        && !super::ships_npm(raised.as_deref(), crate::versions::NPM_MIN_OTHER)
        && let Some(p) = input.j.publishes.first()
        && let Some(step) = job.steps.get(p.step)
        && let Some(route) = d.route(input, step.node, "the publish script line")
    {
        let upgrade = Value::str(super::npm_upgrade(input, super::github::NPM_FLOOR));
        match route.split_last().map(|(p, s)| (p, s.clone())) {
            Some((parent, Seg::Index(at))) => d.patch(
                input,
                parent,
                Op::Insert {
                    index: at,
                    value: upgrade,
                },
            ),
            _ => {
                let old = Value::str(input.forest().text(step.node));
                d.patch(
                    input,
                    route,
                    Op::Replace {
                        value: Value::Seq(vec![upgrade, old]),
                    },
                );
            }
        }
        d.changes
            .push(format!("job `{name}`: upgrades npm before the publish"));
    }
}

fn id_token(input: &JobIn<'_>, d: &mut Draft) {
    let forest = input.forest();
    let name = input.j.name();
    let declared = input
        .job()
        .id_token
        .gitlab
        .iter()
        .find(|g| g.var == "NPM_ID_TOKEN");
    if let Some(g) = declared {
        if g.aud != NPM_AUDIENCE
            && let Some(route) = d.route(input, g.aud_node, "the `aud` of NPM_ID_TOKEN")
        {
            d.patch(
                input,
                route,
                Op::Replace {
                    value: Value::str(NPM_AUDIENCE),
                },
            );
            d.changes.push(format!(
                "job `{name}`: NPM_ID_TOKEN's audience becomes `{NPM_AUDIENCE}`"
            ));
        }
        return;
    }
    let Some(def) = input.top(name) else {
        d.refusals.push(format!(
            "job `{name}` is not a top-level key of the configuration"
        ));
        return;
    };
    let token = Value::map([("aud", Value::str(NPM_AUDIENCE))]);
    match forest.get(def, "id_tokens") {
        Some(ids) if forest.is_map(ids) => {
            if let Some(route) = d.route(input, ids, &format!("the `id_tokens` of job `{name}`")) {
                d.patch(
                    input,
                    route,
                    Op::Set {
                        key: "NPM_ID_TOKEN".into(),
                        value: token,
                        before: None,
                    },
                );
            }
        }
        Some(_) => {
            d.refusals
                .push(format!("job `{name}`: `id_tokens` is not a mapping"));
            return;
        }
        None => {
            if let Some(route) = d.route(input, def, &format!("job `{name}`")) {
                d.patch(
                    input,
                    route,
                    Op::Set {
                        key: "id_tokens".into(),
                        value: Value::map([("NPM_ID_TOKEN", token)]),
                        before: Some("script".into()),
                    },
                );
            }
        }
    }
    d.changes.push(format!(
        "job `{name}`: declares `id_tokens: NPM_ID_TOKEN` for `{NPM_AUDIENCE}`"
    ));
}
