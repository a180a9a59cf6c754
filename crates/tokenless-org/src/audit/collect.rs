//! Reading everything the checks need, concurrently. The clients bound the requests in
//! flight and pace themselves on 429; this module only says what to read and never
//! waits for one read before starting an unrelated one.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::join_all;
use tokenless_api::{
    CircleCiClient, GitHubClient, GitLabClient, NpmClient, Secret, npm::Packument,
};
use tokenless_trust::{Provider, Publisher};

use super::{
    lint_config::{lint_compiled, lint_one},
    record::Record,
    snapshot::*,
};
use crate::members::MembersConfig;

/// Where to read from and as whom.
#[derive(Debug, Clone)]
pub struct Sources {
    pub scope: String,
    /// Signed in as the audit's own credential.
    pub npm: NpmClient,
    pub own_credential: OwnCredential,
    pub circleci: Option<CircleSources>,
    pub github: Option<GitHubClient>,
    pub gitlab: Option<GitLabClient>,
    /// Repositories and projects to inspect beside those trust configs name.
    pub github_repos: Vec<String>,
    pub gitlab_projects: Vec<String>,
    pub repos: Vec<ConfigLint>,
    pub members_config: Option<MembersConfig>,
    /// `[[publisher]]` of tokenless.toml.
    pub publishers: Vec<crate::desired::PublisherSpec>,
    /// Members' own statements of their token lists (`--attestations DIR`), with the
    /// file each came from.
    pub attestations: Vec<(String, crate::attestation::Attestation)>,
    pub record: Record,
}

#[derive(Debug, Clone)]
pub struct CircleSources {
    pub client: CircleCiClient,
    pub org_id: Option<String>,
    pub projects: Vec<String>,
}

fn text<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

pub async fn collect(src: &Sources) -> Snapshot {
    let packages_and_pinned = async {
        let packages = read_packages(src).await;
        let empty: &[PackageState] = &[];
        let pkgs = packages.as_deref().unwrap_or(empty);
        let (pinned, github, github_subjects, gitlab) = futures::join!(
            async {
                match &src.circleci {
                    Some(c) => read_pinned(&c.client, pkgs).await,
                    None => BTreeMap::new(),
                }
            },
            async {
                match &src.github {
                    Some(gh) => Some(read_github_environments(gh, pkgs).await),
                    None => None,
                }
            },
            async {
                match &src.github {
                    Some(gh) => read_github_subjects(gh, pkgs).await,
                    None => BTreeMap::new(),
                }
            },
            async {
                match &src.gitlab {
                    Some(gl) => Some(read_gitlab_environments(gl, pkgs).await),
                    None => None,
                }
            },
        );
        let forge_ci = read_forge_ci(src, pkgs).await;
        (packages, pinned, github, github_subjects, gitlab, forge_ci)
    };
    let circle = async {
        match &src.circleci {
            Some(c) => Some(read_circleci(c).await),
            None => None,
        }
    };
    let (
        (packages, pinned, github, github_subjects, gitlab, (fetched, forge_variables)),
        mut token_accounts,
        members,
        teams,
        circle,
    ) = futures::join!(
        packages_and_pinned,
        read_tokens(src),
        async { src.npm.org_members(&src.scope).await.map_err(text) },
        read_teams(src),
        circle,
    );
    token_accounts.sort_by(|a, b| a.user.cmp(&b.user));
    let mut own_credential = src.own_credential.clone();
    if own_credential.key.is_none()
        && let Some(secret) = src.npm.token()
    {
        own_credential.key = own_key(secret, &token_accounts, own_credential.user.as_deref());
    }
    // A member the audit cannot sign in as is seen through their own attestation, if
    // they gave a fresh one.
    let now = tokenless_trust::clock::now_secs();
    let registry = src.npm.registry().to_string();
    let mut stale: Vec<String> = Vec::new();
    if let Ok(m) = &members {
        for user in m.keys() {
            if token_accounts.iter().any(|a| &a.user == user) {
                continue;
            }
            let newest = src
                .attestations
                .iter()
                .filter(|(_, a)| a.covers(&registry, &src.scope, user))
                .max_by(|a, b| a.1.at.cmp(&b.1.at));
            match newest {
                Some((path, a)) if !a.stale(now) => token_accounts.push(AccountTokens {
                    user: user.clone(),
                    tokens: Ok(a.tokens.clone()),
                    via: Some(format!("attestation {path} (listed {})", a.at)),
                }),
                Some((path, a)) => stale.push(format!(
                    "{user}: the attestation {path} is from {}, older than 7 days; {user} runs `tokenless tokens attest --scope {}` again",
                    a.at, src.scope
                )),
                None => {}
            }
        }
    }
    token_accounts.sort_by(|a, b| a.user.cmp(&b.user));
    let listed: BTreeSet<&str> = token_accounts.iter().map(|a| a.user.as_str()).collect();
    let unlisted_accounts = match &members {
        Ok(m) => m
            .keys()
            .filter(|u| !listed.contains(u.as_str()))
            .cloned()
            .collect(),
        Err(_) => Vec::new(),
    };
    let circleci = circle.map(|(contexts, projects)| CircleState {
        api: src
            .circleci
            .as_ref()
            .map(|c| c.client.base().to_string())
            .unwrap_or_default(),
        contexts,
        projects,
        pinned,
    });
    Snapshot {
        scope: src.scope.clone(),
        registry: src.npm.registry().to_string(),
        own_credential,
        packages,
        token_accounts,
        unlisted_accounts,
        stale_attestations: stale,
        members,
        members_config: src.members_config.clone(),
        publishers: src.publishers.clone(),
        teams,
        circleci,
        github,
        github_subjects,
        gitlab,
        repos: if src.repos.is_empty() {
            fetched
        } else {
            src.repos.clone()
        },
        forge_variables,
        record: src.record.clone(),
    }
}

