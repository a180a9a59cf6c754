//! Each check over a clean snapshot with one thing broken at a time.

use std::collections::BTreeMap;

use super::{fixtures::*, run_all};
use crate::audit::{
    record::{Record, TempTokenRecord},
    report::{CheckId, Status},
    snapshot::{AccountTokens, Snapshot},
};

fn statuses(s: &Snapshot) -> BTreeMap<CheckId, Status> {
    run_all(s).into_iter().map(|c| (c.id, c.status)).collect()
}

/// Checks that do not pass.
fn not_passing(s: &Snapshot) -> Vec<(CheckId, Status)> {
    statuses(s)
        .into_iter()
        .filter(|(_, st)| *st != Status::Pass)
        .collect()
}

fn evidence(s: &Snapshot, id: CheckId) -> String {
    let r = super::run(id, s);
    r.evidence
        .iter()
        .map(|e| format!("{} | {}\n", e.source, e.detail))
        .collect()
}

#[test]
fn a_clean_org_passes() {
    assert_eq!(not_passing(&clean()), vec![]);
}

#[test]
fn a_granular_token_fails_no_static_tokens_only() {
    let mut s = clean();
    s.token_accounts[1].tokens = Ok(vec![token("k-bob-1", "laptop", false)]);
    assert_eq!(
        not_passing(&s),
        vec![(CheckId::NoStaticTokens, Status::Fail)]
    );
    assert!(evidence(&s, CheckId::NoStaticTokens).contains("bob holds token `laptop`"));
}

#[test]
fn the_audits_own_token_is_excluded_and_named() {
    let mut s = clean();
    s.own_credential.key = Some("k-own".into());
    s.token_accounts[0].tokens = Ok(vec![token("k-own", "audit", false)]);
    assert_eq!(not_passing(&s), vec![]);
    assert!(evidence(&s, CheckId::NoStaticTokens).contains("excluded from the findings"));
}

#[test]
fn a_leftover_bypass_token_fails_two_boxes() {
    let mut s = clean();
    s.token_accounts[0].tokens = Ok(vec![token("k-tmp", "tmp-bulk-hardening", true)]);
    assert_eq!(
        not_passing(&s),
        vec![
            (CheckId::NoStaticTokens, Status::Fail),
            (CheckId::TempTokenDeleted, Status::Fail)
        ]
    );
}

#[test]
fn a_token_tokenless_recorded_as_temporary_fails_temp_token_deleted() {
    let mut s = clean();
    s.token_accounts[0].tokens = Ok(vec![token("k-rec", "ordinary", false)]);
    s.record.temporary_tokens.push(TempTokenRecord {
        key: "k-rec".into(),
        operation: Some("apply".into()),
        created_at: None,
    });
    assert!(evidence(&s, CheckId::TempTokenDeleted).contains("created by tokenless for apply"));
}

#[test]
fn members_whose_tokens_cannot_be_listed_make_it_unknown() {
    let mut s = clean();
    s.token_accounts.truncate(1);
    s.unlisted_accounts = vec!["bob".into()];
    // bob, a developer, cannot have made a bulk change: only no-static-tokens waits for him.
    assert_eq!(
        not_passing(&s),
        vec![(CheckId::NoStaticTokens, Status::Unknown)]
    );
    assert!(
        evidence(&s, CheckId::NoStaticTokens)
            .contains("bob runs `tokenless tokens attest --scope @acme")
    );
    assert!(
        evidence(&s, CheckId::TempTokenDeleted)
            .contains("on alice (bulk changes take an owner's or admin's rights: alice)")
    );

    // An owner not listed, or an account the record says made changes, leaves it open.
    for (who, role) in [("carol", "owner"), ("dave", "developer")] {
        let mut s = clean();
        s.token_accounts.truncate(1);
        if let Ok(m) = &mut s.members {
            m.insert(who.into(), role.into());
        }
        if role == "developer" {
            s.record.changes[0].by = Some(who.into());
        }
        s.unlisted_accounts = vec!["bob".into(), who.into()];
        assert_eq!(
            statuses(&s)[&CheckId::TempTokenDeleted],
            Status::Unknown,
            "{who}"
        );
        assert!(
            evidence(&s, CheckId::TempTokenDeleted)
                .contains(&format!("{who}: the registry lists only"))
        );
    }
}

