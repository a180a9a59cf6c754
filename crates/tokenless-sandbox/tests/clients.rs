//! The clients people publish with, tried as a user would against the sandbox: `npm publish`,
//! `pnpm publish` and `yarn npm publish` through OIDC from GitHub Actions, GitLab CI and
//! CircleCI environments, each leaving `_npmUser.trustedPublisher` in the packument; web 2FA
//! from pnpm (and yarn's lack of it); and the clients that cannot publish without a token
//! (yarn classic, bun), shown refusing in CI jobs and publishing only with a token.
//!
//! The clients are installed by `.ci/run` from the npm registry into a project-local prefix
//! (`npm install --prefix target/clients …`, versions pinned below) and found through
//! `TOKENLESS_CLIENTS` (that prefix). Without it the tests skip with a message, unless
//! `TOKENLESS_REQUIRE_CLIENTS=1` (set by `.ci/run`) turns the skip into a failure.
//!
//! What each client does, read from the installed code:
//! - npm 11.19.1 (`lib/utils/oidc.js`): CircleCI and GitLab read `NPM_ID_TOKEN`; GitHub reads
//!   `NPM_ID_TOKEN` or requests `ACTIONS_ID_TOKEN_REQUEST_URL&audience=npm:<hostname>` (the
//!   port is dropped). A failed exchange falls back silently to configured credentials.
//! - pnpm 12.21.0 (a native binary; its own exchange): the same three providers and the same
//!   audience as npm, `npm:<hostname>`; it checks `NPM_ID_TOKEN`'s audience against the
//!   registry before exchanging (`ERR_PNPM_ID_TOKEN_REGISTRY_AUDIENCE_MISMATCH`) and warns
//!   "Skipped setting provenance" when it cannot tell the repository's visibility.
//! - yarn 4.18.1 (`@yarnpkg/cli-dist`, `getAuthenticationHeader` in `yarn.js`): GitLab and
//!   CircleCI read `NPM_ID_TOKEN`; on GitHub it ignores `NPM_ID_TOKEN` and requests the token
//!   itself with audience `npm:<host>` of the registry URL, **port included**
//!   (`npm:127.0.0.1:<port>`), which the sandbox accepts as one of the aliases it lists in
//!   `/-/sandbox/info` `audiences`. A configured `npmAuthToken` wins over OIDC: yarn never
//!   asks for an id token then. It needs `yarn install` (a lockfile) before `yarn npm
//!   publish`, and `unsafeHttpWhitelist` for a plain-HTTP registry.
//! - yarn 1.22.22 (`yarn publish`): no OIDC at all; without a token it asks for a login, and
//!   with `--non-interactive` it stops ("No token found and can't prompt for login").
//! - bun 1.4.5 (`bun publish`): no OIDC; "missing authentication (run `bunx npm login`)".

mod ci_env;
mod common;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ci_env::{Job, assert_trusted, job_env, npm_user, trust, trust_ids};
use common::*;
use serde_json::json;
use tokenless_sandbox::{SandboxHandle, SandboxOptions, Scenario};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PNPM: &str = "12.21.0";
const YARN_BERRY: &str = "4.18.1";
const YARN_CLASSIC: &str = "1.22.22";
const BUN: &str = "1.4.5";

