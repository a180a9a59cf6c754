//! `tokens scan --format sarif`: one rule per credential kind, one result per credential
//! at its file and line (the environment as a logical location), the value redacted.

use tokenless_scan::Kind;

use super::{BriefResult, BriefRule, Configuration, Location, Log, Run, Text};
use crate::commands::scan::{ScanOutcome, Status};

const KINDS: [Kind; 8] = [
    Kind::NpmToken,
    Kind::LegacyToken,
    Kind::AuthToken,
    Kind::BasicAuth,
    Kind::Password,
    Kind::GithubToken,
    Kind::GitlabToken,
    Kind::Reference,
];

fn describe(kind: Kind) -> &'static str {
    match kind {
        Kind::NpmToken => "An npm access token at rest",
        Kind::LegacyToken => "A legacy (UUID) npm token at rest",
        Kind::AuthToken => "A registry auth token at rest",
        Kind::BasicAuth => "A registry _auth (user:password) credential at rest",
        Kind::Password => "A registry password at rest",
        Kind::GithubToken => "A GitHub token at rest",
        Kind::GitlabToken => "A GitLab token at rest",
        Kind::Reference => "A reference to a registry credential (not a secret)",
    }
}

pub fn render(outcome: &ScanOutcome) -> String {
    let rules = KINDS
        .iter()
        .map(|k| BriefRule {
            id: k.as_str(),
            short_description: Text {
                text: describe(*k).to_owned(),
            },
            help: None,
            default_configuration: Configuration {
                level: if *k == Kind::Reference {
                    "note"
                } else {
                    "error"
                },
            },
        })
        .collect();
    let results = outcome
        .findings
        .iter()
        .map(|f| {
            let c = &f.credential;
            let at = if c.line > 0 {
                tokenless_ci::Location::file(c.path.clone(), c.line, 0)
            } else {
                tokenless_ci::Location::resource(c.path.clone())
            };
            let status = match &f.status {
                Some(Status::Live { user, .. }) => format!("; live, of {user}"),
                Some(Status::Revoked) => "; revoked".to_owned(),
                Some(Status::Unknown { .. }) | None => String::new(),
            };
            BriefResult {
                rule_id: c.kind.as_str(),
                rule_index: KINDS.iter().position(|k| *k == c.kind).unwrap_or(0),
                level: if c.kind == Kind::Reference {
                    "note"
                } else {
                    "error"
                },
                message: Text {
                    text: format!(
                        "{} for {}: {}{status}",
                        describe(c.kind),
                        c.registry.as_deref().unwrap_or("no configured registry"),
                        c.redacted
                    ),
                },
                locations: [Location::of(&at)],
            }
        })
        .collect();
    Log::of(Run::<BriefRule, BriefResult, ()>::tokenless(rules, results)).to_text()
}
