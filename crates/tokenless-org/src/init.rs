//! `tokenless init`: a starting desired state from what the registry and the CI providers
//! show. Every guess carries the reason it was made (the binary writes them as comments),
//! so a reviewer can tell a fact from an inference before `plan` and `apply` act on it.
//!
//! Matching a package to its publisher:
//! 1. the package's current trust configs, when it has any (kept; a CircleCI one that binds
//!    no context gets the `npm-publish` context, a GitHub/GitLab one without an
//!    environment gets `npm`);
//! 2. else its package.json `repository`: a CircleCI project with that VCS origin, else
//!    the GitHub repository (with a workflow that publishes, found by lint) or the GitLab
//!    project of that URL;
//! 3. else it is listed as unmatched, with why.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, TryStreamExt, stream};

use tokenless_api::{
    ApiError,
    circleci::Project,
    npm::{Packument, TrustConfig},
};
use tokenless_trust::Publisher;

use crate::actual::Clients;

/// The context name a new CircleCI binding uses.
pub const NEW_CONTEXT: &str = "npm-publish";
/// The environment name a new GitHub/GitLab binding uses.
pub const NEW_ENVIRONMENT: &str = "npm";

/// Where init looks besides the registry.
#[derive(Debug, Clone, Default)]
pub struct InitInputs {
    pub scope: String,
    pub circleci_org: Option<String>,
    /// CircleCI project slugs (`gh/acme/monorepo`).
    pub circleci_projects: Vec<String>,
    /// Publishing files found by lint in local repositories: origin → file names.
    pub local_workflows: BTreeMap<String, Vec<String>>,
}

/// A value with the reason it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guess<T> {
    pub value: T,
    pub because: String,
}

fn guess<T>(value: T, because: impl Into<String>) -> Guess<T> {
    Guess {
        value,
        because: because.into(),
    }
}

/// One `[[publisher]]` table to write: `key = value` pairs in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherDraft {
    pub packages: Vec<String>,
    /// `(key, value)`; values are strings or, for `contexts`, a list.
    pub fields: Vec<(String, DraftValue)>,
    pub because: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum DraftValue {
    Text(String),
    List(Vec<String>),
}

/// A CI store holding secret names that look like npm tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretStore {
    /// The `[secrets]` key it goes under (`circleci_projects`, `github_repositories`, …).
    pub key: &'static str,
    pub name: String,
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Starter {
    pub scope: String,
    pub circleci_org: Option<String>,
    pub publishers: Vec<PublisherDraft>,
    /// Packages no publisher was found for, with why.
    pub unmatched: Vec<(String, String)>,
    pub owners: Vec<Guess<String>>,
    pub humans: Vec<Guess<String>>,
    pub service_accounts: Vec<Guess<String>>,
    pub teams: Vec<Guess<String>>,
    pub secret_stores: Vec<SecretStore>,
    /// Reads that failed; init goes on without them and says so.
    pub warnings: Vec<String>,
}

/// Names that look like they hold an npm token.
pub fn looks_like_npm_secret(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    n.contains("NPM") && (n.contains("TOKEN") || n.contains("AUTH")) || n == "NODE_AUTH_TOKEN"
}

/// Workflow file names tried when a repository cannot be listed.
const WORKFLOW_CANDIDATES: [&str; 8] = [
    "publish.yml",
    "release.yml",
    "npm-publish.yml",
    "publish.yaml",
    "release.yaml",
    "ci.yml",
    "main.yml",
    "build.yml",
];

struct PackageSeen {
    name: String,
    trust: Vec<TrustConfig>,
    doc: Packument,
}

