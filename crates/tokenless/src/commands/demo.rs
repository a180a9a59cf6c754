//! `tokenless demo`: the whole migration on an embedded sandbox, narrated, in the order
//! that never breaks a release. Each step runs this same binary, so what the demo shows is
//! exactly what the commands do.

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::Instant,
};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokenless_api::{ClientOptions, NpmClient, Secret};
use tokenless_sandbox::{Sandbox, SandboxHandle, SandboxOptions, Scenario};

/// Walk through the migration on an embedded sandbox (CircleCI, GitHub and GitLab
/// publishers): the failing audit, lint and fix of an example repository, init, plan, the
/// additive apply, a trusted release of every package, the destructive apply, each
/// member's revoke and attestation, a scan of a laptop, and the passing audit.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "\
Nothing remote is touched: the registry, CircleCI, GitHub, GitLab and their OIDC issuers
are the sandbox's, on a free loopback port, stopped at the end. Everything is written in a
temporary directory, removed at the end unless --keep DIR.

Exit codes: 0 the migration ended with every box passing, 1 a step did not do what it
should (the output says which), 2 the demo could not run.")]
pub struct DemoArgs {
    /// Keep the example repository, tokenless.toml, the record and the reports here.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Who publishes the releases: the npm CLI when it is on PATH and >= 11.11 (auto), the
    /// npm CLI, or tokenless's own client.
    #[arg(long, value_enum, default_value_t = Client::Auto)]
    pub client: Client,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Client {
    Auto,
    Npm,
    Tokenless,
}

const LEGACY_FILES: &[(&str, &str)] = &[
    (
        ".circleci/config.yml",
        include_str!("../../../../examples/legacy-repo/.circleci/config.yml"),
    ),
    (
        ".github/workflows/release.yml",
        include_str!("../../../../examples/legacy-repo/.github/workflows/release.yml"),
    ),
    (
        ".gitlab-ci.yml",
        include_str!("../../../../examples/legacy-repo/.gitlab-ci.yml"),
    ),
    (
        "ci/publish.yml",
        include_str!("../../../../examples/legacy-repo/ci/publish.yml"),
    ),
    (
        "package.json",
        include_str!("../../../../examples/legacy-repo/package.json"),
    ),
];
const MEMBERS: &str = include_str!("../../../../examples/sandbox/tokenless.toml");

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let temp = tempfile::tempdir().context("cannot make a temporary directory")?;
    let work = match &args.keep {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("--keep {}: cannot create it", dir.display()))?;
            dir.clone()
        }
        None => temp.path().to_path_buf(),
    };
    let runtime = super::prompt::runtime()?;
    let sandbox = runtime.block_on(Sandbox::start(SandboxOptions {
        scenario: Scenario::Legacy,
        ..SandboxOptions::default()
    }))?;
    let npm = match args.client {
        Client::Tokenless => None,
        Client::Auto => npm_cli(),
        Client::Npm => Some(npm_cli().context("--client npm: no npm >= 11.11 on PATH")?),
    };
    let demo = Demo {
        exe: std::env::current_exe().context("cannot find this program")?,
        url: sandbox.url().to_string(),
        work,
        npm,
    };
    let result = demo.walk(&runtime, &sandbox);
    drop(sandbox);
    match result {
        Ok(()) => {
            println!(
                "\ntokenless demo: done in {:.1} s{}",
                started.elapsed().as_secs_f64(),
                args.keep
                    .map(|d| format!("; the files are in {}", d.display()))
                    .unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("\ntokenless demo: {e:#}");
            Ok(ExitCode::from(1))
        }
    }
}

struct Demo {
    exe: PathBuf,
    url: String,
    work: PathBuf,
    /// The npm CLI's version, when it publishes the releases.
    npm: Option<String>,
}

impl Demo {
    fn path(&self, rel: &str) -> String {
        self.work.join(rel).display().to_string()
    }

    fn otp(&self, user: &str) -> String {
        format!(
            "'{}' sandbox otp --url {} {user}",
            self.exe.display(),
            self.url
        )
    }

