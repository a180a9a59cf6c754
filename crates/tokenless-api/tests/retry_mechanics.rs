//! Retry, 429 and timeout mechanics of the shared HTTP core, against wiremock.
//! (Supplementary: the clients are exercised against the real sandbox elsewhere.)

use std::time::{Duration, Instant};

use tokenless_api::{ClientOptions, ErrorKind, NpmClient, Secret};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{header, method, path},
};

fn fast() -> ClientOptions {
    ClientOptions {
        timeout: Duration::from_millis(500),
        min_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        ..ClientOptions::default()
    }
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/-/whoami"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/-/whoami"))
        .and(header("user-agent", tokenless_api::USER_AGENT))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"username": "alice"})),
        )
        .mount(&server)
        .await;
    let npm = NpmClient::new(
        &server.uri(),
        Some(Secret::new("npm_sessionsessionsession")),
        fast(),
    )
    .expect("client");
    assert_eq!(npm.whoami().await.expect("whoami"), "alice");
    assert_eq!(npm.stats().retried, 2);
}

#[tokio::test]
async fn persistent_server_errors_name_the_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(500).set_body_json(serde_json::json!({"error": "boom"})),
        )
        .mount(&server)
        .await;
    let npm = NpmClient::new(&server.uri(), None, fast()).expect("client");
    let err = npm.org_packages("@acme").await.expect_err("500s");
    assert_eq!(err.to_string(), "GET /-/org/acme/package: HTTP 500: boom");
    assert_eq!(npm.stats().attempts, 5);
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"username": "bob"})),
        )
        .mount(&server)
        .await;
    let npm = NpmClient::new(&server.uri(), None, fast()).expect("client");
    let start = Instant::now();
    assert_eq!(npm.whoami().await.expect("whoami"), "bob");
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "{:?}",
        start.elapsed()
    );
    let stats = npm.stats();
    assert_eq!((stats.rate_limited, stats.rate_limited_twice), (1, 0));
}

#[tokio::test]
async fn slow_answers_time_out_with_the_request_named() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let options = ClientOptions {
        max_attempts: 2,
        timeout: Duration::from_millis(100),
        ..fast()
    };
    let npm = NpmClient::new(&server.uri(), None, options).expect("client");
    let err = npm.packument("@acme/a").await.expect_err("timeout");
    assert!(matches!(err.kind, ErrorKind::Timeout(_)), "{err}");
    assert_eq!(err.path, "/@acme%2fa");
}

#[tokio::test]
async fn logout_errors_never_show_the_session() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(serde_json::json!({"message": "nope"})),
        )
        .mount(&server)
        .await;
    let npm = NpmClient::new(&server.uri(), None, fast()).expect("client");
    let session = Secret::new("npm_0123456789abcdefghijklmnopqrstuvwxyz");
    let err = npm.logout(&session).await.expect_err("403");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("0123456789abcdef"), "{text}");
    assert!(text.contains("npm_…wxyz"), "{text}");
}
