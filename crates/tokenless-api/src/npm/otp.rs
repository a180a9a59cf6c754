//! One-time passwords: recognising the registry's challenge and asking for a code.

use std::{future::Future, pin::Pin};

use crate::http::Reply;

/// Where codes come from: a prompt, an authenticator secret, a fixed `--otp`.
pub trait OtpSource: Send + Sync {
    /// A code for the pending write; `retry` is true when the previous code was refused.
    /// `None` gives up (the write fails with "a one-time password is required").
    fn code(&self, retry: bool) -> Pin<Box<dyn Future<Output = Option<String>> + Send + '_>>;
}

/// A fixed code (`--otp=123456`), or none at all: offered once, never again.
#[derive(Debug, Clone, Default)]
pub struct StaticOtp(pub Option<String>);

impl OtpSource for StaticOtp {
    fn code(&self, retry: bool) -> Pin<Box<dyn Future<Output = Option<String>> + Send + '_>> {
        let code = if retry { None } else { self.0.clone() };
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
}
