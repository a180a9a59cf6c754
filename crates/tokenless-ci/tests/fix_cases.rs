//! Whole-file expected outputs of `fix` for representative configs (tests/fix_cases/):
//! each snapshot is the fixed file, then what the fix says it did and what it left.

use std::path::Path;

use tokenless_ci::fix::{self, Options};
use tokenless_ci::{Document, NoFiles, Provider};

fn fixed(name: &str, opts: &Options) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fix_cases")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("case file");
    let provider = match name.split('-').next() {
        Some("circleci") => Provider::CircleCi,
        Some("github") => Provider::GitHub,
        _ => Provider::GitLab,
    };
    let doc = Document {
        path: name,
        source: &text,
        provider,
    };
    let result = fix::fix_file(doc, &NoFiles, false, opts).expect("fixable input");
    let mut out = result.text.clone();
    out.push_str("\n# ---- what fix says\n");
    for f in &result.applied {
        for c in &f.changes {
            out.push_str(&format!("# - {c}\n"));
        }
        for n in &f.notes {
            out.push_str(&format!("# note: {n}\n"));
        }
    }
    for r in &result.remaining {
        out.push_str(&format!("# left: [{}] {}\n", r.rule, r.message));
    }
    for r in &result.refusals {
        out.push_str(&format!("# refused: job `{}`: {}\n", r.job, r.reason));
    }
    // Fixing again changes nothing.
    let again = fix::fix_file(
        Document {
            source: &result.text,
            ..doc
        },
        &NoFiles,
        false,
        opts,
    )
    .expect("fixed output reads again");
    assert_eq!(
        again.text, result.text,
        "{name}: a second fix changed the file"
    );
    out
}

macro_rules! case {
    ($test:ident, $file:literal) => {
        case!($test, $file, Options::default());
    };
    ($test:ident, $file:literal, $opts:expr) => {
        #[test]
        fn $test() {
            insta::assert_snapshot!(stringify!($test), fixed($file, &$opts));
        }
    };
}

case!(circleci_npmrc_step, "circleci-npmrc-step.yml");
case!(
    circleci_token_in_publish_step,
    "circleci-token-in-publish-step.yml"
);
case!(circleci_masked_mint, "circleci-masked-mint.yml");
case!(circleci_jwt_in_npm_token, "circleci-jwt-in-npm-token.yml");
case!(circleci_orb_publish, "circleci-orb-publish.yml");
case!(
    circleci_staged,
    "circleci-npmrc-step.yml",
    Options {
        stage: true,
        context: "release".into(),
        ..Options::default()
    }
);
case!(github_setup_node_token, "github-setup-node-token.yml");
case!(
    github_setup_node_token_environment,
    "github-setup-node-token.yml",
    Options {
        environment: Some("npm".into()),
        ..Options::default()
    }
);
case!(
    github_workflow_permissions,
    "github-workflow-permissions.yml"
);
case!(github_semantic_release, "github-semantic-release.yml");
case!(
    github_publish_action_token,
    "github-publish-action-token.yml"
);
case!(github_bun_publish, "github-bun-publish.yml");
case!(gitlab_npmrc, "gitlab-npmrc.yml");
case!(gitlab_wrong_audience, "gitlab-wrong-audience.yml");
