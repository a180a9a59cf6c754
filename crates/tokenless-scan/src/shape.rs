//! What a credential value is, by its shape. npm's granular and automation tokens are
//! `npm_` and 36 letters and digits (the last six a checksum: a hint, not a filter); older
//! tokens are UUIDs; GitHub and GitLab tokens have their own prefixes. A `${VAR}` is a
//! reference to a secret kept elsewhere, not a secret.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `npm_` + 36 characters.
    NpmToken,
    /// A UUID-style `_authToken` (npm's tokens before 2021).
    LegacyToken,
    /// An `_authToken` of no known shape (another registry's, or a mangled one).
    AuthToken,
    /// `_auth`: base64 of `user:password`.
    BasicAuth,
    /// `_password`: base64 of the password.
    Password,
    /// `ghp_…`, `github_pat_…` (GitHub Packages' registry takes them).
    GithubToken,
    /// `glpat-…` (GitLab's package registry).
    GitlabToken,
    /// `${NPM_TOKEN}`: where a secret is read from, not the secret.
    Reference,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NpmToken => "npm-token",
            Kind::LegacyToken => "legacy-token",
            Kind::AuthToken => "auth-token",
            Kind::BasicAuth => "basic-auth",
            Kind::Password => "password",
            Kind::GithubToken => "github-token",
            Kind::GitlabToken => "gitlab-token",
            Kind::Reference => "reference",
        }
    }
}

/// Tokens recognised by shape alone, anywhere in text.
static BARE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:^|[^A-Za-z0-9_])(",
        r"npm_[A-Za-z0-9]{36}",
        r"|gh[pousr]_[A-Za-z0-9]{36}",
        r"|github_pat_[A-Za-z0-9_]{82}",
        r"|glpat-[A-Za-z0-9_-]{20,}",
        r")(?:$|[^A-Za-z0-9_])"
    ))
    .expect("static regex")
});
static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
        .expect("static regex")
});
/// An expansion: `$NAME`, `${…}` (shell, yarn, GitHub expressions, JavaScript templates),
/// `$1`, `$@`, `%NAME%`; possibly with text after it (`${X}\n…` in a template string).
static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\$(\{[^}\s]+\}|[A-Za-z_][A-Za-z0-9_]*|[0-9@*#?])|%[A-Za-z_][A-Za-z0-9_]*%)")
        .expect("static regex")
});

/// The shape of a value read from a place that holds a credential (`_authToken=`,
/// `npmAuthToken:`, `NPM_TOKEN=`). `None` for an empty value.
pub fn of_value(value: &str) -> Option<Kind> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    // `$(cat ~/.token)`, `` `pass npm` ``: read from elsewhere at run time.
    if REFERENCE.is_match(v) || v.starts_with("$(") || v.starts_with('`') {
        return Some(Kind::Reference);
    }
    if let Some((kind, whole)) = bare(v).next()
        && whole == v
    {
        return Some(kind);
    }
    if UUID.is_match(v) {
        return Some(Kind::LegacyToken);
    }
    Some(Kind::AuthToken)
}

/// Tokens of a known shape in any text: (kind, the token).
pub fn bare(text: &str) -> impl Iterator<Item = (Kind, &str)> {
    BARE.captures_iter(text).filter_map(|c| {
        let m = c.get(1)?;
        let t = m.as_str();
        let kind = if t.starts_with("npm_") {
            Kind::NpmToken
        } else if t.starts_with("glpat-") {
            Kind::GitlabToken
        } else {
            Kind::GithubToken
        };
        Some((kind, t))
    })
}

/// Strip one pair of matching quotes.
pub fn unquote(v: &str) -> &str {
    let v = v.trim();
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return &v[1..v.len() - 1];
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const NPM: &str = "npm_abcdefghijklmnopqrstuvwxyz0123456789";

    #[test]
    fn values_are_told_apart_by_shape() {
        assert_eq!(of_value(NPM), Some(Kind::NpmToken));
        assert_eq!(
            of_value("1b2c3d4e-aaaa-bbbb-cccc-0123456789ab"),
            Some(Kind::LegacyToken)
        );
        assert_eq!(of_value("${NPM_TOKEN}"), Some(Kind::Reference));
        assert_eq!(of_value("$NODE_AUTH_TOKEN"), Some(Kind::Reference));
        assert_eq!(of_value("${NPM_TOKEN:-x}"), Some(Kind::Reference));
        assert_eq!(of_value("$(cat"), Some(Kind::Reference));
        assert_eq!(of_value("$1"), Some(Kind::Reference));
        assert_eq!(of_value("${secrets.NPM_TOKEN}"), Some(Kind::Reference));
        assert_eq!(
            of_value("${process.env.NPM_TOKEN}registry=x"),
            Some(Kind::Reference)
        );
        assert_eq!(of_value("something-else"), Some(Kind::AuthToken));
        assert_eq!(of_value("  "), None);
        assert_eq!(
            of_value("ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
            Some(Kind::GithubToken)
        );
    }

    #[test]
    fn bare_tokens_need_their_whole_shape_and_a_boundary() {
        let line = format!("export NPM_TOKEN={NPM} # x");
        let found: Vec<_> = bare(&line).collect();
        assert_eq!(found, vec![(Kind::NpmToken, NPM)]);
        // Too short, too long, or part of an identifier: not a token.
        assert_eq!(bare("npm_config_cache=/tmp").count(), 0);
        assert_eq!(bare(&format!("{NPM}x")).count(), 0);
        assert_eq!(bare(&format!("x{NPM}")).count(), 0);
        assert_eq!(bare("npm_package_version npm_lifecycle_event").count(), 0);
        assert_eq!(
            bare("glpat-abcdefghij0123456789").next().map(|t| t.0),
            Some(Kind::GitlabToken)
        );
    }

    #[test]
    fn quotes_come_off_once() {
        assert_eq!(unquote("\"a\""), "a");
        assert_eq!(unquote("'a'"), "a");
        assert_eq!(unquote("\"a"), "\"a");
    }
}
