//! The proof that a fixed publish job really publishes: a legacy CI job (an npm token written
//! into `.npmrc`) publishes with the token while the package allows tokens and fails once it
//! requires 2FA and disallows tokens; `tokenless fix --write` rewrites it; the rewritten job,
//! run step by step by the simulated runner (`ci_sim`) with no npm token anywhere, publishes
//! through trusted publishing (`_npmUser.trustedPublisher` in the packument), and does not
//! from another branch or without the context / the id-token permission.
//!
//! The sandbox is the in-process one, `migrated` with @acme/cli (CircleCI project `cli`,
//! context `npm-publish`, restricted to main and no SSH reruns) and @acme/site (GitHub
//! `acme/site`, `publish.yml`, environment `npm` open to protected branches) set back to
//! "2FA required, automation tokens allowed" and a bypass-2FA token of alice's: the state
//! before the migration's destructive phase. It accepts the audience
//! `npm:registry.npmjs.org`, which the fixed CircleCI job asks for.
//!
//! Skips (with a message) when npm is not on PATH or older than 11.11.

mod ci_sim;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ci_sim::{CircleCiJob, GitHubJob, JobRun, Outcome, Sim};
use serde_json::{Value, json};
use tokenless_sandbox::{Sandbox, SandboxHandle, SandboxOptions, Scenario};

const PUBLIC_AUDIENCE: &str = "npm:registry.npmjs.org";

fn npm_ok() -> bool {
    match ci_sim::npm_at_least(11, 11) {
        Ok(_) => true,
        Err(why) => {
            eprintln!("skipping: {why} (trusted publishing needs npm >= 11.11)");
            false
        }
    }
}

fn scenario() -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tokenless-sandbox/scenarios/migrated.json");
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("migrated.json")).expect("json");
    for p in doc["packages"].as_array_mut().into_iter().flatten() {
        if p["name"] == "@acme/cli" || p["name"] == "@acme/site" {
            p["mfa"] = json!("automation");
        }
    }
    doc["tokens"] = json!([{
        "name": "legacy-ci", "owner": "alice", "bypass_2fa": true,
        "scopes": ["@acme"], "permission": "read-write",
        "description": "NPM_TOKEN of the legacy CI jobs"
    }]);
    Scenario::Inline(doc.to_string())
}

