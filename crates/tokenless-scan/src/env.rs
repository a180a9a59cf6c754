//! The process environment: the variables npm, yarn and setup-node read a token from
//! (`NPM_TOKEN`, `NODE_AUTH_TOKEN`, `YARN_NPM_AUTH_TOKEN`, `npm_config_//host/:_authToken`,
//! `npm_config__authToken`, `npm_config__auth`…), and any variable holding a token of a
//! known shape.

use crate::shape::{self, Kind};
use crate::{Credential, NPMJS};

/// Credentials in `vars` (name, value), shown as `env:NAME`.
pub fn credentials(vars: impl IntoIterator<Item = (String, String)>) -> Vec<Credential> {
    let mut out = Vec::new();
    for (name, value) in vars {
        let shown = format!("env:{name}");
        let lower = name.to_ascii_lowercase();
        let host = lower
            .strip_prefix("npm_config_//")
            .and_then(|rest| rest.rsplit_once(":_"))
            .and_then(|(url, _)| url.split('/').next().map(str::to_owned));
        let field = lower.rsplit_once(":_").map(|(_, f)| f.to_owned());
        let kind = match (lower.as_str(), field.as_deref()) {
            ("npm_config__auth", _) | (_, Some("auth")) => Some(Kind::BasicAuth),
            ("npm_config__password", _) | (_, Some("password")) => Some(Kind::Password),
            _ => None,
        };
        if let Some(kind) = kind {
            out.push(Credential::new(
                &shown,
                0,
                kind,
                host.or(Some(NPMJS.into())),
                &value,
            ));
            continue;
        }
        let named = matches!(
            lower.as_str(),
            "npm_token" | "node_auth_token" | "yarn_npm_auth_token" | "npm_config__authtoken"
        ) || field.as_deref() == Some("authtoken");
        let kind = if named {
            shape::of_value(&value)
        } else {
            shape::bare(&value)
                .next()
                .filter(|(_, t)| *t == value.trim())
                .map(|(k, _)| k)
        };
        let Some(kind) = kind else { continue };
        let registry = host.or_else(|| (kind == Kind::NpmToken).then(|| NPMJS.to_owned()));
        out.push(Credential::new(&shown, 0, kind, registry, value.trim()));
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NPM: &str = "npm_abcdefghijklmnopqrstuvwxyz0123456789";

    #[test]
    fn the_variables_npm_reads_and_token_shapes_elsewhere() {
        let vars = [
            ("NPM_TOKEN", NPM),
            (
                "npm_config_//npm.pkg.github.com/:_authToken",
                "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            ),
            ("NODE_AUTH_TOKEN", "${NPM_TOKEN}"),
            ("npm_config_cache", "/tmp/npm"),
            ("npm_package_version", "1.2.3"),
            ("SOME_OTHER", NPM),
            ("PATH", "/usr/bin"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
        let got: Vec<String> = credentials(vars).iter().map(|c| format!("{c:?}")).collect();
        assert_eq!(
            got,
            [
                "env:NODE_AUTH_TOKEN:0 reference - ${NPM_TOKEN}",
                "env:NPM_TOKEN:0 npm-token registry.npmjs.org npm_…6789",
                "env:SOME_OTHER:0 npm-token registry.npmjs.org npm_…6789",
                "env:npm_config_//npm.pkg.github.com/:_authToken:0 github-token npm.pkg.github.com ghp_…6789",
            ]
        );
    }
}
