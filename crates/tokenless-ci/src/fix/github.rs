//! GitHub Actions: `id-token: write` on the publish job (a job-level block replaces the
//! workflow's, so the permissions the job had are written out with it), the stored-token
//! wiring gone (`NODE_AUTH_TOKEN`/`NPM_TOKEN` env, token inputs of publish actions,
//! `.npmrc` lines), Node ≥ 22.14 and npm ≥ 11.5.1, and `environment:` when asked.

use super::{Draft, JobIn, Op, Value, env_removals, script_change};
use crate::finding::RuleId;
use crate::model::StepKind;
use crate::publish::Client;

/// npm's floor for the GitHub/GitLab exchange, and Node's.
pub const NPM_FLOOR: &str = "^11.5.1";
pub const NODE: &str = "24";

const OIDC_RULES: &[RuleId] = &[
    RuleId::StaticTokenPublish,
    RuleId::TokenFallback,
    RuleId::OidcTokenMissing,
];

pub fn fix_job(input: &JobIn<'_>, d: &mut Draft) {
    let job = input.job();
    let wants_oidc = OIDC_RULES.iter().any(|r| input.has(*r));
    let publish = input.j.publishes.first().copied();

    for (i, step) in job.steps.iter().enumerate() {
        let publishes_here = input.j.publishes.iter().any(|p| p.step == i);
        match &step.kind {
            StepKind::Run { node, text, exact } => {
                let (new, what) = super::common_script_edits(input, d, i, step, text, wants_oidc);
                script_change(input, d, step, *node, text, *exact, &new, &what);
            }
            StepKind::Uses { name: action, .. }
                if wants_oidc
                    && publishes_here
                    && (action.starts_with("./") || action.contains(".github/workflows/")) =>
            {
                d.refusals.push(format!(
                    "step `{}`: `{action}` is this repository's own action or workflow; drop its npm token input there and let it publish with the id token",
                    super::step_label(step)
                ));
            }
            StepKind::Uses { inputs, .. } if wants_oidc && publishes_here => {
                for t in inputs.iter().filter(|t| {
                    crate::facts::is_token_input(&t.name)
                        && matches!(
                            crate::facts::classify(&t.text, &[]),
                            crate::facts::Source::Static(_)
                        )
                }) {
                    if let Some(route) = d.route(input, t.value, &format!("the `{}` input", t.name))
                    {
                        let Some((with, _)) = route.split_last() else {
                            continue;
                        };
                        let own =
                            super::splice::node_at(input.forest(), input.root_of(&with), &with)
                                .map_or(usize::MAX, |m| input.forest().entries(m).len());
                        if own <= 1 {
                            d.patch(input, with, Op::Remove);
                        } else {
                            d.patch(input, route, Op::Remove);
                        }
                        d.changes.push(format!(
                            "job `{}`, step `{}`: removes the `{}` input",
                            input.j.name(),
                            super::step_label(step),
                            t.name
                        ));
                    }
                }
            }
            _ => {}
        }
    }

    if wants_oidc {
        env_removals(input, d, &job.env, "the job's `env`");
        for step in &job.steps {
            env_removals(input, d, &step.env, "the step's `env`");
        }
    }
    if wants_oidc && job.id_token.github_write.is_none() {
        grant_id_token(input, d);
    }
    if input.has(RuleId::NpmTooOld) {
        raise_node(input, d);
    }
    if input.needs_npm_upgrade(crate::versions::NPM_MIN_OTHER)
        && let Some(p) = publish
    {
        upgrade_npm(input, d, p.step);
    }
    if let Some(env) = &input.opts.environment
        && let Some(def) = job_def(input)
        && input.forest().get(def, "environment").is_none()
        && let Some(route) = d.route(input, def, &format!("job `{}`", input.j.name()))
    {
        d.patch(
            input,
            route,
            Op::Set {
                key: "environment".into(),
                value: Value::str(env.clone()),
                before: Some("steps".into()),
            },
        );
        d.changes.push(format!(
            "job `{}`: runs in the environment `{env}`",
            input.j.name()
        ));
        d.notes.push(format!(
            "the environment `{env}` must exist with a deployment branch policy, and the trust config must name it (`tokenless apply` does both)"
        ));
    }
}

fn job_def(input: &JobIn<'_>) -> Option<crate::yaml::NodeId> {
    input.forest().path(input.root(), &["jobs", input.j.name()])
}