async fn start() -> SandboxHandle {
    Sandbox::start(SandboxOptions {
        scenario: scenario(),
        extra_audiences: vec![PUBLIC_AUDIENCE.to_owned()],
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox starts")
}

/// A repository checkout: package.json (and index.js) plus CI files.
struct Repo {
    dir: tempfile::TempDir,
    name: String,
    origin: String,
}

impl Repo {
    fn new(name: &str, origin: &str) -> Repo {
        let dir = tempfile::Builder::new()
            .prefix("fixed-job-repo-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("tempdir");
        std::fs::write(dir.path().join("index.js"), "module.exports = 1;\n").expect("index.js");
        let repo = Repo {
            dir,
            name: name.to_owned(),
            origin: origin.to_owned(),
        };
        repo.set_version("0.0.0");
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn set_version(&self, version: &str) {
        let doc = json!({
            "name": self.name, "version": version, "main": "index.js", "license": "MIT",
            "repository": {"type": "git", "url": format!("git+https://{}.git", self.origin)},
        });
        std::fs::write(self.path().join("package.json"), format!("{doc:#}\n"))
            .expect("package.json");
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).expect("read")
    }
}

fn sim(sb: &SandboxHandle, repo: &Repo, work: &Path) -> Sim {
    Sim {
        sandbox: sb.url().to_owned(),
        package_dir: repo.path().to_owned(),
        work: work.to_owned(),
    }
}

fn work_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("fixed-job-sim-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir")
}

async fn circleci(sim: &Sim, job: CircleCiJob) -> JobRun {
    let sim = sim.clone();
    tokio::task::spawn_blocking(move || sim.run_circleci(&job))
        .await
        .expect("joins")
}

async fn github(sim: &Sim, job: GitHubJob) -> JobRun {
    let sim = sim.clone();
    tokio::task::spawn_blocking(move || sim.run_github(&job))
        .await
        .expect("joins")
}

/// The version's `_npmUser`, or `None` when the version is not in the packument.
async fn npm_user(sb: &SandboxHandle, name: &str, version: &str) -> Option<Value> {
    let url = format!("{}{}", sb.url(), name.replace('/', "%2f"));
    let doc: Value = reqwest::get(&url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .json()
        .await
        .unwrap_or(Value::Null);
    let v = &doc["versions"][version];
    (!v.is_null()).then(|| v["_npmUser"].clone())
}

#[track_caller]
fn assert_trusted(user: Option<&Value>, provider: &str, run: &JobRun) {
    let user = user.unwrap_or_else(|| panic!("not published\n{}", run.transcript()));
    assert_eq!(
        user["trustedPublisher"]["id"],
        provider,
        "{user}\n{}",
        run.transcript()
    );
}

/// The legacy bypass-2FA token (the repo's NPM_TOKEN secret).
fn legacy_token(sb: &SandboxHandle) -> String {
    sb.info()
        .tokens
        .iter()
        .find(|t| t.name == "legacy-ci")
        .map(|t| t.token.clone())
        .expect("legacy-ci token")
}

/// `npm access set mfa=publish` as the owner: 2FA required, tokens disallowed (the
/// registry's endpoint, `POST /-/package/<pkg>/access`, with a one-time password).
async fn require_2fa_and_disallow_tokens(sb: &SandboxHandle, name: &str) {
    let info = sb.info();
    let owner = info.owner().expect("owner");
    let code = tokenless_sandbox::totp::current_code(&owner.totp_secret).expect("totp");
    let url = format!("{}-/package/{}/access", sb.url(), name.replace('/', "%2f"));
    let resp = reqwest::Client::new()
        .post(&url)
        .bearer_auth(&owner.token)
        .header("npm-otp", code)
        .json(&json!({"publish_requires_tfa": true, "automation_token_overrides_tfa": false}))
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status}: {body}");
    assert_eq!(body["publish_requires_tfa"], true, "{body}");
    assert_eq!(body["automation_token_overrides_tfa"], false, "{body}");
}

/// `tokenless fix --write --context CONTEXT REPO`.
async fn tokenless_fix(repo: &Path, context: &str) -> std::process::Output {
    let (repo, context) = (repo.to_owned(), context.to_owned());
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tokenless"))
            .args(["fix", "--write", "--context", &context])
            .arg(&repo)
            .env("NO_COLOR", "1")
            .env_remove("NPM_TOKEN")
            .env_remove("NODE_AUTH_TOKEN")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("tokenless runs")
    })
    .await
    .expect("joins")
}

fn output_text(o: &std::process::Output) -> String {
    ci_sim::redact(&format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    ))
}

/// The runner's output never carries a whole npm token or id token.
#[test]
fn the_runner_redacts_tokens() {
    let npm = format!("npm_{}", "aB3".repeat(12));
    let jwt = format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.{}",
        "eyJzdWIiOiJ4In0".repeat(3),
        "sig_-".repeat(9)
    );
    let text = format!("token={npm}\nNPM_ID_TOKEN={jwt} done");
    let shown = ci_sim::redact(&text);
    assert!(!shown.contains(&npm) && !shown.contains(&jwt), "{shown}");
    assert!(shown.contains("token=npm_…3aB3\n"), "{shown}");
    assert!(shown.contains("NPM_ID_TOKEN=eyJ…(jwt) done"), "{shown}");
}

// ------------------------------------------------------------------------------ CircleCI

const CIRCLECI_CONFIG: &str = ".circleci/config.yml";

const LEGACY_CIRCLECI: &str = r#"version: 2.1
orbs:
  node: circleci/node@7.1.0
jobs:
  test:
    docker:
      - image: cimg/node:22.14
    steps:
      - checkout
      - node/install-packages
      - run: npm test
  publish:
    docker:
      - image: cimg/node:22.14
    steps:
      - checkout
      - node/install-packages
      - run:
          name: Authenticate with registry
          command: echo "//registry.npmjs.org/:_authToken=$NPM_TOKEN" > ~/.npmrc
      - run: npm publish
workflows:
  release:
    jobs:
      - test
      - publish:
          requires: [test]
          filters:
            branches:
              only: main
"#;