#[test]
fn publishing_access_comes_from_the_record_only_where_it_agrees_with_the_registry() {
    let s = clean();
    let e = evidence(&s, CheckId::DisallowTokens);
    assert!(e.contains("2 of 2 packages"), "{e}");
    assert!(e.contains("@acme/a: mfa=publish acknowledged by the registry at 2026-11-01T10:00:00Z (apply as alice)"), "{e}");
    assert!(
        e.contains("no canary with publishing access was recorded"),
        "{e}"
    );

    // No record: unknown, with the settings pages to look at.
    let mut s = clean();
    s.record = Record::default();
    assert_eq!(
        not_passing(&s),
        vec![(CheckId::DisallowTokens, Status::Unknown)]
    );
    let e = evidence(&s, CheckId::DisallowTokens);
    assert!(e.contains("http://registry/package/@acme/a/access"), "{e}");
    assert!(e.contains("tokenless apply"), "{e}");

    // A record that does not hold up against the registry or itself is not used.
    type Break = fn(&mut Record);
    let cases: [(&str, Break); 5] = [
        ("written for @other", |r| r.scope = Some("@other".into())),
        ("not a member of the org now", |r| {
            r.changes[0].by = Some("mallory".into())
        }),
        ("is a developer of the org", |r| {
            r.changes[0].by = Some("bob".into())
        }),
        ("names no account", |r| r.changes[0].by = None),
        ("is not a past time", |r| {
            r.changes[0].at = "2999-01-01T00:00:00Z".into()
        }),
    ];
    for (why, break_it) in cases {
        let mut s = clean();
        break_it(&mut s.record);
        assert_eq!(
            not_passing(&s),
            vec![(CheckId::DisallowTokens, Status::Unknown)],
            "{why}"
        );
        let e = evidence(&s, CheckId::DisallowTokens);
        assert!(e.contains(why), "{why}: {e}");
    }

    // The members could not be read: the maker cannot be confirmed.
    let mut s = clean();
    s.members = Err("503".into());
    assert!(evidence(&s, CheckId::DisallowTokens).contains("could not be read to confirm alice"));
}

#[test]
fn a_package_without_trust_fails_trusted_publisher_alone() {
    let mut s = clean();
    if let Ok(p) = &mut s.packages {
        p[0].trust = Ok(vec![]);
        p[0].releases = None;
    }
    let st = statuses(&s);
    assert_eq!(
        not_passing(&s),
        vec![(CheckId::TrustedPublisher, Status::Fail)]
    );
    assert_ne!(st[&CheckId::ContextBound], Status::Fail);
    assert!(evidence(&s, CheckId::TrustedPublisher).contains("@acme/a has no trusted publisher"));
}

#[test]
fn no_trusted_publisher_anywhere_fails_context_and_release() {
    let mut s = clean();
    if let Ok(p) = &mut s.packages {
        for pkg in p.iter_mut() {
            pkg.trust = Ok(vec![]);
            pkg.releases = None;
        }
    }
    let st = statuses(&s);
    for id in [
        CheckId::TrustedPublisher,
        CheckId::ContextBound,
        CheckId::ReleaseVerified,
    ] {
        assert_eq!(st[&id], Status::Fail, "{id:?}");
    }
    assert!(
        evidence(&s, CheckId::ContextBound).contains("no package of @acme has a trusted publisher")
    );
}

#[test]
fn a_release_without_the_trusted_publisher_fails_release_verified() {
    let mut s = clean();
    if let Ok(p) = &mut s.packages
        && let Some(Ok(r)) = &mut p[1].releases
    {
        let rel = &mut r.versions[0];
        rel.oidc_config_id = None;
        rel.publisher = Some("alice".into());
        rel.version = "1.0.1".into();
        r.latest = Some("1.0.1".into());
    }
    assert_eq!(
        not_passing(&s),
        vec![(CheckId::ReleaseVerified, Status::Fail)]
    );
    let ev = evidence(&s, CheckId::ReleaseVerified);
    assert!(
        ev.contains("@acme/b@1.0.1 (latest) at") && ev.contains("was published by alice"),
        "{ev}"
    );
}

#[test]
fn an_npm_token_variable_fails_oidc_publish_job() {
    let mut s = clean();
    if let Some(c) = &mut s.circleci {
        c.projects[0].variables = Ok(vec!["NPM_TOKEN".into()]);
    }
    assert_eq!(
        not_passing(&s),
        vec![(CheckId::OidcPublishJob, Status::Fail)]
    );
    assert!(evidence(&s, CheckId::OidcPublishJob).contains(
        "GET /project/gh/acme/web/envvar | project gh/acme/web has the variable NPM_TOKEN"
    ));
}

