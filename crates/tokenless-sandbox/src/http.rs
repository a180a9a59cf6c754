//! Response and request helpers: JSON bodies, bearer and OTP headers, body parsing, query
//! strings, percent-decoding, and the dropped connection of `--fail-rate`.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::SandboxError;

/// A JSON response.
pub fn json(status: StatusCode, body: &Value) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub fn ok(body: &Value) -> Response {
    json(StatusCode::OK, body)
}

/// 201 with a JSON body.
pub fn created(body: &Value) -> Response {
    json(StatusCode::CREATED, body)
}

/// 204 with no body (GitHub's and GitLab's answer to a delete).
pub fn no_content() -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// 429 as registry.npmjs.org sends it: no `Retry-After`, the plain-text body
/// `rate limited exceeded`.
pub fn npm_rate_limited() -> Response {
    let mut r = Response::new(Body::from("rate limited exceeded"));
    *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Removes the items `matches` selects; whether there was any (deletes answer 404 if not).
pub fn remove_matching<T>(items: &mut Vec<T>, matches: impl Fn(&T) -> bool) -> bool {
    let before = items.len();
    items.retain(|item| !matches(item));
    items.len() != before
}

/// `{}`: the success body npm accepts for deletes and approvals.
pub fn empty_ok() -> Response {
    ok(&json!({}))
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// The `npm-otp` header.
pub fn otp(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("npm-otp")?
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Parses a JSON body, or answers 400 naming the line and column.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, SandboxError> {
    serde_json::from_slice(body).map_err(|e| {
        SandboxError::bad_request(format!(
            "malformed JSON body: line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })
}

/// The query-string value of `key` (percent-decoded).
pub fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k) == key).then(|| decode(&v.replace('+', " ")))
    })
}

/// Percent-decodes a path segment or query value (invalid UTF-8 becomes U+FFFD).
pub fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// A response whose body fails at once: hyper then closes the connection mid-response (the
/// "dropped connection" of `--fail-rate`).
pub fn dropped_connection() -> Response {
    Response::new(Body::new(FailingBody))
}

struct FailingBody;

impl http_body::Body for FailingBody {
    type Data = axum::body::Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected fault",
        ))))
    }
}