async fn read_packages(src: &Sources) -> Fetched<Vec<PackageState>> {
    let names = src.npm.org_packages(&src.scope).await.map_err(text)?;
    let reads = names.into_keys().map(|name| read_package(&src.npm, name));
    Ok(join_all(reads).await)
}

async fn read_package(npm: &NpmClient, name: String) -> PackageState {
    let trust = npm.trust_configs(&name).await.map_err(text);
    let releases = match &trust {
        Ok(configs) if !configs.is_empty() => Some(
            npm.packument(&name)
                .await
                .map_err(text)
                .map(|p| releases(&p)),
        ),
        _ => None,
    };
    PackageState {
        name,
        trust,
        releases,
    }
}

fn releases(p: &Packument) -> Releases {
    let mut versions: Vec<Release> = p
        .versions
        .iter()
        .map(|(version, meta)| {
            let user = meta.npm_user.as_ref();
            Release {
                version: version.clone(),
                published: p.published(version).map(str::to_string),
                publisher: user.and_then(|u| u.name.clone()),
                oidc_config_id: user
                    .and_then(|u| u.trusted_publisher.as_ref())
                    .and_then(|t| t.oidc_config_id.clone()),
            }
        })
        .collect();
    versions.sort_by(|a, b| a.published.cmp(&b.published));
    Releases {
        latest: p.dist_tags.get("latest").cloned(),
        versions,
    }
}

async fn read_pinned(
    client: &CircleCiClient,
    packages: &[PackageState],
) -> BTreeMap<String, Fetched<tokenless_api::circleci::ContextDetail>> {
    let ids: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p.trust.as_ref().ok())
        .flatten()
        .flat_map(|c| c.context_ids().iter().cloned())
        .collect();
    let reads = ids.into_iter().map(|id| async move {
        let detail = client.context(&id).await.map_err(text);
        (id, detail)
    });
    join_all(reads).await.into_iter().collect()
}

