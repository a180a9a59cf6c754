//! Which publishing client can do npm's trusted-publishing exchange on which CI provider,
//! from which version: one table, used by `npm-too-old` and `token-fallback` and printed in
//! docs/rules.md.
//!
//! Sources: `../shared/reference/pitfalls.md` §9 and §11b, and the clients' published
//! code, read from the npm registry (2026-11-30):
//! - yarn berry (`@yarnpkg/cli-dist`): the exchange (`oidc/token/exchange`) first appears in
//!   4.10.1 with GitHub only; `GITLAB_CI` → `NPM_ID_TOKEN` in 4.11.0; `CIRCLECI` →
//!   `NPM_ID_TOKEN` in 4.14.0. A configured `npmAuthToken`/`YARN_NPM_AUTH_TOKEN` is used
//!   before any exchange is tried.
//! - `@semantic-release/npm`: `lib/trusted-publishing/` first ships in 13.1.0 (GitHub and
//!   GitLab); CircleCI in 13.2.0. 12.x and 13.0.x have no exchange.
//! - pnpm: 10.x runs `npm publish` (npm's floor applies to the npm on PATH); 11.0.x broke that
//!   path (pnpm/pnpm#11566); from 11.1 pnpm exchanges itself, for GitHub and GitLab only.
//! - yarn classic and bun: no exchange at all.

use crate::provider::Provider;
use crate::publish::Client;
use crate::versions::Version;

/// What a client does about trusted publishing on one provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Oidc {
    /// The client exchanges the id token itself from `min` on.
    Native { tool: &'static str, min: Version },
    /// The client runs `npm publish`: npm's floor for the provider applies to the npm it
    /// runs.
    ThroughNpm,
    /// No exchange on this provider: the client always needs a stored token.
    None { why: &'static str },
}

const NPM_GITHUB_GITLAB: Version = Version(11, 5, 1);
const NPM_CIRCLECI: Version = Version(11, 11, 0);

/// The cell of the table for a client on a provider.
pub fn oidc(client: Client, provider: Provider) -> Oidc {
    use Provider::{CircleCi, GitHub, GitLab};
    match (client, provider) {
        (Client::Npm, CircleCi) => Oidc::Native {
            tool: "npm",
            min: NPM_CIRCLECI,
        },
        (Client::Npm, GitHub | GitLab) => Oidc::Native {
            tool: "npm",
            min: NPM_GITHUB_GITLAB,
        },
        (Client::YarnBerry, GitHub) => Oidc::Native {
            tool: "yarn",
            min: Version(4, 10, 1),
        },
        (Client::YarnBerry, GitLab) => Oidc::Native {
            tool: "yarn",
            min: Version(4, 11, 0),
        },
        (Client::YarnBerry, CircleCi) => Oidc::Native {
            tool: "yarn",
            min: Version(4, 14, 0),
        },
        (Client::YarnClassic, _) => Oidc::None {
            why: "yarn classic (`yarn publish`, yarn 1) has no trusted publishing",
        },
        (Client::Bun, _) => Oidc::None {
            why: "bun has no trusted publishing (oven-sh/bun#22423)",
        },
        // pnpm 10 runs npm; pnpm >= 11.1 exchanges itself on GitHub and GitLab. On CircleCI
        // only the npm path works, so the job needs pnpm 10 and npm >= 11.11.0.
        (Client::Pnpm, _) => Oidc::ThroughNpm,
        (Client::SemanticRelease, GitHub | GitLab) => Oidc::Native {
            tool: "@semantic-release/npm",
            min: Version(13, 1, 0),
        },
        (Client::SemanticRelease, CircleCi) => Oidc::Native {
            tool: "@semantic-release/npm",
            min: Version(13, 2, 0),
        },
        // changesets, lerna, nx release, release-it, np…: they run the package manager's
        // publish, so that client's row applies (npm's unless the job says otherwise).
        _ => Oidc::ThroughNpm,
    }
}

/// changesets/action uses trusted publishing (it leaves `NPM_TOKEN` out) from 1.8.0.
pub const CHANGESETS_ACTION_MIN: Version = Version(1, 8, 0);

/// A fully given version (`v1.4.1`, `1.8.0`); a floating `v1`, a branch or a commit SHA is
/// `None` (it resolves to whatever is current).
pub fn exact_version(reference: &str) -> Option<Version> {
    let parts: Vec<u32> = reference
        .trim()
        .trim_start_matches('v')
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [a, b, c] => Some(Version(*a, *b, *c)),
        [a, b] => Some(Version(*a, *b, 0)),
        _ => None,
    }
}

/// npm's floor on a provider.
pub fn npm_floor(provider: Provider) -> Version {
    match provider {
        Provider::CircleCi => NPM_CIRCLECI,
        Provider::GitHub | Provider::GitLab => NPM_GITHUB_GITLAB,
    }
}

