//! The apply engine: runs a plan's steps against the registry and the CI providers.
//!
//! Order: org-level setup (contexts, restrictions, environments), then the **canary**
//! (every step of one package, each read back), then the other packages with bounded
//! concurrency and pacing, then org-level removals (CI secrets, members, tokens; this
//! run's own credential last). Every completed step goes to the journal at once, so a
//! stopped run resumes without doing anything twice, and into the record with its
//! evidence.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures::{StreamExt, stream};
use tokenless_api::{
    ApiError,
    github::BranchPolicySettings,
    gitlab::Protection,
    npm::{NpmClient, PublishingAccess},
};
use tokio::sync::{Mutex, RwLock};

use crate::{
    actual::{Clients, CollectError},
    journal::{Entry, Journal, JournalError},
    plan::{ContextRef, Op, Phase, Plan, Step, Store, same_config},
    record::{Canary, Record},
    twofa::TwoFactor,
};

/// What a person sees and answers during an apply; the binary implements it.
pub trait Reporter: Send + Sync {
    /// The run starts with this many steps to do (journaled ones excluded).
    fn started(&self, total: usize);
    /// A step finished (or failed).
    fn finished(&self, step: &Step, result: &Result<Entry, String>);
    /// A line of narration (canary, waiting, login).
    fn note(&self, line: &str);
    /// The session expired: open this URL to sign in again.
    fn show_login_url(&self, url: &str);
    /// Ask whether the package's settings page shows "Require two-factor authentication
    /// and disallow tokens" selected. `None`: nobody was asked (`--yes`).
    fn confirm_access(&self, package: &str, settings_url: &str) -> Option<bool>;
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// `Additive`: only additive steps; `Destructive`: every step of the plan.
    pub phase: Phase,
    pub concurrency: usize,
    /// Least time between two registry writes.
    pub pace: Duration,
    /// The canary package; default: the first package with steps.
    pub canary: Option<String>,
    /// The scope (`@acme`).
    pub scope: String,
    /// The CircleCI organization id (for contexts), if CircleCI is in play.
    pub circleci_org: Option<String>,
    /// Where packages' settings pages are (`https://www.npmjs.com`).
    pub website: String,
    /// How long a new login is awaited.
    pub login_timeout: Duration,
    /// The npm account making the changes (whoami), recorded with each step.
    pub actor: Option<String>,
}

#[derive(Debug, Default)]
pub struct Summary {
    pub done: usize,
    /// Steps an earlier, interrupted run completed.
    pub resumed: usize,
    pub failed: Vec<(String, String)>,
    pub interrupted: bool,
    pub canary: Option<Canary>,
    pub approvals: usize,
    pub logins: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error("canary {package} failed at `{step}`: {message}; nothing else was changed")]
    Canary {
        package: String,
        step: String,
        message: String,
    },
}

/// Spaces registry writes `pace` apart, across every concurrent task.
struct Pacer {
    every: Duration,
    next: Mutex<Instant>,
}

impl Pacer {
    /// Wait for this write's slot; `false` when `stop` was set meanwhile (the write is
    /// then not sent: Ctrl-C does not wait for the queue, only for requests in flight).
    async fn wait(&self, stop: &AtomicBool) -> bool {
        if self.every.is_zero() {
            return !stop.load(Ordering::SeqCst);
        }
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(Instant::now());
            *next = at + self.every;
            at
        };
        while Instant::now() < at {
            if stop.load(Ordering::SeqCst) {
                return false;
            }
            let left = at.saturating_duration_since(Instant::now());
            tokio::time::sleep(left.min(Duration::from_millis(50))).await;
        }
        !stop.load(Ordering::SeqCst)
    }
}

/// `verified` of a step whose read-back is done for many steps at once, later in the run.
const PENDING: &str = "pending-read-back";

/// The error of a write that was never sent because the run is stopping.
fn not_sent() -> ApiError {
    ApiError {
        method: "-".into(),
        path: "(not sent)".into(),
        kind: tokenless_api::ErrorKind::Invalid("the run is stopping".into()),
    }
}

/// The signed-in registry session, renewed when it expires mid-run.
struct Session {
    npm: RwLock<NpmClient>,
    /// Bumped at every new login, so concurrent 401s sign in once.
    generation: AtomicUsize,
    login: Mutex<()>,
    logins: AtomicUsize,
}