/// Read the org and draft its desired state.
pub async fn draft(inputs: &InitInputs, clients: &Clients) -> Result<Starter, ApiError> {
    let npm = &clients.npm;
    let mut s = Starter {
        scope: inputs.scope.clone(),
        circleci_org: inputs.circleci_org.clone(),
        ..Starter::default()
    };
    let names: Vec<String> = npm.org_packages(&inputs.scope).await?.into_keys().collect();
    let mut packages: Vec<PackageSeen> = stream::iter(names)
        .map(|name| async move {
            let trust = npm.trust_configs(&name).await?;
            let doc = npm.packument(&name).await?;
            Ok::<_, ApiError>(PackageSeen { name, trust, doc })
        })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    packages.sort_by(|a, b| a.name.cmp(&b.name));

    // CircleCI projects by VCS origin.
    let mut circle_projects: BTreeMap<String, (Project, String, String)> = BTreeMap::new();
    if let Some(circle) = &clients.circleci {
        for slug in &inputs.circleci_projects {
            match read_project(circle, slug).await {
                Ok(Some((origin, project, definition))) => {
                    circle_projects.insert(origin, (project, definition, slug.clone()));
                }
                Ok(None) => s.warnings.push(format!(
                    "CircleCI project {slug} has no pipeline definition"
                )),
                Err(e) => s.warnings.push(format!("CircleCI project {slug}: {e}")),
            }
        }
    }

    let mut by_fields: BTreeMap<Vec<(String, DraftValue)>, PublisherDraft> = BTreeMap::new();
    let mut github_owners: BTreeSet<String> = BTreeSet::new();
    let mut gitlab_groups: BTreeSet<String> = BTreeSet::new();
    let mut github_repos: BTreeSet<String> = BTreeSet::new();
    let mut gitlab_projects: BTreeSet<String> = BTreeSet::new();
    for p in &packages {
        let mut drafts: Vec<(Vec<(String, DraftValue)>, String)> = Vec::new();
        if !p.trust.is_empty() {
            for c in &p.trust {
                drafts.push((
                    from_config(c),
                    format!("its current trust config {}", c.display_id()),
                ));
                match &c.publisher {
                    Publisher::GitHub(g) => {
                        github_repos.insert(g.repository.clone());
                    }
                    Publisher::GitLab(g) => {
                        gitlab_projects.insert(g.project_path.clone());
                    }
                    Publisher::CircleCi(_) => {}
                }
            }
        } else {
            let origin = p.doc.repository.as_ref().and_then(|r| r.origin());
            match origin {
                None => {
                    s.unmatched.push((
                        p.name.clone(),
                        "its package.json has no repository URL tokenless can read".into(),
                    ));
                    continue;
                }
                Some(origin) => {
                    match match_origin(
                        &origin,
                        &circle_projects,
                        inputs,
                        clients,
                        &mut s.warnings,
                    )
                    .await
                    {
                        Some((fields, why)) => {
                            if let Some(rest) = origin.strip_prefix("github.com/") {
                                github_repos.insert(rest.to_owned());
                            }
                            if let Some(rest) = origin.strip_prefix("gitlab.com/") {
                                gitlab_projects.insert(rest.to_owned());
                            }
                            drafts.push((fields, why));
                        }
                        None => s.unmatched.push((
                            p.name.clone(),
                            format!(
                                "no CircleCI project, GitHub workflow or GitLab project that publishes was found for {origin}"
                            ),
                        )),
                    }
                }
            }
        }
        for (fields, why) in drafts {
            let entry = by_fields
                .entry(fields.clone())
                .or_insert_with(|| PublisherDraft {
                    packages: Vec::new(),
                    fields,
                    because: Vec::new(),
                });
            entry.packages.push(p.name.clone());
            if !entry.because.contains(&why) {
                entry.because.push(why);
            }
        }
    }
    s.publishers = by_fields.into_values().collect();
    for r in &github_repos {
        if let Some((owner, _)) = r.split_once('/') {
            github_owners.insert(owner.to_owned());
        }
    }
    for p in &gitlab_projects {
        if let Some((group, _)) = p.split_once('/') {
            gitlab_groups.insert(group.to_owned());
        }
    }

    // Members: owners from their role; a non-owner who published a latest release with a
    // token looks like a service account; everyone else looks like a person.
    let members = npm.org_members(&inputs.scope).await?;
    let mut token_publishers: BTreeMap<String, String> = BTreeMap::new();
    for p in &packages {
        if let Some((v, Some(meta))) = p.doc.latest()
            && let Some(user) = &meta.npm_user
            && user.trusted_publisher.is_none()
            && let Some(name) = &user.name
        {
            token_publishers
                .entry(name.clone())
                .or_insert_with(|| format!("{}@{v}", p.name));
        }
    }
    for (user, role) in &members {
        if role == "owner" {
            s.owners.push(guess(
                user.clone(),
                format!("org role {role} (GET /-/org/…/user)"),
            ));
            s.humans.push(guess(user.clone(), "an owner"));
        } else if let Some(release) = token_publishers.get(user) {
            s.service_accounts.push(guess(
                user.clone(),
                format!("published {release} without a trusted publisher and is no owner: check it is a robot before apply retires it"),
            ));
        } else {
            s.humans.push(guess(
                user.clone(),
                format!("org role {role}, not seen publishing"),
            ));
        }
    }

    // Teams with write on any package.
    for team in npm.teams(&inputs.scope).await? {
        let name = team.rsplit(':').next().unwrap_or(&team).to_owned();
        match npm.team_packages(&inputs.scope, &name).await {
            Ok(pkgs) => {
                let writes = pkgs
                    .values()
                    .filter(|a| a.as_str() == "write" || a.as_str() == "read-write")
                    .count();
                if writes > 0 {
                    s.teams.push(guess(
                        name,
                        format!("has write on {writes} package(s); only owners should"),
                    ));
                }
            }
            Err(e) => s.warnings.push(format!("team {name}: {e}")),
        }
    }

    // Secrets that look like npm tokens.
    if let Some(circle) = &clients.circleci {
        for slug in &inputs.circleci_projects {
            if let Ok(names) = circle.project_variable_names(slug).await {
                push_store(&mut s, "circleci_projects", slug, names);
            }
        }
        if let Some(org) = &inputs.circleci_org {
            match circle.contexts(org).await {
                Ok(contexts) => {
                    for c in contexts {
                        if let Ok(names) = circle.context_variable_names(&c.id).await {
                            push_store(&mut s, "circleci_contexts", &c.name, names);
                        }
                    }
                }
                Err(e) => s.warnings.push(format!("CircleCI contexts: {e}")),
            }
        }
    }
    if let Some(gh) = &clients.github {
        for repo in &github_repos {
            if let Ok(names) = gh.repository_secret_names(repo).await {
                push_store(&mut s, "github_repositories", repo, names);
            }
        }
        for owner in &github_owners {
            // A user account has no organization secrets: not an error.
            if let Ok(names) = gh.organization_secret_names(owner).await {
                push_store(&mut s, "github_organization", owner, names);
            }
        }
    }
    if let Some(gl) = &clients.gitlab {
        for project in &gitlab_projects {
            if let Ok(vars) = gl.project_variables(project).await {
                push_store(
                    &mut s,
                    "gitlab_projects",
                    project,
                    vars.into_iter().map(|v| v.key).collect(),
                );
            }
        }
        for group in &gitlab_groups {
            if let Ok(vars) = gl.group_variables(group).await {
                push_store(
                    &mut s,
                    "gitlab_group",
                    group,
                    vars.into_iter().map(|v| v.key).collect(),
                );
            }
        }
    }
    Ok(s)
}