#[test]
fn nothing_to_inspect_is_unknown_not_pass() {
    let mut s = clean();
    s.circleci = None;
    assert_eq!(statuses(&s)[&CheckId::OidcPublishJob], Status::Unknown);
}

#[test]
fn a_read_write_team_fails_read_only_teams() {
    let mut s = clean();
    if let Ok(t) = &mut s.teams {
        t[0].packages = Ok(BTreeMap::from([("@acme/a".into(), "write".into())]));
    }
    assert_eq!(
        not_passing(&s),
        vec![(CheckId::ReadOnlyTeams, Status::Fail)]
    );
    assert!(
        evidence(&s, CheckId::ReadOnlyTeams)
            .contains("team acme:developers has read-write on 1 package(s): @acme/a")
    );
}

#[test]
fn members_need_the_members_table() {
    let mut s = clean();
    s.members_config = None;
    assert_eq!(
        not_passing(&s),
        vec![
            (CheckId::NoServiceAccounts, Status::Unknown),
            (CheckId::ReadOnlyTeams, Status::Unknown)
        ]
    );
}

#[test]
fn a_service_account_member_fails_and_an_unlisted_one_is_unknown() {
    let mut s = clean();
    if let Ok(m) = &mut s.members {
        m.insert("bot".into(), "developer".into());
    }
    s.token_accounts.push(AccountTokens {
        user: "bot".into(),
        tokens: Ok(vec![]),
        via: None,
    });
    assert_eq!(
        not_passing(&s),
        vec![(CheckId::NoServiceAccounts, Status::Fail)]
    );
    let mut s = clean();
    if let Ok(m) = &mut s.members {
        m.insert("carol".into(), "developer".into());
    }
    s.token_accounts.push(AccountTokens {
        user: "carol".into(),
        tokens: Ok(vec![]),
        via: None,
    });
    assert_eq!(
        not_passing(&s),
        vec![(CheckId::NoServiceAccounts, Status::Unknown)]
    );
}

#[test]
fn an_unlisted_owner_fails_read_only_teams() {
    let mut s = clean();
    if let Ok(m) = &mut s.members {
        m.insert("bob".into(), "owner".into());
    }
    assert_eq!(
        not_passing(&s),
        vec![(CheckId::ReadOnlyTeams, Status::Fail)]
    );
}

#[test]
fn context_bound_needs_pinned_contexts_and_environments() {
    let mut s = clean();
    if let Ok(p) = &mut s.packages
        && let Ok(configs) = &mut p[0].trust
        && let tokenless_trust::Publisher::CircleCi(circle) = &mut configs[0].publisher
    {
        circle.context_ids.clear();
    }
    assert_eq!(statuses(&s)[&CheckId::ContextBound], Status::Fail);
    assert!(evidence(&s, CheckId::ContextBound).contains("pins no context"));

    let github = |env: Option<&str>| {
        let mut claims =
            serde_json::json!({"repository": "acme/a", "workflow_ref": {"file": "release.yml"}});
        if let Some(e) = env {
            claims["environment"] = e.into();
        }
        tokenless_api::npm::TrustConfig::from_json(
            &serde_json::json!({
                "id": "t-gh", "type": "github", "claims": claims, "permissions": ["createPackage"]
            }),
            "",
        )
        .expect("config")
    };
    let mut s = clean();
    if let Ok(p) = &mut s.packages {
        p.truncate(1);
        p[0].trust = Ok(vec![github(None)]);
    }
    assert_eq!(statuses(&s)[&CheckId::ContextBound], Status::Fail);
    if let Ok(p) = &mut s.packages {
        p[0].trust = Ok(vec![github(Some("npm"))]);
    }
    assert_eq!(statuses(&s)[&CheckId::ContextBound], Status::Unknown);
    assert!(evidence(&s, CheckId::ContextBound).contains("environment `npm`"));
}

#[test]
fn a_missing_pinned_context_fails() {
    let mut s = clean();
    if let Some(c) = &mut s.circleci {
        c.pinned.insert(
            CONTEXT.into(),
            Err("GET /context/ctx-1: HTTP 404: not found".into()),
        );
    }
    assert_eq!(statuses(&s)[&CheckId::ContextBound], Status::Fail);
    assert!(evidence(&s, CheckId::ContextBound).contains("does not exist"));
}