/// The canonical fixed job, written by hand (what `tokenless fix` is to produce), with the
/// workflow entry's `context:` line given (or none).
fn canonical_circleci(context: &str, claims_arg: &str) -> String {
    format!(
        r#"version: 2.1
orbs:
  node: circleci/node@7.1.0
jobs:
  publish:
    docker:
      - image: cimg/node:22.14
    steps:
      - checkout
      - node/install-packages
      - run: npm install -g npm@^11.11.0
      - run:
          name: Publish
          command: |
            set -euo pipefail
            NPM_ID_TOKEN="$(circleci run oidc get --claims {claims_arg})"
            if [ -z "$NPM_ID_TOKEN" ]; then
              echo "circleci run oidc get returned an empty token" >&2
              exit 1
            fi
            export NPM_ID_TOKEN
            npm publish
workflows:
  release:
    jobs:
      - publish:
{context}          filters:
            branches:
              only: main
"#
    )
}

/// The token crosses steps through `$BASH_ENV`.
const CROSS_STEP_CIRCLECI: &str = r#"version: 2.1
jobs:
  publish:
    docker:
      - image: cimg/node:24.16
    environment:
      PUBLISH_FLAGS: --tag latest
    steps:
      - checkout
      - run:
          name: Get an npm id token
          command: |
            set -euo pipefail
            NPM_ID_TOKEN="$(circleci run oidc get --claims '{"aud":"npm:registry.npmjs.org"}')"
            if [ -z "$NPM_ID_TOKEN" ]; then
              echo "circleci run oidc get returned an empty token" >&2
              exit 1
            fi
            export NPM_ID_TOKEN
            printf 'export NPM_ID_TOKEN=%q\n' "$NPM_ID_TOKEN" >> "$BASH_ENV"
      - run:
          name: Publish
          environment:
            EXPECTED_TAG: latest
          command: |
            test -n "$NPM_ID_TOKEN"
            test "$PUBLISH_FLAGS" = "--tag $EXPECTED_TAG"
            npm publish $PUBLISH_FLAGS
workflows:
  release:
    jobs:
      - publish:
          context: [npm-publish]
"#;

const GOOD_CLAIMS: &str = r#"'{"aud":"npm:registry.npmjs.org"}'"#;

fn cli_job(config: String, branch: &str) -> CircleCiJob {
    CircleCiJob {
        config,
        workflow: "release".into(),
        job: "publish".into(),
        branch: branch.into(),
        vcs_origin: "github.com/acme/cli".into(),
        ..CircleCiJob::default()
    }
}