    /// Run `tokenless ARGS` with its output shown; fail unless it exits with `want`.
    fn step(&self, args: &[&str], want: i32) -> anyhow::Result<()> {
        println!("$ tokenless {}", shown(args));
        let status = Command::new(&self.exe)
            .args(args)
            .env("NO_COLOR", "1")
            .status()
            .with_context(|| format!("cannot run tokenless {}", args.join(" ")))?;
        match status.code() {
            Some(code) if code == want => Ok(()),
            code => bail!(
                "`tokenless {}` exited {code:?}, expected {want}",
                shown(args)
            ),
        }
    }

    /// Run `tokenless ARGS` quietly for its JSON.
    fn json(&self, args: &[&str]) -> anyhow::Result<Value> {
        let out = Command::new(&self.exe).args(args).output()?;
        serde_json::from_slice(&out.stdout)
            .with_context(|| format!("`tokenless {}` gave no JSON", shown(args)))
    }

    fn walk(
        &self,
        runtime: &tokio::runtime::Runtime,
        sandbox: &SandboxHandle,
    ) -> anyhow::Result<()> {
        let url = self.url.as_str();
        let repo = self.path("repo");
        for (rel, text) in LEGACY_FILES {
            let path = self.work.join("repo").join(rel);
            std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
            std::fs::write(&path, text)?;
        }
        let members = self.path("members.toml");
        std::fs::write(&members, MEMBERS)?;
        let cfg = self.path("tokenless.toml");
        let attest = self.path("attestations");
        println!(
            "tokenless demo: an org of 16 packages publishing with stored tokens from CircleCI, GitHub and GitLab,\non a sandbox at {url} (nothing remote is touched)"
        );

        heading("1. The audit before: the Definition of Done, box by box, with evidence");
        let before = self.json(&[
            "audit",
            "--sandbox",
            url,
            "--config",
            &members,
            "--format",
            "json",
        ])?;
        self.step(&["audit", "--sandbox", url, "--config", &members], 1)?;

        heading(
            "2. lint: the example repository still publishes with stored tokens (one through a package script)",
        );
        self.step(&["lint", &repo], 1)?;

        heading("3. fix: the publish jobs rewritten to mint an id token (the diff, then --write)");
        self.step(&["fix", &repo, "--write"], 1)?;

        heading(
            "4. init and plan: a tokenless.toml from what the registry and CI show, and the steps to reach it",
        );
        self.step(&["init", "--sandbox", url, "--output", &cfg], 0)?;
        self.step(&["plan", "-c", &cfg, "--sandbox", url], 1)?;

        heading(
            "5. apply --phase additive: trust configs, the restricted context, protected environments (releases keep working)",
        );
        let otp = self.otp("alice");
        self.step(
            &[
                "apply",
                "-c",
                &cfg,
                "--sandbox",
                url,
                "--yes",
                "--phase",
                "additive",
                "--otp-command",
                &otp,
            ],
            0,
        )?;

        heading(
            "6. The fixed configs merged; each package released once through its trusted publisher",
        );
        match &self.npm {
            Some(v) => println!(
                "(released with the npm CLI {v}, as the CI job runs it: an id token from the CI provider's issuer in NPM_ID_TOKEN, no npm token anywhere)"
            ),
            None => println!(
                "(released with tokenless's own client: an id token from the CI provider's issuer, exchanged at the registry, no npm token anywhere)"
            ),
        }
        runtime.block_on(release_everything(sandbox, self.npm.is_some(), &self.work))?;

        heading("7. apply: publishing access, CI secrets, tokens, the service account, team write");
        self.step(
            &[
                "apply",
                "-c",
                &cfg,
                "--sandbox",
                url,
                "--yes",
                "--otp-command",
                &otp,
            ],
            0,
        )?;

        heading("8. A laptop: bob's token at rest, found, verified live and revoked by bob");
        let home = self.work.join("bob-home");
        std::fs::create_dir_all(&home)?;
        let info = sandbox.info();
        let laptop = info
            .tokens
            .iter()
            .find(|t| t.owner == "bob")
            .context("the scenario gives bob a token")?;
        let host = url.trim_start_matches("http://").trim_end_matches('/');
        std::fs::write(
            home.join(".npmrc"),
            format!("registry={url}\n//{host}/:_authToken={}\n", laptop.token),
        )?;
        let bob_otp = self.otp("bob");
        let home_s = home.display().to_string();
        self.step(
            &[
                "tokens",
                "scan",
                &home_s,
                "--revoke",
                "--write",
                "--yes",
                "--sandbox",
                url,
                "--as",
                "bob",
                "--otp-command",
                &bob_otp,
            ],
            1,
        )?;

        heading(
            "9. Members revoke what is left and attest their token lists (npm shows an owner only her own)",
        );
        let bot_otp = self.otp("acme-ci-bot");
        self.step(
            &[
                "tokens",
                "revoke",
                "--sandbox",
                url,
                "--as",
                "acme-ci-bot",
                "--all",
                "--yes",
                "--otp-command",
                &bot_otp,
            ],
            0,
        )?;
        for user in ["bob", "acme-ci-bot"] {
            let out = format!("{attest}/{user}.json");
            self.step(
                &[
                    "tokens",
                    "attest",
                    "--sandbox",
                    url,
                    "--as",
                    user,
                    "--out",
                    &out,
                    "--force",
                ],
                0,
            )?;
        }

        heading(
            "10. The audit after, as the owner, on the evidence a real org has (the record and the attestations)",
        );
        let after = self.json(&[
            "audit",
            "--sandbox",
            url,
            "--config",
            &cfg,
            "--attestations",
            &attest,
            "--format",
            "json",
        ])?;
        self.step(
            &[
                "audit",
                "--sandbox",
                url,
                "--config",
                &cfg,
                "--attestations",
                &attest,
            ],
            0,
        )?;

        heading("Before and after");
        table(&before, &after);
        Ok(())
    }
}

