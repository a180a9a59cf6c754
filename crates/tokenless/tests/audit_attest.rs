//! Other members' tokens, as a real org sees them: the owner's audit cannot list bob's
//! tokens (npm lists only the signed-in account's), so bob attests his own list with
//! `tokenless tokens attest` and the audit reads it with `--attestations DIR`. The
//! attestation in this test comes from running the command, not from a fixture file.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tokenless_sandbox::{Sandbox, SandboxHandle, SandboxOptions, Scenario};

fn config_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/sandbox/tokenless.toml")
}

async fn owner_token(sb: &SandboxHandle) -> String {
    let info: Value = reqwest::get(format!("{}-/sandbox/info", sb.url()))
        .await
        .expect("info")
        .json()
        .await
        .expect("json");
    info["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["name"] == "alice")
        .and_then(|u| u["token"].as_str())
        .expect("alice's session")
        .to_string()
}

/// `tokenless ARGS` with `env`; (exit code, stdout, stderr).
async fn run(args: Vec<String>, env: Vec<(String, String)>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let mut cmd = assert_cmd::Command::cargo_bin("tokenless").expect("binary");
        cmd.args(&args).env("NO_COLOR", "1");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("joins")
}

/// The owner's audit as a real org runs it: the registry and alice's credential only.
async fn owner_audit(sb: &SandboxHandle, token: &str, attestations: Option<&Path>) -> Value {
    let url = sb.url().to_string();
    let mut args: Vec<String> = [
        "audit",
        "--registry",
        url.as_str(),
        "--scope",
        "@acme",
        "--npm-token-env",
        "TL_OWNER_TOKEN",
        "--format",
        "json",
        "--config",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(config_path().display().to_string());
    if let Some(dir) = attestations {
        args.push("--attestations".into());
        args.push(dir.display().to_string());
    }
    let (code, stdout, stderr) = run(args, vec![("TL_OWNER_TOKEN".into(), token.into())]).await;
    assert!(code != 2, "{stderr}");
    assert!(
        !stdout.contains(token) && !stderr.contains(token),
        "the token leaked"
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"))
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == id)
        .expect("check")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_who_attests_is_judged_by_their_own_statement() {
    let sb = Sandbox::start(SandboxOptions {
        scenario: Scenario::Migrated,
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox");
    let token = owner_token(&sb).await;

    // Without bob's statement: unknown, naming bob and how to resolve it.
    let report = owner_audit(&sb, &token, None).await;
    let box_ = check(&report, "no-static-tokens");
    assert_eq!(box_["status"], "unknown", "{box_}");
    assert!(
        box_.to_string()
            .contains("bob runs `tokenless tokens attest"),
        "{box_}"
    );

    // bob attests under his own login.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bob.json");
    let (code, _, stderr) = run(
        vec![
            "tokens".into(),
            "attest".into(),
            "--sandbox".into(),
            sb.url().to_string(),
            "--as".into(),
            "bob".into(),
            "--out".into(),
            file.display().to_string(),
        ],
        vec![],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let statement: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("written")).expect("json");
    assert_eq!(statement["user"], "bob");
    assert_eq!(statement["kind"], "tokenless-token-attestation");
    assert!(
        statement["tokens"]
            .as_array()
            .expect("tokens")
            .iter()
            .all(|t| t["token"] == ""),
        "{statement}"
    );

    // With it: bob's list is judged, and the evidence says where it came from.
    let report = owner_audit(&sb, &token, Some(dir.path())).await;
    let box_ = check(&report, "no-static-tokens");
    assert_ne!(box_["status"], "unknown", "{box_}");
    assert!(box_.to_string().contains("by their attestation"), "{box_}");

    // A stale statement is not used, and says so.
    let mut old = statement.clone();
    old["at"] = Value::String("2026-01-01T00:00:00.000Z".into());
    std::fs::write(&file, old.to_string()).expect("rewrite");
    let report = owner_audit(&sb, &token, Some(dir.path())).await;
    let box_ = check(&report, "no-static-tokens");
    assert_eq!(box_["status"], "unknown", "{box_}");
    assert!(box_.to_string().contains("older than 7 days"), "{box_}");
}
