//! `SandboxError`: every refusal a handler can give, as npm's registry gives it (a status, a
//! JSON `{"error", "message"}` body and, for challenges, a `www-authenticate` header).
//! Handlers return `Result<Response, SandboxError>`; `?` ends a handler with its error.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A refusal: status, message, extra body fields and extra headers.
#[derive(Debug, Clone)]
pub struct SandboxError {
    pub status: StatusCode,
    pub message: String,
    extra: Option<Value>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

pub type Handled = Result<Response, SandboxError>;

impl SandboxError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> SandboxError {
        SandboxError {
            status,
            message: message.into(),
            extra: None,
            headers: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> SandboxError {
        SandboxError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> SandboxError {
        SandboxError::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn forbidden(message: impl Into<String>) -> SandboxError {
        SandboxError::new(StatusCode::FORBIDDEN, message)
    }

    pub fn not_found(message: impl Into<String>) -> SandboxError {
        SandboxError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> SandboxError {
        SandboxError::new(StatusCode::CONFLICT, message)
    }

    /// 429 with `Retry-After` (whole seconds, at least 1).
    pub fn too_many(message: impl Into<String>, retry_after_secs: u64) -> SandboxError {
        SandboxError::new(StatusCode::TOO_MANY_REQUESTS, message)
            .with_header(header::RETRY_AFTER, &retry_after_secs.max(1).to_string())
    }

    /// 401 + `www-authenticate: OTP`: the npm CLI turns this into `EOTP` and retries with
    /// `npm-otp`.
    pub fn otp_required() -> SandboxError {
        SandboxError::unauthorized(
            "This operation requires a one-time password from your authenticator.",
        )
        .with_header(header::WWW_AUTHENTICATE, "OTP")
    }

    /// 401 + `www-authenticate: ipaddress`: npm's answer to a CIDR-restricted token used from
    /// another address (the CLI's `EAUTHIP`).
    pub fn ip_refused(message: impl Into<String>) -> SandboxError {
        SandboxError::unauthorized(message).with_header(header::WWW_AUTHENTICATE, "ipaddress")
    }

    /// Adds fields to the JSON body (e.g. `authUrl`/`doneUrl` of a web 2FA challenge).
    pub fn with_fields(mut self, fields: Value) -> SandboxError {
        self.extra = Some(fields);
        self
    }

    pub fn with_header(mut self, name: HeaderName, value: &str) -> SandboxError {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((name, v));
        }
        self
    }
}

impl std::fmt::Display for SandboxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for SandboxError {}

impl IntoResponse for SandboxError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": self.message, "message": self.message});
        if let (Some(Value::Object(extra)), Some(obj)) = (self.extra, body.as_object_mut()) {
            obj.extend(extra);
        }
        let mut resp = crate::http::json(self.status, &body);
        for (name, value) in self.headers {
            resp.headers_mut().append(name, value);
        }
        resp
    }
}
