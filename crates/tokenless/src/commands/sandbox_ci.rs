//! `tokenless sandbox ci`: the CI providers' side of a rehearsal on the sandbox. `push`
//! merges the fixed CI configs (the `migrated` scenario's) into the sandbox's CircleCI
//! projects, GitHub repositories and GitLab projects; `release` runs a package's publish job
//! as its CI would after the fix: the job gets an id token from its provider's issuer
//! (CircleCI with the `npm-publish` context, GitHub and GitLab with the `npm` environment)
//! and publishes with nothing else, no npm token anywhere. `tokenless demo` and
//! scripts/main-job use the same code.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use tokenless_api::{ClientOptions, NpmClient, Secret};
use tokenless_sandbox::SandboxInfo;

/// What the stand-in CI does.
#[derive(Debug, clap::Subcommand)]
pub enum CiJob {
    /// Merge the fixed CI configs into every project, as the pull requests of `fix` would.
    Push {
        /// The running sandbox.
        #[arg(long, value_name = "URL")]
        url: String,
    },
    /// Run PACKAGE's publish job: VERSION through its trusted publisher.
    Release {
        /// The running sandbox.
        #[arg(long, value_name = "URL")]
        url: String,
        /// The package, e.g. `@acme/core`; its package.json `repository` names its CI.
        package: String,
        /// The version the job publishes (new: a published version is never reused).
        version: String,
        /// The branch the job runs on (its environment or context restriction decides).
        #[arg(long, default_value = "main")]
        branch: String,
        /// Who publishes in the job.
        #[arg(long, value_enum, default_value_t = Client::Auto)]
        client: Client,
    },
    /// Release every package of the org at its next patch version, from main.
    ReleaseAll {
        /// The running sandbox.
        #[arg(long, value_name = "URL")]
        url: String,
        /// Who publishes in the jobs.
        #[arg(long, value_enum, default_value_t = Client::Auto)]
        client: Client,
    },
}

/// Who publishes in the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Client {
    /// The npm CLI when it is on PATH and >= 11.11, else tokenless's own client.
    Auto,
    /// The npm CLI (>= 11.11), exactly as a CI step runs it.
    Npm,
    /// tokenless's own client: the exchange, then the publish.
    Tokenless,
}

/// The publisher a [`Client`] choice resolves to.
#[derive(Debug, Clone)]
pub enum Publisher {
    /// The npm CLI, with its version.
    Npm(String),
    Own,
}

impl Publisher {
    pub fn choose(client: Client) -> anyhow::Result<Publisher> {
        Ok(match (client, npm_cli()) {
            (Client::Tokenless, _) | (Client::Auto, None) => Publisher::Own,
            (_, Some(v)) => Publisher::Npm(v),
            (Client::Npm, None) => bail!("--client npm: no npm >= 11.11 on PATH"),
        })
    }

    /// How the output names it.
    pub fn describe(&self) -> String {
        match self {
            Publisher::Npm(v) => format!("the npm CLI {v}"),
            Publisher::Own => "tokenless's own client".into(),
        }
    }
}

pub fn run(job: CiJob) -> anyhow::Result<ExitCode> {
    let runtime = super::prompt::runtime()?;
    let work = tempfile::tempdir().context("cannot make a temporary directory")?;
    let result = runtime.block_on(async {
        match job {
            CiJob::Push { url } => push(&base(&url)).await,
            CiJob::Release {
                url,
                package,
                version,
                branch,
                client,
            } => {
                let ci = Ci::connect(&url, client, work.path()).await?;
                let doc = packument(&ci.base, &package).await?;
                ci.release(&doc, &package, &version, &branch).await
            }
            CiJob::ReleaseAll { url, client } => {
                Ci::connect(&url, client, work.path())
                    .await?
                    .release_all()
                    .await
            }
        }
    });
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("sandbox ci: {e:#}");
            Ok(ExitCode::from(1))
        }
    }
}

fn base(url: &str) -> String {
    if url.ends_with('/') {
        url.to_owned()
    } else {
        format!("{url}/")
    }
}