/// (repository or project, environment) pairs the packages' trust configs of `provider` pin.
fn pinned_environments(
    packages: &[PackageState],
    provider: Provider,
) -> BTreeSet<(String, String)> {
    packages
        .iter()
        .filter_map(|p| p.trust.as_ref().ok())
        .flatten()
        .filter(|c| c.provider() == provider)
        .filter_map(|c| {
            let env = c.environment()?.to_owned();
            let place = match &c.publisher {
                Publisher::GitHub(g) => g.repository.clone(),
                Publisher::GitLab(g) => g.project_path.clone(),
                Publisher::CircleCi(_) => return None,
            };
            Some((place, env))
        })
        .collect()
}

async fn read_github_environments(
    gh: &GitHubClient,
    packages: &[PackageState],
) -> ForgeState<GitHubEnvironment> {
    let reads = pinned_environments(packages, Provider::GitHub)
        .into_iter()
        .map(|(repo, env)| async move {
            let read = match gh.environment(&repo, &env).await {
                Err(e) if e.is_not_found() => Ok(GitHubEnvironment { found: None }),
                Err(e) => Err(text(e)),
                Ok(environment) => {
                    let custom = environment
                        .deployment_branch_policy
                        .is_some_and(|p| p.custom_branch_policies);
                    let policies = if custom {
                        gh.branch_policies(&repo, &env).await.map_err(text)
                    } else {
                        Ok(Vec::new())
                    };
                    policies.map(|p| GitHubEnvironment {
                        found: Some((environment, p)),
                    })
                }
            };
            ((repo, env), read)
        });
    ForgeState {
        api: gh.base().to_string(),
        environments: join_all(reads).await.into_iter().collect(),
    }
}

/// For every GitHub repository a trust config names: whether it uses immutable subject
/// claims, with which npm's exchange answers 404 (npm/cli#9969).
async fn read_github_subjects(
    gh: &GitHubClient,
    packages: &[PackageState],
) -> BTreeMap<String, Fetched<bool>> {
    let repos: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p.trust.as_ref().ok())
        .flatten()
        .filter_map(|c| match &c.publisher {
            Publisher::GitHub(g) => Some(g.repository.clone()),
            _ => None,
        })
        .collect();
    let reads = repos.into_iter().map(|repo| async move {
        let read = gh
            .oidc_subject(&repo)
            .await
            .map(|s| s.use_immutable_subject)
            .map_err(text);
        (repo, read)
    });
    join_all(reads).await.into_iter().collect()
}

async fn read_gitlab_environments(
    gl: &GitLabClient,
    packages: &[PackageState],
) -> ForgeState<GitLabEnvironment> {
    use tokenless_api::gitlab::Protection;
    let pinned = pinned_environments(packages, Provider::GitLab);
    let projects: BTreeSet<&String> = pinned.iter().map(|(p, _)| p).collect();
    let reads = projects.into_iter().map(|project| async move {
        (
            project.clone(),
            gl.protected_environments(project).await.map_err(text),
        )
    });
    let by_project: BTreeMap<String, Fetched<Protection>> =
        join_all(reads).await.into_iter().collect();
    let environments = pinned
        .into_iter()
        .map(|(project, env)| {
            let state = match by_project.get(&project) {
                None => Err("not read".to_owned()),
                Some(Err(e)) => Err(e.clone()),
                Some(Ok(Protection::NotOnThisTier)) => Ok(GitLabEnvironment::NotOnThisTier),
                Some(Ok(Protection::Listed(list))) => Ok(list
                    .iter()
                    .find(|p| p.name == env)
                    .map_or(GitLabEnvironment::Unprotected, |p| {
                        GitLabEnvironment::Protected(p.clone())
                    })),
            };
            ((project, env), state)
        })
        .collect();
    ForgeState {
        api: gl.base().to_string(),
        environments,
    }
}

/// Lint of a CI file fetched through a forge's API (`None`: the file does not exist).
fn lint_fetched(
    origin: String,
    label: &str,
    provider: tokenless_ci::Provider,
    fetched: Result<Option<String>, tokenless_api::ApiError>,
) -> ConfigLint {
    match fetched {
        Ok(Some(source)) => lint_one(
            origin,
            label,
            &source,
            provider,
            &tokenless_ci::NoFiles,
            true,
        ),
        Ok(None) => ConfigLint::unreadable(origin, format!("{label} does not exist"), true),
        Err(e) => ConfigLint::unreadable(origin, text(e), true),
    }
}

