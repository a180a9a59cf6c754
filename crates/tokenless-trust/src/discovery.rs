//! HTTP discovery of issuer keys (feature `discovery`): `<iss>/.well-known/openid-configuration`
//! → `jwks_uri` → the JWK set. Wrap [`HttpFetcher`] in a [`crate::CachingJwks`] for the
//! refresh policy.
//!
//! Production fetchers ([`HttpFetcher::https_only`]) refuse anything but `https://` for both
//! the discovery document and `jwks_uri`; [`HttpFetcher::allow_http`] is for a sandbox on
//! loopback. The discovery document's `issuer`, when present, must equal `iss`. Responses
//! are capped at [`crate::jwks::MAX_JWKS_BYTES`]; requests time out after 10 seconds.

use std::io::Read as _;
use std::time::Duration;

use serde_json::Value;

use crate::jwks::{JwksFetcher, MAX_JWKS_BYTES};
use crate::keys::KeySet;
use crate::strict_json;

/// Fetches key sets over HTTP(S) with a blocking client.
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    client: reqwest::blocking::Client,
    allow_http: bool,
}

impl HttpFetcher {
    /// A fetcher that only speaks `https://`.
    pub fn https_only() -> Result<HttpFetcher, String> {
        HttpFetcher::build(false)
    }

    /// A fetcher that also accepts `http://` (a local sandbox).
    pub fn allow_http() -> Result<HttpFetcher, String> {
        HttpFetcher::build(true)
    }

    fn build(allow_http: bool) -> Result<HttpFetcher, String> {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tokenless/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(HttpFetcher { client, allow_http })
    }

    fn check_scheme(&self, url: &str) -> Result<(), String> {
        if url.starts_with("https://") || (self.allow_http && url.starts_with("http://")) {
            Ok(())
        } else {
            Err(format!(
                "refusing to fetch {url:?}: only {} URLs are fetched",
                if self.allow_http { "http(s)" } else { "https" }
            ))
        }
    }

    /// GET `url`, at most [`MAX_JWKS_BYTES`], 200 only.
    pub fn get_bytes(&self, url: &str) -> Result<Vec<u8>, String> {
        self.check_scheme(url)?;
        let response = self
            .client
            .get(url)
            .send()
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(format!("GET {url}: HTTP {status}"));
        }
        let mut body = Vec::new();
        response
            .take(MAX_JWKS_BYTES as u64 + 1)
            .read_to_end(&mut body)
            .map_err(|e| format!("GET {url}: {e}"))?;
        if body.len() > MAX_JWKS_BYTES {
            return Err(format!("GET {url}: response over {MAX_JWKS_BYTES} bytes"));
        }
        Ok(body)
    }

    /// GET `url` as strict JSON.
    pub fn get_json(&self, url: &str) -> Result<Value, String> {
        let body = self.get_bytes(url)?;
        strict_json::parse(&body).map_err(|e| format!("GET {url}: not JSON: {e}"))
    }
}

impl JwksFetcher for HttpFetcher {
    fn fetch(&self, issuer: &str) -> Result<KeySet, String> {
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let doc = self.get_json(&discovery_url)?;
        if let Some(stated) = doc.get("issuer")
            && stated != issuer
        {
            return Err(format!(
                "{discovery_url}: issuer is {stated}, expected {issuer:?}"
            ));
        }
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{discovery_url}: no jwks_uri"))?;
        let body = self.get_bytes(jwks_uri)?;
        let keys = KeySet::from_jwks_json(&body).map_err(|e| format!("{jwks_uri}: {e}"))?;
        if keys.is_empty() {
            return Err(format!("{jwks_uri}: no usable RS256/ES256 key"));
        }
        Ok(keys)
    }
}
