//! `POST /-/sandbox/fail {"paths": ["/-/org/acme/user"]}`: from now on those exact paths
//! answer 500, until the next call replaces the list (`[]` heals them). One read broken on
//! purpose, to test what a client makes of it; `--fail-rate` breaks requests at random.

use serde::Deserialize;
use serde_json::json;

use crate::error::{Handled, SandboxError};
use crate::router::Ctx;
use crate::{http, limits};

#[derive(Deserialize)]
struct Fail {
    paths: Vec<String>,
}

pub fn set(c: &Ctx<'_>) -> Handled {
    let body: Fail = serde_json::from_slice(c.body).map_err(|e| {
        SandboxError::bad_request(format!("Expected {{\"paths\": [\"/path\", …]}}: {e}."))
    })?;
    if body.paths.len() > 100 {
        return Err(SandboxError::bad_request("At most 100 paths."));
    }
    for p in &body.paths {
        limits::text("path", p, limits::NAME)?;
    }
    let count = body.paths.len();
    c.app.runtime().fail_paths = body.paths;
    Ok(http::ok(&json!({"ok": true, "paths": count})))
}