/// How to get an npm new enough, said for the provider (no CircleCI image advice for a
/// GitHub or GitLab job).
pub fn npm_help(provider: Provider) -> &'static str {
    match provider {
        Provider::CircleCi => {
            "use an image with npm >= 11.11.0 (e.g. cimg/node:24.16) or run `npm install -g npm@^11.11.0` before publishing"
        }
        Provider::GitHub => {
            "use `actions/setup-node` with node-version 24 (npm 11.5.1 or newer from Node 24.5) or run `npm install -g npm@^11.5.1` before publishing"
        }
        Provider::GitLab => {
            "use the `node:24` image (npm 11.5.1 or newer from Node 24.5) or run `npm install -g npm@^11.5.1` before publishing"
        }
    }
}

/// The table as Markdown rows, for docs/rules.md (kept in sync by a test).
pub fn markdown_table() -> String {
    let clients = [
        (Client::Npm, "npm CLI"),
        (Client::YarnBerry, "yarn berry `yarn npm publish`"),
        (Client::YarnClassic, "yarn classic `yarn publish`"),
        (Client::Pnpm, "pnpm"),
        (Client::Bun, "bun"),
        (
            Client::SemanticRelease,
            "semantic-release (`@semantic-release/npm`)",
        ),
        (
            Client::Changesets,
            "changesets, lerna, nx release, release-it",
        ),
    ];
    let mut out =
        String::from("| client | GitHub Actions | GitLab CI/CD | CircleCI |\n|---|---|---|---|\n");
    for (client, label) in clients {
        let cell = |p: Provider| match oidc(client, p) {
            Oidc::Native { tool, min } => format!("{tool} >= {min}"),
            Oidc::ThroughNpm if client == Client::Pnpm => match p {
                Provider::CircleCi => "pnpm 10 running npm >= 11.11.0".to_owned(),
                _ => "pnpm 10 running npm >= 11.5.1, or pnpm >= 11.1".to_owned(),
            },
            Oidc::ThroughNpm => format!("through npm (>= {})", npm_floor(p)),
            Oidc::None { .. } => "none".to_owned(),
        };
        out.push_str(&format!(
            "| {label} | {} | {} | {} |\n",
            cell(Provider::GitHub),
            cell(Provider::GitLab),
            cell(Provider::CircleCi)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every cell of the table, as the sources above say.
    #[test]
    fn every_cell_of_the_table() {
        use Provider::{CircleCi, GitHub, GitLab};
        let native = |tool, v: (u32, u32, u32)| Oidc::Native {
            tool,
            min: Version(v.0, v.1, v.2),
        };
        let cells = [
            (Client::Npm, GitHub, native("npm", (11, 5, 1))),
            (Client::Npm, GitLab, native("npm", (11, 5, 1))),
            (Client::Npm, CircleCi, native("npm", (11, 11, 0))),
            (Client::YarnBerry, GitHub, native("yarn", (4, 10, 1))),
            (Client::YarnBerry, GitLab, native("yarn", (4, 11, 0))),
            (Client::YarnBerry, CircleCi, native("yarn", (4, 14, 0))),
            (
                Client::SemanticRelease,
                GitHub,
                native("@semantic-release/npm", (13, 1, 0)),
            ),
            (
                Client::SemanticRelease,
                GitLab,
                native("@semantic-release/npm", (13, 1, 0)),
            ),
            (
                Client::SemanticRelease,
                CircleCi,
                native("@semantic-release/npm", (13, 2, 0)),
            ),
            (Client::Pnpm, GitHub, Oidc::ThroughNpm),
            (Client::Pnpm, CircleCi, Oidc::ThroughNpm),
            (Client::Changesets, GitLab, Oidc::ThroughNpm),
            (Client::Lerna, CircleCi, Oidc::ThroughNpm),
        ];
        for (client, provider, want) in cells {
            assert_eq!(oidc(client, provider), want, "{client:?} on {provider:?}");
        }
        for p in [GitHub, GitLab, CircleCi] {
            assert!(matches!(oidc(Client::Bun, p), Oidc::None { .. }));
            assert!(matches!(oidc(Client::YarnClassic, p), Oidc::None { .. }));
        }
    }

    #[test]
    fn only_exact_versions_are_compared() {
        assert_eq!(exact_version("v1.4.1"), Some(Version(1, 4, 1)));
        assert_eq!(exact_version("1.8"), Some(Version(1, 8, 0)));
        assert_eq!(exact_version("v1"), None);
        assert_eq!(exact_version("main"), None);
        assert_eq!(
            exact_version("0123456789abcdef0123456789abcdef01234567"),
            None
        );
    }

    #[test]
    fn help_is_said_for_the_provider() {
        assert!(npm_help(Provider::CircleCi).contains("cimg"));
        assert!(!npm_help(Provider::GitHub).contains("cimg"));
        assert!(!npm_help(Provider::GitLab).contains("cimg"));
    }

    #[test]
    fn docs_rules_md_carries_the_table() {
        let docs = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/rules.md"),
        )
        .expect("docs/rules.md");
        assert!(
            docs.contains(&markdown_table()),
            "docs/rules.md is missing the current table:\n{}",
            markdown_table()
        );
    }
}
