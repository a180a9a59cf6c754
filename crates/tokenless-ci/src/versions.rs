//! Which npm a job runs: bundled npm per Node release line and image tag, and the lowest
//! version an `npm install -g npm@<range>` can install.
//!
//! Facts from `../shared/reference/circleci.md` §2.5 and `pitfalls.md` 9-10: Node 22 and
//! earlier ship npm 10 or older; Node 24 shipped npm 11.3.0 at 24.0, 11.5.1 from 24.5
//! and 11.12.1 at 24.15 (cimg/node:24.11.x is too old for CircleCI); Node 25+ ship npm 11.6+.

use std::cmp::Ordering;

/// A `major.minor.patch` version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

pub const NPM_MIN_CIRCLECI: Version = Version(11, 11, 0);
pub const NPM_MIN_OTHER: Version = Version(11, 5, 1);
pub const NODE_MIN: Version = Version(22, 14, 0);

/// What is known about a Node version written as `22`, `22.14`, `24.15.0`, `lts`...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeSpec {
    /// A release line, minor or patch; missing parts mean "the latest of that line".
    Known {
        major: u32,
        minor: Option<u32>,
        patch: Option<u32>,
    },
    /// `lts`, `current`, `latest`, `node`: moves; today a Node 24 or newer.
    Floating,
    Unknown,
}

/// Whether npm 11 runs on this Node (its engines: `^20.17.0 || >=22.9.0`); a floating or
/// unknown Node is given the benefit of the doubt.
pub fn runs_npm_11(node: NodeSpec) -> bool {
    match node {
        NodeSpec::Known { major, minor, .. } => match major {
            0..=19 | 21 => false,
            20 => minor.is_none_or(|m| m >= 17),
            22 => minor.is_none_or(|m| m >= 9),
            _ => true,
        },
        NodeSpec::Floating | NodeSpec::Unknown => true,
    }
}

pub fn parse_node(spec: &str) -> NodeSpec {
    let s = spec
        .trim()
        .trim_start_matches('v')
        .trim_start_matches('^')
        .trim_start_matches('~');
    let s = s.strip_suffix(".x").unwrap_or(s);
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "lts" | "lts/*" | "current" | "latest" | "node" | "lts-browsers" | "current-browsers"
    ) {
        return NodeSpec::Floating;
    }
    // Image variants: 22.14-browsers, 20.11.1-bullseye, 24-alpine.
    let core = s.split(['-', ' ']).next().unwrap_or("");
    let mut parts = core.split('.');
    let Some(major) = parts.next().and_then(|p| p.parse::<u32>().ok()) else {
        return NodeSpec::Unknown;
    };
    let minor = parts.next().and_then(|p| p.parse::<u32>().ok());
    let patch = parts.next().and_then(|p| p.parse::<u32>().ok());
    NodeSpec::Known {
        major,
        minor,
        patch,
    }
}

/// The npm bundled with a Node version (the lowest of the line when minor is unknown is
/// not used: an unpinned line resolves to its latest release).
pub fn bundled_npm(node: NodeSpec) -> Option<Version> {
    match node {
        NodeSpec::Floating => Some(Version(11, 12, 1)),
        NodeSpec::Unknown => None,
        NodeSpec::Known { major, minor, .. } => Some(match major {
            0..=13 => Version(6, 14, 0),
            14 | 15 => Version(6, 14, 18),
            16 | 17 => Version(8, 19, 4),
            18 | 19 => Version(10, 8, 2),
            20..=23 => Version(10, 9, 2),
            24 => match minor {
                None => Version(11, 12, 1),
                Some(m) if m >= 15 => Version(11, 12, 1),
                Some(m) if m >= 5 => Version(11, 6, 0),
                Some(_) => Version(11, 3, 0),
            },
            _ => Version(11, 12, 1),
        }),
    }
}

/// The Node version a spec resolves to, for the 22.14.0 policy floor (unpinned lines
/// resolve to their latest release, which is above the floor for 22).
pub fn node_version(node: NodeSpec) -> Option<Version> {
    match node {
        NodeSpec::Known {
            major,
            minor,
            patch,
        } => Some(match minor {
            None => Version(major, 99, 0),
            Some(m) => Version(major, m, patch.unwrap_or(99)),
        }),
        _ => None,
    }
}