fn heading(title: &str) {
    println!("\n## {title}\n");
}

/// Arguments as typed, with the sandbox's long paths kept.
fn shown(args: &[&str]) -> String {
    args.iter()
        .map(|a| {
            if a.contains(' ') {
                format!("\"{a}\"")
            } else {
                (*a).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn table(before: &Value, after: &Value) {
    let status = |report: &Value, id: &str| -> String {
        report["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["id"] == id)
            .and_then(|c| c["status"].as_str())
            .unwrap_or("?")
            .to_owned()
    };
    println!("{:<22} {:<9} after", "box", "before");
    for id in tokenless_org::audit::CheckId::ALL {
        let id = id.as_str();
        println!("{id:<22} {:<9} {}", status(before, id), status(after, id));
    }
}

/// The npm CLI's version when it is on PATH and new enough for the exchange (>= 11.11).
fn npm_cli() -> Option<String> {
    let out = Command::new("npm").arg("--version").output().ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let parts: Vec<u64> = v.split('.').filter_map(|p| p.parse().ok()).collect();
    (out.status.success() && parts.len() >= 2 && (parts[0], parts[1]) >= (11, 11)).then_some(v)
}

/// `npm publish` of `manifest` in a fresh directory, with nothing but the id token, as the
/// CI job's step runs it.
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

/// Merge the fixed CI configs (the `migrated` scenario's) and release every package at its
/// next patch version through its trusted publisher, as its CI job would: with the npm CLI
/// when `with_npm`, else with tokenless's own client.
async fn release_everything(
    sandbox: &SandboxHandle,
    with_npm: bool,
    work: &Path,
) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let base = sandbox.url().to_string();
    let fixed: Value = serde_json::from_str(tokenless_sandbox::scenario::MIGRATED)?;
    let mut pushes = Vec::new();
    let org = fixed["circleci"]["org_slug"].as_str().unwrap_or("gh/acme");
    for p in fixed["circleci"]["projects"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(last) = p["pipelines"].as_array().and_then(|l| l.last()) else {
            continue;
        };
        pushes.push(json!({"provider": "circleci", "project": format!("{org}/{}", p["name"].as_str().unwrap_or("")),
            "branch": "main", "files": {".circleci/config.yml": lines(&last["config"])}}));
    }
    for r in fixed["github"]["repos"].as_array().into_iter().flatten() {
        pushes.push(json!({"provider": "github", "project": format!("acme/{}", r["name"].as_str().unwrap_or("")), "files": files(&r["files"])}));
    }
    for p in fixed["gitlab"]["projects"].as_array().into_iter().flatten() {
        pushes.push(json!({"provider": "gitlab", "project": format!("acme/{}", p["path"].as_str().unwrap_or("")), "files": files(&p["files"])}));
    }
    for push in pushes {
        let r = http
            .post(format!("{base}-/sandbox/push"))
            .json(&push)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!(
                "the push of {} was refused: {}",
                push["project"],
                r.text().await?
            );
        }
    }
    let info = sandbox.info();
    let owner = info
        .users
        .iter()
        .find(|u| u.role == Some(tokenless_sandbox::model::Role::Owner))
        .context("no owner")?;
    let npm = NpmClient::new(
        &info.registry,
        Some(Secret::new(owner.token.as_str())),
        ClientOptions::default(),
    )?;
    let anonymous = NpmClient::new(&info.registry, None, ClientOptions::default())?;
    for name in npm.org_packages(&info.scope).await?.into_keys() {
        let doc: Value = http
            .get(format!("{base}{}", name.replace('/', "%2f")))
            .send()
            .await?
            .json()
            .await?;
        let latest = doc["dist-tags"]["latest"].as_str().unwrap_or("0.0.0");
        let mut parts: Vec<u64> = latest.split('.').filter_map(|n| n.parse().ok()).collect();
        parts.resize(3, 0);
        let version = format!("{}.{}.{}", parts[0], parts[1], parts[2] + 1);
        let (provider, claims) = claims_for(&info, &doc)?;
        let minted: Value = http
            .post(format!("{base}-/sandbox/oidc/{provider}/token"))
            .json(&claims)
            .send()
            .await?
            .json()
            .await?;
        let id_token = minted["token"]
            .as_str()
            .with_context(|| format!("{name}: the {provider} job got no id token: {minted}"))?;
        let manifest = json!({"name": name, "version": version, "main": "index.js", "license": "MIT",
            "repository": doc["repository"]});
        if with_npm {
            publish_with_npm(work, &base, provider, &manifest, id_token)
                .with_context(|| format!("{name}@{version}"))?;
            println!(
                "  {name}@{version} published through {provider} trusted publishing (npm CLI)"
            );
            continue;
        }
        let token = anonymous
            .oidc_exchange(&name, &Secret::new(id_token))
            .await
            .with_context(|| format!("{name}: the registry refused the exchange"))?;
        let tarball = tokenless_sandbox::packages::make_tarball(&manifest)?;
        use base64::Engine as _;
        let body = json!({
            "_id": name, "name": name, "repository": doc["repository"],
            "dist-tags": {"latest": version}, "versions": {version.clone(): manifest},
            "_attachments": {format!("{name}-{version}.tgz"): {"content_type": "application/octet-stream",
                "data": base64::engine::general_purpose::STANDARD.encode(&tarball), "length": tarball.len()}},
        });
        let r = http
            .put(format!("{base}{}", name.replace('/', "%2f")))
            .bearer_auth(token.expose())
            .json(&body)
            .send()
            .await?;
        if !r.status().is_success() {
            bail!(
                "{name}@{version}: the publish was refused: {}",
                r.text().await?
            );
        }
        println!("  {name}@{version} published through {provider} trusted publishing");
    }
    Ok(())
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

/// The id token claims the package's CI job presents, from its repository URL.
fn claims_for(
    info: &tokenless_sandbox::SandboxInfo,
    doc: &Value,
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
    let aud = info.audiences.first().cloned().unwrap_or_default();
    let main = "refs/heads/main";
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
                "oidc.circleci.com/vcs-ref": main,
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
                "environment": "npm", "ref": main,
                "workflow_ref": format!("{repo}/.github/workflows/publish.yml@{main}"), "event_name": "push",
            }),
        ));
    }
    if let Some(path) = origin.strip_prefix("gitlab.com/") {
        return Ok((
            "gitlab",
            json!({
                "aud": aud, "project_path": path, "environment": "npm", "ref_protected": "true",
                "user_access_level": "maintainer", "ci_config_ref_uri": format!("gitlab.com/{path}//.gitlab-ci.yml@{main}"),
            }),
        ));
    }
    bail!("no CI provider in the sandbox for {origin}")
}
