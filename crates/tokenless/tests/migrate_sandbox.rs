//! The migration itself against the sandbox over loopback HTTP: `init` → `plan` →
//! `apply --phase additive` (web 2FA approved by a "person" through the sandbox's test
//! endpoint) → the fixed CI configs merged and one release per package through trusted
//! publishing (`tokenless sandbox ci`: the issuer's id token and the real npm CLI) →
//! `apply` (destructive phase) → members revoke their own tokens → `audit` passes all nine.
//! Then the faults: 500s and 429s, the 2FA window closing and the session expiring
//! mid-run, SIGKILL mid-run: every rerun converges and nothing is applied twice.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};
use tokenless_sandbox::{Sandbox, SandboxHandle, SandboxOptions, Scenario};

const ALL: [&str; 9] = [
    "trusted-publisher",
    "context-bound",
    "oidc-publish-job",
    "release-verified",
    "no-static-tokens",
    "no-service-accounts",
    "disallow-tokens",
    "read-only-teams",
    "temp-token-deleted",
];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tokenless"))
}

/// The `legacy` scenario; with `web_2fa` alice has a security key, so the registry
/// answers her writes with web 2FA challenges instead of asking for codes.
fn legacy(web_2fa: bool) -> Scenario {
    let path = repo_root().join("crates/tokenless-sandbox/scenarios/legacy.json");
    let mut doc: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("legacy.json")).expect("json");
    if let Some(users) = doc["users"].as_array_mut() {
        for u in users {
            if u["name"] == "alice" {
                u["security_key"] = json!(web_2fa);
            }
        }
    }
    Scenario::Inline(doc.to_string())
}

async fn start(scenario: Scenario, opts: SandboxOptions) -> SandboxHandle {
    Sandbox::start(SandboxOptions { scenario, ..opts })
        .await
        .expect("sandbox starts")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `tokenless ARGS` (blocking; call from spawn_blocking or a plain thread).
fn tokenless(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("tokenless runs")
}

async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tokenless(&args)
    })
    .await
    .expect("joins")
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn otp_command(url: &str, user: &str) -> String {
    format!("'{}' sandbox otp --url {url} {user}", bin().display())
}

