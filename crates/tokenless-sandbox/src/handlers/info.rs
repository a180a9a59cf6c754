//! `GET /-/sandbox/info`: the sandbox's own description (URLs, users and their secrets,
//! tokens, CircleCI ids, accepted audiences), for tests and the demo's narration.

use axum::http::StatusCode;

use crate::error::{Handled, SandboxError};
use crate::http;
use crate::info::snapshot;
use crate::router::Ctx;

pub fn handler(c: &Ctx<'_>) -> Handled {
    serde_json::to_value(snapshot(c.app))
        .map(|v| http::ok(&v))
        .map_err(|e| SandboxError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}