/// The prefix the clients were installed into (`TOKENLESS_CLIENTS`), or `None` (skip).
fn clients() -> Option<PathBuf> {
    let required = std::env::var("TOKENLESS_REQUIRE_CLIENTS").as_deref() == Ok("1");
    let dir = std::env::var_os("TOKENLESS_CLIENTS").map(PathBuf::from);
    match dir {
        Some(d) if d.join("node_modules").is_dir() => Some(d),
        other => {
            let why = match other {
                Some(d) => format!("TOKENLESS_CLIENTS={} has no node_modules", d.display()),
                None => "TOKENLESS_CLIENTS is not set".to_owned(),
            };
            if required {
                panic!("TOKENLESS_REQUIRE_CLIENTS=1 but {why}; .ci/run installs the clients");
            }
            eprintln!(
                "SKIPPED: {why} (run `npm install --prefix target/clients pnpm@{PNPM} @yarnpkg/cli-dist@{YARN_BERRY} yarn@{YARN_CLASSIC} bun@{BUN}` and export TOKENLESS_CLIENTS=$PWD/target/clients)"
            );
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    Npm,
    Pnpm,
    YarnBerry,
    YarnClassic,
    Bun,
}

impl Client {
    /// The program and the arguments before the command's own.
    fn program(self, prefix: &Path) -> (PathBuf, Vec<String>) {
        let nm = prefix.join("node_modules");
        let node = |js: PathBuf| (PathBuf::from("node"), vec![js.display().to_string()]);
        match self {
            Client::Npm => (PathBuf::from("npm"), vec![]),
            Client::Pnpm => (native(&nm, "@pnpm", "pnpm", ".bin/pnpm"), vec![]),
            Client::YarnBerry => node(nm.join("@yarnpkg/cli-dist/bin/yarn.js")),
            Client::YarnClassic => node(nm.join("yarn/bin/yarn.js")),
            Client::Bun => (native(&nm, "@oven", "bin/bun", ".bin/bun"), vec![]),
        }
    }

    fn pinned(self) -> Option<&'static str> {
        match self {
            Client::Npm => None,
            Client::Pnpm => Some(PNPM),
            Client::YarnBerry => Some(YARN_BERRY),
            Client::YarnClassic => Some(YARN_CLASSIC),
            Client::Bun => Some(BUN),
        }
    }
}

/// The binary a platform package ships (`@pnpm/exe.linux-x64/pnpm`,
/// `@oven/bun-linux-x64/bin/bun`): the wrappers' own bins are placeholders until their install
/// scripts run (`.ci/run` installs with --ignore-scripts; pnpm's placeholder is also
/// shebang-less, only a shell runs it).
fn native(nm: &Path, scope: &str, file: &str, fallback: &str) -> PathBuf {
    std::fs::read_dir(nm.join(scope))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join(file))
        .find(|p| p.is_file())
        .unwrap_or_else(|| nm.join(fallback))
}

/// A package directory with its own HOME, for one client run.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(name: &str, version: &str) -> Project {
        let dir = tempfile::Builder::new()
            .prefix("client-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        let pkg = dir.path().join("pkg");
        std::fs::create_dir_all(dir.path().join("home")).unwrap_or_else(|e| panic!("mkdir: {e}"));
        std::fs::create_dir_all(&pkg).unwrap_or_else(|e| panic!("mkdir: {e}"));
        let manifest =
            json!({"name": name, "version": version, "main": "index.js", "license": "MIT"});
        std::fs::write(pkg.join("package.json"), manifest.to_string())
            .unwrap_or_else(|e| panic!("write: {e}"));
        std::fs::write(pkg.join("index.js"), "module.exports = 1;\n")
            .unwrap_or_else(|e| panic!("write: {e}"));
        Project { dir }
    }

    fn pkg(&self) -> PathBuf {
        self.dir.path().join("pkg")
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Runs `client args…` in the package directory: a clean environment (PATH, HOME, the
    /// registry for each client's own configuration) plus `env`.
    async fn run(
        &self,
        prefix: &Path,
        client: Client,
        sb: &SandboxHandle,
        args: &[&str],
        env: &[(String, String)],
    ) -> Output {
        let (program, pre) = client.program(prefix);
        let home = self.home();
        let registry = sb.url();
        let mut cmd = tokio::process::Command::new(&program);
        cmd.args(&pre)
            .args(args)
            .current_dir(self.pkg())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("NO_COLOR", "1")
            .env("FORCE_COLOR", "0")
            .env("npm_config_registry", registry)
            .env("npm_config_cache", home.join("npm-cache"))
            // yarn berry: this registry, over plain HTTP, without a global cache or telemetry;
            // a lockfile may be written (CI=true makes installs immutable by default).
            .env("YARN_NPM_REGISTRY_SERVER", registry.trim_end_matches('/'))
            .env("YARN_UNSAFE_HTTP_WHITELIST", "127.0.0.1")
            .env("YARN_ENABLE_TELEMETRY", "0")
            .env("YARN_ENABLE_COLORS", "0")
            .env("YARN_ENABLE_IMMUTABLE_INSTALLS", "0")
            .env("YARN_ENABLE_GLOBAL_CACHE", "0")
            .env("YARN_CACHE_FOLDER", home.join("yarn-cache"))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        match tokio::time::timeout(Duration::from_secs(120), cmd.output()).await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => panic!("cannot run {}: {e}", program.display()),
            Err(_) => panic!("{client:?} {args:?} did not finish within 120 s"),
        }
    }
}