/// `push`: the `migrated` scenario's publish configs, to the CircleCI projects, GitHub
/// repositories and GitLab projects of the same names (those of the `legacy` scenario too);
/// a sandbox without one of them refuses that push.
async fn push(base: &str) -> anyhow::Result<()> {
    let fixed: Value = serde_json::from_str(tokenless_sandbox::scenario::MIGRATED)?;
    let mut pushes = Vec::new();
    let org = fixed["circleci"]["org_slug"].as_str().unwrap_or("gh/acme");
    for p in fixed["circleci"]["projects"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let latest = p["pipelines"]
            .as_array()
            .into_iter()
            .flatten()
            .rfind(|x| x["branch"].as_str().unwrap_or("main") == "main");
        let Some(latest) = latest else { continue };
        pushes.push(json!({
            "provider": "circleci", "project": format!("{org}/{}", text(&p["name"])), "branch": "main",
            "files": {".circleci/config.yml": lines(&latest["config"])},
        }));
    }
    let gh = fixed["github"]["org"].as_str().unwrap_or("acme");
    for r in fixed["github"]["repos"].as_array().into_iter().flatten() {
        pushes.push(json!({"provider": "github", "project": format!("{gh}/{}", text(&r["name"])), "files": files(&r["files"])}));
    }
    let group = fixed["gitlab"]["group"].as_str().unwrap_or("acme");
    for p in fixed["gitlab"]["projects"].as_array().into_iter().flatten() {
        pushes.push(json!({"provider": "gitlab", "project": format!("{group}/{}", text(&p["path"])), "files": files(&p["files"])}));
    }
    let http = reqwest::Client::new();
    for push in pushes {
        let r = http
            .post(format!("{base}-/sandbox/push"))
            .json(&push)
            .send()
            .await?;
        let (provider, project) = (text(&push["provider"]), text(&push["project"]));
        if !r.status().is_success() {
            bail!(
                "the push to {provider} {project} was refused: {}",
                r.text().await?
            );
        }
        println!("  pushed the fixed CI config to {provider} {project}");
    }
    Ok(())
}

/// The publish jobs of one sandbox.
struct Ci<'a> {
    base: String,
    info: SandboxInfo,
    publisher: Publisher,
    /// Where the npm CLI's package directories go.
    work: &'a Path,
}

