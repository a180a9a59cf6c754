//! `tokenless demo`: the whole migration on an embedded sandbox, narrated, in the order
//! that never breaks a release. Each step runs this same binary, so what the demo shows is
//! exactly what the commands do.

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
    time::Instant,
};

use anyhow::{Context, bail};
use serde_json::Value;
use tokenless_sandbox::{Sandbox, SandboxHandle, SandboxOptions, Scenario};

use super::sandbox_ci::{Client, Publisher};

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
    let publisher = Publisher::choose(args.client)?;
    let demo = Demo {
        exe: std::env::current_exe().context("cannot find this program")?,
        url: sandbox.url().to_string(),
        work,
        publisher,
    };
    let result = demo.walk(&sandbox);
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
    /// Who publishes the releases in the CI jobs.
    publisher: Publisher,
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

    fn walk(&self, sandbox: &SandboxHandle) -> anyhow::Result<()> {
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
        let client = match &self.publisher {
            Publisher::Npm(_) => "npm",
            Publisher::Own => "tokenless",
        };
        println!(
            "(the sandbox plays CI: each job gets an id token from its provider's issuer and publishes with {}; no npm token anywhere)",
            self.publisher.describe()
        );
        self.step(&["sandbox", "ci", "push", "--url", url], 0)?;
        self.step(
            &[
                "sandbox",
                "ci",
                "release-all",
                "--url",
                url,
                "--client",
                client,
            ],
            0,
        )?;

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