const SCENARIO_PACKAGES: [(&str, Job); 3] = [
    ("@acme/core", Job::CircleCi),
    ("@acme/web", Job::GitHub),
    ("@acme/lab", Job::GitLab),
];

fn package_of(job: Job) -> &'static str {
    SCENARIO_PACKAGES
        .iter()
        .find(|(_, j)| *j == job)
        .map_or("", |(p, _)| p)
}

async fn sandbox() -> SandboxHandle {
    sandbox_with(SandboxOptions::default()).await
}

async fn sandbox_with(opts: SandboxOptions) -> SandboxHandle {
    let packages: Vec<_> = SCENARIO_PACKAGES
        .iter()
        .map(|(name, job)| json!({"name": name, "mfa": "publish", "trust": trust(*job, &["createPackage"])}))
        .collect();
    let mut packages = packages;
    // Published with a token only (the fallback of clients without OIDC).
    packages.push(json!({"name": "@acme/tool", "mfa": "automation"}));
    let scenario = json!({
        "org": "acme",
        "tokens": [{"name": "ci-bypass", "owner": "alice", "bypass_2fa": true,
                    "packages": ["@acme/tool"], "permission": "read-write"}],
        "users": [
            {"name": "alice", "role": "owner"},
            {"name": "kim", "role": "owner", "security_key": true}
        ],
        "packages": packages,
        "circleci": ci_env::circleci_scenario(),
    });
    start_with(SandboxOptions {
        scenario: Scenario::Inline(scenario.to_string()),
        ..opts
    })
    .await
}