impl<'a> Ci<'a> {
    async fn connect(url: &str, client: Client, work: &'a Path) -> anyhow::Result<Ci<'a>> {
        let base = base(url);
        let info = tokenless_api::sandbox::fetch_info(&base, ClientOptions::default())
            .await
            .with_context(|| format!("cannot read the sandbox at {base}"))?;
        Ok(Ci {
            base,
            info,
            publisher: Publisher::choose(client)?,
            work,
        })
    }

    /// Every package of the org, each at its next patch version, from main.
    async fn release_all(&self) -> anyhow::Result<()> {
        let owner = self
            .info
            .users
            .iter()
            .find(|u| u.role == Some(tokenless_sandbox::model::Role::Owner) && !u.token.is_empty())
            .context("the sandbox has no owner with a live session to list the packages")?;
        let npm = NpmClient::new(
            &self.info.registry,
            Some(Secret::new(owner.token.as_str())),
            ClientOptions::default(),
        )?;
        for name in npm.org_packages(&self.info.scope).await?.into_keys() {
            let doc = packument(&self.base, &name).await?;
            let latest = doc["dist-tags"]["latest"].as_str().unwrap_or("0.0.0");
            let mut parts: Vec<u64> = latest.split('.').filter_map(|n| n.parse().ok()).collect();
            parts.resize(3, 0);
            let version = format!("{}.{}.{}", parts[0], parts[1], parts[2] + 1);
            self.release(&doc, &name, &version, "main").await?;
        }
        Ok(())
    }

    /// The package's publish job on `branch`: an id token from its provider's issuer, then
    /// the publish with nothing else.
    async fn release(
        &self,
        doc: &Value,
        name: &str,
        version: &str,
        branch: &str,
    ) -> anyhow::Result<()> {
        let (base, info, publisher) = (&self.base, &self.info, &self.publisher);
        let (provider, claims) = job_claims(info, doc, branch)?;
        let http = reqwest::Client::new();
        let minted = http
            .post(format!("{base}-/sandbox/oidc/{provider}/token"))
            .json(&claims)
            .send()
            .await?;
        let status = minted.status();
        let minted: Value = minted.json().await.unwrap_or(Value::Null);
        let Some(id_token) = minted["token"].as_str() else {
            let why = minted["error"].as_str().or(minted["message"].as_str());
            bail!(
                "{name}: the {provider} job on {branch} got no id token ({status}): {}",
                why.map_or_else(|| minted.to_string(), str::to_owned)
            );
        };
        let manifest = json!({"name": name, "version": version, "main": "index.js", "license": "MIT",
        "repository": doc["repository"]});
        match publisher {
            Publisher::Npm(_) => publish_with_npm(self.work, base, provider, &manifest, id_token)
                .with_context(|| format!("{name}@{version}"))?,
            Publisher::Own => publish_with_own_client(info, &manifest, id_token)
                .await
                .with_context(|| format!("{name}@{version}"))?,
        }
        println!(
            "  {name}@{version} published by its {provider} job through trusted publishing ({})",
            publisher.describe()
        );
        Ok(())
    }
}

async fn packument(base: &str, name: &str) -> anyhow::Result<Value> {
    let r = reqwest::get(format!("{base}{}", name.replace('/', "%2f"))).await?;
    if !r.status().is_success() {
        bail!("{name}: the registry has no such package ({})", r.status());
    }
    Ok(r.json().await?)
}

/// The npm CLI's version when it is on PATH and can publish from every provider's job
/// (CircleCI's exchange needs the newest: `versions::NPM_MIN_CIRCLECI`).
fn npm_cli() -> Option<String> {
    use tokenless_ci::versions::{NPM_MIN_CIRCLECI, lowest_npm};
    let out = Command::new("npm").arg("--version").output().ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let new_enough = !v.is_empty() && lowest_npm(&v).is_some_and(|have| have >= NPM_MIN_CIRCLECI);
    (out.status.success() && new_enough).then_some(v)
}

/// `npm publish` of `manifest` in a fresh directory, with nothing but the id token and the
/// provider's CI variable, as the job's step runs it (no host npm configuration).
fn publish_with_npm(
    work: &Path,
    base: &str,
    provider: &str,
    manifest: &Value,
    id_token: &str,
) -> anyhow::Result<()> {
    let dir = tempfile::tempdir_in(work)?;
    let pkg = dir.path().join("pkg");
    std::fs::create_dir_all(&pkg)?;
    std::fs::write(pkg.join("package.json"), manifest.to_string())?;
    std::fs::write(pkg.join("index.js"), "module.exports = 1;\n")?;
    let userconfig = dir.path().join(".npmrc");
    std::fs::write(&userconfig, "")?;
    let ci = match provider {
        "circleci" => "CIRCLECI",
        "github" => "GITHUB_ACTIONS",
        _ => "GITLAB_CI",
    };
    let out = Command::new("npm")
        .arg("publish")
        .arg(format!("--userconfig={}", userconfig.display()))
        .arg(format!("--cache={}", dir.path().join("cache").display()))
        .current_dir(&pkg)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .env("NO_COLOR", "1")
        .env("npm_config_registry", base)
        .env(ci, "true")
        .env("NPM_ID_TOKEN", id_token)
        .output()
        .context("cannot run npm")?;
    if !out.status.success() {
        bail!(
            "npm publish failed: {}",
            tokenless_ci::facts::mask(&String::from_utf8_lossy(&out.stderr))
        );
    }
    Ok(())
}

/// The exchange, then the publish, with tokenless's own client.
async fn publish_with_own_client(
    info: &SandboxInfo,
    manifest: &Value,
    id_token: &str,
) -> anyhow::Result<()> {
    let name = text(&manifest["name"]);
    let version = text(&manifest["version"]);
    let anonymous = NpmClient::new(&info.registry, None, ClientOptions::default())?;
    let token = anonymous
        .oidc_exchange(&name, &Secret::new(id_token))
        .await
        .context("the registry refused the exchange")?;
    let tarball = tokenless_sandbox::packages::make_tarball(manifest)?;
    use base64::Engine as _;
    let body = json!({
        "_id": name, "name": name, "repository": manifest["repository"],
        "dist-tags": {"latest": version}, "versions": {version.clone(): manifest},
        "_attachments": {format!("{name}-{version}.tgz"): {"content_type": "application/octet-stream",
            "data": base64::engine::general_purpose::STANDARD.encode(&tarball), "length": tarball.len()}},
    });
    let r = reqwest::Client::new()
        .put(format!("{}{}", info.registry, name.replace('/', "%2f")))
        .bearer_auth(token.expose())
        .json(&body)
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("the publish was refused: {}", r.text().await?);
    }
    Ok(())
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn lines(v: &Value) -> String {
    let mut s: String = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join("\n");
    s.push('\n');
    s
}

fn files(v: &Value) -> Value {
    Value::Object(
        v.as_object()
            .into_iter()
            .flatten()
            .map(|(k, text)| (k.clone(), Value::String(lines(text))))
            .collect(),
    )
}

/// The publishing job's provider and the claims of its id token, found from the package's
/// repository URL: a CircleCI project with that VCS origin (the `npm-publish` context
/// bound), else a GitHub repository or GitLab project of that path (environment `npm`).
fn job_claims(
    info: &SandboxInfo,
    doc: &Value,
    branch: &str,
) -> anyhow::Result<(&'static str, Value)> {
    let url = doc["repository"]["url"]
        .as_str()
        .or_else(|| doc["repository"].as_str())
        .unwrap_or_default();
    let origin = url
        .trim_start_matches("git+")
        .trim_end_matches(".git")
        .split("://")
        .last()
        .unwrap_or_default()
        .to_owned();
    if origin.is_empty() {
        bail!("the package has no repository URL to find its CI by");
    }
    let aud = info.audiences.first().cloned().unwrap_or_default();
    let git_ref = format!("refs/heads/{branch}");
    if let Some(p) = info
        .circleci
        .projects
        .iter()
        .find(|p| p.vcs_origin == origin)
    {
        let ctx: Vec<&str> = info
            .circleci
            .contexts
            .iter()
            .filter(|c| c.name == "npm-publish")
            .map(|c| c.id.as_str())
            .collect();
        return Ok((
            "circleci",
            json!({
                "aud": aud,
                "oidc.circleci.com/project-id": p.id,
                "oidc.circleci.com/pipeline-definition-id": p.pipeline_definition_id,
                "oidc.circleci.com/vcs-origin": p.vcs_origin,
                "oidc.circleci.com/vcs-ref": git_ref,
                "oidc.circleci.com/context-ids": ctx,
                "oidc.circleci.com/ssh-rerun": false,
            }),
        ));
    }
    if let Some(repo) = origin.strip_prefix("github.com/") {
        return Ok((
            "github",
            json!({
                "aud": aud, "repository": repo, "repository_owner": repo.split('/').next(),
                "environment": "npm", "ref": git_ref, "event_name": "push",
                "workflow_ref": format!("{repo}/.github/workflows/publish.yml@{git_ref}"),
            }),
        ));
    }
    if let Some(path) = origin.strip_prefix("gitlab.com/") {
        let protected = if branch == "main" { "true" } else { "false" };
        return Ok((
            "gitlab",
            json!({
                "aud": aud, "project_path": path, "environment": "npm", "ref_protected": protected,
                "user_access_level": "maintainer",
                "ci_config_ref_uri": format!("gitlab.com/{path}//.gitlab-ci.yml@{git_ref}"),
            }),
        ));
    }
    bail!("no CI provider in the sandbox for {origin}")
}
