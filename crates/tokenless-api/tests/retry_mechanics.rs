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

#[tokio::test]
async fn token_pages_are_followed_and_foreign_links_refused() {
    use wiremock::matchers::query_param;
    let server = MockServer::start().await;
    let page = |key: &str, next: &str| serde_json::json!({"objects": [{"key": key, "token": "npm_ab", "name": key}], "urls": {"next": next}});
    Mock::given(method("GET"))
        .and(path("/-/npm/v1/tokens"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page("k2", "")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/-/npm/v1/tokens"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            "k1",
            &format!("{}/-/npm/v1/tokens?page=2", server.uri()),
        )))
        .mount(&server)
        .await;
    let npm = NpmClient::new(&server.uri(), None, fast()).expect("client");
    let keys: Vec<String> = npm
        .tokens()
        .await
        .expect("tokens")
        .into_iter()
        .map(|t| t.key)
        .collect();
    assert_eq!(keys, ["k1", "k2"]);

    let evil = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(page("k1", "http://attacker.example/steal")),
        )
        .mount(&evil)
        .await;
    let npm = NpmClient::new(
        &evil.uri(),
        Some(Secret::new("npm_0123456789abcdefghijklmnopqrstuvwxyz")),
        fast(),
    )
    .expect("client");
    let err = npm.tokens().await.expect_err("foreign next link");
    assert!(err.to_string().contains("another origin"), "{err}");
}

#[tokio::test]
async fn malformed_bodies_are_errors_that_name_the_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{not json"))
        .mount(&server)
        .await;
    let npm = NpmClient::new(&server.uri(), None, fast()).expect("client");
    let err = npm.trust_configs("@acme/a").await.expect_err("garbage");
    assert!(matches!(err.kind, ErrorKind::Decode(_)), "{err}");
    assert!(
        err.to_string()
            .starts_with("GET /-/package/@acme%2fa/trust: unexpected response"),
        "{err}"
    );
}

#[tokio::test]
async fn a_trust_config_the_client_cannot_parse_names_the_package_and_field() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"[{"id":"a","type":"github","claims":{"repository":"acme/a","workflow_ref":{"file":"publish.yml"}},"permissions":["createPackage"]},
                {"id":"b","type":"github","claims":{"workflow_ref":{"file":"publish.yml"}},"permissions":["createPackage"]}]"#,
        ))
        .mount(&server)
        .await;
    let npm = NpmClient::new(&server.uri(), None, fast()).expect("client");
    let err = npm
        .trust_configs("@acme/a")
        .await
        .expect_err("second config unusable");
    assert!(matches!(err.kind, ErrorKind::Decode(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "GET /-/package/@acme%2fa/trust: unexpected response: trust config of @acme/a: [1].claims.repository: missing required field"
    );
}

#[tokio::test]
async fn several_trust_configs_parse_into_the_one_model() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"[{"id":"a","type":"github","claims":{"repository":"acme/a","workflow_ref":{"file":"publish.yml"},"environment":"npm"},"permissions":["createStagedPackage"]},
                {"id":"b","type":"circleci","claims":{"oidc.circleci.com/org-id":"o","oidc.circleci.com/project-id":"p","oidc.circleci.com/pipeline-definition-id":"d","oidc.circleci.com/vcs-origin":"github.com/acme/a","oidc.circleci.com/context-ids":["c1"]},"permissions":["createPackage"]}]"#,
        ))
        .mount(&server)
        .await;
    let npm = NpmClient::new(&server.uri(), None, fast()).expect("client");
    let configs = npm.trust_configs("@acme/a").await.expect("two configs");
    assert_eq!(configs.len(), 2);
    assert_eq!(configs[0].environment(), Some("npm"));
    assert!(!configs[0].allows(tokenless_trust::Action::Publish));
    assert_eq!(configs[1].context_ids(), ["c1".to_owned()]);
    assert!(configs[1].allows(tokenless_trust::Action::Publish));
}

#[tokio::test]
async fn otp_challenges_are_answered_and_reprompted() {
    use std::sync::atomic::{AtomicU32, Ordering};
    use tokenless_api::npm::{Challenge, OtpSource, PublishingAccess};
    struct Counting(AtomicU32);
    impl OtpSource for Counting {
        fn code<'a>(
            &'a self,
            challenge: &'a Challenge,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send + 'a>>
        {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            assert_eq!(challenge.retry, n > 0);
            assert_eq!(challenge.web, None);
            Box::pin(async move {
                Some(if n == 0 {
                    "000000".to_string()
                } else {
                    "123456".to_string()
                })
            })
        }
    }
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("npm-otp", "123456"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).insert_header("www-authenticate", "OTP"))
        .mount(&server)
        .await;
    let npm = NpmClient::new(
        &server.uri(),
        Some(Secret::new("npm_sessionsessionsession")),
        fast(),
    )
    .expect("client");
    let otp = Counting(AtomicU32::new(0));
    npm.set_publishing_access("@acme/a", PublishingAccess::DISALLOW_TOKENS, &otp)
        .await
        .expect("accepted on the second code");
    assert_eq!(otp.0.load(Ordering::SeqCst), 2);
    let err = npm
        .set_publishing_access(
            "@acme/a",
            PublishingAccess::DISALLOW_TOKENS,
            &tokenless_api::npm::StaticOtp(None),
        )
        .await
        .expect_err("no code");
    assert!(matches!(err.kind, ErrorKind::OtpRequired), "{err}");
}

#[tokio::test]
async fn context_restrictions_are_read_from_their_own_endpoint_when_absent() {
    use tokenless_api::CircleCiClient;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/context/c1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"id": "c1", "name": "npm-publish"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v2/context/c1/restrictions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "items": [{"id": "r1", "restriction_type": "expression", "restriction_value": "pipeline.git.branch == \"main\""}],
            "next_page_token": null
        })))
        .mount(&server)
        .await;
    let circle = CircleCiClient::new(
        &format!("{}/api/v2", server.uri()),
        Some(Secret::new("circle-token-0123456789abcdef")),
        fast(),
    )
    .expect("client");
    let ctx = circle.context("c1").await.expect("context");
    assert_eq!(ctx.restrictions.len(), 1);
    assert_eq!(
        ctx.restrictions[0].restriction_value,
        "pipeline.git.branch == \"main\""
    );
}

#[tokio::test]
async fn too_many_requests_without_retry_after_backs_off_exponentially() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).set_body_string("rate limited exceeded"))
        .mount(&server)
        .await;
    let options = ClientOptions {
        max_attempts: 4,
        rate_limit_backoff: Duration::from_millis(100),
        ..fast()
    };
    let npm = NpmClient::new(&server.uri(), None, options).expect("client");
    let start = Instant::now();
    let err = npm.whoami().await.expect_err("always 429");
    let elapsed = start.elapsed();
    assert!(matches!(err.kind, ErrorKind::RateLimited(4)), "{err}");
    // 100 + 200 + 400 ms, each plus up to a quarter of jitter.
    assert!(elapsed >= Duration::from_millis(700), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(700 * 5 / 4 + 300),
        "{elapsed:?}"
    );
    assert_eq!(npm.stats().rate_limited, 4);
}
