//! `no-service-accounts` and `read-only-teams`: need `[members]` of tokenless.toml,
//! because the registry cannot tell a person from a robot.

use super::{list_some, org_source};
use crate::{
    audit::{
        report::{CheckId, CheckResult, Evidence},
        snapshot::Snapshot,
    },
    members::{MemberKind, MembersConfig},
};

const MEMBERS_TABLE: &str = "tokenless.toml [members]";

fn members_config(id: CheckId, s: &Snapshot) -> Result<&MembersConfig, CheckResult> {
    s.members_config.as_ref().ok_or_else(|| {
        CheckResult::from_items(
            id,
            vec![],
            vec![Evidence::new(
                MEMBERS_TABLE,
                "no [members] table (owners, humans, service_accounts): the registry cannot tell a person from a service account; pass --config with one",
            )],
            vec![],
        )
    })
}

pub fn no_service_accounts(s: &Snapshot) -> CheckResult {
    let id = CheckId::NoServiceAccounts;
    let cfg = match members_config(id, s) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let source = org_source(&s.scope, "user");
    let members = match &s.members {
        Ok(m) => m,
        Err(e) => {
            return CheckResult::from_items(
                id,
                vec![],
                vec![Evidence::new(source, format!("cannot list members: {e}"))],
                vec![],
            );
        }
    };
    let (mut fails, mut unknowns) = (Vec::new(), Vec::new());
    for name in cfg.contradictions() {
        unknowns.push(Evidence::new(
            MEMBERS_TABLE,
            format!("{name} is listed both as a person and as a service account"),
        ));
    }
    let mut people: Vec<&str> = Vec::new();
    for (user, role) in members {
        match cfg.kind(user) {
            MemberKind::ServiceAccount => {
                let tokens = s
                    .token_accounts
                    .iter()
                    .find(|a| &a.user == user)
                    .and_then(|a| a.tokens.as_ref().ok())
                    .map(|t| format!("; it holds {} token(s)", t.len()))
                    .unwrap_or_default();
                fails.push(Evidence::new(
                    &source,
                    format!("{user} (role {role}) is a service account ({MEMBERS_TABLE}){tokens}"),
                ));
            }
            MemberKind::Unclassified => unknowns.push(Evidence::new(
                &source,
                format!("{user} (role {role}) is not classified in {MEMBERS_TABLE}: add them to humans or service_accounts"),
            )),
            MemberKind::Owner | MemberKind::Human => people.push(user),
        }
    }
    let passes = vec![Evidence::new(
        source,
        format!(
            "all {} members are people per {MEMBERS_TABLE}: {}",
            people.len(),
            list_some(&people, 20)
        ),
    )];
    CheckResult::from_items(id, fails, unknowns, passes)
}

pub fn read_only_teams(s: &Snapshot) -> CheckResult {
    let id = CheckId::ReadOnlyTeams;
    let cfg = match members_config(id, s) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (mut fails, mut unknowns) = (Vec::new(), Vec::new());
    let org = s.scope.trim_start_matches('@');
    let teams_source = org_source(&s.scope, "team");
    let teams = match &s.teams {
        Ok(t) => t.as_slice(),
        Err(e) => {
            unknowns.push(Evidence::new(
                &teams_source,
                format!("cannot list teams: {e}"),
            ));
            &[]
        }
    };
    for team in teams {
        let source = format!("GET /-/team/{org}/{}/package", team.name);
        match &team.packages {
            Err(e) => unknowns.push(Evidence::new(source, format!("cannot read: {e}"))),
            Ok(pkgs) => {
                let writable: Vec<&str> = pkgs
                    .iter()
                    .filter(|(_, perm)| tokenless_api::npm::permission_is_write(perm))
                    .map(|(name, _)| name.as_str())
                    .collect();
                if !writable.is_empty() {
                    let members = match &team.members {
                        Ok(m) => format!(
                            " (members: {})",
                            list_some(&m.iter().map(String::as_str).collect::<Vec<_>>(), 20)
                        ),
                        Err(_) => String::new(),
                    };
                    fails.push(Evidence::new(
                        source,
                        format!(
                            "team {org}:{} has read-write on {} package(s): {}{members}",
                            team.name,
                            writable.len(),
                            list_some(&writable, 10)
                        ),
                    ));
                }
            }
        }
    }
    let member_source = org_source(&s.scope, "user");
    match &s.members {
        Err(e) => unknowns.push(Evidence::new(
            &member_source,
            format!("cannot list members: {e}"),
        )),
        Ok(members) => {
            for (user, role) in members {
                if role == "owner" && !cfg.owners.contains(user) {
                    fails.push(Evidence::new(
                        &member_source,
                        format!("{user} has the org role owner (write on every package) but is not listed in {MEMBERS_TABLE} owners"),
                    ));
                }
            }
        }
    }
    let passes = vec![Evidence::new(
        teams_source,
        format!(
            "{} team(s), all read-only; write only through the owners {}",
            teams.len(),
            list_some(
                &cfg.owners.iter().map(String::as_str).collect::<Vec<_>>(),
                20
            )
        ),
    )];
    CheckResult::from_items(id, fails, unknowns, passes)
}
