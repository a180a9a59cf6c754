//! Shared helpers for the sandbox's integration tests: start a sandbox on 127.0.0.1:0 and
//! drive the real npm CLI against it in an isolated environment.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};
use tokenless_sandbox::{Sandbox, SandboxHandle, SandboxOptions, Scenario};

pub async fn start(scenario: Scenario) -> SandboxHandle {
    start_with(SandboxOptions {
        scenario,
        ..SandboxOptions::default()
    })
    .await
}

pub async fn start_with(opts: SandboxOptions) -> SandboxHandle {
    match Sandbox::start(opts).await {
        Ok(s) => s,
        Err(e) => panic!("sandbox did not start: {e}"),
    }
}

pub fn code(secret: &str) -> String {
    match tokenless_sandbox::totp::current_code(secret) {
        Ok(c) => c,
        Err(e) => panic!("totp: {e}"),
    }
}

/// The current TOTP code of `user` in this sandbox.
pub fn otp(sb: &SandboxHandle, user: &str) -> String {
    let info = sb.info();
    let u = info.user(user).unwrap_or_else(|| panic!("no user {user}"));
    code(&u.totp_secret)
}

pub fn session(sb: &SandboxHandle, user: &str) -> String {
    sb.info()
        .user(user)
        .unwrap_or_else(|| panic!("no user {user}"))
        .token
        .clone()
}

pub fn granular(sb: &SandboxHandle, name: &str) -> String {
    sb.info()
        .token(name)
        .unwrap_or_else(|| panic!("no token {name}"))
        .token
        .clone()
}

/// An isolated npm: its own HOME, userconfig, cache and working directory; no CI variables.
pub struct Npm {
    pub dir: tempfile::TempDir,
    registry: String,
}

impl Npm {
    pub fn new(sb: &SandboxHandle, token: Option<&str>) -> Npm {
        // Under target/tmp rather than /tmp: other processes on a shared machine sweep /tmp.
        let dir = tempfile::Builder::new()
            .prefix("npm-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        let registry = sb.url().to_owned();
        let mut npmrc =
            format!("registry={registry}\nfund=false\naudit=false\nupdate-notifier=false\n");
        if let Some(t) = token {
            let nerf = registry.trim_start_matches("http:");
            npmrc.push_str(&format!("{nerf}:_authToken={t}\n"));
        }
        std::fs::write(dir.path().join(".npmrc"), npmrc).unwrap_or_else(|e| panic!("npmrc: {e}"));
        std::fs::create_dir_all(dir.path().join("work")).unwrap_or_else(|e| panic!("mkdir: {e}"));
        Npm { dir, registry }
    }

    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Writes a package directory `work/<sub>` with a package.json and an index.js.
    pub fn package(&self, sub: &str, name: &str, version: &str) -> PathBuf {
        let p = self.work().join(sub);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir: {e}"));
        let manifest =
            json!({"name": name, "version": version, "main": "index.js", "license": "MIT"});
        std::fs::write(p.join("package.json"), manifest.to_string())
            .unwrap_or_else(|e| panic!("write: {e}"));
        std::fs::write(p.join("index.js"), "module.exports = 1;\n")
            .unwrap_or_else(|e| panic!("write: {e}"));
        p
    }

    /// Runs `npm args…` in `cwd` with extra environment variables.
    pub async fn run_in(&self, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        let home = self.dir.path();
        let mut cmd = tokio::process::Command::new("npm");
        cmd.args(args)
            .arg(format!("--userconfig={}", home.join(".npmrc").display()))
            .arg(format!("--cache={}", home.join("cache").display()))
            .current_dir(cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("npm_config_registry", &self.registry)
            .env("NO_COLOR", "1")
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        match cmd.output().await {
            Ok(o) => o,
            Err(e) => panic!("cannot run npm: {e}"),
        }
    }

    pub async fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.run_in(&self.work(), args, env).await
    }
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[track_caller]
pub fn assert_ok(o: &Output) {
    assert!(o.status.success(), "npm failed:\n{}", text(o));
}

#[track_caller]
pub fn assert_fails_with(o: &Output, needle: &str) {
    let t = text(o);
    assert!(!o.status.success(), "npm unexpectedly succeeded:\n{t}");
    assert!(t.contains(needle), "expected {needle:?} in:\n{t}");
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A plain HTTP client for the sandbox.
pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// `token` goes where the URL's API takes it: `Circle-Token` below `/api/v2/` (CircleCI),
/// else `Authorization: Bearer`.
fn authorize(
    req: reqwest::RequestBuilder,
    url: &str,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    match token {
        Some(t) if url.contains("/api/v2/") => req.header("circle-token", t),
        Some(t) => req.bearer_auth(t),
        None => req,
    }
}

pub async fn get_json(url: &str, token: Option<&str>) -> (u16, Value) {
    let req = authorize(client().get(url), url, token);
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

pub async fn send_json(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    otp: Option<&str>,
    body: &Value,
) -> (u16, Value) {
    let mut req = authorize(client().request(method, url).json(body), url, token);
    if let Some(o) = otp {
        req = req.header("npm-otp", o);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// A publish document as the npm CLI sends it: one version and its tarball.
pub fn publish_body(name: &str, version: &str, tarball: &[u8]) -> Value {
    use base64::Engine as _;
    let data = base64::engine::general_purpose::STANDARD.encode(tarball);
    json!({
        "_id": name, "name": name, "dist-tags": {"latest": version},
        "versions": {version: {"name": name, "version": version}},
        "_attachments": {format!("{name}-{version}.tgz"): {"content_type": "application/octet-stream", "data": data, "length": tarball.len()}},
    })
}

/// A request with one credential header (`authorization: Bearer …`, `PRIVATE-TOKEN: …`) and
/// an optional JSON body: status, headers and the JSON answer (`null` when not JSON).
pub async fn call_with(
    method: reqwest::Method,
    url: &str,
    credential: (&str, &str),
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = client()
        .request(method, url)
        .header(credential.0, credential.1);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap_or(Value::Null))
}

/// A stage in `GET /-/stage` or `GET /-/stage/<id>` carries exactly the fields the npm CLI
/// prints (any other would be printed too).
pub fn assert_stage_item_fields(item: &Value) {
    let mut keys: Vec<&str> = item
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "actor",
            "actorType",
            "createdAt",
            "id",
            "packageName",
            "shasum",
            "tag",
            "version"
        ],
        "{item}"
    );
}
