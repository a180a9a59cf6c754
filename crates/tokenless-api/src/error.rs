//! Errors that name the request (method and path, credentials redacted) and why it failed.

use std::time::Duration;

/// One failed request: `GET /-/org/acme/package: HTTP 404: not found`.
#[derive(Debug, thiserror::Error)]
#[error("{method} {path}: {kind}")]
pub struct ApiError {
    pub method: String,
    /// The request path as shown to people: never carries a credential.
    pub path: String,
    pub kind: ErrorKind,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// The server answered with a non-success status; `message` is its error text, if any.
    #[error("HTTP {status}{}", if message.is_empty() { String::new() } else { format!(": {message}") })]
    Status { status: u16, message: String },
    /// The registry asked for a one-time password (401 with `www-authenticate: OTP`).
    #[error("a one-time password is required (npm-otp)")]
    OtpRequired,
    /// The one-time password was refused too many times.
    #[error("the one-time password was refused {0} times")]
    OtpRejected(u32),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// Connection refused, reset or dropped, after the retries.
    #[error("connection failed: {0}")]
    Transport(String),
    /// 429 on every attempt.
    #[error("still rate-limited (429) after {0} attempts")]
    RateLimited(u32),
    /// The body is not what this endpoint returns.
    #[error("unexpected response: {0}")]
    Decode(String),
    /// The server's answer is well-formed but unusable (a pagination link to another host…).
    #[error("{0}")]
    Invalid(String),
}

impl ApiError {
    /// The HTTP status, when the failure is a status.
    pub fn status(&self) -> Option<u16> {
        match self.kind {
            ErrorKind::Status { status, .. } => Some(status),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// A 401 that is not an OTP challenge (OTP challenges are
    /// [`ErrorKind::OtpRequired`]): the credential is unknown, revoked or expired, e.g. "the
    /// session expired, log in again".
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }
}
