//! tokenless ships itself the way it tells others to: the npm package round trip.
//!
//! On the sandbox, an org `tokenless` whose GitHub repository `tokenless-dev/tokenless` holds
//! this repository's `.github/workflows/release.yml`, with an environment `npm` open to the
//! protected branch main:
//!
//! 1. **Bootstrap, as npm requires** (it has no pending publishers): the maintainer publishes
//!    every package name once from her session with a one-time password
//!    (`scripts/npm-package.mjs placeholder`), then gives each package its trusted publisher
//!    (`npm trust github … --file release.yml --env npm`) and requires 2FA with tokens
//!    disallowed (`npm access set mfa=publish`), all through the real npm CLI.
//! 2. **Release**: the workflow's `publish` job, run step by step by the simulated GitHub
//!    runner (`ci_sim`) with the packages the `build` job leaves (this machine's binary,
//!    stripped, and stand-ins for the other platforms), publishes every package with the
//!    job's id token and no npm token anywhere: each version's `_npmUser` names the GitHub
//!    trusted publisher.
//! 3. **Install**: into a clean directory with no credentials, `npm install tokenless` takes
//!    only this platform's binary package, and `npx tokenless --version` and `npx tokenless
//!    lint` run it. Without the platform package the launcher says what is missing.
//! 4. **The GitHub Action** (`action/`), in the docs' example workflow run by the simulated
//!    runner as a composite action: it installs that release from the registry and lints the
//!    legacy example repository (failing on its findings) and the migrated one (passing).
//!
//! The binary is `TOKENLESS_NPM_BINARY` when set (a release build), else this test build's.
//! Skips (with a message) when npm is not on PATH or older than 11.11.

mod ci_sim;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ci_sim::{GitHubJob, Sim};
use serde_json::{Value, json};
use tokenless_sandbox::{Sandbox, SandboxHandle, SandboxOptions, Scenario};

const REPOSITORY: &str = "tokenless-dev/tokenless";
const WORKFLOW: &str = ".github/workflows/release.yml";
const OWNER: &str = "ana";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn scenario(workflow: &str) -> Scenario {
    Scenario::Inline(
        json!({
            "org": "tokenless",
            "users": [{"name": OWNER, "role": "owner"}],
            "github": {
                "org": "tokenless-dev",
                "repos": [{
                    "name": "tokenless",
                    "protected_branches": ["main"],
                    "environments": [
                        {"name": "npm", "branch_policy": "protected", "reviewers": [OWNER]}
                    ],
                    "files": {WORKFLOW: workflow},
                }],
            },
        })
        .to_string(),
    )
}

fn text(o: &Output) -> String {
    ci_sim::redact(&format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    ))
}

#[track_caller]
fn ok(o: Output) -> Output {
    assert!(o.status.success(), "{}", text(&o));
    o
}

/// npm (or npx) with nothing of the host's configuration: its own HOME, user config and cache.
struct Npm {
    home: PathBuf,
}

impl Npm {
    /// `token`: the session the user config names for the sandbox, if any.
    fn new(dir: &Path, registry: &str, token: Option<&str>) -> Npm {
        let home = dir.to_owned();
        std::fs::create_dir_all(&home).expect("npm home");
        let mut npmrc =
            format!("registry={registry}\nfund=false\naudit=false\nupdate-notifier=false\n");
        if let Some(token) = token {
            let nerf = registry.trim_start_matches("http:");
            npmrc.push_str(&format!("{nerf}:_authToken={token}\n"));
        }
        std::fs::write(home.join(".npmrc"), npmrc).expect(".npmrc");
        Npm { home }
    }

    fn run(&self, program: &str, cwd: &Path, args: &[&str]) -> Output {
        Command::new(program)
            .args(args)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("NPM_CONFIG_USERCONFIG", self.home.join(".npmrc"))
            .env("NPM_CONFIG_GLOBALCONFIG", self.home.join("no-globalconfig"))
            .env("NPM_CONFIG_CACHE", self.home.join("cache"))
            .output()
            .unwrap_or_else(|e| panic!("{program} {args:?}: {e}"))
    }
}