#[test]
fn unreadable_registry_is_unknown_everywhere_it_matters() {
    let mut s = clean();
    s.packages = Err("GET /-/org/acme/package: HTTP 500".into());
    let st = statuses(&s);
    for id in [
        CheckId::TrustedPublisher,
        CheckId::ContextBound,
        CheckId::ReleaseVerified,
        CheckId::DisallowTokens,
    ] {
        assert_eq!(st[&id], Status::Unknown, "{id:?}");
    }
}

#[test]
fn a_context_that_allows_ssh_reruns_fails_context_bound() {
    let mut s = clean();
    if let Some(c) = &mut s.circleci
        && let Some(Ok(detail)) = c.pinned.get_mut(CONTEXT)
    {
        detail.restrictions[0].restriction_value = "pipeline.git.branch == \"main\"".into();
    }
    assert_eq!(not_passing(&s), vec![(CheckId::ContextBound, Status::Fail)]);
    let ev = evidence(&s, CheckId::ContextBound);
    assert!(
        ev.contains("no pinned context admits only main without SSH reruns"),
        "{ev}"
    );
    assert!(
        ev.contains("org admins bypass context restrictions"),
        "{ev}"
    );
}

// The evidence rule: a box passes only on a positive observation covering all it speaks for.

#[test]
fn an_unreadable_member_list_leaves_the_token_boxes_unknown() {
    let mut s = clean();
    s.members = Err("HTTP 500".into());
    s.unlisted_accounts.clear();
    let st = statuses(&s);
    assert_eq!(st[&CheckId::NoStaticTokens], Status::Unknown);
    assert_eq!(st[&CheckId::TempTokenDeleted], Status::Unknown);
    assert!(evidence(&s, CheckId::NoStaticTokens).contains("cannot list the org's members"));
}

#[test]
fn an_empty_scope_passes_no_package_box() {
    let mut s = clean();
    s.packages = Ok(vec![]);
    let st = statuses(&s);
    for id in [CheckId::TrustedPublisher, CheckId::DisallowTokens] {
        assert_eq!(st[&id], Status::Unknown, "{id:?}: {}", evidence(&s, id));
    }
    assert!(evidence(&s, CheckId::DisallowTokens).contains("no packages"));
}

#[test]
fn no_evidence_is_no_pass() {
    let r = crate::audit::report::CheckResult::from_items(
        CheckId::ReadOnlyTeams,
        vec![],
        vec![],
        vec![],
    );
    assert_eq!(r.status, Status::Unknown);
    assert!(r.evidence[0].detail.contains("nothing was observed"));
}

#[test]
fn no_token_list_read_is_no_pass() {
    let mut s = clean();
    for a in &mut s.token_accounts {
        a.tokens = Err("HTTP 401".into());
    }
    assert_eq!(statuses(&s)[&CheckId::NoStaticTokens], Status::Unknown);
}

#[test]
fn a_pipeline_with_no_recognised_publish_job_is_no_pass() {
    // A trust config pins the project, but its compiled config shows no publish (it runs
    // `./release.sh`, which the compiled config does not contain).
    let mut s = clean();
    if let Some(c) = &mut s.circleci
        && let Ok(Some(lint)) = &mut c.projects[0].latest
    {
        lint.publish_jobs.clear();
    }
    assert_eq!(
        statuses(&s)[&CheckId::OidcPublishJob],
        Status::Unknown,
        "{}",
        evidence(&s, CheckId::OidcPublishJob)
    );
    assert!(evidence(&s, CheckId::OidcPublishJob).contains("--repo"));
}

#[test]
fn the_oidc_box_counts_publish_jobs() {
    assert!(evidence(&clean(), CheckId::OidcPublishJob).contains("1 publish job(s) recognised"));
}

