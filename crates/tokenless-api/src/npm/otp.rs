//! One-time passwords: recognising the registry's challenge and asking for a code.

use std::{future::Future, pin::Pin};

use url::Url;

use crate::http::Reply;

/// An OTP challenge of the registry, as the write that met it saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// True when the previous code was refused.
    pub retry: bool,
    /// npm's web 2FA: set when the challenge carries `authUrl` and `doneUrl` (accounts
    /// with a security key). Open `auth_url`, then poll `done_url` with
    /// [`NpmClient::wait_for_web_approval`](crate::NpmClient::wait_for_web_approval); its
    /// answer is the code to return.
    pub web: Option<WebChallenge>,
}

/// The two URLs of a web 2FA challenge (both `http(s)`; `done_url` already moved to the
/// configured registry when it named registry.npmjs.org, as npm does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebChallenge {
    pub auth_url: String,
    pub done_url: String,
}

/// Where codes come from: a prompt, an authenticator secret, a fixed `--otp`, a web 2FA
/// approval.
pub trait OtpSource: Send + Sync {
    /// A code for the pending write. `None` gives up (the write fails with "a one-time
    /// password is required").
    fn code<'a>(
        &'a self,
        challenge: &'a Challenge,
    ) -> Pin<Box<dyn Future<Output = Option<String>> + Send + 'a>>;

    /// A code the source expects the registry to accept now, sent with the first attempt
    /// of a write to spare the challenge round trip. `None` (the default): send the write
    /// bare and answer the challenge.
    fn current(&self) -> Option<String> {
        None
    }
}

/// A fixed code (`--otp=123456`), or none at all: offered once, never again.
#[derive(Debug, Clone, Default)]
pub struct StaticOtp(pub Option<String>);

impl OtpSource for StaticOtp {
    fn code<'a>(
        &'a self,
        challenge: &'a Challenge,
    ) -> Pin<Box<dyn Future<Output = Option<String>> + Send + 'a>> {
        let code = if challenge.retry {
            None
        } else {
            self.0.clone()
        };
        Box::pin(async move { code })
    }
}

/// 401 with `www-authenticate` naming `otp` (npm-registry-fetch's rule), or a 401 body
/// that mentions a one-time password.
pub(crate) fn is_challenge(reply: &Reply) -> bool {
    if reply.status != reqwest::StatusCode::UNAUTHORIZED {
        return false;
    }
    let by_header = reply
        .headers
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| e.trim().eq_ignore_ascii_case("otp"));
    by_header || String::from_utf8_lossy(&reply.body).contains("one-time pass")
}

/// The `authUrl`/`doneUrl` pair of a challenge body: `Ok(None)` when the body has neither
/// (a plain OTP challenge), `Err` naming what is wrong when they are present but unusable.
pub(crate) fn web_urls(reply: &Reply) -> Result<Option<(String, String)>, String> {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(&reply.body) else {
        return Ok(None);
    };
    let field = |k: &str| body.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    match (field("authUrl"), field("doneUrl")) {
        (None, None) => Ok(None),
        (Some(auth), Some(done)) if is_http_url(&auth) && is_http_url(&done) => {
            Ok(Some((auth, done)))
        }
        _ => {
            Err("invalid web 2FA challenge (authUrl and doneUrl must both be http(s) URLs)".into())
        }
    }
}

pub(crate) fn is_http_url(s: &str) -> bool {
    Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}
#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::{StatusCode, header::HeaderMap};

    fn reply(status: StatusCode, auth: Option<&str>, body: &str) -> Reply {
        let mut headers = HeaderMap::new();
        if let Some(a) = auth {
            headers.insert(
                reqwest::header::WWW_AUTHENTICATE,
                a.parse().expect("header"),
            );
        }
        Reply {
            status,
            headers,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn challenge_is_recognised_like_npm() {
        assert!(is_challenge(&reply(
            StatusCode::UNAUTHORIZED,
            Some("OTP"),
            ""
        )));
        assert!(is_challenge(&reply(
            StatusCode::UNAUTHORIZED,
            Some("Basic, otp"),
            ""
        )));
        assert!(!is_challenge(&reply(
            StatusCode::UNAUTHORIZED,
            Some("otpx"),
            ""
        )));
        assert!(is_challenge(&reply(
            StatusCode::UNAUTHORIZED,
            None,
            "needs a one-time password"
        )));
        assert!(!is_challenge(&reply(
            StatusCode::FORBIDDEN,
            Some("OTP"),
            ""
        )));
    }

    #[test]
    fn web_challenges_need_two_http_urls() {
        let r = |body: &str| reply(StatusCode::UNAUTHORIZED, Some("OTP"), body);
        assert_eq!(web_urls(&r("")), Ok(None));
        assert_eq!(web_urls(&r(r#"{"error":"otp"}"#)), Ok(None));
        assert_eq!(
            web_urls(&r(
                r#"{"authUrl":"https://r.example/a","doneUrl":"http://r.example/d"}"#
            )),
            Ok(Some((
                "https://r.example/a".to_owned(),
                "http://r.example/d".to_owned()
            )))
        );
        for bad in [
            r#"{"authUrl":"javascript:alert(1)","doneUrl":"https://r.example/d"}"#,
            r#"{"authUrl":"https://r.example/a"}"#,
            r#"{"authUrl":"https://r.example/a","doneUrl":"file:///etc/passwd"}"#,
        ] {
            let err = web_urls(&r(bad)).expect_err(bad);
            assert!(err.contains("http(s)"), "{err}");
        }
    }
}