/// The runner itself, independent of `tokenless fix`: the hand-written canonical job
/// publishes from main with its context (and with the token crossing steps through
/// `$BASH_ENV`), and nothing lands from a feature branch, an SSH rerun, without the context,
/// or with the claims quoted wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circleci_hand_written_canonical_job_publishes_only_from_main_with_its_context() {
    if !npm_ok() {
        return;
    }
    let sb = start().await;
    let work = work_dir();
    let repo = Repo::new("@acme/cli", "github.com/acme/cli");
    let sim = sim(&sb, &repo, work.path());
    let with_context = canonical_circleci("          context: npm-publish\n", GOOD_CLAIMS);

    repo.set_version("1.3.0");
    let run = circleci(&sim, cli_job(with_context.clone(), "main")).await;
    assert!(run.succeeded(), "{}", run.transcript());
    assert_trusted(
        npm_user(&sb, "@acme/cli", "1.3.0").await.as_ref(),
        "circleci",
        &run,
    );
    assert!(
        run.notes
            .iter()
            .any(|n| n.contains("node/install-packages")),
        "{:?}",
        run.notes
    );
    let install = run
        .steps
        .iter()
        .find(|s| s.name.starts_with("npm install -g"))
        .expect("npm install step");
    assert!(
        install
            .output
            .contains("ci-sim: skipped npm install -g npm@^11.11.0"),
        "{}",
        install.output
    );

    // The token crosses steps through $BASH_ENV; job and step environment are honoured.
    repo.set_version("1.3.1");
    let run = circleci(&sim, cli_job(CROSS_STEP_CIRCLECI.into(), "main")).await;
    assert!(run.succeeded(), "{}", run.transcript());
    assert_trusted(
        npm_user(&sb, "@acme/cli", "1.3.1").await.as_ref(),
        "circleci",
        &run,
    );

    repo.set_version("1.3.2");
    // feature/x: the workflow's filter skips the job.
    let run = circleci(&sim, cli_job(with_context.clone(), "feature/x")).await;
    assert!(
        matches!(&run.outcome, Outcome::NotRun(why) if why.contains("filtered")),
        "{}",
        run.transcript()
    );
    // The branch's own config without the filter: the context's restriction refuses the job.
    let run = circleci(
        &sim,
        CircleCiJob {
            ignore_filters: true,
            ..cli_job(with_context.clone(), "feature/x")
        },
    )
    .await;
    assert!(
        matches!(&run.outcome, Outcome::NotRun(why) if why.contains("Unauthorized")),
        "{}",
        run.transcript()
    );
    // An SSH rerun on main: refused too.
    let run = circleci(
        &sim,
        CircleCiJob {
            ssh_rerun: true,
            ..cli_job(with_context.clone(), "main")
        },
    )
    .await;
    assert!(
        matches!(run.outcome, Outcome::NotRun(_)),
        "{}",
        run.transcript()
    );
    // No context: the job runs and gets an id token, which the exchange refuses; npm has
    // no other credential, so the publish fails.
    let run = circleci(&sim, cli_job(canonical_circleci("", GOOD_CLAIMS), "main")).await;
    assert_eq!(
        run.outcome,
        Outcome::Failed("Publish".into()),
        "{}",
        run.transcript()
    );
    let publish = run.steps.last().expect("a step");
    assert!(publish.output.contains("ENEEDAUTH"), "{}", publish.output);
    // Claims quoted so that the shell eats the JSON's quotes: the CLI refuses them.
    let broken = r#""{"aud":"npm:registry.npmjs.org"}""#;
    let run = circleci(
        &sim,
        cli_job(
            canonical_circleci("          context: npm-publish\n", broken),
            "main",
        ),
    )
    .await;
    assert_eq!(
        run.outcome,
        Outcome::Failed("Publish".into()),
        "{}",
        run.transcript()
    );
    let publish = run.steps.last().expect("a step");
    assert!(
        publish.output.contains("invalid claims"),
        "{}",
        publish.output
    );
    assert_eq!(npm_user(&sb, "@acme/cli", "1.3.2").await, None);
    sb.shutdown().await;

    // The shim passes the job's audience unchanged: a sandbox that does not accept
    // `npm:registry.npmjs.org` refuses the exchange, and the publish fails.
    let strict = Sandbox::start(SandboxOptions {
        scenario: scenario(),
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox starts");
    let strict_sim = self::sim(&strict, &repo, work.path());
    let run = circleci(&strict_sim, cli_job(with_context, "main")).await;
    assert_eq!(
        run.outcome,
        Outcome::Failed("Publish".into()),
        "{}",
        run.transcript()
    );
    assert_eq!(npm_user(&strict, "@acme/cli", "1.3.2").await, None);
    strict.shutdown().await;
}

/// Depends on `tokenless fix`: the legacy job publishes with the token, fails once tokens
/// are disallowed, and the job `fix --write` makes of it publishes with no token anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circleci_legacy_job_fixed_by_tokenless_fix_publishes_without_a_token() {
    if !npm_ok() {
        return;
    }
    let sb = start().await;
    let work = work_dir();
    let repo = Repo::new("@acme/cli", "github.com/acme/cli");
    repo.write(CIRCLECI_CONFIG, LEGACY_CIRCLECI);
    let sim = sim(&sb, &repo, work.path());
    let token = legacy_token(&sb);
    let legacy = |config: String, branch: &str| CircleCiJob {
        project_env: vec![("NPM_TOKEN".into(), token.clone())],
        ..cli_job(config, branch)
    };

    // While the package allows tokens, the legacy job publishes with alice's token.
    repo.set_version("1.2.1");
    let run = circleci(&sim, legacy(repo.read(CIRCLECI_CONFIG), "main")).await;
    assert!(run.succeeded(), "{}", run.transcript());
    assert!(!run.transcript().contains(&token));
    let user = npm_user(&sb, "@acme/cli", "1.2.1").await.expect("1.2.1");
    assert_eq!(user["name"], "alice", "{user}");
    assert!(user["trustedPublisher"].is_null(), "{user}");

    // 2FA required and tokens disallowed: the same job fails.
    require_2fa_and_disallow_tokens(&sb, "@acme/cli").await;
    repo.set_version("1.2.2");
    let run = circleci(&sim, legacy(repo.read(CIRCLECI_CONFIG), "main")).await;
    assert_eq!(
        run.outcome,
        Outcome::Failed("npm publish".into()),
        "{}",
        run.transcript()
    );
    assert_eq!(npm_user(&sb, "@acme/cli", "1.2.2").await, None);

    // tokenless fix rewrites the job.
    let out = tokenless_fix(repo.path(), "npm-publish").await;
    assert!(out.status.success(), "{}", output_text(&out));
    let fixed = repo.read(CIRCLECI_CONFIG);
    assert_ne!(fixed, LEGACY_CIRCLECI);
    assert!(!fixed.contains("NPM_TOKEN"), "{fixed}");
    assert!(fixed.contains("circleci run oidc get"), "{fixed}");

    // The fixed job publishes with no npm token anywhere.
    let run = circleci(&sim, cli_job(fixed.clone(), "main")).await;
    assert!(run.succeeded(), "{}\n{fixed}", run.transcript());
    assert_trusted(
        npm_user(&sb, "@acme/cli", "1.2.2").await.as_ref(),
        "circleci",
        &run,
    );

    // Nothing from feature/x, even with the filter gone, nor without the context.
    repo.set_version("1.2.3");
    for job in [
        cli_job(fixed.clone(), "feature/x"),
        CircleCiJob {
            ignore_filters: true,
            ..cli_job(fixed.clone(), "feature/x")
        },
        CircleCiJob {
            contexts: Some(Vec::new()),
            ..cli_job(fixed.clone(), "main")
        },
    ] {
        let run = circleci(&sim, job).await;
        assert!(!run.succeeded(), "{}\n{fixed}", run.transcript());
        assert_eq!(npm_user(&sb, "@acme/cli", "1.2.3").await, None);
    }
    sb.shutdown().await;
}

