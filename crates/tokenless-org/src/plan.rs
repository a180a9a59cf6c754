//! The plan: the desired state minus the actual one, as a list of steps in the order that
//! never breaks a release.
//!
//! - **Additive** steps are safe while CI still publishes with its token: contexts and
//!   their restrictions, protected environments, new trust configs (a change is
//!   create-new-then-revoke-old, so a package always keeps a publisher).
//! - **Destructive** steps (publishing access, CI secrets, tokens, service accounts, team
//!   write) wait for the packages they could break: a package counts as *verified* when
//!   its latest release went through a trust config the desired state asks for
//!   (`_npmUser.trustedPublisher.oidcConfigId`). `--force-unverified` lifts the gate and
//!   the output says so.

use std::collections::BTreeSet;

use serde::Serialize;
use tokenless_api::npm::Token;
use tokenless_trust::{Permission, Publisher, TrustConfig};

use crate::actual::{Actual, context_id};
use crate::audit::checks::tokens::looks_temporary;
use crate::config::Config;
use crate::desired::{MfaSetting, PublisherSpec, TeamPermission, TokenDeletion};
use crate::record::Record;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Additive,
    Destructive,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Additive => "additive",
            Phase::Destructive => "destructive",
        }
    }
}

/// A CircleCI context a trust config binds: known by id, or created by this plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContextRef {
    Id(String),
    /// Created by an earlier `CreateContext` step; its id is known once that ran.
    Created(String),
}

/// Where a CI secret or variable lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Store {
    CircleCiProject {
        slug: String,
    },
    CircleCiContext {
        id: String,
        name: String,
    },
    GitHubRepository {
        repository: String,
    },
    GitHubEnvironment {
        repository: String,
        environment: String,
    },
    GitHubOrganization {
        org: String,
    },
    GitLabProject {
        project: String,
    },
    GitLabGroup {
        group: String,
    },
}

impl Store {
    /// The names the store held when the org was read (`None`: it was not read).
    pub fn names_in<'a>(&self, actual: &'a Actual) -> Option<&'a BTreeSet<String>> {
        match self {
            Store::CircleCiProject { slug } => actual.circleci_vars.get(&format!("project {slug}")),
            Store::CircleCiContext { name, .. } => {
                actual.circleci_vars.get(&format!("context {name}"))
            }
            Store::GitHubRepository { repository } => actual.github_secrets.get(repository),
            Store::GitHubEnvironment {
                repository,
                environment,
            } => actual
                .github_secrets
                .get(&format!("{repository}:{environment}")),
            Store::GitHubOrganization { org } => actual.github_secrets.get(&format!("org:{org}")),
            Store::GitLabProject { project } => actual.gitlab_vars.get(project),
            Store::GitLabGroup { group } => actual.gitlab_vars.get(&format!("group:{group}")),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Store::CircleCiProject { slug } => format!("CircleCI project {slug}"),
            Store::CircleCiContext { name, .. } => format!("CircleCI context {name}"),
            Store::GitHubRepository { repository } => format!("GitHub repository {repository}"),
            Store::GitHubEnvironment {
                repository,
                environment,
            } => format!("GitHub environment {repository}:{environment}"),
            Store::GitHubOrganization { org } => format!("GitHub organization {org}"),
            Store::GitLabProject { project } => format!("GitLab project {project}"),
            Store::GitLabGroup { group } => format!("GitLab group {group}"),
        }
    }
}

/// One change.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Op {
    CreateContext {
        name: String,
    },
    RestrictContext {
        context: ContextRef,
        name: String,
        expression: String,
    },
    GitHubEnvironment {
        repository: String,
        environment: String,
        branches: Vec<String>,
    },
    GitLabProtect {
        project: String,
        environment: String,
        access_level: u32,
    },
    CreateTrust {
        package: String,
        #[serde(serialize_with = "config_json")]
        config: TrustConfig,
        /// Contexts created by this plan, bound once their ids are known.
        created_contexts: Vec<String>,
    },
    RevokeTrust {
        package: String,
        id: String,
        #[serde(serialize_with = "config_json")]
        config: TrustConfig,
    },
    SetMfa {
        package: String,
    },
    DeleteVariable {
        store: Store,
        name: String,
    },
    DeleteToken {
        key: String,
        label: String,
        /// The credential this run signs in with: deleted last.
        own: bool,
        temporary: bool,
    },
    RemoveMember {
        user: String,
    },
    TeamReadOnly {
        team: String,
        package: String,
    },
}

