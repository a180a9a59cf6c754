//! npm writes against the real sandbox over loopback: web 2FA challenges answered through
//! `wait_for_web_approval`, refused credentials told apart from OTP challenges, org member
//! removal through the OTP write path.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use tokenless_api::npm::{Challenge, OtpSource, PublishingAccess, StaticOtp};
use tokenless_api::{ClientOptions, ErrorKind, NpmClient, Secret};
use tokenless_sandbox::{Sandbox, SandboxHandle, SandboxOptions, Scenario};

const SCENARIO: &str = r#"{
  "org": "acme",
  "users": [
    {"name": "kim", "role": "owner", "security_key": true},
    {"name": "alice", "role": "owner"},
    {"name": "dev", "role": "developer"}
  ],
  "packages": [{"name": "@acme/core"}]
}"#;

async fn sandbox() -> SandboxHandle {
    Sandbox::start(SandboxOptions {
        scenario: Scenario::Inline(SCENARIO.to_owned()),
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox starts")
}

fn client(sb: &SandboxHandle, user: &str) -> NpmClient {
    let info = sb.info();
    let u = info.user(user).expect("user");
    NpmClient::new(
        &info.registry,
        Some(Secret::new(u.token.as_str())),
        ClientOptions::default(),
    )
    .expect("client")
}

/// Stands in for the person with the security key: approves each web challenge through the
/// sandbox's inspection endpoint, then waits for the code on the done URL. Records what it
/// was asked.
struct WebApprover {
    npm: NpmClient,
    seen: Mutex<Vec<Challenge>>,
}

impl OtpSource for WebApprover {
    fn code<'a>(
        &'a self,
        challenge: &'a Challenge,
    ) -> Pin<Box<dyn Future<Output = Option<String>> + Send + 'a>> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.push(challenge.clone());
        }
        Box::pin(async move {
            let web = challenge.web.as_ref()?;
            let id = web.auth_url.rsplit('/').next()?;
            let approve = format!("{}-/sandbox/2fa/{id}/approve", self.npm.registry());
            let approved = reqwest::Client::new().post(approve).send().await.ok()?;
            assert!(approved.status().is_success(), "{}", approved.status());
            let code = self
                .npm
                .wait_for_web_approval(&web.done_url, Duration::from_secs(10))
                .await
                .expect("approved code");
            Some(code.expose().to_owned())
        })
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_web_2fa_challenge_is_approved_and_its_code_sent_as_the_otp() {
    let sb = sandbox().await;
    let kim = client(&sb, "kim");
    let approver = WebApprover {
        npm: kim.clone(),
        seen: Mutex::new(Vec::new()),
    };
    kim.set_publishing_access("@acme/core", PublishingAccess::DISALLOW_TOKENS, &approver)
        .await
        .expect("the write passes with the web 2FA code");
    let access = kim
        .sandbox_publishing_access("@acme/core")
        .await
        .expect("the sandbox's inspection read");
    assert!(access.disallows_tokens(), "{access:?}");

    let seen = approver.seen.lock().expect("seen").clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(!seen[0].retry);
    let web = seen[0].web.as_ref().expect("a web challenge");
    let base = sb.url();
    assert!(
        web.auth_url
            .starts_with(&format!("{base}-/v1/2fa/approve/"))
    );
    assert!(web.done_url.starts_with(&format!("{base}-/v1/2fa/done/")));

    // The approved code was spent by the write: none is left over.
    let pending: serde_json::Value = reqwest::get(format!("{base}-/sandbox/2fa"))
        .await
        .expect("pending")
        .json()
        .await
        .expect("json");
    assert_eq!(pending["unspent"], serde_json::json!({}), "{pending}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unapproved_web_challenge_times_out_naming_the_wait() {
    let sb = sandbox().await;
    let kim = client(&sb, "kim");
    let seen = Mutex::new(None);
    struct Remember<'s>(&'s Mutex<Option<Challenge>>);
    impl OtpSource for Remember<'_> {
        fn code<'a>(
            &'a self,
            challenge: &'a Challenge,
        ) -> Pin<Box<dyn Future<Output = Option<String>> + Send + 'a>> {
            if let Ok(mut slot) = self.0.lock() {
                *slot = Some(challenge.clone());
            }
            Box::pin(async { None })
        }
    }
    let err = kim
        .set_publishing_access(
            "@acme/core",
            PublishingAccess::DISALLOW_TOKENS,
            &Remember(&seen),
        )
        .await
        .expect_err("no code");
    assert!(matches!(err.kind, ErrorKind::OtpRequired), "{err}");
    assert!(!err.is_unauthorized(), "an OTP challenge is not a refusal");
    let challenge = seen.lock().expect("seen").clone().expect("asked once");
    let web = challenge.web.expect("kim has a security key");
    let err = kim
        .wait_for_web_approval(&web.done_url, Duration::from_millis(300))
        .await
        .expect_err("nobody approves");
    assert!(matches!(err.kind, ErrorKind::Timeout(_)), "{err}");
    assert_eq!(
        err.to_string(),
        "GET /-/v1/2fa (done URL): no answer within 300ms"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_otp_challenges_carry_no_web_urls_and_bad_tokens_are_unauthorized() {
    let sb = sandbox().await;
    let alice = client(&sb, "alice");
    let seen = Mutex::new(None);
    struct Remember<'s>(&'s Mutex<Option<Challenge>>, String);
    impl OtpSource for Remember<'_> {
        fn code<'a>(
            &'a self,
            challenge: &'a Challenge,
        ) -> Pin<Box<dyn Future<Output = Option<String>> + Send + 'a>> {
            if let Ok(mut slot) = self.0.lock() {
                *slot = Some(challenge.clone());
            }
            let code = tokenless_sandbox::totp::current_code(&self.1).ok();
            Box::pin(async move { code })
        }
    }
    let secret = sb.info().user("alice").expect("alice").totp_secret.clone();
    alice
        .set_publishing_access(
            "@acme/core",
            PublishingAccess::DISALLOW_TOKENS,
            &Remember(&seen, secret),
        )
        .await
        .expect("TOTP code accepted");
    let challenge = seen.lock().expect("seen").clone().expect("asked");
    assert_eq!(
        challenge,
        Challenge {
            retry: false,
            web: None
        }
    );

    let stranger = alice.with_token(Secret::new("npm_notasessionnotasessionnotasession"));
    let err = stranger.whoami().await.expect_err("unknown token");
    assert!(err.is_unauthorized(), "{err}");
    let err = stranger
        .set_publishing_access(
            "@acme/core",
            PublishingAccess::DISALLOW_TOKENS,
            &StaticOtp(None),
        )
        .await
        .expect_err("unknown token");
    assert!(err.is_unauthorized(), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn org_members_are_removed_through_the_otp_write_path() {
    let sb = sandbox().await;
    let kim = client(&sb, "kim");
    let before = kim.org_members("@acme").await.expect("members");
    assert_eq!(before.get("dev").map(String::as_str), Some("developer"));
    // Without a code the registry's challenge stands, and nothing changes.
    let err = kim
        .remove_org_member("@acme", "dev", &StaticOtp(None))
        .await
        .expect_err("2FA required");
    assert!(matches!(err.kind, ErrorKind::OtpRequired), "{err}");
    assert!(
        kim.org_members("acme")
            .await
            .expect("members")
            .contains_key("dev")
    );

    let approver = WebApprover {
        npm: kim.clone(),
        seen: Mutex::new(Vec::new()),
    };
    kim.remove_org_member("@acme", "dev", &approver)
        .await
        .expect("removed after web 2FA");
    let after = kim.org_members("@acme").await.expect("members");
    assert!(!after.contains_key("dev"), "{after:?}");
    assert_eq!(after.len(), before.len() - 1);

    let err = kim
        .remove_org_member("@acme", "dev", &approver)
        .await
        .expect_err("no longer a member");
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.path, "/-/org/acme/user");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_session_is_unauthorized_not_an_otp_challenge() {
    let sb = sandbox().await;
    let alice = client(&sb, "alice");
    assert_eq!(alice.whoami().await.expect("whoami"), "alice");
    let ended = reqwest::Client::new()
        .post(format!("{}-/sandbox/expire", sb.url()))
        .json(&serde_json::json!({"sessions": true}))
        .send()
        .await
        .expect("expire");
    assert!(ended.status().is_success(), "{}", ended.status());
    let err = alice.whoami().await.expect_err("expired");
    assert!(err.is_unauthorized(), "{err}");
    assert!(
        err.to_string().contains("session expired; log in again"),
        "{err}"
    );
    // A write with an expired session is refused the same way, never challenged for a code.
    let err = alice
        .remove_org_member("@acme", "dev", &StaticOtp(Some("000000".into())))
        .await
        .expect_err("expired");
    assert!(err.is_unauthorized(), "{err}");
    assert!(!matches!(
        err.kind,
        ErrorKind::OtpRequired | ErrorKind::OtpRejected(_)
    ));
}