/// The CI side of GitHub and GitLab for the repositories and projects trust configs name:
/// the workflow file each config names, linted (used when no `--repo` is given), and the
/// secret and variable names of the repository or project and its org or group.
async fn read_forge_ci(
    src: &Sources,
    packages: &[PackageState],
) -> (Vec<ConfigLint>, Vec<VariableSet>) {
    let mut github: BTreeSet<(String, String)> = BTreeSet::new();
    let mut gitlab: BTreeSet<(String, String)> = BTreeSet::new();
    for c in packages
        .iter()
        .filter_map(|p| p.trust.as_ref().ok())
        .flatten()
    {
        match &c.publisher {
            Publisher::GitHub(g) => {
                github.insert((g.repository.clone(), g.workflow_file.clone()));
            }
            Publisher::GitLab(g) => {
                gitlab.insert((g.project_path.clone(), g.ci_config_file.clone()));
            }
            Publisher::CircleCi(_) => {}
        }
    }
    // A GitLab project named without a trust config runs the default CI file.
    for project in &src.gitlab_projects {
        if !gitlab.iter().any(|(p, _)| p == project) {
            gitlab.insert((project.clone(), ".gitlab-ci.yml".to_owned()));
        }
    }
    let mut lints = Vec::new();
    let mut sets = Vec::new();
    if let Some(gh) = &src.github {
        let api = gh.base();
        let files = join_all(github.iter().map(|(repo, file)| async move {
            let path = format!(".github/workflows/{file}");
            let origin = format!("GET {api}repos/{repo}/contents/{path}");
            let label = format!("github:{repo}/{path}");
            lint_fetched(
                origin,
                &label,
                tokenless_ci::Provider::GitHub,
                gh.file(repo, &path).await,
            )
        }));
        let repos: BTreeSet<&String> = github
            .iter()
            .map(|(r, _)| r)
            .chain(&src.github_repos)
            .collect();
        let orgs: BTreeSet<&str> = repos
            .iter()
            .filter_map(|r| r.split_once('/').map(|(o, _)| o))
            .collect();
        let repo_sets = join_all(repos.iter().map(|repo| async move {
            VariableSet {
                source: format!("GET {api}repos/{repo}/actions/secrets"),
                what: format!("GitHub repository {repo} secrets"),
                names: gh.repository_secret_names(repo).await.map_err(text),
            }
        }));
        let org_sets = join_all(orgs.iter().map(|org| async move {
            VariableSet {
                source: format!("GET {api}orgs/{org}/actions/secrets"),
                what: format!("GitHub organisation {org} secrets"),
                names: gh.organization_secret_names(org).await.map_err(text),
            }
        }));
        let (files, repo_sets, org_sets) = futures::join!(files, repo_sets, org_sets);
        lints.extend(files);
        sets.extend(repo_sets);
        sets.extend(org_sets);
    }
    if let Some(gl) = &src.gitlab {
        let api = gl.base();
        let files = join_all(gitlab.iter().map(|(project, file)| async move {
            let origin = format!("GET {api}projects/{project}/repository/files/{file}");
            let label = format!("gitlab:{project}/{file}");
            lint_fetched(
                origin,
                &label,
                tokenless_ci::Provider::GitLab,
                gl.file(project, file, "HEAD").await,
            )
        }));
        let projects: BTreeSet<&String> = gitlab.iter().map(|(p, _)| p).collect();
        let groups: BTreeSet<&str> = projects
            .iter()
            .filter_map(|p| p.rsplit_once('/').map(|(g, _)| g))
            .collect();
        let project_sets = join_all(projects.iter().map(|project| async move {
            VariableSet {
                source: format!("GET {api}projects/{project}/variables"),
                what: format!("GitLab project {project} variables"),
                names: gl
                    .project_variables(project)
                    .await
                    .map(|v| v.into_iter().map(|v| v.key).collect())
                    .map_err(text),
            }
        }));
        let group_sets = join_all(groups.iter().map(|group| async move {
            VariableSet {
                source: format!("GET {api}groups/{group}/variables"),
                what: format!("GitLab group {group} variables"),
                names: gl
                    .group_variables(group)
                    .await
                    .map(|v| v.into_iter().map(|v| v.key).collect())
                    .map_err(text),
            }
        }));
        let (files, project_sets, group_sets) = futures::join!(files, project_sets, group_sets);
        lints.extend(files);
        sets.extend(project_sets);
        sets.extend(group_sets);
    }
    (lints, sets)
}