/// The lowest npm version that `npm@<spec>` can install, or `None` when unknown
/// (a dist-tag other than `latest`/`next`, a variable...).
pub fn lowest_npm(spec: &str) -> Option<Version> {
    let s = spec.trim().trim_matches(['"', '\'']);
    match s {
        "" | "latest" | "next" | "*" | "x" => return Some(Version(11, 12, 1)),
        _ => {}
    }
    if s.starts_with("latest-") || s.starts_with("next-") {
        let major = s.split('-').nth(1)?.parse::<u32>().ok()?;
        return Some(Version(major, 0, 0));
    }
    // The first comparator of the first alternative bounds the lowest match.
    let first = s.split("||").next()?.trim();
    let first = first.split_whitespace().next()?;
    let (op, v) = if let Some(r) = first.strip_prefix(">=") {
        (">=", r)
    } else if let Some(r) = first.strip_prefix('>') {
        (">", r)
    } else if let Some(r) = first.strip_prefix('^') {
        ("^", r)
    } else if let Some(r) = first.strip_prefix('~') {
        ("~", r)
    } else if let Some(r) = first.strip_prefix('=') {
        ("=", r)
    } else if first.starts_with('<') {
        return Some(Version(0, 0, 0));
    } else {
        ("=", first)
    };
    let v = v.trim_start_matches('v');
    let mut it = v.split('.');
    let major = it.next()?.parse::<u32>().ok()?;
    let minor = it.next().and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
    let patch = it
        .next()
        .and_then(|p| p.split(['-', '+']).next())
        .and_then(|p| p.parse::<u32>().ok())
        .unwrap_or(0);
    let _ = op;
    Some(Version(major, minor, patch))
}

/// Node version from a container image reference, if it is a known Node image
/// (`cimg/node`, `circleci/node`, `node`, `library/node`, with registry prefixes).
pub fn node_of_image(image: &str) -> Option<NodeSpec> {
    let image = image.trim();
    let (repo, tag) = match image.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (image, "latest"),
    };
    let repo = repo.rsplit_once('@').map(|(r, _)| r).unwrap_or(repo);
    let name = repo
        .trim_start_matches("docker.io/")
        .trim_start_matches("library/");
    match name {
        "cimg/node" | "circleci/node" | "node" => Some(parse_node(tag)),
        _ => None,
    }
}

pub fn cmp(a: Version, b: Version) -> Ordering {
    a.cmp(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_map_to_npm() {
        let npm = |i: &str| node_of_image(i).and_then(bundled_npm);
        assert_eq!(npm("cimg/node:22.14"), Some(Version(10, 9, 2)));
        assert!(npm("cimg/node:24.11.0") < Some(NPM_MIN_CIRCLECI));
        assert_eq!(npm("cimg/node:24.15"), Some(Version(11, 12, 1)));
        assert!(npm("cimg/node:24.16") >= Some(NPM_MIN_CIRCLECI));
        assert!(npm("node:24") >= Some(NPM_MIN_OTHER));
        assert_eq!(npm("cibuilds/github:0.13.0"), None);
        assert!(npm("node:latest") >= Some(NPM_MIN_CIRCLECI));
    }

    #[test]
    fn npm_ranges_give_their_lowest_match() {
        assert_eq!(lowest_npm("latest"), Some(Version(11, 12, 1)));
        assert_eq!(lowest_npm("^11.11.0"), Some(Version(11, 11, 0)));
        assert_eq!(lowest_npm("11.12.1"), Some(Version(11, 12, 1)));
        assert_eq!(lowest_npm("11"), Some(Version(11, 0, 0)));
        assert_eq!(lowest_npm(">=11.5.1"), Some(Version(11, 5, 1)));
        assert_eq!(lowest_npm("6"), Some(Version(6, 0, 0)));
        assert_eq!(lowest_npm("$NPM"), None);
    }
}
