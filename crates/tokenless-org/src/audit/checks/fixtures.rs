//! Snapshots for unit tests: a clean org, then one thing broken at a time.

use std::collections::BTreeMap;

use tokenless_api::{
    circleci::{ContextDetail, Restriction},
    npm::{Token, TrustConfig},
};

use crate::{
    audit::{record::Record, snapshot::*},
    members::MembersConfig,
};

pub const CONTEXT: &str = "ctx-1";

pub fn trust(id: &str) -> TrustConfig {
    TrustConfig::from_json(
        &serde_json::json!({
            "id": id, "type": "circleci",
            "claims": {
                "oidc.circleci.com/org-id": "0c1e4d3a-0000-4000-8000-000000000001",
                "oidc.circleci.com/project-id": "0c1e4d3a-0000-4000-8000-000000000002",
                "oidc.circleci.com/pipeline-definition-id": "0c1e4d3a-0000-4000-8000-000000000003",
                "oidc.circleci.com/vcs-origin": "github.com/acme/widgets",
                "oidc.circleci.com/context-ids": [CONTEXT]
            },
            "permissions": ["createPackage"]
        }),
        "",
    )
    .expect("trust config")
}

/// A GitHub trust config for `repo` (workflow `publish.yml`, publish allowed).
pub fn github_trust(id: &str, repo: &str) -> TrustConfig {
    TrustConfig::from_json(
        &serde_json::json!({
            "id": id, "type": "github",
            "claims": {"repository": repo, "workflow_ref": {"file": "publish.yml"}},
            "permissions": ["createPackage"]
        }),
        "",
    )
    .expect("trust config")
}

/// What the audit reads from GitHub when it has an API but no environment is pinned.
pub fn github_state() -> ForgeState<GitHubEnvironment> {
    ForgeState {
        api: "http://github/api/v3/".into(),
        environments: BTreeMap::new(),
    }
}

pub fn package(name: &str) -> PackageState {
    let tid = format!("t-{name}");
    PackageState {
        name: name.into(),
        trust: Ok(vec![trust(&tid)]),
        releases: Some(Ok(Releases {
            latest: Some("1.0.0".into()),
            versions: vec![Release {
                version: "1.0.0".into(),
                published: Some(tokenless_trust::clock::now_rfc3339()),
                publisher: Some("circleci".into()),
                oidc_config_id: Some(tid),
            }],
        })),
    }
}

/// A record as `apply` leaves it after alice set every one of `packages` to mfa=publish.
pub fn applied(packages: &[&str]) -> Record {
    let mut record = Record {
        version: 1,
        source: Some("record.json".into()),
        registry: Some("http://registry/".into()),
        scope: Some("@acme".into()),
        ..Record::default()
    };
    for p in packages {
        record.add(crate::journal::Entry {
            step: format!("mfa {p}"),
            op: serde_json::json!({"op": "set-mfa", "package": p}),
            at: "2026-11-01T10:00:00Z".into(),
            verified: "acknowledged".into(),
            evidence: format!("POST /-/package/{p}/access answered 2xx"),
            by: Some("alice".into()),
        });
    }
    record
}

pub fn token(key: &str, name: &str, bypass: bool) -> Token {
    Token {
        key: key.into(),
        token: "npm_ab".into(),
        name: Some(name.into()),
        bypass_2fa: Some(bypass),
        readonly: Some(false),
        ..Token::default()
    }
}

/// Every box checked.
pub fn clean() -> Snapshot {
    let members: BTreeMap<String, String> = [("alice", "owner"), ("bob", "developer")]
        .map(|(a, b)| (a.into(), b.into()))
        .into();
    let members_config: MembersConfig =
        toml::from_str("owners = [\"alice\"]\nhumans = [\"bob\"]\nservice_accounts = [\"bot\"]")
            .expect("members");
    let pinned = BTreeMap::from([(
        CONTEXT.to_string(),
        Ok(ContextDetail {
            id: CONTEXT.into(),
            name: "npm-publish".into(),
            restrictions: vec![Restriction {
                id: "r1".into(),
                restriction_type: "expression".into(),
                restriction_value: "pipeline.git.branch == \"main\" and not job.ssh.enabled".into(),
                name: None,
            }],
        }),
    )]);
    Snapshot {
        scope: "@acme".into(),
        registry: "http://registry/".into(),
        own_credential: OwnCredential {
            kind: "sandbox session".into(),
            shown: "npm_…abcd".into(),
            key: None,
            user: Some("alice".into()),
        },
        packages: Ok(vec![package("@acme/a"), package("@acme/b")]),
        token_accounts: vec![
            AccountTokens {
                user: "alice".into(),
                tokens: Ok(vec![]),
                via: None,
            },
            AccountTokens {
                user: "bob".into(),
                tokens: Ok(vec![]),
                via: None,
            },
        ],
        unlisted_accounts: vec![],
        stale_attestations: vec![],
        members: Ok(members),
        members_config: Some(members_config),
        publishers: vec![],
        teams: Ok(vec![TeamState {
            name: "developers".into(),
            members: Ok(vec!["alice".into(), "bob".into()]),
            packages: Ok(BTreeMap::from([("@acme/a".into(), "read".into())])),
        }]),
        github: None,
        github_subjects: BTreeMap::new(),
        gitlab: None,
        forge_variables: vec![],
        circleci: Some(CircleState {
            api: "http://circleci/api/v2/".into(),
            contexts: Ok(vec![ContextVars {
                id: CONTEXT.into(),
                name: "npm-publish".into(),
                variables: Ok(vec![]),
            }]),
            projects: vec![ProjectState {
                slug: "gh/acme/web".into(),
                variables: Ok(vec!["SLACK_WEBHOOK".into()]),
                latest: Ok(Some(ConfigLint {
                    origin: "pipeline 1".into(),
                    findings: Ok(vec![]),
                    publish_jobs: vec!["publish".into()],
                    expects_publish: true,
                })),
            }],
            pinned,
        }),
        repos: vec![],
        record: applied(&["@acme/a", "@acme/b"]),
    }
}