fn node(args: &[&str]) -> String {
    let o = ok(Command::new("node").args(args).output().expect("node"));
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn otp(sb: &SandboxHandle) -> String {
    let info = sb.info();
    let user = info.user(OWNER).expect("owner");
    let code = tokenless_sandbox::totp::current_code(&user.totp_secret).expect("totp");
    format!("--otp={code}")
}

/// The binary to ship: a copy of the test build's (or `TOKENLESS_NPM_BINARY`), stripped as
/// the release profile strips it so that the package stays within the registry's size.
fn binary(work: &Path) -> PathBuf {
    let from = std::env::var_os("TOKENLESS_NPM_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_tokenless")));
    let to = work.join("tokenless");
    std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    match Command::new("strip").arg(&to).status() {
        Ok(s) if s.success() => {}
        other => eprintln!("note: strip unavailable ({other:?}); shipping the binary unstripped"),
    }
    to
}

/// The workspace as `actions/checkout` leaves it, holding what the `publish` job uses, plus
/// `dist/` as `actions/download-artifact` leaves it after the `build` matrix: this platform's
/// package with the real binary, and the others with a stand-in file (they are never run).
fn checkout(work: &Path, binary: &Path, here: &str) -> PathBuf {
    let dir = work.join("checkout");
    for file in [
        "Cargo.toml",
        WORKFLOW,
        "scripts/npm-package.mjs",
        "npm/tokenless/package.json",
        "npm/tokenless/README.md",
        "npm/tokenless/bin/tokenless.js",
        "npm/tokenless/lib/platforms.js",
    ] {
        let to = dir.join(file);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(root().join(file), &to).unwrap_or_else(|e| panic!("copy {file}: {e}"));
    }
    let script = dir.join("scripts/npm-package.mjs");
    let script = script.to_str().expect("utf-8 path");
    let dist = dir.join("dist");
    let dist = dist.to_str().expect("utf-8 path");
    let stand_in = work.join("stand-in");
    std::fs::write(&stand_in, "a binary built on another runner\n").expect("stand-in");
    let platforms = node(&[
        "-p",
        &format!(
            "require({:?}).PLATFORMS.map((p) => p.id).join(' ')",
            root().join("npm/tokenless/lib/platforms.js")
        ),
    ]);
    for id in platforms.split(' ') {
        let bin = if id == here { binary } else { &stand_in };
        node(&[
            script,
            "platform",
            "--platform",
            id,
            "--binary",
            bin.to_str().expect("utf-8 path"),
            "--out",
            dist,
        ]);
    }
    dir
}

fn packument(sb: &SandboxHandle, name: &str) -> Value {
    let url = format!("{}{}", sb.url(), name.replace('/', "%2f"));
    let (status, doc) = ci_sim::http("GET", &url, None);
    assert_eq!(status, 200, "GET {url}: {doc}");
    doc
}

