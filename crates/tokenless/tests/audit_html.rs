//! `tokenless audit --format html`: one self-contained page, rendered in headless Chromium
//! (Debian's `chromium`): the DOM it builds holds the nine boxes with their statuses, the
//! counts, the package table and the trend of saved runs, and no secret. The screenshot is
//! kept as `target/audit-report.png` (a CI artifact). Without Chromium the DOM checks are
//! skipped with a message, unless TOKENLESS_REQUIRE_CHROMIUM=1 (CI sets it).

use std::path::{Path, PathBuf};
use std::process::Command;

use tokenless_sandbox::{Sandbox, SandboxOptions, Scenario};

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join(name))
                    .find(|p| p.is_file())
            })
        })
}

/// `tokenless audit ARGS` → (exit code, stdout).
async fn audit(url: String, extra: Vec<String>) -> (i32, String) {
    tokio::task::spawn_blocking(move || {
        let out = assert_cmd::Command::cargo_bin("tokenless")
            .expect("binary")
            .args(["audit", "--sandbox", &url, "--config"])
            .arg(
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../examples/sandbox/tokenless.toml"),
            )
            .args(&extra)
            .output()
            .expect("runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    })
    .await
    .expect("joins")
}

fn dump_dom(browser: &Path, page: &Path, screenshot: Option<&Path>) -> String {
    // A profile of its own: a second Chromium on the same profile hands over to the first
    // and exits with an error.
    let profile = tempfile::tempdir().expect("profile");
    let mut cmd = Command::new(browser);
    cmd.arg(format!("--user-data-dir={}", profile.path().display()));
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--window-size=1280,2400",
    ]);
    if let Some(png) = screenshot {
        cmd.arg(format!("--screenshot={}", png.display()));
    } else {
        cmd.arg("--dump-dom");
    }
    let out = cmd
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium exited {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_report_is_one_page_that_a_browser_renders_with_every_box() {
    let sandbox = Sandbox::start(SandboxOptions {
        scenario: Scenario::Legacy,
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox");
    let url = sandbox.url().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    // Two saved runs for the trend.
    let history = dir.path().join("history");
    std::fs::create_dir_all(&history).expect("dir");
    for day in ["2026-11-28", "2026-11-29"] {
        let (_, json) = audit(url.clone(), vec!["--format".into(), "json".into()]).await;
        std::fs::write(history.join(format!("{day}.json")), json).expect("saved");
    }
    std::fs::write(history.join("notes.json"), "{}").expect("not a report");
    let (code, html) = audit(
        url.clone(),
        vec![
            "--format".into(),
            "html".into(),
            "--history".into(),
            history.display().to_string(),
        ],
    )
    .await;
    assert_eq!(code, 1, "legacy fails");

    // Self-contained: nothing is fetched from anywhere.
    for outside in [
        "<script src",
        "<link",
        "@import",
        "url(http",
        "src=\"http",
        "href=\"http",
    ] {
        assert!(!html.contains(outside), "fetches something: {outside}");
    }
    let info = sandbox.info();
    for secret in info
        .tokens
        .iter()
        .map(|t| t.token.as_str())
        .chain(info.users.iter().map(|u| u.token.as_str()))
        .chain([info.circleci.token.as_str()])
    {
        assert!(!html.contains(secret), "a secret in the page");
    }
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).expect("page");

    let Some(browser) = chromium() else {
        assert!(
            std::env::var("TOKENLESS_REQUIRE_CHROMIUM").is_err(),
            "TOKENLESS_REQUIRE_CHROMIUM is set but no chromium is on PATH"
        );
        eprintln!("SKIPPED the browser checks: no chromium on PATH (apt-get install chromium)");
        return;
    };
    let dom = dump_dom(&browser, &page, None);
    for id in [
        "trusted-publisher",
        "context-bound",
        "oidc-publish-job",
        "release-verified",
        "no-static-tokens",
        "no-service-accounts",
        "disallow-tokens",
        "read-only-teams",
        "temp-token-deleted",
    ] {
        let status = if id == "disallow-tokens" {
            "unknown"
        } else {
            "fail"
        };
        assert!(
            dom.contains(&format!("data-id=\"{id}\" data-status=\"{status}\"")),
            "{id} is not {status} in the rendered page"
        );
    }
    assert!(dom.contains("data-passed=\"0\" data-failed=\"8\" data-unknown=\"1\""));
    let saved: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(history.join("2026-11-29.json")).expect("saved run"),
    )
    .expect("json");
    let packages = saved["packages"].as_array().map_or(0, Vec::len);
    assert!(packages > 10, "{saved}");
    assert_eq!(dom.matches("<tr data-package=").count(), packages);
    assert_eq!(
        dom.matches("data-run=").count(),
        2,
        "two saved runs, the notes left out"
    );
    for secret in info.tokens.iter().map(|t| t.token.as_str()) {
        assert!(!dom.contains(secret), "a secret in the DOM");
    }
    let png = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../audit-report.png");
    dump_dom(&browser, &page, Some(&png));
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "the screenshot is empty ({size} bytes)");
}

#[tokio::test(flavor = "multi_thread")]
async fn history_needs_the_html_format() {
    let sandbox = Sandbox::start(SandboxOptions {
        scenario: Scenario::Migrated,
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox");
    let (code, _) = audit(
        sandbox.url().to_string(),
        vec!["--history".into(), "/tmp".into()],
    )
    .await;
    assert_eq!(code, 2);
}