pub struct Engine<'a> {
    clients: &'a Clients,
    session: Session,
    twofa: &'a TwoFactor,
    journal: Journal,
    pacer: Pacer,
    opts: ApplyOptions,
    /// Context name → id, for contexts this run creates.
    contexts: std::sync::Mutex<BTreeMap<String, String>>,
    stop: Arc<AtomicBool>,
    /// A failure that stopped the run (the journal could not be written).
    fatal: std::sync::Mutex<Option<String>>,
    reporter: Arc<dyn Reporter>,
}

fn now() -> String {
    tokenless_trust::clock::now_rfc3339()
}

impl<'a> Engine<'a> {
    pub fn new(
        clients: &'a Clients,
        twofa: &'a TwoFactor,
        journal: Journal,
        opts: ApplyOptions,
        stop: Arc<AtomicBool>,
        reporter: Arc<dyn Reporter>,
    ) -> Self {
        Engine {
            session: Session {
                npm: RwLock::new(clients.npm.clone()),
                generation: AtomicUsize::new(0),
                login: Mutex::new(()),
                logins: AtomicUsize::new(0),
            },
            clients,
            twofa,
            journal,
            pacer: Pacer {
                every: opts.pace,
                next: Mutex::new(Instant::now()),
            },
            opts,
            contexts: std::sync::Mutex::new(BTreeMap::new()),
            stop,
            fatal: std::sync::Mutex::new(None),
            reporter,
        }
    }

    /// Run the plan's steps of the chosen phase; the record gains every completed step.
    pub async fn run(self, plan: &Plan, record: &mut Record) -> Result<Summary, ApplyError> {
        let mut summary = Summary::default();
        // Steps an interrupted run completed are already in the journal: fold them into
        // the record now (a SIGKILL left them only there).
        let earlier: Vec<Entry> = self.journal.entries().cloned().collect();
        let known: BTreeSet<String> = record.changes.iter().map(|c| c.step.clone()).collect();
        for e in earlier {
            if !known.contains(&e.step) {
                record.add(e);
            }
        }
        let steps: Vec<&Step> = plan
            .steps
            .iter()
            .filter(|s| s.phase <= self.opts.phase)
            .collect();
        summary.resumed = steps.iter().filter(|s| self.journal.is_done(&s.id)).count();
        let todo: Vec<&Step> = steps
            .into_iter()
            .filter(|s| !self.journal.is_done(&s.id))
            .collect();
        self.reporter.started(todo.len());

        // Org-level setup first: trust configs bind the contexts it creates.
        let (setup, rest): (Vec<&Step>, Vec<&Step>) = todo
            .into_iter()
            .partition(|s| s.package.is_none() && s.phase == Phase::Additive);
        let (packaged, org_removals): (Vec<&Step>, Vec<&Step>) =
            rest.into_iter().partition(|s| s.package.is_some());
        let mut by_package: BTreeMap<&str, Vec<&Step>> = BTreeMap::new();
        for s in packaged {
            by_package
                .entry(s.package.as_deref().unwrap_or_default())
                .or_default()
                .push(s);
        }

        let entries: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
        let failed: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

        // Setup steps depend on each other only by name (create, then restrict), so they
        // run in plan order.
        for s in setup {
            if self.stopped() {
                break;
            }
            match self.step(s).await {
                Ok(e) => entries.lock().await.push(e),
                Err(m) => failed.lock().await.push((s.id.clone(), m)),
            }
        }
        if !failed.lock().await.is_empty() {
            return Ok(self.finish(summary, record, entries, failed).await);
        }

        // The canary.
        let canary_name = self
            .opts
            .canary
            .clone()
            .filter(|c| by_package.contains_key(c.as_str()))
            .or_else(|| by_package.keys().next().map(|k| (*k).to_owned()));
        if let Some(name) = canary_name {
            let chain = by_package.remove(name.as_str()).unwrap_or_default();
            self.reporter.note(&format!(
                "canary: {name} first ({} step{})",
                chain.len(),
                if chain.len() == 1 { "" } else { "s" }
            ));
            let mut sets_access = false;
            for s in &chain {
                if self.stopped() {
                    break;
                }
                match self.step(s).await {
                    Ok(e) => {
                        sets_access |= matches!(s.op, Op::SetMfa { .. });
                        entries.lock().await.push(e);
                    }
                    Err(message) => {
                        self.finish(summary, record, entries, failed).await;
                        return Err(ApplyError::Canary {
                            package: name,
                            step: s.op.describe(),
                            message,
                        });
                    }
                }
            }
            if !self.stopped() {
                let unverified = self.verify_team_steps(&entries).await;
                if let Some((step, message)) = unverified.into_iter().next() {
                    self.finish(summary, record, entries, failed).await;
                    return Err(ApplyError::Canary {
                        package: name,
                        step,
                        message,
                    });
                }
                let access_confirmed = sets_access.then(|| {
                    let url = format!(
                        "{}/package/{}/access",
                        self.opts.website.trim_end_matches('/'),
                        name
                    );
                    self.reporter.confirm_access(&name, &url).unwrap_or(false)
                });
                let canary = Canary {
                    package: name.clone(),
                    phase: self.opts.phase.as_str().to_owned(),
                    at: now(),
                    verified: true,
                    access_confirmed,
                };
                record.canaries.push(canary.clone());
                summary.canary = Some(canary);
                self.reporter
                    .note(&format!("canary {name}: every change read back"));
            }
        }

        // The other packages, each a chain in order, chains in parallel.
        let chains: Vec<Vec<&Step>> = by_package.into_values().collect();
        let engine = &self;
        stream::iter(chains)
            .for_each_concurrent(self.opts.concurrency.max(1), |chain| {
                let (entries, failed) = (&entries, &failed);
                async move {
                    for s in chain {
                        if engine.stopped() {
                            return;
                        }
                        match engine.step(s).await {
                            Ok(e) => entries.lock().await.push(e),
                            Err(m) => {
                                if !engine.stopped() {
                                    failed.lock().await.push((s.id.clone(), m));
                                }
                                return;
                            }
                        }
                    }
                }
            })
            .await;

        if !self.stopped() {
            let unverified = self.verify_team_steps(&entries).await;
            failed.lock().await.extend(unverified);
        }

        // Org-level removals; this run's own credential goes last.
        let (own, others): (Vec<&Step>, Vec<&Step>) = org_removals
            .into_iter()
            .partition(|s| matches!(s.op, Op::DeleteToken { own: true, .. }));
        stream::iter(others)
            .for_each_concurrent(self.opts.concurrency.max(1), |s| {
                let (entries, failed) = (&entries, &failed);
                async move {
                    if engine.stopped() {
                        return;
                    }
                    match engine.step(s).await {
                        Ok(e) => entries.lock().await.push(e),
                        Err(m) if !engine.stopped() => failed.lock().await.push((s.id.clone(), m)),
                        Err(_) => {}
                    }
                }
            })
            .await;
        if failed.lock().await.is_empty() {
            for s in own {
                if self.stopped() {
                    break;
                }
                match self.step(s).await {
                    Ok(e) => entries.lock().await.push(e),
                    Err(m) => failed.lock().await.push((s.id.clone(), m)),
                }
            }
        }
        Ok(self.finish(summary, record, entries, failed).await)
    }