fn config_json<S: serde::Serializer>(c: &TrustConfig, s: S) -> Result<S::Ok, S::Error> {
    c.to_json().serialize(s)
}

impl Op {
    /// Whether the registry asks for a second factor (npm writes do; CI providers don't).
    pub fn needs_2fa(&self) -> bool {
        matches!(
            self,
            Op::CreateTrust { .. }
                | Op::RevokeTrust { .. }
                | Op::SetMfa { .. }
                | Op::DeleteToken { .. }
                | Op::RemoveMember { .. }
                | Op::TeamReadOnly { .. }
        )
    }

    /// One line for people.
    pub fn describe(&self) -> String {
        match self {
            Op::CreateContext { name } => format!("create CircleCI context {name}"),
            Op::RestrictContext {
                name, expression, ..
            } => format!("restrict CircleCI context {name} to `{expression}`"),
            Op::GitHubEnvironment {
                repository,
                environment,
                branches,
            } => format!(
                "GitHub environment {repository}:{environment}: deployments only from {}",
                branches.join(", ")
            ),
            Op::GitLabProtect {
                project,
                environment,
                access_level,
            } => format!(
                "GitLab environment {project}:{environment}: protected, deploy access level {access_level}"
            ),
            Op::CreateTrust {
                package,
                config,
                created_contexts,
            } => {
                let mut text = format!("{package}: add trusted publisher {}", summary(config));
                if !created_contexts.is_empty() {
                    text.push_str(&format!(
                        " bound to the new context {}",
                        created_contexts.join(", ")
                    ));
                }
                text
            }
            Op::RevokeTrust {
                package,
                id,
                config,
            } => format!(
                "{package}: revoke trusted publisher {id} ({})",
                summary(config)
            ),
            Op::SetMfa { package } => format!(
                "{package}: publishing access \"Require two-factor authentication and disallow tokens\""
            ),
            Op::DeleteVariable { store, name } => {
                format!("delete {name} from {}", store.describe())
            }
            Op::DeleteToken {
                label,
                own,
                temporary,
                ..
            } => format!(
                "delete npm token {label}{}{}",
                if *temporary {
                    " (temporary bulk token)"
                } else {
                    ""
                },
                if *own {
                    " (this run's own credential, last)"
                } else {
                    ""
                }
            ),
            Op::RemoveMember { user } => format!("remove service account {user} from the org"),
            Op::TeamReadOnly { team, package } => {
                format!("team {team}: read-only on {package}")
            }
        }
    }
}

/// `circleci acme/monorepo (org …, contexts 1) publish+stage`.
pub fn summary(c: &TrustConfig) -> String {
    let what = match &c.publisher {
        Publisher::CircleCi(p) => format!(
            "circleci {} (project {}{})",
            p.vcs_origin,
            short(&p.project_id),
            match p.context_ids.len() {
                0 => ", no context".to_owned(),
                1 => format!(", context {}", short(&p.context_ids[0])),
                n => format!(", {n} contexts"),
            }
        ),
        Publisher::GitHub(p) => format!(
            "github {} {}{}",
            p.repository,
            p.workflow_file,
            p.environment
                .as_ref()
                .map(|e| format!(" env {e}"))
                .unwrap_or_default()
        ),
        Publisher::GitLab(p) => format!(
            "gitlab {} {}{}",
            p.project_path,
            p.ci_config_file,
            p.environment
                .as_ref()
                .map(|e| format!(" env {e}"))
                .unwrap_or_default()
        ),
    };
    let actions: Vec<&str> = c
        .permissions
        .iter()
        .map(|p| match p {
            Permission::CreatePackage => "publish",
            Permission::CreateStagedPackage => "stage-publish",
        })
        .collect();
    format!("{what} [{}]", actions.join("+"))
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// A step of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Stable across runs for the same change: the journal's key.
    pub id: String,
    pub phase: Phase,
    /// The package the step belongs to (canary grouping), if any.
    pub package: Option<String>,
    /// Packages whose verified trusted release this destructive step waits for.
    pub gate: Vec<String>,
    #[serde(flatten)]
    pub op: Op,
}