fn push_store(s: &mut Starter, key: &'static str, name: &str, names: Vec<String>) {
    let names: Vec<String> = names
        .into_iter()
        .filter(|n| looks_like_npm_secret(n))
        .collect();
    if !names.is_empty() {
        s.secret_stores.push(SecretStore {
            key,
            name: name.to_owned(),
            names,
        });
    }
}

async fn read_project(
    circle: &tokenless_api::CircleCiClient,
    slug: &str,
) -> Result<Option<(String, Project, String)>, ApiError> {
    let project = circle.project(slug).await?;
    let definitions = circle.pipeline_definitions(&project.id).await?;
    let Some(def) = definitions.first() else {
        return Ok(None);
    };
    let origin = crate::plan::slug_origin(slug).unwrap_or_default();
    Ok(Some((origin, project, def.id.clone())))
}

fn text(k: &str, v: &str) -> (String, DraftValue) {
    (k.to_owned(), DraftValue::Text(v.to_owned()))
}

/// The fields of a current trust config, bound where it was not.
fn from_config(c: &TrustConfig) -> Vec<(String, DraftValue)> {
    let mut f = Vec::new();
    match &c.publisher {
        Publisher::CircleCi(p) => {
            f.push(text("provider", "circleci"));
            f.push(text("org_id", &p.org_id));
            f.push(text("project_id", &p.project_id));
            f.push(text("pipeline_definition_id", &p.pipeline_definition_id));
            f.push(text("vcs_origin", &p.vcs_origin));
            let contexts = if p.context_ids.is_empty() {
                vec![NEW_CONTEXT.to_owned()]
            } else {
                p.context_ids.clone()
            };
            f.push(("contexts".into(), DraftValue::List(contexts)));
        }
        Publisher::GitHub(p) => {
            f.push(text("provider", "github"));
            f.push(text("repository", &p.repository));
            f.push(text("workflow", &p.workflow_file));
            f.push(text(
                "environment",
                p.environment.as_deref().unwrap_or(NEW_ENVIRONMENT),
            ));
        }
        Publisher::GitLab(p) => {
            f.push(text("provider", "gitlab"));
            f.push(text("project", &p.project_path));
            f.push(text("config_file", &p.ci_config_file));
            f.push(text(
                "environment",
                p.environment.as_deref().unwrap_or(NEW_ENVIRONMENT),
            ));
        }
    }
    let actions: Vec<String> = c
        .permissions
        .iter()
        .map(|p| match p {
            tokenless_trust::Permission::CreatePackage => "publish".to_owned(),
            tokenless_trust::Permission::CreateStagedPackage => "stage-publish".to_owned(),
        })
        .collect();
    f.push(("actions".into(), DraftValue::List(actions)));
    f
}