/// A person at the browser: approves every pending web 2FA challenge ("skip 2FA for the
/// next 5 minutes" ticked) until dropped; counts approvals.
struct Person {
    stop: Arc<AtomicBool>,
    approvals: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Person {
    fn start(url: &str) -> Person {
        let stop = Arc::new(AtomicBool::new(false));
        let approvals = Arc::new(AtomicUsize::new(0));
        let (s, a, base) = (stop.clone(), approvals.clone(), url.to_owned());
        let task = tokio::spawn(async move {
            let http = reqwest::Client::new();
            while !s.load(Ordering::SeqCst) {
                if let Ok(r) = http.get(format!("{base}-/sandbox/2fa")).send().await
                    && let Ok(v) = r.json::<Value>().await
                {
                    for ch in v["challenges"].as_array().into_iter().flatten() {
                        if ch["approved"] == json!(false) {
                            let id = ch["id"].as_str().unwrap_or_default();
                            let ok = http
                                .post(format!("{base}-/sandbox/2fa/{id}/approve"))
                                .json(&json!({"remember": true}))
                                .send()
                                .await
                                .is_ok_and(|r| r.status().is_success());
                            if ok {
                                a.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        });
        Person {
            stop,
            approvals,
            task,
        }
    }

    fn approvals(&self) -> usize {
        self.approvals.load(Ordering::SeqCst)
    }
}

impl Drop for Person {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.task.abort();
    }
}

/// A GET, retried: the fault tests' sandbox fails some requests on purpose.
async fn get(url: &str) -> Value {
    for _ in 0..50 {
        if let Ok(r) = reqwest::get(url).await
            && r.status().is_success()
            && let Ok(v) = r.json().await
        {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("GET {url}: no answer after 50 attempts")
}

/// A GET as the org's owner (what the registry shows alice).
async fn get_as_owner(sb: &SandboxHandle, path: &str) -> Value {
    let info = get(&format!("{}-/sandbox/info", sb.url())).await;
    let token = info["users"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["role"] == "owner")
        .and_then(|u| u["token"].as_str())
        .unwrap_or_default()
        .to_owned();
    // Retried: the fault tests' sandbox fails some requests on purpose.
    for _ in 0..50 {
        let reply = reqwest::Client::new()
            .get(format!("{}{path}", sb.url()))
            .bearer_auth(&token)
            .send()
            .await;
        match reply {
            Ok(r) if r.status().is_success() => return r.json().await.expect("JSON"),
            Ok(r) if r.status().is_server_error() || r.status().as_u16() == 429 => {}
            Ok(r) => panic!("GET {path}: {}", r.status()),
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("GET {path}: no answer after 50 attempts")
}

async fn post(url: &str, body: Value) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("POST")
        .status()
}

/// The org's packages, from the registry.
async fn packages(sb: &SandboxHandle) -> Vec<String> {
    let v = get_as_owner(sb, "-/org/acme/package").await;
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

/// Every package has exactly one trust config: nothing was created twice.
async fn assert_one_trust_config_each(sb: &SandboxHandle, context: &str) {
    for name in packages(sb).await {
        assert_eq!(trust_count(sb, &name).await, 1, "{name} {context}");
    }
}

/// `.tokenless/record.json` beside the config in `dir`.
fn read_record(dir: &Path) -> Value {
    let text =
        std::fs::read_to_string(dir.join(".tokenless/record.json")).expect("the record exists");
    serde_json::from_str(&text).expect("record JSON")
}

async fn trust_count(sb: &SandboxHandle, package: &str) -> usize {
    let esc = package.replace('/', "%2f");
    let v = get_as_owner(sb, &format!("-/package/{esc}/trust")).await;
    v.as_array().map_or(0, Vec::len)
}

/// `tokenless sandbox ci JOB --url URL ARGS --client npm`: the sandbox playing CI, with
/// the real npm CLI publishing (`push` takes no client).
async fn sandbox_ci(job: &str, url: &str, rest: &[&str]) -> Output {
    let mut list = args(&["sandbox", "ci", job, "--url", url]);
    list.extend(args(rest));
    if job != "push" {
        list.extend(args(&["--client", "npm"]));
    }
    run(list).await
}

/// Merge the fixed CI configs, then release every package once through its CI.
async fn release_everything(sb: &SandboxHandle) {
    let url = sb.url().to_string();
    for step in ["push", "release-all"] {
        let out = sandbox_ci(step, &url, &[]).await;
        assert!(out.status.success(), "{step}: {}", text(&out));
    }
}

fn init(dir: &Path, url: &str) -> PathBuf {
    let cfg = dir.join("tokenless.toml");
    let out = tokenless(&["init", "--sandbox", url, "-o", cfg.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out));
    cfg
}

fn apply_args(cfg: &Path, url: &str, extra: &[&str]) -> Vec<String> {
    let mut a = args(&[
        "apply",
        "-c",
        cfg.to_str().expect("utf-8"),
        "--sandbox",
        url,
        "--yes",
    ]);
    a.extend(extra.iter().map(|s| (*s).to_owned()));
    a
}

/// The summary line's counts: (done, approvals, logins).
fn summary(out: &Output) -> (usize, usize, usize) {
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("step(s) done"))
        .unwrap_or_default()
        .to_owned();
    let number_before = |word: &str| -> usize {
        line.split(word)
            .next()
            .and_then(|head| head.split_whitespace().last())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (
        number_before(" step(s) done"),
        number_before(" 2FA approval(s)"),
        number_before(" new login(s)"),
    )
}

/// The owner's audit, with the members' attestations in `attestations`.
async fn audit_json(url: &str, cfg: &Path, attestations: &Path) -> (i32, Value) {
    let out = run(args(&[
        "audit",
        "--sandbox",
        url,
        "--config",
        cfg.to_str().expect("utf-8"),
        "--attestations",
        attestations.to_str().expect("utf-8"),
        "--format",
        "json",
    ]))
    .await;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), v)
}

fn statuses(report: &Value) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_owned(),
                c["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_legacy_org_migrates_to_nine_passing_boxes_in_an_order_that_never_breaks_a_release() {
    let sb = start(legacy(true), SandboxOptions::default()).await;
    let url = sb.url().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = init(dir.path(), &url);
    let written = std::fs::read_to_string(&cfg).expect("config");
    assert!(written.contains("# from package.json repository github.com/acme/monorepo"));
    assert!(written.contains("service_accounts = [\"acme-ci-bot\"]"));

    // The plan: additive steps now, destructive ones held for every package.
    let out = run(args(&[
        "plan",
        "-c",
        cfg.to_str().expect("utf-8"),
        "--sandbox",
        &url,
        "--format",
        "json",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let plan: Value = serde_json::from_slice(&out.stdout).expect("plan JSON");
    let additive = plan["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["phase"] == "additive")
        .count();
    assert_eq!(
        additive, 20,
        "a context, its restriction, two environments, 16 trust configs"
    );
    assert_eq!(plan["waiting"].as_array().map(Vec::len), Some(16));
    assert!(plan["held"].as_array().is_some_and(|h| !h.is_empty()));

    // Additive phase, web 2FA approved once for the whole run.
    let person = Person::start(&url);
    let out = run(apply_args(&cfg, &url, &["--phase", "additive"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(summary(&out).0, 20, "{}", text(&out));
    assert_eq!(
        person.approvals(),
        1,
        "one approval rides the 5-minute window: {}",
        text(&out)
    );
    assert_one_trust_config_each(&sb, "").await;

    // The destructive phase before any trusted release touches nothing a token release
    // depends on: no access change, secrets and the service account stay.
    let out = run(apply_args(&cfg, &url, &[])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let core = get_as_owner(&sb, "-/sandbox/package/@acme%2fcore/access").await;
    assert_eq!(
        core["automation_token_overrides_tfa"],
        json!(true),
        "{core}"
    );
    let members = get_as_owner(&sb, "-/org/acme/user").await;
    assert!(members.get("acme-ci-bot").is_some(), "{members}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("wait for a trusted release"), "{stderr}");

    // The fixed configs merged, one release per package through its trusted publisher.
    release_everything(&sb).await;
    // A job on another branch gets no id token (the context's restriction).
    let out = sandbox_ci(
        "release",
        &url,
        &["@acme/core", "9.9.9", "--branch", "feature/x"],
    )
    .await;
    assert!(!out.status.success(), "{}", text(&out));

    let out = run(apply_args(&cfg, &url, &[])).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    drop(person);

    // Members revoke their own tokens (an owner cannot) and attest what is left.
    let attestations = dir.path().join("attestations");
    for user in ["bob", "acme-ci-bot"] {
        let out = run(args(&[
            "tokens",
            "revoke",
            "--sandbox",
            &url,
            "--as",
            user,
            "--all",
            "--yes",
            "--otp-command",
            &otp_command(&url, user),
        ]))
        .await;
        assert_eq!(out.status.code(), Some(0), "{user}: {}", text(&out));
        // npm shows the owner only her own tokens: each member states theirs.
        let out = run(args(&[
            "tokens",
            "attest",
            "--sandbox",
            &url,
            "--as",
            user,
            "--out",
            attestations
                .join(format!("{user}.json"))
                .to_str()
                .expect("utf-8"),
        ]))
        .await;
        assert_eq!(out.status.code(), Some(0), "{user}: {}", text(&out));
    }

    let (code, report) = audit_json(&url, &cfg, &attestations).await;
    let passing: Vec<(String, String)> = ALL
        .iter()
        .map(|id| ((*id).to_owned(), "pass".to_owned()))
        .collect();
    assert_eq!(statuses(&report), passing, "{report}");
    assert_eq!(code, 0);

    // Converged: nothing left to plan.
    let out = run(args(&[
        "plan",
        "-c",
        cfg.to_str().expect("utf-8"),
        "--sandbox",
        &url,
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no changes"));

    // The record: every change with evidence, access acknowledged, the canary unconfirmed
    // (--yes asks nobody); the journal is gone.
    let record: Value = read_record(dir.path());
    let changes = record["changes"].as_array().expect("changes");
    assert!(
        changes
            .iter()
            .all(|c| c["evidence"].as_str().is_some_and(|e| !e.is_empty()))
    );
    let ids: std::collections::BTreeSet<&str> =
        changes.iter().filter_map(|c| c["step"].as_str()).collect();
    assert_eq!(ids.len(), changes.len(), "no step recorded twice");
    let acknowledged = changes
        .iter()
        .filter(|c| c["op"]["op"] == "set-mfa" && c["verified"] == "acknowledged")
        .count();
    assert_eq!(acknowledged, 16);
    assert!(changes.iter().all(|c| c["by"] == "alice"), "{record}");
    assert_eq!(record["scope"], "@acme");
    assert!(
        record["canaries"]
            .as_array()
            .expect("canaries")
            .iter()
            .any(|c| c["access_confirmed"] == json!(false))
    );
    assert!(!dir.path().join(".tokenless/journal.jsonl").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bypass_2fa_token_is_refused_for_the_writes() {
    let sb = start(legacy(false), SandboxOptions::default()).await;
    let url = sb.url().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = init(dir.path(), &url);
    let info = get(&format!("{url}-/sandbox/info")).await;
    let bypass = info["tokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["owner"] == "alice" && t["bypass_2fa"] == json!(true))
        .and_then(|t| t["token"].as_str())
        .expect("alice's bypass token")
        .to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(bin())
            .args([
                "apply",
                "-c",
                cfg.to_str().expect("utf-8"),
                "--sandbox",
                &url,
            ])
            .args(["--npm-token-env", "BYPASS", "--yes"])
            .env("BYPASS", &bypass)
            .output()
            .expect("runs")
    })
    .await
    .expect("joins");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bypass-2FA token") && err.contains("August 2026"),
        "{err}"
    );
    assert!(
        !err.contains("npm_") || err.contains("npm_…"),
        "no token printed: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_and_rate_limits_converge_on_rerun_without_doing_anything_twice() {
    let sb = start(
        legacy(false),
        SandboxOptions {
            fail_rate: 0.15,
            rate_limit: Some(150),
            ..SandboxOptions::default()
        },
    )
    .await;
    let url = sb.url().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    // init reads with retries like every client.
    let cfg = init(dir.path(), &url);
    let otp = otp_command(&url, "alice");
    let mut runs = 0;
    loop {
        runs += 1;
        let out = run(apply_args(
            &cfg,
            &url,
            &[
                "--phase",
                "additive",
                "--otp-command",
                &otp,
                "--concurrency",
                "16",
            ],
        ))
        .await;
        match out.status.code() {
            Some(0) => break,
            Some(2 | 3) if runs < 8 => continue,
            _ => panic!("run {runs}: {}", text(&out)),
        }
    }
    assert_one_trust_config_each(&sb, &format!("after {runs} run(s)")).await;
}

/// A legacy sandbox (codes, no security key) with its tokenless.toml written, and the
/// arguments of an additive apply paced to last about three seconds, so a test can act
/// mid-run.
async fn paced_additive() -> (SandboxHandle, tempfile::TempDir, Vec<String>) {
    let sb = start(legacy(false), SandboxOptions::default()).await;
    let url = sb.url().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = init(dir.path(), &url);
    let otp = otp_command(&url, "alice");
    let argv = apply_args(
        &cfg,
        &url,
        &[
            "--phase",
            "additive",
            "--pace",
            "150ms",
            "--otp-command",
            &otp,
        ],
    );
    (sb, dir, argv)
}

/// Spawn `tokenless apply` with stderr read line by line; `on_line` sees each line.
fn spawn_apply(
    argv: Vec<String>,
    on_line: impl Fn(&str) + Send + 'static,
) -> (std::process::Child, std::thread::JoinHandle<String>) {
    let mut child = Command::new(bin())
        .args(&argv)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("apply starts");
    let stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            on_line(&line);
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    (child, reader)
}

/// Start `tokenless apply` and return once its journal holds `steps` completed steps.
async fn apply_until_journaled(
    argv: Vec<String>,
    journal: &Path,
    steps: usize,
) -> (std::process::Child, std::thread::JoinHandle<String>) {
    let started = spawn_apply(argv, |_| {});
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(journal).map_or(0, |j| j.lines().count()) < steps {
        assert!(Instant::now() < deadline, "the journal never grew");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started
}

fn wait(mut child: std::process::Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("apply did not finish within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_2fa_window_closing_mid_run_asks_for_one_more_approval() {
    let sb = start(legacy(true), SandboxOptions::default()).await;
    let url = sb.url().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = init(dir.path(), &url);
    let person = Person::start(&url);
    let argv = apply_args(&cfg, &url, &["--phase", "additive", "--pace", "150ms"]);
    let (child, reader) = spawn_apply(argv, |_| {});
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        post(
            &format!("{url}-/sandbox/expire"),
            json!({"tfa_windows": true})
        )
        .await,
        200
    );
    let status = tokio::task::spawn_blocking(move || wait(child, Duration::from_secs(60)))
        .await
        .expect("joins");
    let err = reader.join().expect("stderr");
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(
        person.approvals() >= 2,
        "approved {}: {err}",
        person.approvals()
    );
    assert_one_trust_config_each(&sb, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_expiring_mid_run_signs_in_again_and_resumes() {
    let (sb, _dir, argv) = paced_additive().await;
    let url = sb.url().to_string();
    let info = get(&format!("{url}-/sandbox/info")).await;
    let secret = info["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["name"] == "alice")
        .and_then(|u| u["totp_secret"].as_str())
        .expect("alice's TOTP secret")
        .to_owned();
    // The person signs in when asked: the login URL appears on stderr.
    let logins = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = logins.clone();
    let (child, reader) = spawn_apply(argv, move |line| {
        if let Some(at) = line.find("sign in to npm again: ") {
            let login_url = line[at + "sign in to npm again: ".len()..]
                .trim()
                .to_owned();
            seen.lock().expect("lock").push(login_url);
        }
    });
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        post(&format!("{url}-/sandbox/expire"), json!({"sessions": true})).await,
        200
    );
    let approve = async {
        loop {
            let pending = logins.lock().expect("lock").pop();
            if let Some(login_url) = pending {
                let code = tokenless_sandbox::totp::current_code(&secret).expect("code");
                let status = post(&login_url, json!({"name": "alice", "otp": code})).await;
                assert_eq!(status, 200, "login approval");
                return;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), approve)
        .await
        .expect("apply asked to sign in again");
    let status = tokio::task::spawn_blocking(move || wait(child, Duration::from_secs(60)))
        .await
        .expect("joins");
    let err = reader.join().expect("stderr");
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("1 new login(s)"), "{err}");
    assert_one_trust_config_each(&sb, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_run_resumes_from_the_journal_without_repeating_a_step() {
    let (sb, dir, argv) = paced_additive().await;
    let journal = dir.path().join(".tokenless/journal.jsonl");
    let (mut child, reader) = apply_until_journaled(argv.clone(), &journal, 8).await;
    child.kill().expect("SIGKILL"); // std's kill is SIGKILL on unix
    let _ = child.wait();
    let _ = reader.join();
    let done_before = std::fs::read_to_string(&journal)
        .expect("journal survives")
        .lines()
        .count();
    assert!((8..20).contains(&done_before), "{done_before}");

    let out = run(argv).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_one_trust_config_each(&sb, "").await;
    let record: Value = read_record(dir.path());
    let changes = record["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 20, "every step recorded once: {record}");
    assert!(!journal.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ctrl_c_stops_after_the_requests_in_flight_and_the_rerun_finishes() {
    let (sb, dir, argv) = paced_additive().await;
    let journal = dir.path().join(".tokenless/journal.jsonl");
    let (child, reader) = apply_until_journaled(argv.clone(), &journal, 6).await;
    let interrupt = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(interrupt.success());
    let status = tokio::task::spawn_blocking(move || wait(child, Duration::from_secs(30)))
        .await
        .expect("joins");
    let err = reader.join().expect("stderr");
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(
        err.contains("interrupted; run the same command again"),
        "{err}"
    );
    // The record already has what was done; the journal stays for the rerun.
    let record: Value = read_record(dir.path());
    let done = record["changes"].as_array().map_or(0, Vec::len);
    assert!((6..20).contains(&done), "{done}");

    let out = run(argv).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_one_trust_config_each(&sb, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn init_finds_the_publishing_workflow_in_a_local_repository() {
    let sb = start(legacy(false), SandboxOptions::default()).await;
    let url = sb.url().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    // A checkout of acme/site whose publish workflow is not at a conventional name.
    let repo = dir.path().join("site");
    std::fs::create_dir_all(repo.join(".github/workflows")).expect("mkdir");
    std::fs::write(
        repo.join("package.json"),
        r#"{"name":"@acme/site","repository":"github:acme/site"}"#,
    )
    .expect("write");
    std::fs::write(
        repo.join(".github/workflows/ship-it.yml"),
        "on: push\njobs:\n  ship:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: npm publish\n",
    )
    .expect("write");
    std::fs::write(
        repo.join(".github/workflows/test.yml"),
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: npm test\n",
    )
    .expect("write");
    let cfg = dir.path().join("tokenless.toml");
    let out = run(args(&[
        "init",
        "--sandbox",
        &url,
        "--repo",
        repo.to_str().expect("utf-8"),
        "-o",
        cfg.to_str().expect("utf-8"),
    ]))
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let written = std::fs::read_to_string(&cfg).expect("config");
    assert!(written.contains("workflow = \"ship-it.yml\""), "{written}");
    assert!(
        written.contains("found by lint in the local repository"),
        "{written}"
    );
    assert!(!written.contains("workflow = \"test.yml\""), "{written}");
}