/// A package whose destructive steps wait, and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiting {
    pub package: String,
    pub reason: String,
    pub todo: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub user: String,
    pub steps: Vec<Step>,
    /// Destructive steps held back because a package they could break is not verified.
    pub held: Vec<Step>,
    pub waiting: Vec<Waiting>,
    /// Packages that are verified: their latest release came through a desired config.
    pub verified: Vec<String>,
    /// Things only a person can do.
    pub notes: Vec<String>,
    /// Destructive steps let through by `--force-unverified`.
    pub forced: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Registry writes that ask for a second factor.
    pub fn writes_needing_2fa(&self) -> usize {
        self.steps.iter().filter(|s| s.op.needs_2fa()).count()
    }

    /// How many 2FA approvals the apply needs at most: one per 5-minute "skip 2FA" window
    /// of npm's web flow at the given seconds per write (with codes from an authenticator,
    /// one per refused code, which is about the same).
    pub fn approvals(&self, seconds_per_write: f64) -> usize {
        let n = self.writes_needing_2fa();
        if n == 0 {
            return 0;
        }
        let per_window = (300.0 / seconds_per_write.max(0.05)).floor().max(1.0);
        ((n as f64) / per_window).ceil() as usize
    }
}

/// Options of `plan`/`apply` that change what is planned.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Plan destructive steps for packages without a verified trusted release.
    pub force_unverified: bool,
    /// This run's own credential: a listed token it matches is deleted last.
    pub own_credential: Option<tokenless_trust::Secret>,
}