/// What a job needs besides `id-token: write` when no permissions are written anywhere
/// (the repository default then applied, and a job-level block would drop it).
fn default_permissions(input: &JobIn<'_>) -> Vec<(String, Value)> {
    let clients: Vec<Client> = input.j.publishes.iter().map(|p| p.client).collect();
    let mut v = vec![];
    let writes = clients.iter().any(|c| {
        matches!(
            c,
            Client::SemanticRelease
                | Client::Changesets
                | Client::ReleaseIt
                | Client::Lerna
                | Client::NxRelease
                | Client::Auto
        )
    });
    v.push((
        "contents".to_string(),
        Value::str(if writes { "write" } else { "read" }),
    ));
    if clients.contains(&Client::Changesets) || clients.contains(&Client::SemanticRelease) {
        v.push(("pull-requests".to_string(), Value::str("write")));
    }
    if clients.contains(&Client::SemanticRelease) {
        v.push(("issues".to_string(), Value::str("write")));
    }
    v
}

fn grant_id_token(input: &JobIn<'_>, d: &mut Draft) {
    let forest = input.forest();
    let name = input.j.name();
    let Some(def) = job_def(input) else {
        d.refusals
            .push(format!("job `{name}` is not under `jobs:`"));
        return;
    };
    if let Some(perms) = forest.get(def, "permissions") {
        if forest.is_map(perms) {
            if let Some(route) = d.route(input, perms, &format!("the permissions of job `{name}`"))
            {
                d.patch(
                    input,
                    route,
                    Op::Set {
                        key: "id-token".into(),
                        value: Value::str("write"),
                        before: None,
                    },
                );
                d.changes.push(format!(
                    "job `{name}`: adds `id-token: write` to its permissions"
                ));
            }
        } else {
            d.refusals.push(format!(
                "job `{name}` has `permissions: {}`; write its permissions out with `id-token: write`",
                forest.text(perms)
            ));
        }
        return;
    }
    let mut entries: Vec<(String, Value)> = match forest.get(input.root(), "permissions") {
        Some(wf) if forest.is_map(wf) => forest
            .entries(wf)
            .iter()
            .filter(|(k, _)| forest.text(*k) != "id-token")
            .map(|(k, v)| (forest.text(*k).to_string(), Value::str(forest.text(*v))))
            .collect(),
        Some(wf) => {
            d.refusals.push(format!(
                "the workflow has `permissions: {}`; give job `{name}` its own permissions with `id-token: write`",
                forest.text(wf)
            ));
            return;
        }
        None => default_permissions(input),
    };
    entries.push(("id-token".to_string(), Value::str("write")));
    if let Some(route) = d.route(input, def, &format!("job `{name}`")) {
        let shown = entries
            .iter()
            .map(|(k, v)| match v {
                Value::Str(s) => format!("{k}: {s}"),
                _ => k.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        d.patch(
            input,
            route,
            Op::Set {
                key: "permissions".into(),
                value: Value::Map(entries),
                before: Some("steps".into()),
            },
        );
        d.changes
            .push(format!("job `{name}`: gets `permissions: {{{shown}}}`"));
    }
}

/// Node ≥ 22.14 through setup-node (npm documents it for trusted publishing).
fn raise_node(input: &JobIn<'_>, d: &mut Draft) {
    let job = input.job();
    let name = input.j.name();
    for step in &job.steps {
        let StepKind::Uses {
            name: action,
            inputs,
            ..
        } = &step.kind
        else {
            continue;
        };
        if !action.starts_with("actions/setup-node") {
            continue;
        }
        if let Some(v) = inputs.iter().find(|i| i.name == "node-version")
            && !node_new_enough(&v.text)
        {
            {
                if v.text.contains("${{") {
                    d.refusals.push(format!(
                        "job `{name}`: node-version `{}` comes from an expression; make it 22.14 or later",
                        v.text
                    ));
                } else if let Some(route) = d.route(input, v.value, "setup-node's node-version") {
                    d.patch(
                        input,
                        route,
                        Op::Replace {
                            value: Value::str(NODE),
                        },
                    );
                    d.changes.push(format!(
                        "job `{name}`: setup-node installs Node {NODE} (was {})",
                        v.text
                    ));
                }
            }
        }
    }
}

/// npm ≥ 11.5.1 installed before the publish (Node 22 ships npm 10, so raising Node
/// alone is not enough).
fn upgrade_npm(input: &JobIn<'_>, d: &mut Draft, publish_step: usize) {
    super::insert_step_before(
        input,
        d,
        publish_step,
        Value::map([("run", Value::str(super::npm_upgrade(input, NPM_FLOOR)))]),
        "upgrades npm before the publish",
    );
}

/// A setup-node version that is certainly ≥ 22.14 (`lts/*`, `node`, `24`, `22.14.0`).
fn node_new_enough(spec: &str) -> bool {
    let s = spec
        .trim()
        .trim_matches(['"', '\''])
        .trim_start_matches('v');
    if matches!(s, "lts/*" | "node" | "latest" | "current") {
        return true;
    }
    let mut parts = s
        .split('.')
        .map(|p| p.trim_end_matches(".x").parse::<u32>());
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), minor) => {
            major > 22 || (major == 22 && minor.and_then(Result::ok).is_some_and(|m| m >= 14))
        }
        _ => false,
    }
}