/// The audit's own account's tokens: npm lists only the signed-in account's (other
/// members' come from their attestations).
async fn read_tokens(src: &Sources) -> Vec<AccountTokens> {
    vec![AccountTokens {
        user: src
            .own_credential
            .user
            .clone()
            .unwrap_or_else(|| "the audit's account".into()),
        tokens: src.npm.tokens().await.map_err(text),
        via: None,
    }]
}

async fn read_teams(src: &Sources) -> Fetched<Vec<TeamState>> {
    let names = src.npm.teams(&src.scope).await.map_err(text)?;
    let reads = names.into_iter().map(|name| async move {
        let (members, packages) = futures::join!(
            async { src.npm.team_members(&src.scope, &name).await.map_err(text) },
            async { src.npm.team_packages(&src.scope, &name).await.map_err(text) },
        );
        TeamState {
            name,
            members,
            packages,
        }
    });
    Ok(join_all(reads).await)
}

async fn read_circleci(c: &CircleSources) -> (Fetched<Vec<ContextVars>>, Vec<ProjectState>) {
    let contexts = async {
        let Some(org) = &c.org_id else {
            return Err("no CircleCI org id (--circleci-org) to list contexts by".to_string());
        };
        let list = c.client.contexts(org).await.map_err(text)?;
        let reads = list.into_iter().map(|ctx| async move {
            let variables = c.client.context_variable_names(&ctx.id).await.map_err(text);
            ContextVars {
                id: ctx.id,
                name: ctx.name,
                variables,
            }
        });
        Ok(join_all(reads).await)
    };
    let projects = join_all(c.projects.iter().map(|slug| read_project(&c.client, slug)));
    futures::join!(contexts, projects)
}

async fn read_project(client: &CircleCiClient, slug: &str) -> ProjectState {
    let latest = async {
        let pipelines = client.recent_pipelines(slug).await.map_err(text)?;
        let Some(latest) = pipelines.first() else {
            return Ok(None);
        };
        let config = client.pipeline_config(&latest.id).await.map_err(text)?;
        let number = latest.number.map(|n| format!(" #{n}")).unwrap_or_default();
        let origin = format!(
            "GET /pipeline/{}/config (compiled, {slug} pipeline{number})",
            latest.id
        );
        let label = format!("{slug} pipeline{number} compiled config");
        Ok(Some(lint_compiled(origin, &label, &config.compiled)))
    };
    let (variables, latest) = futures::join!(
        async { client.project_variable_names(slug).await.map_err(text) },
        latest
    );
    ProjectState {
        slug: slug.to_string(),
        variables,
        latest,
    }
}

/// The token-list key of the audit's own credential, when it is a granular token: the
/// listed `token` is a prefix of the secret (at least 8 characters, so it is specific).
fn own_key(secret: &Secret, accounts: &[AccountTokens], user: Option<&str>) -> Option<String> {
    let account = accounts.iter().find(|a| Some(a.user.as_str()) == user)?;
    let tokens = account.tokens.as_ref().ok()?;
    tokens
        .iter()
        .find(|t| {
            let prefix = t
                .token
                .trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_');
            prefix.len() >= 8 && secret.expose().starts_with(prefix)
        })
        .map(|t| t.key.clone())
}
