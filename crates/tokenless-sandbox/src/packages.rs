//! Package names, tarballs and packuments: what `npm install` reads.

use std::io::Write as _;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::model::{Package, Publisher, Version};

/// Why a package name is refused (`validate-npm-package-name`'s rules for new names).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidName {
    #[error("package name must be between 1 and 214 characters")]
    Length,
    #[error(
        "package name {0:?} can only contain URL-friendly lower-case characters (a-z, 0-9, - . _)"
    )]
    Characters(String),
    #[error("package name {0:?} cannot start with a period or underscore")]
    Leading(String),
    #[error("package name {0:?} must be `name` or `@scope/name`")]
    Shape(String),
    #[error("package name {0:?} is not allowed (a blocked name)")]
    Blocked(String),
    #[error("package name {0:?} is a Node.js core module name")]
    CoreModule(String),
}

/// Names npm refuses outright.
const BLOCKED: &[&str] = &["node_modules", "favicon.ico"];

/// Node.js core modules: npm refuses them as (unscoped) package names.
const CORE_MODULES: &[&str] = &[
    "assert",
    "async_hooks",
    "buffer",
    "child_process",
    "cluster",
    "console",
    "constants",
    "crypto",
    "dgram",
    "diagnostics_channel",
    "dns",
    "domain",
    "events",
    "fs",
    "http",
    "http2",
    "https",
    "inspector",
    "module",
    "net",
    "os",
    "path",
    "perf_hooks",
    "process",
    "punycode",
    "querystring",
    "readline",
    "repl",
    "stream",
    "string_decoder",
    "sys",
    "timers",
    "tls",
    "trace_events",
    "tty",
    "url",
    "util",
    "v8",
    "vm",
    "wasi",
    "worker_threads",
    "zlib",
];

/// Lower-case letters, digits, `-`, `.` and `_`: what `encodeURIComponent` leaves alone,
/// less the upper case and the special characters (`~'!()*`) npm refuses in new names.
fn valid_part(part: &str) -> bool {
    !part.is_empty()
        && part.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_')
        })
}

/// Validates a (decoded) package name such as `@acme/web` or `left-pad`.
pub fn validate_name(name: &str) -> Result<(), InvalidName> {
    if name.is_empty() || name.len() > 214 {
        return Err(InvalidName::Length);
    }
    let (scope, bare) = match name.strip_prefix('@') {
        Some(rest) => match rest.split_once('/') {
            Some((s, n)) => (Some(s), n),
            None => return Err(InvalidName::Shape(name.to_owned())),
        },
        None => (None, name),
    };
    for part in scope.into_iter().chain([bare]) {
        if part.starts_with('.') || part.starts_with('_') {
            return Err(InvalidName::Leading(name.to_owned()));
        }
        if !valid_part(part) {
            return Err(InvalidName::Characters(name.to_owned()));
        }
    }
    if BLOCKED.contains(&bare) {
        return Err(InvalidName::Blocked(name.to_owned()));
    }
    if scope.is_none() && CORE_MODULES.contains(&bare) {
        return Err(InvalidName::CoreModule(name.to_owned()));
    }
    Ok(())
}

/// The name without its scope: `@acme/web` → `web`.
pub fn bare_name(name: &str) -> &str {
    name.rsplit_once('/').map_or(name, |(_, n)| n)
}

/// The tarball file name the registry serves: `web-1.0.0.tgz`.
pub fn tarball_file(name: &str, version: &str) -> String {
    format!("{}-{version}.tgz", bare_name(name))
}

/// A numeric identifier: `0` or no leading zero, at most 16 digits (JavaScript's safe range).
fn numeric(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 16
        && id.bytes().all(|b| b.is_ascii_digit())
        && (id == "0" || !id.starts_with('0'))
}

/// Dot-separated identifiers of `[0-9A-Za-z-]`, none empty; pre-release numeric ones without
/// leading zeros.
fn identifiers(s: &str, prerelease: bool) -> bool {
    s.split('.').all(|id| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && (!prerelease || !id.bytes().all(|b| b.is_ascii_digit()) || numeric(id))
    })
}

/// Whether `v` is a strict SemVer 2.0 version as npm's `semver` parses it (no `v` prefix, no
/// leading zeros, non-empty pre-release and build identifiers).
pub fn valid_version(v: &str) -> bool {
    if v.is_empty() || v.len() > 256 {
        return false;
    }
    let (rest, build) = match v.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (v, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.is_none_or(|p| identifiers(p, true))
        && build.is_none_or(|b| identifiers(b, false))
}

/// The version without build metadata: `1.0.0+build.5` and `1.0.0` are one version.
pub fn version_key(v: &str) -> &str {
    v.split_once('+').map_or(v, |(core, _)| core)
}

/// `(sha1 hex, "sha512-<base64>")` of a tarball.
pub fn digests(tarball: &[u8]) -> (String, String) {
    let sha1 = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, tarball);
    let sha512 = digest::digest(&digest::SHA512, tarball);
    let hex = sha1.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    (hex, format!("sha512-{}", STANDARD.encode(sha512.as_ref())))
}

/// A minimal installable tarball (`package/package.json`, `package/index.js`), gzip-compressed.
pub fn make_tarball(manifest: &Value) -> std::io::Result<Vec<u8>> {
    let pkg_json = serde_json::to_vec_pretty(manifest).map_err(std::io::Error::other)?;
    let index = b"module.exports = {};\n";
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (path, data) in [
        ("package/package.json", &pkg_json[..]),
        ("package/index.js", &index[..]),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(499_162_500); // npm's fixed mtime (1985-10-26)
        header.set_cksum();
        tar.append_data(&mut header, path, data)?;
    }
    let mut gz = tar.into_inner()?;
    gz.flush()?;
    gz.finish()
}