#[test]
fn a_token_publish_before_the_latest_trusted_release_fails_release_verified() {
    // 1.0.1 went out with a token; 1.0.2, the latest, through the trust config. The
    // latest alone would pass.
    let mut s = clean();
    if let Ok(p) = &mut s.packages
        && let Some(Ok(r)) = &mut p[1].releases
    {
        let trusted = r.versions[0].clone();
        r.versions = vec![
            crate::audit::snapshot::Release {
                version: "1.0.1".into(),
                publisher: Some("alice".into()),
                oidc_config_id: None,
                ..trusted.clone()
            },
            crate::audit::snapshot::Release {
                version: "1.0.2".into(),
                ..trusted
            },
        ];
        r.latest = Some("1.0.2".into());
    }
    assert_eq!(
        not_passing(&s),
        vec![(CheckId::ReleaseVerified, Status::Fail)]
    );
    let ev = evidence(&s, CheckId::ReleaseVerified);
    assert!(
        ev.contains("@acme/b@1.0.1") && ev.contains("published by alice with a token"),
        "{ev}"
    );
}

#[test]
fn old_token_releases_before_the_window_do_not_count_and_passes_name_the_config() {
    let mut s = clean();
    if let Ok(p) = &mut s.packages
        && let Some(Ok(r)) = &mut p[1].releases
    {
        let trusted = r.versions[0].clone();
        r.versions.insert(
            0,
            crate::audit::snapshot::Release {
                version: "0.9.0".into(),
                published: Some("2019-01-01T00:00:00.000Z".into()),
                publisher: Some("alice".into()),
                oidc_config_id: None,
            },
        );
        let _ = trusted;
    }
    assert_eq!(statuses(&s)[&CheckId::ReleaseVerified], Status::Pass);
    let ev = evidence(&s, CheckId::ReleaseVerified);
    assert!(
        ev.contains("@acme/b@1.0.0 via t-@acme/b")
            && ev.contains("since the migration recorded at 2026-11-01T10:00:00Z"),
        "{ev}"
    );
    // Without a record the window is the last 90 days.
    s.record = Record::default();
    assert_eq!(statuses(&s)[&CheckId::ReleaseVerified], Status::Pass);
    assert!(evidence(&s, CheckId::ReleaseVerified).contains("last 90 days"));
}

#[test]
fn bypass_tokens_are_marked_for_january_2027() {
    let mut s = clean();
    s.token_accounts[1].tokens = Ok(vec![token("k-bob-1", "ci", true)]);
    assert!(
        evidence(&s, CheckId::NoStaticTokens)
            .contains("loses direct publishing around January 2027"),
        "{}",
        evidence(&s, CheckId::NoStaticTokens)
    );
    s.token_accounts[1].tokens = Ok(vec![token("k-bob-2", "laptop", false)]);
    assert!(!evidence(&s, CheckId::NoStaticTokens).contains("January 2027"));
}

/// `[[publisher]]` for every package of the scope, allowing only `actions`.
fn publisher_allowing(actions: &str) -> crate::desired::PublisherSpec {
    const U: &str = "0c1e4d3a-0000-4000-8000-000000000001";
    let text = format!(
        "[[publisher]]\npackages = [\"@acme/*\"]\nprovider = \"circleci\"\norg_id = \"{U}\"\nproject_id = \"{U}\"\npipeline_definition_id = \"{U}\"\nvcs_origin = \"github.com/acme/widgets\"\ncontexts = [\"npm-publish\"]\nactions = {actions}\n"
    );
    let config: crate::config::Config = toml::from_str(&text).expect("tokenless.toml");
    config.publishers.into_iter().next().expect("one publisher")
}

#[test]
fn direct_publish_where_stage_only_is_asked_fails_trusted_publisher() {
    let mut s = clean();
    s.publishers = vec![publisher_allowing("[\"stage-publish\"]")];
    assert_eq!(
        not_passing(&s),
        vec![(CheckId::TrustedPublisher, Status::Fail)]
    );
    assert!(evidence(&s, CheckId::TrustedPublisher).contains("asks for stage-only"));
    // Configs that only stage are what it asks.
    if let Ok(p) = &mut s.packages {
        for pkg in p.iter_mut() {
            if let Ok(configs) = &mut pkg.trust {
                for c in configs.iter_mut() {
                    c.permissions =
                        vec![tokenless_trust::trust_config::Permission::CreateStagedPackage];
                }
            }
        }
    }
    assert_eq!(statuses(&s)[&CheckId::TrustedPublisher], Status::Pass);
    // Asking for publish too: the configs allowing publish are what it asks.
    let mut s = clean();
    s.publishers = vec![publisher_allowing("[\"publish\", \"stage-publish\"]")];
    assert_eq!(not_passing(&s), vec![]);
}

