//! One fixture per client × provider cell of `clients.rs`: a publish job that obtains an id
//! token and wires no stored token, publishing with each client on each provider.

use tokenless_ci::{Document, NoFiles, Provider, RuleId, lint};

fn github(node: &str, run: &str) -> String {
    format!(
        "on: push\npermissions:\n  id-token: write\n  contents: read\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - uses: actions/setup-node@v4\n        with:\n          node-version: {node}\n      - run: {run}\n"
    )
}

fn gitlab(node: &str, run: &str) -> String {
    format!(
        "publish:\n  image: node:{node}\n  id_tokens:\n    NPM_ID_TOKEN:\n      aud: \"npm:registry.npmjs.org\"\n  script:\n    - {run}\n  rules:\n    - if: $CI_COMMIT_BRANCH == \"main\"\n"
    )
}

fn circleci(node: &str, run: &str) -> String {
    format!(
        "version: 2.1\njobs:\n  publish:\n    docker:\n      - image: cimg/node:{node}\n    steps:\n      - checkout\n      - run:\n          command: |\n            NPM_ID_TOKEN=\"$(circleci run oidc get --claims '{{\"aud\":\"npm:registry.npmjs.org\"}}')\"\n            export NPM_ID_TOKEN\n            {run}\nworkflows:\n  release:\n    jobs:\n      - publish:\n          context: npm-publish\n"
    )
}

/// (rule, message) of the npm-too-old and token-fallback findings.
fn findings(provider: Provider, text: &str) -> Vec<(RuleId, String)> {
    let path = match provider {
        Provider::GitHub => ".github/workflows/publish.yml",
        Provider::GitLab => ".gitlab-ci.yml",
        Provider::CircleCi => ".circleci/config.yml",
    };
    let doc = Document {
        path,
        source: text,
        provider,
    };
    lint(doc, &NoFiles)
        .expect("lints")
        .into_iter()
        .filter(|f| matches!(f.rule, RuleId::NpmTooOld | RuleId::TokenFallback))
        .map(|f| (f.rule, f.message))
        .collect()
}

fn config(provider: Provider, node: &str, run: &str) -> String {
    match provider {
        Provider::GitHub => github(node, run),
        Provider::GitLab => gitlab(node, run),
        Provider::CircleCi => circleci(node, run),
    }
}

const PROVIDERS: [Provider; 3] = [Provider::GitHub, Provider::GitLab, Provider::CircleCi];

/// A Node release whose npm can exchange on every provider (24.16 ships npm 11.12.1).
const NEW: &str = "24.16";

#[test]
fn npm_and_yarn_berry_on_a_new_node_pass_everywhere() {
    for p in PROVIDERS {
        for run in ["npm publish", "yarn npm publish"] {
            let got = findings(p, &config(p, NEW, run));
            assert!(got.is_empty(), "{p:?} {run}: {got:?}");
        }
    }
}

#[test]
fn clients_without_trusted_publishing_are_named_on_every_provider() {
    for p in PROVIDERS {
        for (run, name) in [("bun publish", "bun"), ("yarn publish", "yarn classic")] {
            let got = findings(p, &config(p, NEW, run));
            assert!(
                got.iter().any(|(r, m)| *r == RuleId::NpmTooOld
                    && m.contains(name)
                    && m.contains("stored token")),
                "{p:?} {run}: {got:?}"
            );
        }
    }
}

#[test]
fn pnpm_is_judged_by_the_npm_it_runs_with_the_providers_floor() {
    for (p, floor) in [
        (Provider::GitHub, "11.5.1"),
        (Provider::GitLab, "11.5.1"),
        (Provider::CircleCi, "11.11.0"),
    ] {
        let got = findings(p, &config(p, "22.14", "pnpm publish"));
        assert!(
            got.iter().any(|(r, m)| *r == RuleId::NpmTooOld
                && m.contains("pnpm publishes through npm")
                && m.contains(floor)),
            "{p:?}: {got:?}"
        );
    }
}

#[test]
fn a_yarn_token_beside_an_id_token_says_yarn_prefers_the_token() {
    let text = "on: push\npermissions:\n  id-token: write\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    env:\n      YARN_NPM_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}\n    steps:\n      - uses: actions/setup-node@v4\n        with:\n          node-version: 24\n      - run: yarn npm publish\n";
    let got = findings(Provider::GitHub, text);
    assert!(
        got.iter().any(|(r, m)| *r == RuleId::TokenFallback
            && m.contains("yarn berry uses a configured token before it tries the exchange")),
        "{got:?}"
    );
}

#[test]
fn changesets_action_before_1_8_is_too_old_and_a_floating_v1_is_not() {
    let text = |version: &str| {
        format!(
            "on: push\npermissions:\n  id-token: write\njobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/setup-node@v4\n        with:\n          node-version: 24.16\n      - uses: changesets/action@{version}\n        with:\n          publish: npx changeset publish\n"
        )
    };
    let old = findings(Provider::GitHub, &text("v1.4.1"));
    assert!(
        old.iter()
            .any(|(r, m)| *r == RuleId::NpmTooOld && m.contains("changesets/action v1.4.1")),
        "{old:?}"
    );
    for ok in ["v1", "v1.8.0", "v1.9.2"] {
        let got = findings(Provider::GitHub, &text(ok));
        assert!(
            !got.iter().any(|(_, m)| m.contains("changesets/action")),
            "{ok}: {got:?}"
        );
    }
}