/// Desired minus actual.
pub fn plan(cfg: &Config, actual: &Actual, record: &Record, opts: &PlanOptions) -> Plan {
    let mut p = Plan {
        user: actual.user.clone(),
        ..Plan::default()
    };
    let mut additive: Vec<Step> = Vec::new();
    let mut destructive: Vec<Step> = Vec::new();

    // --- CircleCI contexts the publishers bind ---
    let mut created: BTreeSet<String> = BTreeSet::new();
    let named: BTreeSet<&String> = cfg.publishers.iter().flat_map(|s| &s.contexts).collect();
    for name in named {
        let (id, exprs) = match context_id(actual, name) {
            Some(id) => {
                let exprs = actual
                    .contexts
                    .values()
                    .find(|(i, _)| *i == id)
                    .map(|(_, e)| e.clone());
                (ContextRef::Id(id), exprs)
            }
            None => {
                created.insert(name.clone());
                additive.push(step(
                    format!("context.create {name}"),
                    Phase::Additive,
                    None,
                    Op::CreateContext { name: name.clone() },
                ));
                (ContextRef::Created(name.clone()), None)
            }
        };
        let has = exprs.as_ref().is_some_and(|e| {
            e.iter()
                .any(|x| x.trim() == cfg.circleci.restriction.trim())
        });
        if !has {
            additive.push(step(
                format!("context.restrict {name}"),
                Phase::Additive,
                None,
                Op::RestrictContext {
                    context: id,
                    name: name.clone(),
                    expression: cfg.circleci.restriction.clone(),
                },
            ));
        }
    }

    // --- GitHub and GitLab environments the publishers pin ---
    for ((repo, env), found) in &actual.github_envs {
        let wanted: BTreeSet<&String> = cfg.github.deployment_branches.iter().collect();
        let ok = found.as_ref().is_some_and(|(e, policies)| {
            e.deployment_branch_policy
                .as_ref()
                .is_some_and(|b| b.custom_branch_policies && !b.protected_branches)
                && policies
                    .iter()
                    .all(|p| p.kind != "tag" || wanted.contains(&p.name))
                && policies.iter().map(|p| &p.name).collect::<BTreeSet<_>>() == wanted
        });
        if !ok {
            additive.push(step(
                format!("github.environment {repo}:{env}"),
                Phase::Additive,
                None,
                Op::GitHubEnvironment {
                    repository: repo.clone(),
                    environment: env.clone(),
                    branches: cfg.github.deployment_branches.clone(),
                },
            ));
        }
    }
    let level = cfg.gitlab.deploy_access_level.level();
    for ((project, env), found) in &actual.gitlab_envs {
        let ok = found
            .as_ref()
            .is_some_and(|levels| !levels.is_empty() && levels.iter().all(|l| *l >= level));
        if !ok {
            additive.push(step(
                format!("gitlab.protect {project}:{env}"),
                Phase::Additive,
                None,
                Op::GitLabProtect {
                    project: project.clone(),
                    environment: env.clone(),
                    access_level: level,
                },
            ));
        }
    }
    for project in &actual.gitlab_no_tier {
        p.notes.push(format!(
            "GitLab project {project}: its tier has no protected environments (a Premium feature), so no environment can limit who deploys; the trust config still pins the environment name"
        ));
    }

    // --- trust configs, package by package ---
    let mut managed: BTreeSet<String> = BTreeSet::new();
    for pkg in actual.packages.values() {
        let specs: Vec<&PublisherSpec> = cfg
            .publishers
            .iter()
            .filter(|s| s.matches(&pkg.name))
            .collect();
        if specs.is_empty() {
            continue;
        }
        managed.insert(pkg.name.clone());
        let mut desired_configs: Vec<(TrustConfig, Vec<String>)> = Vec::new();
        for spec in specs {
            let mut ids = Vec::new();
            let mut pending = Vec::new();
            for c in &spec.contexts {
                match context_id(actual, c) {
                    Some(id) => ids.push(id),
                    None => pending.push(c.clone()),
                }
            }
            desired_configs.push((spec.config_with_contexts(ids), pending));
        }
        let mut kept_ids: BTreeSet<String> = BTreeSet::new();
        for (want, pending) in &desired_configs {
            let existing = pending
                .is_empty()
                .then(|| pkg.trust.iter().find(|have| same_config(have, want)))
                .flatten();
            match existing {
                Some(have) => {
                    if let Some(id) = &have.id {
                        kept_ids.insert(id.clone());
                    }
                }
                None => additive.push(step(
                    format!("trust.create {} {}", pkg.name, fingerprint(want, pending)),
                    Phase::Additive,
                    Some(&pkg.name),
                    Op::CreateTrust {
                        package: pkg.name.clone(),
                        config: want.clone(),
                        created_contexts: pending.clone(),
                    },
                )),
            }
        }
        for have in &pkg.trust {
            let id = have.id.clone().unwrap_or_default();
            if id.is_empty() || kept_ids.contains(&id) {
                continue;
            }
            additive.push(step(
                format!("trust.revoke {} {id}", pkg.name),
                Phase::Additive,
                Some(&pkg.name),
                Op::RevokeTrust {
                    package: pkg.name.clone(),
                    id,
                    config: have.clone(),
                },
            ));
        }
        let verified = pkg
            .latest
            .as_ref()
            .and_then(|(_, via)| via.as_ref())
            .is_some_and(|via| kept_ids.contains(via));
        if verified {
            p.verified.push(pkg.name.clone());
        } else {
            let (reason, todo) = match &pkg.latest {
                _ if !pkg.latest_read => (
                    "no trusted publisher yet, so no release went through one".to_owned(),
                    "merge the fixed CI config and release once through the new trusted publisher"
                        .to_owned(),
                ),
                Some((v, Some(via))) => (
                    format!(
                        "latest release {v} came through trust config {via}, which tokenless.toml does not ask for"
                    ),
                    "merge the fixed CI config and release once through the new trusted publisher"
                        .to_owned(),
                ),
                Some((v, None)) => (
                    format!("latest release {v} was published with a token or by a person"),
                    "merge the fixed CI config and release once through the trusted publisher"
                        .to_owned(),
                ),
                None => (
                    "no release yet".to_owned(),
                    "release once through the trusted publisher".to_owned(),
                ),
            };
            p.waiting.push(Waiting {
                package: pkg.name.clone(),
                reason,
                todo,
            });
        }
    }
    for spec in &cfg.publishers {
        for name in &spec.exact {
            if !actual.packages.contains_key(name) {
                p.notes.push(format!(
                    "{name} does not exist yet: npm has no pending publishers, so a person publishes its first version (npm publish, with 2FA); then run plan again"
                ));
            }
        }
    }
    for name in actual.packages.keys() {
        if !managed.contains(name) && !cfg.publishers.is_empty() {
            p.notes.push(format!(
                "{name}: no [[publisher]] matches it; its trust configs are left as they are"
            ));
        }
    }

    let verified: BTreeSet<&String> = p.verified.iter().collect();
    let all_managed: Vec<String> = managed.iter().cloned().collect();

    // --- publishing access ---
    if cfg.access.mfa == Some(MfaSetting::Publish) {
        for name in actual.packages.keys() {
            let acknowledged = record.mfa_for(name).is_some();
            if acknowledged {
                continue;
            }
            destructive.push(Step {
                id: format!("mfa {name}"),
                phase: Phase::Destructive,
                package: Some(name.clone()),
                gate: vec![name.clone()],
                op: Op::SetMfa {
                    package: name.clone(),
                },
            });
        }
    }

    // --- CI secrets and variables ---
    let gate_for = |store: &Store| -> Vec<String> {
        let owner = |pred: &dyn Fn(&Publisher) -> bool| -> Vec<String> {
            actual
                .packages
                .keys()
                .filter(|n| {
                    cfg.publishers
                        .iter()
                        .any(|s| s.matches(n) && pred(&s.template.publisher))
                })
                .cloned()
                .collect()
        };
        match store {
            Store::CircleCiProject { slug } => {
                let origin = slug_origin(slug);
                owner(
                    &|p| matches!(p, Publisher::CircleCi(c) if Some(&c.vcs_origin) == origin.as_ref()),
                )
            }
            Store::GitHubRepository { repository }
            | Store::GitHubEnvironment { repository, .. } => {
                owner(&|p| matches!(p, Publisher::GitHub(g) if &g.repository == repository))
            }
            Store::GitLabProject { project } => {
                owner(&|p| matches!(p, Publisher::GitLab(g) if &g.project_path == project))
            }
            _ => all_managed.clone(),
        }
    };
    let s = &cfg.secrets;
    let mut stores: Vec<Store> = Vec::new();
    stores.extend(
        s.circleci_projects
            .iter()
            .map(|slug| Store::CircleCiProject { slug: slug.clone() }),
    );
    stores.extend(s.circleci_contexts.iter().filter_map(|name| {
        context_id(actual, name).map(|id| Store::CircleCiContext {
            id,
            name: name.clone(),
        })
    }));
    stores.extend(
        s.github_repositories
            .iter()
            .map(|repo| Store::GitHubRepository {
                repository: repo.clone(),
            }),
    );
    stores.extend(s.github_environments.iter().filter_map(|spec| {
        spec.rsplit_once(':')
            .map(|(repo, env)| Store::GitHubEnvironment {
                repository: repo.to_owned(),
                environment: env.to_owned(),
            })
    }));
    stores.extend(
        s.github_organization
            .iter()
            .map(|org| Store::GitHubOrganization { org: org.clone() }),
    );
    stores.extend(
        s.gitlab_projects
            .iter()
            .map(|project| Store::GitLabProject {
                project: project.clone(),
            }),
    );
    stores.extend(s.gitlab_group.iter().map(|group| Store::GitLabGroup {
        group: group.clone(),
    }));
    for store in &stores {
        let Some(present) = store.names_in(actual) else {
            continue;
        };
        for name in &s.names {
            if present.contains(name) {
                destructive.push(Step {
                    id: format!("variable.delete {} {name}", store.describe()),
                    phase: Phase::Destructive,
                    package: None,
                    gate: gate_for(store),
                    op: Op::DeleteVariable {
                        store: store.clone(),
                        name: name.clone(),
                    },
                });
            }
        }
    }

    // --- the signed-in owner's tokens ---
    let mut own_last: Vec<Step> = Vec::new();
    for t in &actual.tokens {
        let temporary = is_temporary(t);
        let policy = cfg.tokens.as_ref();
        let delete = temporary
            || policy.is_some_and(|pol| {
                pol.delete == TokenDeletion::All
                    && !t.name.as_ref().is_some_and(|n| pol.keep.contains(n))
            });
        if !delete {
            continue;
        }
        let own = opts
            .own_credential
            .as_ref()
            .is_some_and(|own| is_own(t, own));
        let st = Step {
            id: format!("token.delete {}", short(&t.key)),
            phase: Phase::Destructive,
            package: None,
            gate: if temporary && !own {
                Vec::new()
            } else {
                all_managed.clone()
            },
            op: Op::DeleteToken {
                key: t.key.clone(),
                label: t.label(),
                own,
                temporary,
            },
        };
        if own {
            own_last.push(st);
        } else {
            destructive.push(st);
        }
    }

    // --- members and teams ---
    if let Some(members) = &cfg.members {
        for user in &members.service_accounts {
            if actual.members.contains_key(user) {
                destructive.push(Step {
                    id: format!("member.remove {user}"),
                    phase: Phase::Destructive,
                    package: None,
                    gate: all_managed.clone(),
                    op: Op::RemoveMember { user: user.clone() },
                });
            }
        }
        let scope = cfg.org.scope.as_deref().unwrap_or("@scope");
        for m in actual.members.keys().filter(|m| **m != actual.user) {
            if members.service_accounts.contains(m) {
                p.notes.push(format!(
                    "{m} (service account): an owner cannot delete its tokens; whoever holds its credentials signs in as {m} and runs `tokenless tokens revoke --all`, then apply removes it from the org"
                ));
            } else {
                p.notes.push(format!(
                    "{m}: an owner cannot see or delete another member's tokens; {m} runs `tokenless tokens revoke --all` and `tokenless tokens attest --scope {scope}` under their own login"
                ));
            }
        }
    }
    for (team, perm) in &cfg.teams {
        let TeamPermission::ReadOnly = perm;
        if let Some(packages) = actual.teams.get(team) {
            for (package, access) in packages {
                if access == "write" || access == "read-write" {
                    destructive.push(Step {
                        id: format!("team.read-only {team} {package}"),
                        phase: Phase::Destructive,
                        package: Some(package.clone()),
                        gate: vec![package.clone()],
                        op: Op::TeamReadOnly {
                            team: team.clone(),
                            package: package.clone(),
                        },
                    });
                }
            }
        }
    }
    destructive.extend(own_last);

    // --- the gate ---
    p.steps = additive;
    for st in destructive {
        let unverified: Vec<&String> = st.gate.iter().filter(|g| !verified.contains(g)).collect();
        if unverified.is_empty() {
            p.steps.push(st);
        } else if opts.force_unverified {
            p.forced.push(format!(
                "{} (unverified: {})",
                st.op.describe(),
                unverified
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            p.steps.push(st);
        } else {
            p.held.push(st);
        }
    }
    p
}

fn step(id: String, phase: Phase, package: Option<&String>, op: Op) -> Step {
    Step {
        id,
        phase,
        package: package.cloned(),
        gate: Vec::new(),
        op,
    }
}

/// Whether two configs trust the same thing (ids aside; context ids and permissions as sets).
pub fn same_config(a: &TrustConfig, b: &TrustConfig) -> bool {
    let perms = |c: &TrustConfig| -> BTreeSet<&'static str> {
        c.permissions.iter().map(|p| p.as_str()).collect()
    };
    if perms(a) != perms(b) {
        return false;
    }
    match (&a.publisher, &b.publisher) {
        (Publisher::CircleCi(x), Publisher::CircleCi(y)) => {
            x.org_id == y.org_id
                && x.project_id == y.project_id
                && x.pipeline_definition_id == y.pipeline_definition_id
                && x.vcs_origin == y.vcs_origin
                && x.context_ids.iter().collect::<BTreeSet<_>>()
                    == y.context_ids.iter().collect::<BTreeSet<_>>()
        }
        (x, y) => x == y,
    }
}

/// A short, stable name for a config in step ids.
fn fingerprint(c: &TrustConfig, pending: &[String]) -> String {
    let mut text = c.to_json().to_string();
    for p in pending {
        text.push('+');
        text.push_str(p);
    }
    // FNV-1a, 64 bits: stable across runs and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{}:{h:016x}", c.provider())
}

/// A CircleCI project slug's VCS origin: `gh/acme/monorepo` → `github.com/acme/monorepo`.
pub fn slug_origin(slug: &str) -> Option<String> {
    let (vcs, rest) = slug.split_once('/')?;
    let host = match vcs {
        "gh" | "github" => "github.com",
        "bb" | "bitbucket" => "bitbucket.org",
        _ => return None,
    };
    Some(format!("{host}/{rest}"))
}

/// Whether a listed token (whose `token` field is a short prefix of its secret) is `own`.
pub fn is_own(t: &Token, own: &tokenless_trust::Secret) -> bool {
    t.token.len() >= 4 && own.expose().starts_with(t.token.trim_end_matches('.'))
}

/// A bulk-hardening token left over: bypass-2FA and named like a temporary one.
pub fn is_temporary(t: &Token) -> bool {
    t.bypass_2fa == Some(true) && t.name.as_deref().is_some_and(looks_temporary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actual::PackageNow;
    use crate::desired::DEFAULT_RESTRICTION;
    use std::collections::BTreeSet;
    use tokenless_trust::{CircleCiPublisher, Publisher};

    const ORG: &str = "11111111-1111-4111-8111-111111111111";
    const PROJ: &str = "22222222-2222-4222-8222-222222222222";
    const DEF: &str = "33333333-3333-4333-8333-333333333333";
    const CTX: &str = "44444444-4444-4444-8444-444444444444";

    fn config(extra: &str) -> Config {
        Config::parse(&format!(
            "[org]\nscope = \"@acme\"\n[[publisher]]\npackages = [\"@acme/*\"]\nprovider = \"circleci\"\norg_id = \"{ORG}\"\nproject_id = \"{PROJ}\"\npipeline_definition_id = \"{DEF}\"\nvcs_origin = \"github.com/acme/mono\"\ncontexts = [\"{CTX}\"]\n[access]\nmfa = \"publish\"\n{extra}"
        ))
        .expect("config")
    }

    fn trust(id: &str, contexts: &[&str]) -> TrustConfig {
        TrustConfig {
            id: Some(id.into()),
            publisher: Publisher::CircleCi(CircleCiPublisher {
                org_id: ORG.into(),
                project_id: PROJ.into(),
                pipeline_definition_id: DEF.into(),
                vcs_origin: "github.com/acme/mono".into(),
                context_ids: contexts.iter().map(|c| (*c).to_owned()).collect(),
            }),
            permissions: vec![Permission::CreatePackage],
        }
    }

    fn package(name: &str, trust: Vec<TrustConfig>, via: Option<&str>) -> PackageNow {
        PackageNow {
            name: name.into(),
            trust,
            latest: Some(("1.0.0".into(), via.map(str::to_owned))),
            latest_read: true,
        }
    }

    fn actual(packages: Vec<PackageNow>) -> Actual {
        let mut a = Actual {
            user: "alice".into(),
            ..Actual::default()
        };
        a.contexts.insert(
            "npm-publish".into(),
            (CTX.into(), vec![DEFAULT_RESTRICTION.into()]),
        );
        for p in packages {
            a.packages.insert(p.name.clone(), p);
        }
        a
    }

    fn ids(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn destructive_steps_wait_for_a_trusted_release_of_what_they_could_break() {
        let a = actual(vec![
            // Released through the desired config: verified.
            package("@acme/a", vec![trust("t-a", &[CTX])], Some("t-a")),
            // Released with a token: its access stays as it is.
            package("@acme/b", vec![trust("t-b", &[CTX])], None),
        ]);
        let p = plan(&config(""), &a, &Record::default(), &PlanOptions::default());
        assert_eq!(p.verified, vec!["@acme/a"]);
        assert_eq!(ids(&p.steps), vec!["mfa @acme/a"]);
        assert_eq!(ids(&p.held), vec!["mfa @acme/b"]);
        assert_eq!(p.waiting.len(), 1);
        assert!(p.waiting[0].reason.contains("token or by a person"));

        let forced = plan(
            &config(""),
            &a,
            &Record::default(),
            &PlanOptions {
                force_unverified: true,
                ..PlanOptions::default()
            },
        );
        assert_eq!(ids(&forced.steps), vec!["mfa @acme/a", "mfa @acme/b"]);
        assert!(forced.forced[0].contains("@acme/b"), "{:?}", forced.forced);
    }

    #[test]
    fn a_changed_config_is_created_before_the_old_one_is_revoked() {
        // The current config binds no context; the desired one binds CTX.
        let a = actual(vec![package(
            "@acme/a",
            vec![trust("old", &[])],
            Some("old"),
        )]);
        let p = plan(&config(""), &a, &Record::default(), &PlanOptions::default());
        let steps = ids(&p.steps);
        let create = steps
            .iter()
            .position(|s| s.starts_with("trust.create @acme/a"));
        let revoke = steps.iter().position(|s| *s == "trust.revoke @acme/a old");
        assert!(
            create.is_some() && revoke.is_some() && create < revoke,
            "{steps:?}"
        );
        // Released through the config about to go: not verified, access held.
        assert!(p.verified.is_empty());
        assert_eq!(ids(&p.held), vec!["mfa @acme/a"]);
    }

    #[test]
    fn access_the_registry_acknowledged_is_not_planned_again() {
        let a = actual(vec![package(
            "@acme/a",
            vec![trust("t", &[CTX])],
            Some("t"),
        )]);
        let mut record = Record::default();
        record.add(crate::journal::Entry {
            step: "mfa @acme/a".into(),
            op: serde_json::json!({"op": "set-mfa", "package": "@acme/a"}),
            at: "t".into(),
            verified: "acknowledged".into(),
            evidence: "POST /-/package/@acme%2fa/access answered 2xx".into(),
            by: Some("alice".into()),
        });
        let p = plan(&config(""), &a, &record, &PlanOptions::default());
        assert!(p.is_empty() && p.held.is_empty(), "{p:?}");
    }

    #[test]
    fn a_missing_package_needs_a_first_publish_by_a_person() {
        let cfg = Config::parse(
            "[[publisher]]\npackages = [\"@acme/new\"]\nprovider = \"github\"\nrepository = \"acme/new\"\nworkflow = \"publish.yml\"\n",
        )
        .expect("config");
        let p = plan(
            &cfg,
            &actual(vec![]),
            &Record::default(),
            &PlanOptions::default(),
        );
        assert!(
            p.notes
                .iter()
                .any(|n| n.contains("@acme/new does not exist yet"))
        );
        assert!(p.steps.is_empty());
    }

    #[test]
    fn secrets_wait_for_their_own_packages_and_temporary_tokens_for_nothing() {
        let mut a = actual(vec![
            package("@acme/a", vec![trust("t", &[CTX])], Some("t")),
            package("@acme/b", vec![trust("u", &[CTX])], None),
        ]);
        a.circleci_vars.insert(
            "project gh/acme/mono".into(),
            BTreeSet::from(["NPM_TOKEN".to_owned()]),
        );
        a.tokens.push(Token {
            key: "k-temp".into(),
            token: "npm_tmp1".into(),
            name: Some("tmp-bulk-hardening".into()),
            bypass_2fa: Some(true),
            ..Token::default()
        });
        a.tokens.push(Token {
            key: "k-ci".into(),
            token: "npm_ci00".into(),
            name: Some("ci".into()),
            ..Token::default()
        });
        let cfg = config(
            "[secrets]\nnames = [\"NPM_TOKEN\"]\ncircleci_projects = [\"gh/acme/mono\"]\n[tokens]\ndelete = \"all\"\n",
        );
        let p = plan(&cfg, &a, &Record::default(), &PlanOptions::default());
        // The temporary token goes at once; the project variable and the other token wait
        // for @acme/b, which still releases with a token.
        assert!(ids(&p.steps).contains(&"token.delete k-temp"));
        let held = ids(&p.held);
        assert!(held.contains(&"token.delete k-ci"), "{held:?}");
        assert!(
            held.iter()
                .any(|s| s.starts_with("variable.delete CircleCI project")),
            "{held:?}"
        );
    }

    #[test]
    fn the_runs_own_token_is_deleted_last() {
        let mut a = actual(vec![package(
            "@acme/a",
            vec![trust("t", &[CTX])],
            Some("t"),
        )]);
        for (key, prefix) in [("k-own", "npm_own0"), ("k-other", "npm_oth0")] {
            a.tokens.push(Token {
                key: key.into(),
                token: prefix.into(),
                name: Some(key.into()),
                ..Token::default()
            });
        }
        let cfg = config("[tokens]\ndelete = \"all\"\n");
        let own = tokenless_trust::Secret::new("npm_own0abcdefghijklmnopqrstuvwxyz0123");
        let p = plan(
            &cfg,
            &a,
            &Record::default(),
            &PlanOptions {
                own_credential: Some(own),
                ..PlanOptions::default()
            },
        );
        let steps = ids(&p.steps);
        assert_eq!(steps.last(), Some(&"token.delete k-own"), "{steps:?}");
        assert!(steps.contains(&"token.delete k-other"));
    }
}