#[test]
fn a_second_unbound_trust_config_fails_context_bound() {
    // The bound config stays; a second one for the same package pins no context.
    let mut s = clean();
    if let Ok(p) = &mut s.packages
        && let Ok(configs) = &mut p[0].trust
    {
        let unbound = tokenless_api::npm::TrustConfig::from_json(
            &serde_json::json!({
                "id": "t-second", "type": "circleci",
                "claims": {
                    "oidc.circleci.com/org-id": "0c1e4d3a-0000-4000-8000-000000000001",
                    "oidc.circleci.com/project-id": "0c1e4d3a-0000-4000-8000-000000000002",
                    "oidc.circleci.com/pipeline-definition-id": "0c1e4d3a-0000-4000-8000-000000000003",
                    "oidc.circleci.com/vcs-origin": "github.com/acme/widgets"
                },
                "permissions": ["createPackage"]
            }),
            "",
        )
        .expect("trust config");
        configs.push(unbound);
    }
    assert_eq!(
        statuses(&s)[&CheckId::ContextBound],
        Status::Fail,
        "{}",
        evidence(&s, CheckId::ContextBound)
    );
    assert!(evidence(&s, CheckId::ContextBound).contains("t-second pins no context"));
}

#[test]
fn a_github_repository_with_immutable_subject_claims_fails_trusted_publisher() {
    // @acme/a publishes from GitHub acme/a; @acme/b stays on CircleCI.
    let with_github = |subject: Option<Result<bool, String>>, api: bool| {
        let mut s = clean();
        if let Ok(p) = &mut s.packages {
            p[0].trust = Ok(vec![github_trust("t-gh", "acme/a")]);
        }
        if api {
            s.github = Some(github_state());
        }
        if let Some(read) = subject {
            s.github_subjects.insert("acme/a".into(), read);
        }
        s
    };
    let s = with_github(Some(Ok(true)), true);
    assert_eq!(statuses(&s)[&CheckId::TrustedPublisher], Status::Fail);
    let ev = evidence(&s, CheckId::TrustedPublisher);
    for needle in [
        "GET http://github/api/v3/repos/acme/a/actions/oidc/customization/sub",
        "@acme/a: trust config t-gh trusts GitHub repository acme/a, which uses immutable subject claims",
        "github-immutable-subject: npm's OIDC exchange answers 404 \"package not found\" although the trust config matches (npm/cli#9969)",
        "switch acme/a back to the classic subject",
    ] {
        assert!(ev.contains(needle), "{needle}: {ev}");
    }
    // The classic subject passes, and the pass names what was read.
    let s = with_github(Some(Ok(false)), true);
    assert_eq!(statuses(&s)[&CheckId::TrustedPublisher], Status::Pass);
    assert!(
        evidence(&s, CheckId::TrustedPublisher).contains("classic subject claims"),
        "{}",
        evidence(&s, CheckId::TrustedPublisher)
    );
    // A read that failed, one never made, or no GitHub API at all: unknown, never a pass.
    for (s, says) in [
        (
            with_github(Some(Err("HTTP 403".into())), true),
            "cannot read the subject claims of acme/a: HTTP 403",
        ),
        (with_github(None, true), "were not read"),
        (with_github(None, false), "no GitHub API was given"),
    ] {
        assert_eq!(
            statuses(&s)[&CheckId::TrustedPublisher],
            Status::Unknown,
            "{says}"
        );
        let ev = evidence(&s, CheckId::TrustedPublisher);
        assert!(ev.contains(says), "{says}: {ev}");
    }
}

#[test]
fn an_immutable_subject_fails_a_stage_only_package_too() {
    let mut s = clean();
    s.publishers = vec![publisher_allowing("[\"stage-publish\"]")];
    if let Ok(p) = &mut s.packages {
        let config = tokenless_api::npm::TrustConfig::from_json(
            &serde_json::json!({"id": "t-gh", "type": "github",
                "claims": {"repository": "acme/a", "workflow_ref": {"file": "publish.yml"}},
                "permissions": ["createStagedPackage"]}),
            "",
        )
        .expect("config");
        p[0].trust = Ok(vec![config]);
    }
    s.github = Some(github_state());
    s.github_subjects.insert("acme/a".into(), Ok(true));
    assert_eq!(statuses(&s)[&CheckId::TrustedPublisher], Status::Fail);
    assert!(evidence(&s, CheckId::TrustedPublisher).contains("npm/cli#9969"));
}