/// A stand-in for GitHub's id-token service in front of the sandbox's: it records each
/// request's path and query (so a test sees the audience a client asked for) and forwards it.
struct TokenService {
    base: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl TokenService {
    async fn start(sb: &SandboxHandle) -> TokenService {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local_addr: {e}"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let upstream = sb.url().trim_end_matches('/').to_owned();
        let log = seen.clone();
        tokio::spawn(async move {
            // Bounded: a test makes a handful of requests.
            for _ in 0..64 {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65_536 {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let target = head.split(' ').nth(1).unwrap_or("/").to_owned();
                if let Ok(mut l) = log.lock() {
                    l.push(target.clone());
                }
                let (status, body) = match reqwest::get(format!("{upstream}{target}")).await {
                    Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
                    Err(e) => (502, json!({"message": e.to_string()}).to_string()),
                };
                let resp = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(resp.as_bytes()).await;
                let _ = conn.shutdown().await;
            }
        });
        TokenService {
            base: format!("http://{addr}"),
            seen,
        }
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL` through this service.
    fn request_url(&self, sb: &SandboxHandle) -> String {
        ci_env::actions_request_url(sb).replacen(sb.url().trim_end_matches('/'), &self.base, 1)
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The `audience` parameters the clients asked for, decoded.
    fn audiences(&self) -> Vec<String> {
        self.seen()
            .iter()
            .filter_map(|t| {
                t.split_once('?')
                    .map(|(_, q)| q)
                    .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("audience=")))
                    .map(|a| a.replace("%3A", ":").replace("%3a", ":"))
            })
            .collect()
    }
}

/// The environment of `job`'s publish job; on GitHub, the id-token service is `svc`.
async fn env_for(sb: &SandboxHandle, job: Job, svc: &TokenService) -> Vec<(String, String)> {
    let mut env = job_env(sb, job).await;
    if job == Job::GitHub {
        for (k, v) in &mut env {
            if k == "ACTIONS_ID_TOKEN_REQUEST_URL" {
                *v = svc.request_url(sb);
            }
        }
    }
    env
}

/// `client`'s publish command (after `yarn install` for yarn berry).
async fn publish(
    prefix: &Path,
    client: Client,
    sb: &SandboxHandle,
    project: &Project,
    env: &[(String, String)],
) -> Output {
    let registry = sb.url();
    match client {
        Client::Npm => {
            project
                .run(prefix, client, sb, &["publish", "--loglevel=verbose"], env)
                .await
        }
        Client::Pnpm => {
            project
                .run(
                    prefix,
                    client,
                    sb,
                    &["publish", "--no-git-checks", "--registry", registry],
                    env,
                )
                .await
        }
        Client::YarnBerry => {
            let out = project.run(prefix, client, sb, &["install"], env).await;
            assert!(out.status.success(), "yarn install:\n{}", text(&out));
            project
                .run(prefix, client, sb, &["npm", "publish"], env)
                .await
        }
        Client::YarnClassic => {
            let version = std::fs::read_to_string(project.pkg().join("package.json"))
                .ok()
                .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
                .and_then(|m| m["version"].as_str().map(str::to_owned))
                .unwrap_or_default();
            project
                .run(
                    prefix,
                    client,
                    sb,
                    &[
                        "publish",
                        "--non-interactive",
                        "--no-git-tag-version",
                        "--new-version",
                        &version,
                        "--registry",
                        registry,
                    ],
                    env,
                )
                .await
        }
        Client::Bun => {
            project
                .run(
                    prefix,
                    client,
                    sb,
                    &["publish", "--registry", registry],
                    env,
                )
                .await
        }
    }
}

async fn check_version(prefix: &Path, client: Client, sb: &SandboxHandle) {
    let Some(want) = client.pinned() else { return };
    let project = Project::new("@acme/version-check", "0.0.0");
    let out = project.run(prefix, client, sb, &["--version"], &[]).await;
    assert_ok(&out);
    assert_eq!(
        stdout(&out).trim(),
        want,
        "{client:?} is not the pinned version"
    );
}

/// `client` publishes through OIDC from each provider's job; `_npmUser.trustedPublisher`
/// names the package's trust config.
async fn publishes_from_every_provider(client: Client, major: u32) {
    // npm is the installed one; the others come from the clients' prefix.
    let prefix = match (client, clients()) {
        (_, Some(p)) => p,
        (Client::Npm, None) => PathBuf::new(),
        (_, None) => return,
    };
    let sb = sandbox().await;
    check_version(&prefix, client, &sb).await;
    let svc = TokenService::start(&sb).await;
    let alice = session(&sb, "alice");
    for job in Job::ALL {
        let name = package_of(job);
        let version = format!("{major}.0.0");
        let project = Project::new(name, &version);
        let env = env_for(&sb, job, &svc).await;
        let out = publish(&prefix, client, &sb, &project, &env).await;
        assert!(
            out.status.success(),
            "{client:?} publish from {job:?} failed:\n{}",
            text(&out)
        );
        let config = trust_ids(&sb, name, &alice).await;
        assert_trusted(&npm_user(&sb, name, &version).await, job, &config[0]);
    }
    // The one GitHub job asked the token service once, for the audience this client derives.
    let want = match client {
        Client::YarnBerry => format!("npm:127.0.0.1:{}", sb.addr().port()),
        _ => "npm:127.0.0.1".to_owned(),
    };
    assert_eq!(svc.audiences(), vec![want.clone()], "{:?}", svc.seen());
    assert!(sb.audiences().contains(&want), "{:?}", sb.audiences());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_publishes_through_oidc_from_github_gitlab_and_circleci() {
    publishes_from_every_provider(Client::Npm, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pnpm_publishes_through_oidc_from_github_gitlab_and_circleci() {
    publishes_from_every_provider(Client::Pnpm, 3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yarn_berry_publishes_through_oidc_from_github_gitlab_and_circleci() {
    publishes_from_every_provider(Client::YarnBerry, 4).await;
}

/// The exchange accepts exactly the listed audiences: another port of this host, or another
/// host, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audience_aliases_are_an_explicit_list() {
    let sb = sandbox().await;
    let port = sb.addr().port();
    let (_, info) = get_json(&format!("{}-/sandbox/info", sb.url()), None).await;
    assert_eq!(
        info["audiences"],
        json!([
            "npm:127.0.0.1",
            format!("npm:127.0.0.1:{port}"),
            "npm:localhost",
            format!("npm:localhost:{port}")
        ])
    );
    let exchange = |aud: String| {
        let sb = &sb;
        async move {
            let token = ci_env::mint_for(sb, Job::GitLab, &aud).await;
            let resp = client()
                .post(format!(
                    "{}-/npm/v1/oidc/token/exchange/package/@acme%2flab",
                    sb.url()
                ))
                .bearer_auth(token)
                .send()
                .await
                .unwrap_or_else(|e| panic!("exchange: {e}"));
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            (
                status,
                body["message"].as_str().unwrap_or_default().to_owned(),
            )
        }
    };
    for listed in [
        format!("npm:127.0.0.1:{port}"),
        format!("npm:localhost:{port}"),
    ] {
        assert_eq!(exchange(listed.clone()).await.0, 201, "{listed}");
    }
    for other in [
        format!("npm:127.0.0.1:{}", port.wrapping_add(1).max(1)),
        "npm:127.0.0.2".to_owned(),
        "npm:registry.npmjs.org".to_owned(),
        format!("npm:http://127.0.0.1:{port}"),
    ] {
        let (status, message) = exchange(other.clone()).await;
        assert_eq!(status, 404, "{other} accepted");
        assert!(message.contains("audience"), "{other}: {message}");
    }
}

/// `extra_audiences` (`tokenless sandbox --accept-audience`) adds an audience to the list,
/// e.g. the public registry's, which a CI config written for it asks for explicitly; without
/// it that audience is refused. A value that is not `npm:<host>` does not start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extra_audience_is_accepted_only_when_asked_for() {
    let public = "npm:registry.npmjs.org";
    for (opts, accepted) in [
        (SandboxOptions::default(), false),
        (
            SandboxOptions {
                extra_audiences: vec![public.to_owned()],
                ..SandboxOptions::default()
            },
            true,
        ),
    ] {
        let sb = sandbox_with(opts).await;
        let (_, info) = get_json(&format!("{}-/sandbox/info", sb.url()), None).await;
        let listed = info["audiences"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == public));
        assert_eq!(listed, accepted, "{}", info["audiences"]);
        assert_eq!(sb.audiences().iter().any(|a| a == public), accepted);
        // npm's own audience stays first.
        assert_eq!(info["audiences"][0], "npm:127.0.0.1");
        let token = ci_env::mint_for(&sb, Job::GitLab, public).await;
        let resp = client()
            .post(format!(
                "{}-/npm/v1/oidc/token/exchange/package/@acme%2flab",
                sb.url()
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap_or_else(|e| panic!("exchange: {e}"));
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        if accepted {
            assert_eq!(status, 201, "{body}");
        } else {
            assert_eq!(status, 404, "{body}");
            assert!(
                body["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("audience"),
                "{body}"
            );
        }
        sb.shutdown().await;
    }
    for bad in [
        "registry.npmjs.org",
        "npm:",
        "npm:https://registry.npmjs.org/",
    ] {
        let err = tokenless_sandbox::Sandbox::start(SandboxOptions {
            extra_audiences: vec![bad.to_owned()],
            ..SandboxOptions::default()
        })
        .await
        .err();
        assert!(
            matches!(err, Some(tokenless_sandbox::StartError::Audience(_))),
            "{bad}: {err:?}"
        );
    }
}

/// yarn prefers a configured token: with `YARN_NPM_AUTH_TOKEN` set it never asks for an id
/// token, and the publish fails with that token (a leftover token disables trusted
/// publishing without a word).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yarn_berry_uses_a_configured_token_instead_of_oidc() {
    let Some(prefix) = clients() else { return };
    let sb = sandbox().await;
    let svc = TokenService::start(&sb).await;
    let project = Project::new("@acme/web", "4.1.0");
    let mut env = env_for(&sb, Job::GitHub, &svc).await;
    env.push((
        "YARN_NPM_AUTH_TOKEN".into(),
        "npm_leftoverRevokedToken000000000000000000".into(),
    ));
    let out = publish(&prefix, Client::YarnBerry, &sb, &project, &env).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("YN0041: Invalid authentication (as an unknown user)"),
        "{}",
        text(&out)
    );
    assert_eq!(
        svc.seen(),
        Vec::<String>::new(),
        "yarn asked for an id token"
    );
    assert!(npm_user(&sb, "@acme/web", "4.1.0").await.is_null());
}

/// yarn classic and bun have no OIDC: in a CircleCI job with `NPM_ID_TOKEN` and in a GitHub
/// job with the id-token service, they stop for want of a token, never ask for an id token
/// and never exchange one (npm then publishes with the very same id token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yarn_classic_and_bun_refuse_without_a_token() {
    let Some(prefix) = clients() else { return };
    let sb = sandbox().await;
    let svc = TokenService::start(&sb).await;
    let cases = [
        (
            Client::YarnClassic,
            "5.0.0",
            "No token found and can't prompt for login when running with --non-interactive",
        ),
        (
            Client::Bun,
            "6.0.0",
            "missing authentication (run `bunx npm login`)",
        ),
    ];
    for (client, version, refusal) in cases {
        check_version(&prefix, client, &sb).await;
        for job in [Job::CircleCi, Job::GitHub] {
            let name = package_of(job);
            let project = Project::new(name, version);
            let env = env_for(&sb, job, &svc).await;
            let out = publish(&prefix, client, &sb, &project, &env).await;
            assert!(
                !out.status.success(),
                "{client:?} from {job:?}:\n{}",
                text(&out)
            );
            assert!(
                text(&out).contains(refusal),
                "{client:?} from {job:?}: expected {refusal:?} in:\n{}",
                text(&out)
            );
            assert!(npm_user(&sb, name, version).await.is_null());
            if job == Job::CircleCi {
                // The id token was not spent: npm exchanges it and publishes.
                let npm = Project::new(name, version);
                let out = publish(&prefix, Client::Npm, &sb, &npm, &env).await;
                assert_ok(&out);
                let config = trust_ids(&sb, name, &session(&sb, "alice")).await;
                assert_trusted(&npm_user(&sb, name, version).await, job, &config[0]);
            }
        }
        assert_eq!(
            svc.seen(),
            Vec::<String>::new(),
            "{client:?} asked for an id token"
        );
    }
}

/// pnpm checks `NPM_ID_TOKEN`'s audience against the registry before exchanging: with a
/// token minted for registry.npmjs.org it skips OIDC with a warning and publishes with the
/// credentials it has (none here: 401), where npm would send the token to the exchange.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pnpm_refuses_an_id_token_for_another_registry() {
    let Some(prefix) = clients() else { return };
    let sb = sandbox().await;
    let token = ci_env::mint_for(&sb, Job::CircleCi, "npm:registry.npmjs.org").await;
    let env = vec![
        ("CI".to_owned(), "true".to_owned()),
        ("CIRCLECI".to_owned(), "true".to_owned()),
        ("NPM_ID_TOKEN".to_owned(), token),
    ];
    let project = Project::new("@acme/core", "3.5.0");
    let out = publish(&prefix, Client::Pnpm, &sb, &project, &env).await;
    assert!(!out.status.success(), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains("Skipped OIDC: ERR_PNPM_ID_TOKEN_REGISTRY_AUDIENCE_MISMATCH"),
        "{t}"
    );
    // It then publishes with whatever auth it has: none.
    assert!(t.contains("401"), "{t}");
    assert!(npm_user(&sb, "@acme/core", "3.5.0").await.is_null());
}

/// `GET /-/sandbox/2fa`.
async fn pending_2fa(sb: &SandboxHandle) -> serde_json::Value {
    get_json(&format!("{}-/sandbox/2fa", sb.url()), None)
        .await
        .1
}

/// pnpm answers the web 2FA challenge of a security-key account as npm does: on a terminal
/// it prints the authUrl (and a QR code), polls the doneUrl and retries with the code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pnpm_publish_completes_web_2fa_under_a_terminal() {
    let Some(prefix) = clients() else { return };
    let sb = sandbox().await;
    let project = Project::new("@acme/core", "3.6.0");
    let nerf = sb.url().trim_start_matches("http:");
    std::fs::write(
        project.home().join(".npmrc"),
        format!("{nerf}:_authToken={}\n", session(&sb, "kim")),
    )
    .unwrap_or_else(|e| panic!("npmrc: {e}"));
    let (pnpm, _) = Client::Pnpm.program(&prefix);
    let line = format!(
        "'{}' publish --no-git-checks --registry '{}'",
        pnpm.display(),
        sb.url()
    );
    let child = tokio::process::Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .current_dir(project.pkg())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", project.home())
        .env("SHELL", "/bin/sh")
        .env("TERM", "dumb")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("script (util-linux) is needed: {e}"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let id = loop {
        let p = pending_2fa(&sb).await;
        if let Some(id) = p["challenges"][0]["id"].as_str() {
            break id.to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "no challenge: {p}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (status, _) = send_json(
        reqwest::Method::POST,
        &format!("{}-/sandbox/2fa/{id}/approve", sb.url()),
        None,
        None,
        &json!({}),
    )
    .await;
    assert_eq!(status, 200);
    let out = match tokio::time::timeout(Duration::from_secs(90), child.wait_with_output()).await {
        Ok(Ok(o)) => o,
        other => panic!("pnpm under script: {other:?}"),
    };
    assert_ok(&out);
    assert!(
        stdout(&out).contains(&format!("{}-/v1/2fa/approve/{id}", sb.url())),
        "{}",
        text(&out)
    );
    assert_eq!(
        pending_2fa(&sb).await,
        json!({"challenges": [], "unspent": {}})
    );
    assert_eq!(npm_user(&sb, "@acme/core", "3.6.0").await["name"], "kim");
}

/// yarn has no web 2FA: it would prompt for a one-time password on a terminal, and without
/// one it stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yarn_berry_stops_at_the_2fa_challenge_without_a_terminal() {
    let Some(prefix) = clients() else { return };
    let sb = sandbox().await;
    let project = Project::new("@acme/core", "4.6.0");
    let env = vec![("YARN_NPM_AUTH_TOKEN".to_owned(), session(&sb, "kim"))];
    let out = publish(&prefix, Client::YarnBerry, &sb, &project, &env).await;
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(
            "The registry requires additional authentication, but Yarn is not running in an interactive terminal"
        ),
        "{}",
        text(&out)
    );
    assert!(npm_user(&sb, "@acme/core", "4.6.0").await.is_null());
}

/// The fallback of the clients without OIDC is a long-lived token: yarn classic and bun
/// publish with a bypass-2FA granular token from `~/.npmrc`, and the version records the
/// token's owner, with no trusted publisher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yarn_classic_and_bun_publish_only_with_a_token() {
    let Some(prefix) = clients() else { return };
    let sb = sandbox().await;
    let token = granular(&sb, "ci-bypass");
    let nerf = sb.url().trim_start_matches("http:");
    for (client, version) in [(Client::YarnClassic, "1.1.0"), (Client::Bun, "1.2.0")] {
        let project = Project::new("@acme/tool", version);
        std::fs::write(
            project.home().join(".npmrc"),
            format!("{nerf}:_authToken={token}\n"),
        )
        .unwrap_or_else(|e| panic!("npmrc: {e}"));
        let out = publish(&prefix, client, &sb, &project, &[]).await;
        assert!(
            out.status.success(),
            "{client:?} with a token failed (status {:?})",
            out.status.code()
        );
        let user = npm_user(&sb, "@acme/tool", version).await;
        assert_eq!(user["name"], "alice", "{client:?}: {user}");
        assert!(user["trustedPublisher"].is_null(), "{client:?}: {user}");
    }
}
