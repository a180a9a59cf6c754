//! The four renderers over one report with a pass, a fail and an unknown.

use super::{
    audit_json as render_json, audit_markdown as render_markdown, audit_text as render_text,
    sarif::audit as render_sarif,
};
use tokenless_org::audit::{
    Status,
    checks::fixtures::{clean, token},
    evaluate,
};

/// Run a snapshot assertion with the time of day the report was made in masked: the
/// release window ends now.
fn at_any_time(assert: impl FnOnce()) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "[time]");
    settings.bind(assert);
}

fn report() -> tokenless_org::audit::Report {
    let mut s = clean();
    s.token_accounts[0].tokens = Ok(vec![token("0123456789abcdef", "tmp-bulk-hardening", true)]);
    s.members_config = None;
    evaluate(&s)
}

#[test]
fn text_is_a_checklist_with_next_steps() {
    let text = anstream::adapter::strip_str(&render_text::render(&report(), false)).to_string();
    at_any_time(|| insta::assert_snapshot!(text));
}

#[test]
fn a_passing_box_shows_what_it_rests_on_and_verbose_shows_all() {
    let report = report();
    let short = anstream::adapter::strip_str(&render_text::render(&report, false)).to_string();
    let all = anstream::adapter::strip_str(&render_text::render(&report, true)).to_string();
    for check in report.checks.iter().filter(|c| c.status == Status::Pass) {
        let first = &check.evidence[0].detail;
        assert!(
            short.contains(first.as_str()),
            "{}: {first}\n{short}",
            check.id.as_str()
        );
        for e in &check.evidence {
            assert!(
                all.contains(e.detail.as_str()),
                "{}: {}",
                check.id.as_str(),
                e.detail
            );
        }
    }
    assert!(!all.contains("more (-v"), "{all}");
}

#[test]
fn json_has_the_documented_shape() {
    let json: serde_json::Value =
        serde_json::from_str(&render_json::render(&report())).expect("json");
    assert_eq!(json["version"], 1);
    assert_eq!(json["passed"], false);
    assert_eq!(json["checks"].as_array().map(Vec::len), Some(9));
    at_any_time(|| insta::assert_json_snapshot!(json));
}

#[test]
fn markdown_is_a_task_list() {
    at_any_time(|| insta::assert_snapshot!(render_markdown::render(&report())));
}

#[test]
fn sarif_has_one_result_per_evidence_of_each_open_box() {
    let sarif: serde_json::Value =
        serde_json::from_str(&render_sarif::render(&report())).expect("sarif");
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(
        sarif["runs"][0]["tool"]["driver"]["rules"]
            .as_array()
            .map(Vec::len),
        Some(9)
    );
    at_any_time(|| insta::assert_json_snapshot!(sarif));
}
