//! The audience the npm CLI asks for, computed exactly as npm does.
//!
//! npm (`lib/utils/oidc.js`) requests `` `npm:${new URL(registry).hostname}` ``: the WHATWG
//! URL hostname, so no scheme, no port, no path. `https://registry.npmjs.org/` gives
//! `npm:registry.npmjs.org`; `http://127.0.0.1:4873/` gives `npm:127.0.0.1`.

/// Why a registry URL has no audience.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AudienceError {
    /// The text is not an absolute URL.
    #[error("registry URL {url:?} is not a valid absolute URL: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The URL has no host (e.g. `file:///x`).
    #[error("registry URL {url:?} has no hostname")]
    NoHost { url: String },
}

/// `npm:` + the hostname of `registry_url`, as the npm CLI computes it.
pub fn audience_for_registry(registry_url: &str) -> Result<String, AudienceError> {
    let parsed = url::Url::parse(registry_url).map_err(|e| AudienceError::InvalidUrl {
        url: registry_url.to_owned(),
        reason: e.to_string(),
    })?;
    match parsed.host_str() {
        Some(host) if !host.is_empty() => Ok(audience_for_host(host)),
        _ => Err(AudienceError::NoHost {
            url: registry_url.to_owned(),
        }),
    }
}

/// `npm:` + `registry_host` (a bare hostname such as `registry.npmjs.org`).
pub fn audience_for_host(registry_host: &str) -> String {
    format!("npm:{registry_host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_registry() {
        assert_eq!(
            audience_for_registry("https://registry.npmjs.org/").as_deref(),
            Ok("npm:registry.npmjs.org")
        );
    }

    #[test]
    fn port_and_path_are_dropped() {
        assert_eq!(
            audience_for_registry("http://127.0.0.1:4873/").as_deref(),
            Ok("npm:127.0.0.1")
        );
        assert_eq!(
            audience_for_registry("https://H.example.com:8443/artifactory/api/npm/repo/")
                .as_deref(),
            Ok("npm:h.example.com")
        );
    }

    #[test]
    fn ipv6_keeps_brackets_like_whatwg_hostname() {
        assert_eq!(
            audience_for_registry("http://[::1]:4873/").as_deref(),
            Ok("npm:[::1]")
        );
    }

    #[test]
    fn not_a_url_is_an_error() {
        assert!(matches!(
            audience_for_registry("registry.npmjs.org"),
            Err(AudienceError::InvalidUrl { .. })
        ));
        assert!(matches!(
            audience_for_registry("file:///tmp/x"),
            Err(AudienceError::NoHost { .. })
        ));
    }
}
