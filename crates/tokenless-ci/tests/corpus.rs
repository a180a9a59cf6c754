//! Findings expected on the real public configs in `../shared/corpus/`, file by file.
//! Each expectation was decided by reading the file: which job publishes, with what
//! credential, guarded how.

use std::path::{Path, PathBuf};

use tokenless_ci::{Document, NoFiles, Provider, lint};

fn corpus_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("TOKENLESS_REQUIRE_CORPUS").as_deref() == Ok("1") {
        panic!("TOKENLESS_REQUIRE_CORPUS=1 but {} is absent", dir.display());
    }
    eprintln!("skipping corpus test: {} is absent", dir.display());
    None
}

/// (file under corpus/, expected (line, rule id) pairs in source order)
const EXPECTED: &[(&str, &[(usize, &str)])] = &[
    // semantic-release with a context that holds the npm token, no id token.
    (
        "circleci/cypress-io__eslint-plugin-cypress__config.yml",
        &[(32, "static-token-publish"), (165, "oidc-token-missing")],
    ),
    // Publishes through Google's wombat-dressing-room proxy, not registry.npmjs.org: nothing to say.
    ("circleci/googleapis__cloud-trace-nodejs__config.yml", &[]),
    // .npmrc written from NPM_TOKEN; tag-only filters and a context.
    (
        "circleci/honeycombio__libhoney-js__config.yml",
        &[(119, "static-token-publish"), (122, "oidc-token-missing")],
    ),
    // Reusable command `release` writes the token and runs `yarn publish`; the workflow
    // entries are approvals, so no workflow rule applies.
    (
        "circleci/phenyl__phenyl__config.yml",
        &[(46, "static-token-publish"), (59, "oidc-token-missing")],
    ),
    // setup_npm_user writes the token; `release` runs semantic-release with it.
    (
        "circleci/snyk__snyk-docker-plugin__config.yml",
        // 198: `build_cli` writes an npmjs token to ../.npmrc with no publish in sight
        // (issue 8: a token written for registry.npmjs.org is there to be used).
        &[
            (66, "static-token-publish"),
            (198, "static-token-publish"),
            (223, "oidc-token-missing"),
        ],
    ),
    // Token publish, no context, branch filter only.
    (
        "circleci/usds__us-forms-system__config.yml",
        &[
            (31, "static-token-publish"),
            (32, "oidc-token-missing"),
            (39, "branch-filter-only"),
        ],
    ),
    // changesets/action with NPM_TOKEN; id-token is there for provenance and the Node
    // comes from a local setup action, so npm may also try the exchange.
    (
        "github/changesets__changesets__changeset-version.yml",
        &[(35, "token-fallback")],
    ),
    // The migrated workflow: id-token on the publish job only, Node 24, push only.
    ("github/changesets__changesets__publish.oidc.yml", &[]),
    // npm upgraded, no token; but semantic-release 19 cannot do trusted publishing.
    (
        "github/eslint-community__eslint-utils__ci.oidc.yml",
        &[(150, "npm-too-old")],
    ),
    // NPM_TOKEN secret; Node 22 ships npm 10, so id-token: write does nothing for npm.
    (
        "github/eslint-community__eslint-utils__ci.yml",
        &[(159, "static-token-publish")],
    ),
    (
        "gitlab/andrelmlins__ci-npm-publish__gitlab.yml",
        &[(23, "static-token-publish"), (24, "oidc-token-missing")],
    ),
    // CircleCI's example: `export NPM_ID_TOKEN=$(…)` masks a failed fetch; the second
    // workflow runs the publish job on every branch but main (only the context stops it).
    (
        "history/CircleCI-Public__sign-and-publish-examples__9b9f8384__npm-publish.yml",
        &[
            (25, "oidc-token-unguarded"),
            (51, "untrusted-trigger-publish"),
        ],
    ),
    // Plain assignment under CircleCI's default `bash -eo pipefail`, npm upgraded, but
    // the release job has no context and no filters (API-triggered, behind an approval).
    (
        "history/cksource__mrgit__d708aaf4__oidc.config.yml",
        &[
            (265, "branch-filter-only"),
            (265, "untrusted-trigger-publish"),
        ],
    ),
    (
        "history/ethereum-optimism__ecosystem__968bc18a__legacy-npm-token.config.yml",
        &[(76, "static-token-publish"), (88, "oidc-token-missing")],
    ),
    // The fixed config: guarded mint, npm 11.12.1, `NPM_TOKEN: nada` placeholders, context.
    // Only an informational note: one token for a changesets monorepo publish.
    (
        "history/ethereum-optimism__ecosystem__cedd1959__pr1000-fixed.config.yml",
        &[(86, "oidc-token-reused")],
    ),
    (
        "history/snyk__snyk-docker-plugin__e007575a__oidc-semantic-release.config.yml",
        // 66: the `setup_npm_user` command writes an npmjs token for the test jobs that
        // use it, none of which publishes (issue 8: reported at medium severity).
        &[(66, "static-token-publish"), (235, "oidc-token-unguarded")],
    ),
];

fn provider_of(file: &str) -> Provider {
    if file.starts_with("github/") {
        Provider::GitHub
    } else if file.starts_with("gitlab/") {
        Provider::GitLab
    } else {
        Provider::CircleCi
    }
}

#[test]
fn corpus_findings_match_expectations() {
    let Some(dir) = corpus_dir() else { return };
    let mut failures = Vec::new();
    for (file, expected) in EXPECTED {
        let path = dir.join(file);
        let src =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let findings = lint(
            Document {
                path: file,
                source: &src,
                provider: provider_of(file),
            },
            &NoFiles,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<(usize, &str)> = findings
            .iter()
            .map(|f| {
                (
                    src[..f.span.start].matches('\n').count() + 1,
                    f.rule.as_str(),
                )
            })
            .collect();
        if got != expected.to_vec() {
            failures.push(format!(
                "{file}\n  expected {expected:?}\n  got      {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_corpus_file_has_expectations() {
    let Some(dir) = corpus_dir() else { return };
    for sub in ["circleci", "github", "gitlab", "history"] {
        for entry in std::fs::read_dir(dir.join(sub)).expect("corpus folder") {
            let name = format!(
                "{sub}/{}",
                entry.expect("entry").file_name().to_string_lossy()
            );
            assert!(
                EXPECTED.iter().any(|(f, _)| *f == name),
                "no expectations for {name}"
            );
        }
    }
}