    async fn finish(
        self,
        mut summary: Summary,
        record: &mut Record,
        entries: Mutex<Vec<Entry>>,
        failed: Mutex<Vec<(String, String)>>,
    ) -> Summary {
        let entries = entries.into_inner();
        summary.done = entries.len();
        for e in entries {
            record.add(e);
        }
        summary.failed = failed.into_inner();
        if let Err(e) = self.journal.sync() {
            *self.fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
        }
        let fatal = self.fatal.lock().unwrap_or_else(|p| p.into_inner()).take();
        summary.interrupted = self.stopped() && fatal.is_none();
        if let Some(message) = fatal {
            summary
                .failed
                .push(("journal".into(), format!("{message}; the run stopped")));
        }
        summary.approvals = self.twofa.approvals();
        summary.logins = self.session.logins.load(Ordering::Relaxed);
        summary
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Do one step, read it back, journal it. A step cut short because the run is
    /// stopping is neither done nor failed: the rerun does it.
    async fn step(&self, s: &Step) -> Result<Entry, String> {
        let (verified, evidence) = match self.execute(&s.op).await {
            Ok(done) => done,
            Err(_) if self.stopped() => return Err("the run is stopping".into()),
            Err(e) => {
                let failed = Err(e);
                self.reporter.finished(s, &failed);
                return failed;
            }
        };
        let entry = Entry {
            step: s.id.clone(),
            op: serde_json::to_value(&s.op).unwrap_or_default(),
            at: now(),
            verified: verified.to_owned(),
            evidence,
            by: self.opts.actor.clone(),
        };
        let result = match self.journal.append(&entry) {
            Ok(()) => Ok(entry),
            Err(e) => {
                // Without the journal a resume could repeat the step: stop the run.
                let message = format!("{}: {e}", s.id);
                *self.fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(message.clone());
                self.stop.store(true, Ordering::SeqCst);
                Err(message)
            }
        };
        self.reporter.finished(s, &result);
        result
    }

    /// Read back every team change still pending: one `GET /-/team/<org>/<team>/package`
    /// per team. Verified entries gain the evidence; the others are returned as failures
    /// (and leave the list: the next plan sees the change missing and plans it again).
    async fn verify_team_steps(&self, entries: &Mutex<Vec<Entry>>) -> Vec<(String, String)> {
        let scope = self.opts.scope.as_str();
        let mut list = entries.lock().await;
        let teams: BTreeSet<String> = list
            .iter()
            .filter(|e| e.verified == PENDING)
            .filter_map(|e| e.op.get("team").and_then(|t| t.as_str()).map(str::to_owned))
            .collect();
        let mut failures = Vec::new();
        for team in teams {
            let team = team.as_str();
            let back = self
                .read(|npm| async move { npm.team_packages(scope, team).await })
                .await;
            let source = format!("GET /-/team/{}/{team}/package", org(scope));
            list.retain_mut(|e| {
                if e.verified != PENDING || e.op.get("team").and_then(|t| t.as_str()) != Some(team)
                {
                    return true;
                }
                let package =
                    e.op.get("package")
                        .and_then(|p| p.as_str())
                        .unwrap_or_default();
                match &back {
                    Ok(map)
                        if matches!(
                            map.get(package).map(String::as_str),
                            Some("read" | "read-only")
                        ) =>
                    {
                        e.verified = "read-back".into();
                        e.evidence = format!("{}; {source}: {package} is read", e.evidence);
                        true
                    }
                    Ok(map) => {
                        failures.push((
                            e.step.clone(),
                            format!(
                                "{source} shows {:?} for {package} after the change",
                                map.get(package)
                            ),
                        ));
                        false
                    }
                    Err(err) => {
                        failures.push((e.step.clone(), format!("cannot read back: {err}")));
                        false
                    }
                }
            });
        }
        failures
    }

    async fn npm(&self) -> NpmClient {
        self.session.npm.read().await.clone()
    }

    /// A registry write: paced, then sent like a read (the second factor is the write's
    /// own, through the OTP source it is given).
    async fn write<T, F, Fut>(&self, f: F) -> Result<T, ApiError>
    where
        F: Fn(NpmClient) -> Fut,
        Fut: std::future::Future<Output = Result<T, ApiError>>,
    {
        if !self.pacer.wait(&self.stop).await {
            return Err(not_sent());
        }
        self.read(f).await
    }

    /// A registry request, signed in again once if the session expired (a 401 that is
    /// not an OTP challenge).
    async fn read<T, F, Fut>(&self, f: F) -> Result<T, ApiError>
    where
        F: Fn(NpmClient) -> Fut,
        Fut: std::future::Future<Output = Result<T, ApiError>>,
    {
        let generation = self.session.generation.load(Ordering::SeqCst);
        match f(self.npm().await).await {
            Err(e) if e.is_unauthorized() => {
                self.relogin(generation).await?;
                f(self.npm().await).await
            }
            other => other,
        }
    }

    async fn relogin(&self, seen: usize) -> Result<(), ApiError> {
        let _one = self.session.login.lock().await;
        if self.session.generation.load(Ordering::SeqCst) != seen {
            return Ok(()); // another task signed in while this one waited
        }
        let npm = self.npm().await;
        let login = npm.start_web_login().await?;
        self.reporter
            .note("the registry session expired; sign in again to continue");
        self.reporter.show_login_url(&login.login_url);
        let token = npm
            .finish_web_login(&login, self.opts.login_timeout)
            .await?;
        *self.session.npm.write().await = npm.with_token(token);
        self.session.logins.fetch_add(1, Ordering::Relaxed);
        self.session.generation.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn context_id(&self, c: &ContextRef) -> Result<String, String> {
        match c {
            ContextRef::Id(id) => Ok(id.clone()),
            ContextRef::Created(name) => self
                .contexts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(name)
                .cloned()
                .ok_or_else(|| format!("context {name} was not created in this run")),
        }
    }

    /// Execute and read back: `("read-back" | "acknowledged", evidence)`.
    async fn execute(&self, op: &Op) -> Result<(&'static str, String), String> {
        let e = |err: ApiError| err.to_string();
        let scope = self.opts.scope.as_str();
        let otp = self.twofa;
        match op {
            Op::CreateContext { name } => {
                let circle = self.clients.circleci().map_err(|x| x.to_string())?;
                let org = self
                    .opts
                    .circleci_org
                    .as_deref()
                    .ok_or("no CircleCI organization id ([org] circleci_org)")?;
                let ctx = circle.create_context(org, name).await.map_err(e)?;
                let back = circle.context(&ctx.id).await.map_err(e)?;
                self.contexts
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(name.clone(), back.id.clone());
                Ok((
                    "read-back",
                    format!("GET /context/{}: context {} exists", back.id, back.name),
                ))
            }
            Op::RestrictContext {
                context,
                expression,
                ..
            } => {
                let circle = self.clients.circleci().map_err(|x| x.to_string())?;
                let id = self.context_id(context)?;
                circle
                    .create_context_restriction(&id, "expression", expression)
                    .await
                    .map_err(e)?;
                let back = circle.context(&id).await.map_err(e)?;
                if back.restrictions.iter().any(|r| {
                    r.restriction_type == "expression" && r.restriction_value == *expression
                }) {
                    Ok((
                        "read-back",
                        format!("GET /context/{id}: expression restriction `{expression}`"),
                    ))
                } else {
                    Err(format!(
                        "context {id}: the restriction was accepted but is not listed on read-back"
                    ))
                }
            }
            Op::GitHubEnvironment {
                repository,
                environment,
                branches,
            } => {
                let gh = self.clients.github().map_err(|x| x.to_string())?;
                gh.put_environment(
                    repository,
                    environment,
                    Some(BranchPolicySettings {
                        protected_branches: false,
                        custom_branch_policies: true,
                    }),
                )
                .await
                .map_err(e)?;
                let policies = gh
                    .branch_policies(repository, environment)
                    .await
                    .map_err(e)?;
                for p in &policies {
                    if !(branches.contains(&p.name) && p.kind == "branch") {
                        gh.delete_branch_policy(repository, environment, p.id)
                            .await
                            .map_err(e)?;
                    }
                }
                for b in branches {
                    if !policies.iter().any(|p| &p.name == b && p.kind == "branch") {
                        gh.create_branch_policy(repository, environment, b, "branch")
                            .await
                            .map_err(e)?;
                    }
                }
                let env = gh.environment(repository, environment).await.map_err(e)?;
                let back: BTreeSet<String> = gh
                    .branch_policies(repository, environment)
                    .await
                    .map_err(e)?
                    .into_iter()
                    .map(|p| p.name)
                    .collect();
                let wanted: BTreeSet<String> = branches.iter().cloned().collect();
                let custom = env
                    .deployment_branch_policy
                    .is_some_and(|b| b.custom_branch_policies);
                if custom && back == wanted {
                    Ok((
                        "read-back",
                        format!(
                            "GET /repos/{repository}/environments/{environment}: custom branch policies {}",
                            branches.join(", ")
                        ),
                    ))
                } else {
                    Err(format!(
                        "environment {repository}:{environment} reads back with policies {back:?}"
                    ))
                }
            }
            Op::GitLabProtect {
                project,
                environment,
                access_level,
            } => {
                let gl = self.clients.gitlab().map_err(|x| x.to_string())?;
                if let Protection::Listed(list) =
                    gl.protected_environments(project).await.map_err(e)?
                    && list.iter().any(|p| &p.name == environment)
                {
                    gl.unprotect_environment(project, environment)
                        .await
                        .map_err(e)?;
                }
                gl.protect_environment(project, environment, *access_level)
                    .await
                    .map_err(e)?;
                match gl.protected_environments(project).await.map_err(e)? {
                    Protection::Listed(list)
                        if list.iter().any(|p| {
                            &p.name == environment
                                && p.deploy_access_levels
                                    .iter()
                                    .all(|l| l.access_level.is_some_and(|a| a >= *access_level))
                        }) =>
                    {
                        Ok((
                            "read-back",
                            format!(
                                "GET /projects/{project}/protected_environments: {environment} deploys at level {access_level}"
                            ),
                        ))
                    }
                    _ => Err(format!(
                        "{project}:{environment}: protection not listed on read-back"
                    )),
                }
            }
            Op::CreateTrust {
                package,
                config,
                created_contexts,
            } => {
                let mut config = config.clone();
                if let tokenless_trust::Publisher::CircleCi(p) = &mut config.publisher {
                    for name in created_contexts {
                        p.context_ids
                            .push(self.context_id(&ContextRef::Created(name.clone()))?);
                    }
                }
                let config = &config;
                self.write(|npm| async move { npm.create_trust(package, config, otp).await })
                    .await
                    .map_err(e)?;
                let back = self
                    .read(|npm| async move { npm.trust_configs(package).await })
                    .await
                    .map_err(e)?;
                match back.iter().find(|c| same_config(c, config)) {
                    Some(c) => Ok((
                        "read-back",
                        format!(
                            "GET /-/package/{package}/trust lists config {}",
                            c.display_id()
                        ),
                    )),
                    None => Err(format!(
                        "{package}: the trust config was accepted but is not listed on read-back"
                    )),
                }
            }
            Op::RevokeTrust { package, id, .. } => {
                let r = self
                    .write(|npm| async move { npm.revoke_trust(package, id, otp).await })
                    .await;
                gone(r).map_err(e)?;
                let back = self
                    .read(|npm| async move { npm.trust_configs(package).await })
                    .await
                    .map_err(e)?;
                if back.iter().any(|c| c.id.as_deref() == Some(id.as_str())) {
                    Err(format!(
                        "{package}: config {id} is still listed after revoke"
                    ))
                } else {
                    Ok((
                        "read-back",
                        format!("GET /-/package/{package}/trust no longer lists {id}"),
                    ))
                }
            }
            Op::SetMfa { package } => {
                self.write(|npm| async move {
                    npm.set_publishing_access(package, PublishingAccess::DISALLOW_TOKENS, otp)
                        .await
                })
                .await
                .map_err(e)?;
                Ok((
                    "acknowledged",
                    format!(
                        "POST /-/package/{package}/access {{\"publish_requires_tfa\":true,\"automation_token_overrides_tfa\":false}} answered 2xx (npm has no read for publishing access)"
                    ),
                ))
            }
            Op::DeleteVariable { store, name } => self.delete_variable(store, name).await,
            Op::DeleteToken {
                key, label, own, ..
            } => {
                let r = self
                    .write(|npm| async move { npm.delete_token(key, otp).await })
                    .await;
                gone(r).map_err(e)?;
                if *own {
                    return Ok((
                        "acknowledged",
                        format!(
                            "DELETE /-/npm/v1/tokens/token/…: token {label} (this run's own credential) deleted"
                        ),
                    ));
                }
                let back = self
                    .read(|npm| async move { npm.tokens().await })
                    .await
                    .map_err(e)?;
                if back.iter().any(|t| &t.key == key) {
                    Err(format!("token {label} is still listed after delete"))
                } else {
                    Ok((
                        "read-back",
                        format!("GET /-/npm/v1/tokens no longer lists {label}"),
                    ))
                }
            }
            Op::RemoveMember { user } => {
                let r = self
                    .write(|npm| async move { npm.remove_org_member(scope, user, otp).await })
                    .await;
                gone(r).map_err(e)?;
                let back = self
                    .read(|npm| async move { npm.org_members(scope).await })
                    .await
                    .map_err(e)?;
                if back.contains_key(user) {
                    Err(format!("{user} is still a member after removal"))
                } else {
                    Ok((
                        "read-back",
                        format!("GET /-/org/{}/user no longer lists {user}", org(scope)),
                    ))
                }
            }
            Op::TeamReadOnly { team, package } => {
                self.write(|npm| async move {
                    npm.set_team_permission(scope, team, package, false, otp)
                        .await
                })
                .await
                .map_err(e)?;
                // One read of the team's packages verifies all of its changes at once
                // (verify_team_steps), instead of one read per package.
                Ok((
                    PENDING,
                    format!(
                        "PUT /-/team/{}/{team}/package {{\"package\":\"{package}\",\"permissions\":\"read-only\"}} answered 2xx",
                        org(scope)
                    ),
                ))
            }
        }
    }

    async fn delete_variable(
        &self,
        store: &Store,
        name: &str,
    ) -> Result<(&'static str, String), String> {
        let e = |err: ApiError| err.to_string();
        let cfg = |x: CollectError| x.to_string();
        let (source, remaining): (String, Vec<String>) = match store {
            Store::CircleCiProject { slug } => {
                let c = self.clients.circleci().map_err(cfg)?;
                gone(c.delete_project_variable(slug, name).await).map_err(e)?;
                (
                    format!("GET /project/{slug}/envvar"),
                    c.project_variable_names(slug).await.map_err(e)?,
                )
            }
            Store::CircleCiContext { id, .. } => {
                let c = self.clients.circleci().map_err(cfg)?;
                gone(c.delete_context_variable(id, name).await).map_err(e)?;
                (
                    format!("GET /context/{id}/environment-variable"),
                    c.context_variable_names(id).await.map_err(e)?,
                )
            }
            Store::GitHubRepository { repository } => {
                let g = self.clients.github().map_err(cfg)?;
                gone(g.delete_repository_secret(repository, name).await).map_err(e)?;
                (
                    format!("GET /repos/{repository}/actions/secrets"),
                    g.repository_secret_names(repository).await.map_err(e)?,
                )
            }
            Store::GitHubEnvironment {
                repository,
                environment,
            } => {
                let g = self.clients.github().map_err(cfg)?;
                gone(
                    g.delete_environment_secret(repository, environment, name)
                        .await,
                )
                .map_err(e)?;
                (
                    format!("GET /repos/{repository}/environments/{environment}/secrets"),
                    g.environment_secret_names(repository, environment)
                        .await
                        .map_err(e)?,
                )
            }
            Store::GitHubOrganization { org } => {
                let g = self.clients.github().map_err(cfg)?;
                gone(g.delete_organization_secret(org, name).await).map_err(e)?;
                (
                    format!("GET /orgs/{org}/actions/secrets"),
                    g.organization_secret_names(org).await.map_err(e)?,
                )
            }
            Store::GitLabProject { project } => {
                let g = self.clients.gitlab().map_err(cfg)?;
                gone(g.delete_project_variable(project, name).await).map_err(e)?;
                (
                    format!("GET /projects/{project}/variables"),
                    g.project_variables(project)
                        .await
                        .map_err(e)?
                        .into_iter()
                        .map(|v| v.key)
                        .collect(),
                )
            }
            Store::GitLabGroup { group } => {
                let g = self.clients.gitlab().map_err(cfg)?;
                gone(g.delete_group_variable(group, name).await).map_err(e)?;
                (
                    format!("GET /groups/{group}/variables"),
                    g.group_variables(group)
                        .await
                        .map_err(e)?
                        .into_iter()
                        .map(|v| v.key)
                        .collect(),
                )
            }
        };
        if remaining.iter().any(|n| n == name) {
            Err(format!(
                "{name} is still in {} after delete",
                store.describe()
            ))
        } else {
            Ok(("read-back", format!("{source} no longer lists {name}")))
        }
    }
}

/// A delete answered 404 found nothing to delete: the state wanted is there.
fn gone(r: Result<(), ApiError>) -> Result<(), ApiError> {
    match r {
        Err(e) if e.status() == Some(404) => Ok(()),
        other => other,
    }
}

fn org(scope: &str) -> &str {
    scope.trim_start_matches('@')
}

/// `Duration` for `--pace`: `2s`, `200ms`, `0`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (use 2s, 200ms, 1m)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (use ms, s or m)")),
    };
    if !(0.0..=3600.0).contains(&secs) {
        return Err(format!("`{s}` is out of range (0 to 1h)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_refuse_garbage() {
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("2h").is_err());
        assert!(parse_duration("99999s").is_err());
    }

    #[tokio::test]
    async fn the_pacer_spaces_writes_across_tasks_and_lets_go_on_stop() {
        let pacer = Pacer {
            every: Duration::from_millis(50),
            next: Mutex::new(Instant::now()),
        };
        let go = AtomicBool::new(false);
        let start = Instant::now();
        let sent = futures::future::join_all((0..5).map(|_| pacer.wait(&go))).await;
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(200), "{took:?}");
        assert!(sent.iter().all(|s| *s));

        let slow = Pacer {
            every: Duration::from_secs(10),
            next: Mutex::new(Instant::now()),
        };
        let stop = AtomicBool::new(false);
        assert!(slow.wait(&stop).await, "the first slot is now");
        stop.store(true, Ordering::SeqCst);
        let start = Instant::now();
        assert!(
            !slow.wait(&stop).await,
            "a queued write is not sent after a stop"
        );
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