#[test]
fn bootstrap_then_release_through_trusted_publishing_then_npx_runs_it() {
    if let Err(why) = ci_sim::npm_at_least(11, 11) {
        eprintln!("skipping: {why} (trusted publishing needs npm >= 11.11)");
        return;
    }
    let version = env!("CARGO_PKG_VERSION");
    let workflow = std::fs::read_to_string(root().join(WORKFLOW)).expect("release.yml");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sb = runtime
        .block_on(Sandbox::start(SandboxOptions {
            scenario: scenario(&workflow),
            // A stripped debug build is larger than a release build.
            max_body_bytes: 96 * 1024 * 1024,
            ..SandboxOptions::default()
        }))
        .expect("sandbox starts");
    let registry = sb.url().to_owned();
    let work = tempfile::Builder::new()
        .prefix("npm-release-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir");
    let work = work.path();
    let script = root().join("scripts/npm-package.mjs");
    let script = script.to_str().expect("utf-8 path");
    let platforms_js = root().join("npm/tokenless/lib/platforms.js");
    let here = node(&[
        "-p",
        &format!("(require({platforms_js:?}).current() || {{}}).id || ''"),
    ]);
    if here.is_empty() {
        eprintln!("skipping: no tokenless platform package is built for this machine");
        return;
    }

    // 1. Bootstrap: the first publish of every name, from the maintainer's session with 2FA.
    let info = sb.info();
    let session = info.user(OWNER).expect("owner").token.clone();
    let maintainer = Npm::new(&work.join("maintainer"), &registry, Some(&session));
    let placeholders = work.join("placeholders");
    node(&[
        script,
        "placeholder",
        "--out",
        placeholders.to_str().expect("utf-8"),
    ]);
    let mut names = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(placeholders.join("platforms"))
        .expect("platforms")
        .map(|e| e.expect("entry").path())
        .collect();
    dirs.sort();
    dirs.push(placeholders.join("tokenless"));
    for dir in &dirs {
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(dir.join("package.json")).expect("manifest"))
                .expect("json");
        names.push(manifest["name"].as_str().expect("name").to_owned());
        // Without the second factor the registry refuses the first publish too.
        let refused = maintainer.run("npm", dir, &["publish", "."]);
        assert!(
            !refused.status.success() && text(&refused).contains("EOTP"),
            "{}",
            text(&refused)
        );
        ok(maintainer.run("npm", dir, &["publish", ".", &otp(&sb)]));
    }
    assert_eq!(names.len(), 8, "{names:?}");
    for name in &names {
        ok(maintainer.run(
            "npm",
            work,
            &[
                "trust",
                "github",
                name,
                "--file",
                "release.yml",
                "--repo",
                REPOSITORY,
                "--env",
                "npm",
                "--allow-publish",
                "--yes",
                &otp(&sb),
            ],
        ));
        ok(maintainer.run(
            "npm",
            work,
            &["access", "set", "mfa=publish", name, &otp(&sb)],
        ));
        let listed = ok(maintainer.run("npm", work, &["trust", "list", name, "--json"]));
        let listed = String::from_utf8_lossy(&listed.stdout);
        assert!(
            listed.contains(REPOSITORY) && listed.contains("release.yml"),
            "{listed}"
        );
    }

    // 2. Release: the workflow's publish job, with the id token and nothing else.
    let shipped = binary(work);
    let sim = Sim {
        sandbox: registry.clone(),
        package_dir: checkout(work, &shipped, &here),
        work: work.join("sim"),
    };
    std::fs::create_dir_all(&sim.work).expect("sim dir");
    let job = GitHubJob {
        workflow: workflow.clone(),
        workflow_path: WORKFLOW.into(),
        job: "publish".into(),
        repository: REPOSITORY.into(),
        branch: "main".into(),
        event_name: "workflow_dispatch".into(),
        secrets: Default::default(),
    };
    let run = sim.run_github(&job);
    assert!(run.succeeded(), "{}", run.transcript());
    for name in &names {
        let doc = packument(&sb, name);
        let user = &doc["versions"][version]["_npmUser"];
        assert_eq!(
            user["trustedPublisher"]["id"],
            "github",
            "{name}: {user}\n{}",
            run.transcript()
        );
        assert_eq!(doc["dist-tags"]["latest"], version, "{name}");
    }
    assert_eq!(
        packument(&sb, "tokenless")["versions"][version]["optionalDependencies"]
            [format!("@tokenless/{here}")],
        version
    );
    // The environment admits main only: the same job from a branch is not started.
    let run = sim.run_github(&GitHubJob {
        branch: "feature/x".into(),
        ..job
    });
    assert!(
        matches!(run.outcome, ci_sim::Outcome::NotRun(_)),
        "{}",
        run.transcript()
    );

    // 3. Install from the registry into a clean directory, with no credentials.
    let app = work.join("app");
    std::fs::create_dir_all(&app).expect("app");
    std::fs::write(
        app.join("package.json"),
        r#"{"name": "app", "private": true}"#,
    )
    .expect("app");
    let user = Npm::new(&work.join("user"), &registry, None);
    ok(user.run("npm", &app, &["install", &format!("tokenless@{version}")]));
    let installed: Vec<String> = std::fs::read_dir(app.join("node_modules/@tokenless"))
        .expect("@tokenless installed")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        installed,
        vec![here.clone()],
        "only this platform's binary is installed"
    );
    let said = ok(user.run("npx", &app, &["tokenless", "--version"]));
    assert_eq!(
        String::from_utf8_lossy(&said.stdout).trim(),
        format!("tokenless {version}")
    );
    let lint = user.run(
        "npx",
        &app,
        &[
            "tokenless",
            "lint",
            root().join(WORKFLOW).to_str().expect("utf-8"),
        ],
    );
    assert_eq!(lint.status.code(), Some(0), "{}", text(&lint));
    assert!(
        String::from_utf8_lossy(&lint.stdout).contains("no findings"),
        "{}",
        text(&lint)
    );

    // Without the platform package (`--omit=optional`), the launcher says what is missing.
    std::fs::remove_dir_all(app.join("node_modules/@tokenless")).expect("rm");
    let missing = user.run("npx", &app, &["tokenless", "--version"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains(&format!("@tokenless/{here}")) && stderr.contains("--omit=optional"),
        "{stderr}"
    );

    // 4. The GitHub Action as another project uses it: the docs' example workflow, with the
    //    action taken from the checkout, run by the simulated runner. The action installs
    //    tokenless from the registry (the release above) and lints the project.
    let example = std::fs::read_to_string(root().join("docs/examples/github-tokenless.yml"))
        .expect("example workflow");
    let uses = format!("tokenless-dev/tokenless/action@v{version}");
    assert!(
        example.contains(&uses),
        "the example uses this release's action"
    );
    let workflow = example.replace(&uses, "./action");
    for (project, clean) in [("legacy-repo", false), ("migrated-repo", true)] {
        let dir = work.join(project);
        ci_sim::copy_dir(&root().join("examples").join(project), &dir);
        ci_sim::copy_dir(&root().join("action"), &dir.join("action"));
        let sim = Sim {
            sandbox: registry.clone(),
            package_dir: dir,
            work: work.join(format!("sim-{project}")),
        };
        std::fs::create_dir_all(&sim.work).expect("sim dir");
        let run = sim.run_github(&GitHubJob {
            workflow: workflow.clone(),
            workflow_path: ".github/workflows/tokenless.yml".into(),
            job: "lint".into(),
            repository: "acme/app".into(),
            branch: "main".into(),
            event_name: "push".into(),
            secrets: Default::default(),
        });
        let step = |name: &str| {
            run.steps
                .iter()
                .find(|s| s.name == format!("./action: {name}"))
                .unwrap_or_else(|| panic!("no step {name}\n{}", run.transcript()))
        };
        let install = &step("Install tokenless").output;
        assert!(
            install.contains("added") && install.contains(&format!("tokenless {version}")),
            "{}",
            run.transcript()
        );
        if clean {
            assert!(run.succeeded(), "{}", run.transcript());
        } else {
            assert_eq!(
                run.outcome,
                ci_sim::Outcome::Failed("./action: Fail on lint findings".into()),
                "{}",
                run.transcript()
            );
            assert!(
                step("Lint the CI configs")
                    .output
                    .contains("static-token-publish"),
                "{}",
                run.transcript()
            );
        }
        // Code scanning's upload is GitHub's own action: asked for (`always()`), not run here.
        assert_eq!(
            step("Upload the lint SARIF").code,
            None,
            "{}",
            run.transcript()
        );
    }
    runtime.block_on(sb.shutdown());
}