/// A publisher for a repository origin, with why.
async fn match_origin(
    origin: &str,
    circle: &BTreeMap<String, (Project, String, String)>,
    inputs: &InitInputs,
    clients: &Clients,
    warnings: &mut Vec<String>,
) -> Option<(Vec<(String, DraftValue)>, String)> {
    if let Some((project, definition, slug)) = circle.get(origin) {
        let org = project
            .organization_id
            .clone()
            .or_else(|| inputs.circleci_org.clone())?;
        return Some((
            vec![
                text("provider", "circleci"),
                text("org_id", &org),
                text("project_id", &project.id),
                text("pipeline_definition_id", definition),
                text("vcs_origin", origin),
                (
                    "contexts".into(),
                    DraftValue::List(vec![NEW_CONTEXT.into()]),
                ),
                ("actions".into(), DraftValue::List(vec!["publish".into()])),
            ],
            format!(
                "package.json repository {origin}, which is CircleCI project {slug}; context {NEW_CONTEXT} is created if missing"
            ),
        ));
    }
    if let Some(repo) = origin.strip_prefix("github.com/") {
        let gh = clients.github.as_ref()?;
        let mut files: Vec<String> = inputs
            .local_workflows
            .get(origin)
            .cloned()
            .unwrap_or_default();
        let from_lint = !files.is_empty();
        if files.is_empty() {
            for name in WORKFLOW_CANDIDATES {
                let path = format!(".github/workflows/{name}");
                match gh.file(repo, &path).await {
                    Ok(Some(body)) if publishes(&path, &body, tokenless_ci::Provider::GitHub) => {
                        files.push(name.to_owned());
                        break;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        warnings.push(format!("GitHub {repo} {path}: {e}"));
                        break;
                    }
                }
            }
        }
        let file = files.first()?;
        let env = pick_environment(
            gh.environments(repo)
                .await
                .map(|l| l.into_iter().map(|e| e.name).collect())
                .unwrap_or_default(),
        );
        return Some((
            vec![
                text("provider", "github"),
                text("repository", repo),
                text("workflow", file),
                text("environment", &env.value),
                ("actions".into(), DraftValue::List(vec!["publish".into()])),
            ],
            format!(
                "package.json repository {origin}; workflow {file} publishes ({}); environment {}",
                if from_lint {
                    "found by lint in the local repository"
                } else {
                    "found by lint in the file read through the GitHub API"
                },
                env.because
            ),
        ));
    }
    if let Some(project) = origin.strip_prefix("gitlab.com/") {
        let gl = clients.gitlab.as_ref()?;
        let branch = gl
            .project(project)
            .await
            .ok()?
            .default_branch
            .unwrap_or_else(|| "main".to_owned());
        let body = gl.file(project, ".gitlab-ci.yml", &branch).await.ok()??;
        if !publishes(".gitlab-ci.yml", &body, tokenless_ci::Provider::GitLab) {
            return None;
        }
        let env = pick_environment(
            gl.environments(project)
                .await
                .map(|l| l.into_iter().map(|e| e.name).collect())
                .unwrap_or_default(),
        );
        return Some((
            vec![
                text("provider", "gitlab"),
                text("project", project),
                text("config_file", ".gitlab-ci.yml"),
                text("environment", &env.value),
                ("actions".into(), DraftValue::List(vec!["publish".into()])),
            ],
            format!(
                "package.json repository {origin}; .gitlab-ci.yml publishes (found by lint); environment {}",
                env.because
            ),
        ));
    }
    None
}

/// An existing environment named like a release one, else `npm` (created by apply).
fn pick_environment(names: Vec<String>) -> Guess<String> {
    for wanted in ["npm", "release", "publish", "production"] {
        if let Some(n) = names.iter().find(|n| n.eq_ignore_ascii_case(wanted)) {
            return guess(n.clone(), format!("{n} exists"));
        }
    }
    guess(
        NEW_ENVIRONMENT.to_owned(),
        format!("{NEW_ENVIRONMENT} (created by apply, limited to the release branch)"),
    )
}

/// Whether lint recognises a publish in a CI file.
pub fn publishes(path: &str, source: &str, provider: tokenless_ci::Provider) -> bool {
    let doc = tokenless_ci::Document {
        path,
        source,
        provider,
    };
    tokenless_ci::analyse(doc, &tokenless_ci::NoFiles, false)
        .map(|a| !a.publishes.is_empty())
        .unwrap_or(false)
}
