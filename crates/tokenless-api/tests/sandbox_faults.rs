//! The clients against the real sandbox over loopback, with its fault injection:
//! `--latency`, `--fail-rate` (500s and dropped connections) and `--rate-limit` (429).

use std::time::Duration;

use futures::future::join_all;
use tokenless_api::{CircleCiClient, ClientOptions, NpmClient, Secret};
use tokenless_sandbox::{Sandbox, SandboxHandle, SandboxOptions, Scenario};

async fn start(options: SandboxOptions) -> SandboxHandle {
    Sandbox::start(options).await.expect("sandbox starts")
}

fn owner(sandbox: &SandboxHandle, options: ClientOptions) -> NpmClient {
    let info = sandbox.info();
    let owner = info
        .users
        .iter()
        .find(|u| u.name == "alice")
        .expect("owner");
    NpmClient::new(
        &info.registry,
        Some(Secret::new(owner.token.as_str())),
        options,
    )
    .expect("client")
}

fn quick_retries() -> ClientOptions {
    ClientOptions {
        max_attempts: 8,
        min_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        concurrency: 8,
        ..ClientOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_read_succeeds_through_injected_failures() {
    let sandbox = start(SandboxOptions {
        scenario: Scenario::Migrated,
        fail_rate: 0.3,
        latency: Duration::from_millis(5),
        ..SandboxOptions::default()
    })
    .await;
    let npm = owner(&sandbox, quick_retries());
    let info = sandbox.info();
    let packages = npm.org_packages(&info.scope).await.expect("packages");
    assert!(packages.len() >= 12, "{packages:?}");
    let reads = packages.keys().map(|name| {
        let npm = npm.clone();
        async move {
            let trust = npm.trust_configs(name).await?;
            let access = npm.sandbox_publishing_access(name).await?;
            let packument = npm.packument(name).await?;
            Ok::<_, tokenless_api::ApiError>((trust, access, packument))
        }
    });
    for result in join_all(reads).await {
        let (trust, access, packument) = result.expect("read despite failures");
        assert_eq!(trust.len(), 1);
        assert!(access.disallows_tokens());
        assert!(packument.latest().is_some());
    }
    let tokens = npm.tokens().await.expect("tokens");
    assert!(tokens.is_empty(), "{tokens:?}");
    let circle = CircleCiClient::new(
        &info.circleci_api,
        Some(Secret::new(info.circleci.token.as_str())),
        quick_retries(),
    )
    .expect("client");
    let contexts = circle
        .contexts(&info.circleci.org_id)
        .await
        .expect("contexts");
    assert!(!contexts.is_empty());
    for p in &info.circleci.projects {
        let project = circle.project(&p.slug).await.expect("project");
        assert_eq!(project.id, p.id);
        let pipelines = circle.recent_pipelines(&p.slug).await.expect("pipelines");
        let latest = pipelines.first().expect("a pipeline");
        let config = circle.pipeline_config(&latest.id).await.expect("config");
        assert!(config.compiled.contains("jobs"), "{config:?}");
        let defs = circle
            .pipeline_definitions(&p.id)
            .await
            .expect("definitions");
        assert_eq!(
            defs.first().map(|d| d.id.as_str()),
            Some(p.pipeline_definition_id.as_str())
        );
    }
    assert!(
        npm.stats().retried > 0,
        "with 30% failures some reads must have been retried"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limited_reads_wait_and_are_refused_at_most_once() {
    let sandbox = start(SandboxOptions {
        scenario: Scenario::Migrated,
        rate_limit: Some(40),
        latency: Duration::from_millis(20),
        ..SandboxOptions::default()
    })
    .await;
    let npm = owner(
        &sandbox,
        ClientOptions {
            concurrency: 16,
            ..ClientOptions::default()
        },
    );
    let info = sandbox.info();
    let packages: Vec<String> = npm
        .org_packages(&info.scope)
        .await
        .expect("packages")
        .into_keys()
        .collect();
    let reads = (0..8)
        .flat_map(|_| packages.iter())
        .map(|name| npm.trust_configs(name));
    for result in join_all(reads).await {
        result.expect("read despite 429s");
    }
    let stats = npm.stats();
    assert!(
        stats.rate_limited > 0,
        "the limit must have been hit: {stats:?}"
    );
    assert_eq!(stats.rate_limited_twice, 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_sandbox_times_out_with_the_request_named() {
    let sandbox = start(SandboxOptions {
        scenario: Scenario::Migrated,
        latency: Duration::from_millis(400),
        ..SandboxOptions::default()
    })
    .await;
    let npm = owner(
        &sandbox,
        ClientOptions {
            timeout: Duration::from_millis(100),
            max_attempts: 2,
            ..quick_retries()
        },
    );
    let err = npm.whoami().await.expect_err("too slow");
    assert_eq!(err.to_string(), "GET /-/whoami: no answer within 100ms");
}

#[tokio::test(flavor = "multi_thread")]
async fn web_login_then_logout_revokes_the_session() {
    let sandbox = start(SandboxOptions {
        scenario: Scenario::Migrated,
        ..SandboxOptions::default()
    })
    .await;
    let info = sandbox.info();
    let anonymous = NpmClient::new(&info.registry, None, ClientOptions::default()).expect("client");
    let login = anonymous.start_web_login().await.expect("login started");
    let alice = info
        .users
        .iter()
        .find(|u| u.name == "alice")
        .expect("alice");
    let code = tokenless_sandbox::totp::current_code(&alice.totp_secret).expect("otp");
    let approved = reqwest::Client::new()
        .post(&login.login_url)
        .json(&serde_json::json!({"name": alice.name, "otp": code}))
        .send()
        .await
        .expect("approval sent");
    assert!(approved.status().is_success(), "{}", approved.status());
    let session = anonymous
        .finish_web_login(&login, Duration::from_secs(10))
        .await
        .expect("session");
    let npm = anonymous.with_token(session.clone());
    assert_eq!(npm.whoami().await.expect("whoami"), "alice");
    anonymous.logout(&session).await.expect("logout");
    let err = npm.whoami().await.expect_err("revoked");
    assert_eq!(err.status(), Some(401), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn npm_429_without_retry_after_pauses_every_request_then_succeeds() {
    // The sandbox answers registry paths as registry.npmjs.org does: 429, no Retry-After.
    let sandbox = start(SandboxOptions {
        scenario: Scenario::Migrated,
        rate_limit: Some(4),
        ..SandboxOptions::default()
    })
    .await;
    let npm = owner(
        &sandbox,
        ClientOptions {
            concurrency: 12,
            rate_limit_backoff: Duration::from_millis(1000),
            ..ClientOptions::default()
        },
    );
    let started = std::time::Instant::now();
    // Twelve requests at once span at most two one-second windows of four: at least four
    // are refused, and they can only pass after a pause.
    let reads = (0..12).map(|_| npm.whoami());
    for result in join_all(reads).await {
        assert_eq!(result.expect("read despite 429s"), "alice");
    }
    let elapsed = started.elapsed();
    let stats = npm.stats();
    assert!(stats.rate_limited >= 4, "{stats:?}");
    assert!(
        elapsed >= Duration::from_millis(1000),
        "the refused requests waited for the pause: {elapsed:?}"
    );
    // One pause for the whole burst, not one per refused request: the client does not
    // hammer the registry.
    assert!(stats.attempts <= 12 + 2 * 8, "{stats:?}");
    assert!(elapsed < Duration::from_secs(8), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_told_the_rate_stays_under_it_and_is_never_answered_429() {
    let sandbox = start(SandboxOptions {
        scenario: Scenario::Migrated,
        rate_limit: Some(40),
        ..SandboxOptions::default()
    })
    .await;
    let npm = owner(
        &sandbox,
        ClientOptions {
            max_rate: Some(30),
            concurrency: 32,
            ..ClientOptions::default()
        },
    );
    let started = std::time::Instant::now();
    let results = join_all((0..60).map(|_| {
        let npm = npm.clone();
        async move { npm.whoami().await }
    }))
    .await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(npm.stats().rate_limited, 0, "{:?}", npm.stats());
    // 60 attempts at 30 per second: the last starts after about two seconds.
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
}