/// A version built by the sandbox itself (scenarios): the version and its tarball.
pub fn synthesize_version(
    name: &str,
    version: &str,
    published: u64,
    publisher: Publisher,
    repository: Option<&str>,
) -> std::io::Result<(Version, Vec<u8>)> {
    let mut manifest = json!({
        "name": name,
        "version": version,
        "description": format!("{name}, a sandbox package"),
        "main": "index.js",
        "license": "MIT",
    });
    if let (Some(url), Some(obj)) = (repository, manifest.as_object_mut()) {
        obj.insert("repository".into(), json!({"type": "git", "url": url}));
    }
    let tarball = make_tarball(&manifest)?;
    let (shasum, integrity) = digests(&tarball);
    Ok((
        Version {
            manifest,
            published,
            publisher,
            shasum,
            integrity,
        },
        tarball,
    ))
}

/// The packument (`GET /<pkg>`): versions with `dist` pointing at this registry.
pub fn packument(pkg: &Package, registry: &str) -> Value {
    let mut versions = Map::new();
    let mut time = Map::new();
    time.insert("created".into(), json!(crate::clock::rfc3339(pkg.created)));
    time.insert(
        "modified".into(),
        json!(crate::clock::rfc3339(pkg.modified)),
    );
    let mut maintainers: Vec<Value> = Vec::new();
    for (v, ver) in &pkg.versions {
        let mut m = match &ver.manifest {
            Value::Object(m) => m.clone(),
            _ => Map::new(),
        };
        m.insert("name".into(), json!(pkg.name));
        m.insert("version".into(), json!(v));
        m.insert("_id".into(), json!(format!("{}@{v}", pkg.name)));
        m.insert(
            "dist".into(),
            json!({
                "tarball": format!("{}{}/-/{}", registry, pkg.name, tarball_file(&pkg.name, v)),
                "shasum": ver.shasum,
                "integrity": ver.integrity,
            }),
        );
        let mut npm_user = json!({"name": ver.publisher.name, "email": ver.publisher.email});
        if let (Some(tp), Some(obj)) = (&ver.publisher.trusted_publisher, npm_user.as_object_mut())
        {
            obj.insert(
                "trustedPublisher".into(),
                json!({"id": tp.id, "oidcConfigId": tp.oidc_config_id}),
            );
        }
        if let (Some(by), Some(obj)) = (&ver.publisher.approved_by, npm_user.as_object_mut()) {
            obj.insert("approvedBy".into(), json!(by));
        }
        m.insert("_npmUser".into(), npm_user);
        m.remove("_attachments");
        versions.insert(v.clone(), Value::Object(m));
        time.insert(v.clone(), json!(crate::clock::rfc3339(ver.published)));
        let who = json!({"name": ver.publisher.name, "email": ver.publisher.email});
        if ver.publisher.trusted_publisher.is_none() && !maintainers.contains(&who) {
            maintainers.push(who);
        }
    }
    // Like npm, the document's `repository` is the latest version's.
    let repository = pkg
        .dist_tags
        .get("latest")
        .and_then(|v| pkg.versions.get(v))
        .and_then(|v| v.manifest.get("repository"))
        .cloned();
    let mut doc = json!({
        "_id": pkg.name,
        "_rev": pkg.rev_string(),
        "name": pkg.name,
        "dist-tags": pkg.dist_tags,
        "versions": versions,
        "time": time,
        "maintainers": maintainers,
    });
    if let (Some(r), Some(obj)) = (repository, doc.as_object_mut()) {
        obj.insert("repository".into(), r);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(validate_name("@acme/web"), Ok(()));
        assert_eq!(validate_name("left-pad"), Ok(()));
        for bad in [
            "",
            "@acme",
            "@acme/",
            "../etc/passwd",
            "@acme/../x",
            "Upper",
            "a b",
            "@a/b/c",
            "_x",
            ".x",
            "%2e%2e",
            "favicon.ico",
            "http",
            "node_modules",
            "a~b",
            "it's",
            "@acme/Web",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(validate_name(&"a".repeat(215)).is_err());
    }

    #[test]
    fn versions() {
        assert!(valid_version("1.0.0"));
        assert!(valid_version("1.0.0-beta.1+build.5"));
        assert!(valid_version("0.0.0-0"));
        assert!(!valid_version("1.0"));
        for bad in [
            "01.0.0",
            "1.00.0",
            "1.0.0-",
            "1.0.0-beta..1",
            "1.0.0-01",
            "1.0.0+",
            "v1.0.0",
            "1.0.0+a..b",
            "1.0.0 ",
        ] {
            assert!(!valid_version(bad), "{bad:?} must be refused");
        }
        assert_eq!(version_key("1.0.0+build.5"), "1.0.0");
        assert!(!valid_version("../1.0.0"));
        assert!(!valid_version("1.0.0/x"));
    }

    #[test]
    fn tarball_digests_match_its_bytes() {
        let v = synthesize_version(
            "@acme/web",
            "1.0.0",
            0,
            Publisher {
                name: "alice".into(),
                email: "a@x".into(),
                trusted_publisher: None,
                approved_by: None,
            },
            Some("git+https://github.com/acme/web.git"),
        );
        let (v, tarball) = v.unwrap_or_else(|e| panic!("tarball: {e}"));
        assert_eq!(digests(&tarball), (v.shasum.clone(), v.integrity.clone()));
        assert_eq!(v.shasum.len(), 40);
        assert!(v.integrity.starts_with("sha512-"));
        assert_eq!(tarball_file("@acme/web", "1.0.0"), "web-1.0.0.tgz");
    }
}