// ------------------------------------------------------------------------ GitHub Actions

const WORKFLOW: &str = ".github/workflows/publish.yml";

const LEGACY_GITHUB: &str = r#"name: publish
on:
  push:
    branches: [main]
jobs:
  publish:
    runs-on: ubuntu-latest
    environment: npm
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 20
          registry-url: https://registry.npmjs.org
      - run: npm publish
        env:
          NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}
"#;

/// The fixed shape, by hand; `permissions` given or not.
fn fixed_github(permissions: &str) -> String {
    format!(
        r#"name: publish
on:
  push:
    branches: [main]
jobs:
  publish:
    runs-on: ubuntu-latest
    environment: npm
{permissions}    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 20
          registry-url: https://registry.npmjs.org
      - run: npm install -g npm@^11.5.1
      - run: npm publish
"#
    )
}

const ID_TOKEN_PERMISSIONS: &str =
    "    permissions:\n      contents: read\n      id-token: write\n";

fn site_job(workflow: String, branch: &str, secrets: &[(&str, &str)]) -> GitHubJob {
    GitHubJob {
        workflow,
        workflow_path: WORKFLOW.into(),
        job: "publish".into(),
        repository: "acme/site".into(),
        branch: branch.into(),
        event_name: "push".into(),
        secrets: secrets
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// The runner itself for GitHub: the hand-written fixed job publishes with `id-token:
/// write`, not without it, and not from a branch its environment does not admit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_hand_written_fixed_job_publishes_only_with_the_id_token_permission() {
    if !npm_ok() {
        return;
    }
    let sb = start().await;
    let work = work_dir();
    let repo = Repo::new("@acme/site", "github.com/acme/site");
    let sim = sim(&sb, &repo, work.path());

    repo.set_version("2.2.0");
    let run = github(
        &sim,
        site_job(fixed_github(ID_TOKEN_PERMISSIONS), "main", &[]),
    )
    .await;
    assert!(run.succeeded(), "{}", run.transcript());
    assert_trusted(
        npm_user(&sb, "@acme/site", "2.2.0").await.as_ref(),
        "github",
        &run,
    );

    repo.set_version("2.2.1");
    // Workflow-level permissions count too.
    let workflow_level = fixed_github("").replace(
        "jobs:\n",
        "permissions:\n  contents: read\n  id-token: write\njobs:\n",
    );
    let run = github(&sim, site_job(workflow_level, "main", &[])).await;
    assert!(run.succeeded(), "{}", run.transcript());
    assert_trusted(
        npm_user(&sb, "@acme/site", "2.2.1").await.as_ref(),
        "github",
        &run,
    );

    repo.set_version("2.2.2");
    // No id-token permission: no request URL, npm has only setup-node's placeholder token.
    let run = github(&sim, site_job(fixed_github(""), "main", &[])).await;
    assert_eq!(
        run.outcome,
        Outcome::Failed("Run npm publish".into()),
        "{}",
        run.transcript()
    );
    let publish = run.steps.last().expect("a step");
    assert!(publish.output.contains("E401"), "{}", publish.output);
    // A feature branch: the environment `npm` admits protected branches only.
    let run = github(
        &sim,
        site_job(fixed_github(ID_TOKEN_PERMISSIONS), "feature/x", &[]),
    )
    .await;
    assert!(
        matches!(run.outcome, Outcome::NotRun(_)),
        "{}",
        run.transcript()
    );
    assert_eq!(npm_user(&sb, "@acme/site", "2.2.2").await, None);
    sb.shutdown().await;
}

/// Depends on `tokenless fix`: the legacy GitHub job (NODE_AUTH_TOKEN from the NPM_TOKEN
/// secret, no id-token permission) publishes with the token, fails once tokens are
/// disallowed, and the job `fix --write` makes of it publishes with no secret at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_legacy_job_fixed_by_tokenless_fix_publishes_without_a_token() {
    if !npm_ok() {
        return;
    }
    let sb = start().await;
    let work = work_dir();
    let repo = Repo::new("@acme/site", "github.com/acme/site");
    repo.write(WORKFLOW, LEGACY_GITHUB);
    let sim = sim(&sb, &repo, work.path());
    let token = legacy_token(&sb);

    repo.set_version("2.1.1");
    let run = github(
        &sim,
        site_job(repo.read(WORKFLOW), "main", &[("NPM_TOKEN", &token)]),
    )
    .await;
    assert!(run.succeeded(), "{}", run.transcript());
    assert!(!run.transcript().contains(&token));
    let user = npm_user(&sb, "@acme/site", "2.1.1").await.expect("2.1.1");
    assert_eq!(user["name"], "alice", "{user}");
    assert!(user["trustedPublisher"].is_null(), "{user}");

    require_2fa_and_disallow_tokens(&sb, "@acme/site").await;
    repo.set_version("2.1.2");
    let run = github(
        &sim,
        site_job(repo.read(WORKFLOW), "main", &[("NPM_TOKEN", &token)]),
    )
    .await;
    assert!(!run.succeeded(), "{}", run.transcript());
    assert_eq!(npm_user(&sb, "@acme/site", "2.1.2").await, None);

    let out = tokenless_fix(repo.path(), "npm-publish").await;
    assert!(out.status.success(), "{}", output_text(&out));
    let fixed = repo.read(WORKFLOW);
    assert!(!fixed.contains("NPM_TOKEN"), "{fixed}");
    assert!(!fixed.contains("NODE_AUTH_TOKEN"), "{fixed}");
    assert!(fixed.contains("id-token: write"), "{fixed}");

    // No secrets at all.
    let run = github(&sim, site_job(fixed.clone(), "main", &[])).await;
    assert!(run.succeeded(), "{}\n{fixed}", run.transcript());
    assert_trusted(
        npm_user(&sb, "@acme/site", "2.1.2").await.as_ref(),
        "github",
        &run,
    );

    repo.set_version("2.1.3");
    let run = github(&sim, site_job(fixed.clone(), "feature/x", &[])).await;
    assert!(!run.succeeded(), "{}\n{fixed}", run.transcript());
    assert_eq!(npm_user(&sb, "@acme/site", "2.1.3").await, None);
    sb.shutdown().await;
}
