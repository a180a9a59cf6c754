//! Package names, tarballs and packuments: what `npm install` reads.

use std::io::Write as _;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::model::{Package, Publisher, Version};

/// Why a package name is refused (npm's `validate-npm-package-name` rules for new names).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidName {
    #[error("package name must be between 1 and 214 characters")]
    Length,
    #[error("package name {0:?} can only contain URL-friendly lower-case characters")]
    Characters(String),
    #[error("package name {0:?} cannot start with a period or underscore")]
    Leading(String),
    #[error("package name {0:?} must be `name` or `@scope/name`")]
    Shape(String),
}

fn valid_part(part: &str) -> bool {
    !part.is_empty()
        && part.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_' | b'~')
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
        if !valid_part(part) {
            return Err(InvalidName::Characters(name.to_owned()));
        }
        if part.starts_with('.') || part.starts_with('_') || part == "node_modules" {
            return Err(InvalidName::Leading(name.to_owned()));
        }
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

/// Whether `v` looks like a semver version (`1.2.3`, with optional pre-release/build).
pub fn valid_version(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 16 && p.bytes().all(|b| b.is_ascii_digit()))
        && v.len() <= 256
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'))
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

/// A version built by the sandbox itself (scenarios): manifest, tarball and digests.
pub fn synthesize_version(
    name: &str,
    version: &str,
    published: u64,
    publisher: Publisher,
) -> std::io::Result<Version> {
    let manifest = json!({
        "name": name,
        "version": version,
        "description": format!("{name}, a sandbox package"),
        "main": "index.js",
        "license": "MIT",
    });
    let tarball = make_tarball(&manifest)?;
    let (shasum, integrity) = digests(&tarball);
    Ok(Version {
        manifest,
        published,
        publisher,
        tarball,
        shasum,
        integrity,
    })
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
        m.insert("_npmUser".into(), npm_user);
        m.remove("_attachments");
        versions.insert(v.clone(), Value::Object(m));
        time.insert(v.clone(), json!(crate::clock::rfc3339(ver.published)));
        let who = json!({"name": ver.publisher.name, "email": ver.publisher.email});
        if ver.publisher.trusted_publisher.is_none() && !maintainers.contains(&who) {
            maintainers.push(who);
        }
    }
    json!({
        "_id": pkg.name,
        "name": pkg.name,
        "dist-tags": pkg.dist_tags,
        "versions": versions,
        "time": time,
        "maintainers": maintainers,
    })
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
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?} must be refused");
        }
        assert!(validate_name(&"a".repeat(215)).is_err());
    }

    #[test]
    fn versions() {
        assert!(valid_version("1.0.0"));
        assert!(valid_version("1.0.0-beta.1+build.5"));
        assert!(!valid_version("1.0"));
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
            },
        );
        let v = v.unwrap_or_else(|e| panic!("tarball: {e}"));
        assert_eq!(digests(&v.tarball), (v.shasum.clone(), v.integrity.clone()));
        assert_eq!(v.shasum.len(), 40);
        assert!(v.integrity.starts_with("sha512-"));
        assert_eq!(tarball_file("@acme/web", "1.0.0"), "web-1.0.0.tgz");
    }
}
