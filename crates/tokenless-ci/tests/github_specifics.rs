//! GitHub specifics: `${{ env.X }}` resolved where the file gives the value, and a merged
//! pull request's `closed` run treated as trusted.

use tokenless_ci::{Document, NoFiles, Provider, RuleId, lint};

fn rules(text: &str) -> Vec<(RuleId, String)> {
    let doc = Document {
        path: ".github/workflows/release.yml",
        source: text,
        provider: Provider::GitHub,
    };
    lint(doc, &NoFiles)
        .expect("lints")
        .into_iter()
        .map(|f| (f.rule, f.message))
        .collect()
}

fn with_node(env_at: &str, node: &str) -> String {
    let (wf_env, job_env, step_env) = match env_at {
        "workflow" => (
            format!("env:\n  NODE: \"{node}\"\n"),
            String::new(),
            String::new(),
        ),
        "job" => (
            String::new(),
            format!("    env:\n      NODE: \"{node}\"\n"),
            String::new(),
        ),
        _ => (
            String::new(),
            String::new(),
            format!("        env:\n          NODE: \"{node}\"\n"),
        ),
    };
    format!(
        "on: push\n{wf_env}permissions:\n  id-token: write\njobs:\n  publish:\n    runs-on: ubuntu-latest\n{job_env}    steps:\n      - uses: actions/setup-node@v4\n{step_env}        with:\n          node-version: ${{{{ env.NODE }}}}\n      - run: npm publish\n"
    )
}

#[test]
fn a_node_version_given_through_env_is_read_at_every_level() {
    for level in ["workflow", "job", "step"] {
        let old = rules(&with_node(level, "22"));
        assert!(
            old.iter()
                .any(|(r, m)| *r == RuleId::NpmTooOld && m.contains("npm 10")),
            "{level}: {old:?}"
        );
        let new = rules(&with_node(level, "24.16"));
        assert!(
            !new.iter().any(|(r, _)| *r == RuleId::NpmTooOld),
            "{level}: {new:?}"
        );
    }
}

#[test]
fn a_repository_variable_stays_unknown() {
    let text = "on: push\npermissions:\n  id-token: write\njobs:\n  publish:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/setup-node@v4\n        with:\n          node-version: ${{ vars.NODE }}\n      - run: npm publish\n";
    let got = rules(text);
    assert!(
        got.iter()
            .any(|(r, m)| *r == RuleId::NpmTooOld && m.contains("tokenless")),
        "an unresolvable version is reported as unknown: {got:?}"
    );
}

fn closed(guard: &str) -> String {
    format!(
        "on:\n  pull_request:\n    types: [closed]\npermissions:\n  id-token: write\njobs:\n  release:\n{guard}    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/setup-node@v4\n        with:\n          node-version: 24.16\n      - run: npm publish\n"
    )
}

#[test]
fn a_merged_pull_requests_closed_run_is_not_an_untrusted_trigger() {
    for guard in [
        "    if: github.event.pull_request.merged == true\n",
        "    if: ${{ github.event.pull_request.merged }}\n",
    ] {
        let got = rules(&closed(guard));
        assert!(
            !got.iter()
                .any(|(r, _)| *r == RuleId::UntrustedTriggerPublish),
            "{guard}: {got:?}"
        );
    }
    for guard in [
        "",
        "    if: github.event.pull_request.merged == false\n",
        "    if: github.event.pull_request.merged == true || github.actor == 'x'\n",
    ] {
        let got = rules(&closed(guard));
        assert!(
            got.iter()
                .any(|(r, _)| *r == RuleId::UntrustedTriggerPublish),
            "{guard:?}: {got:?}"
        );
    }
}
