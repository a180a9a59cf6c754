//! `GET /-/sandbox/info` of a tokenless sandbox: its endpoints and made-up credentials.
//! Generic over the type, so this crate does not depend on the sandbox's.

use serde::de::DeserializeOwned;

use crate::{
    ApiError, ClientOptions,
    http::{Http, Request},
};

/// Fetch and decode the sandbox's info document from its base URL.
pub async fn fetch_info<T: DeserializeOwned>(
    base: &str,
    options: ClientOptions,
) -> Result<T, ApiError> {
    let http = Http::new(base, options)?;
    let req = Request::get("-/sandbox/info");
    let reply = http.send(&req, None).await?;
    crate::npm::decode(&req, reply)
}
