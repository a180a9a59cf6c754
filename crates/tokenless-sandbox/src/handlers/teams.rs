//! Orgs, members, teams and package permissions: what `npm org`, `npm team` and
//! `npm access list|grant|revoke` use.

use crate::error::{Handled, SandboxError};
use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth;
use crate::model::{Permission, Role, Team, World};
use crate::router::Ctx;
use crate::{http, limits};

/// The org named in the path (with or without `@`), if it is this sandbox's.
fn org_of<'a>(world: &World, name: &'a str) -> Result<&'a str, SandboxError> {
    let bare = name.strip_prefix('@').unwrap_or(name);
    if bare == world.org {
        Ok(bare)
    } else {
        Err(SandboxError::not_found(format!("Org {bare} not found.")))
    }
}

/// An org member reading org data.
fn member(c: &Ctx<'_>, world: &World) -> Result<String, SandboxError> {
    let (_, user) = c.account(world)?;
    if world.role(&user).is_some() {
        Ok(user)
    } else {
        Err(SandboxError::forbidden("Not an org member."))
    }
}

/// An org change through 2FA by a member whose role is one of `roles`, through a token (if
/// any) that has write access to the org.
fn org_writer(c: &Ctx<'_>, world: &World, roles: &[Role]) -> Result<(String, Role), SandboxError> {
    let (principal, user) = c.account(world)?;
    if let Some(t) = principal.token(world) {
        auth::token_covers_org(t, &world.org)?;
    }
    let role = world.role(&user);
    match role {
        Some(r) if roles.contains(&r) => {
            c.two_factor_write(world)?;
            Ok((user, r))
        }
        _ => Err(SandboxError::forbidden(format!(
            "{user} may not make this change to the org (it needs the role {}).",
            roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(" or ")
        ))),
    }
}

/// Team changes: owners and admins.
fn admin(c: &Ctx<'_>, world: &World) -> Result<String, SandboxError> {
    org_writer(c, world, &[Role::Owner, Role::Admin]).map(|(u, _)| u)
}

pub fn org_members(c: &Ctx<'_>, org: &str) -> Handled {
    let world = c.app.world();
    org_of(&world, org).and_then(|_| member(c, &world))?;
    let roster: BTreeMap<&str, &str> = world
        .users
        .values()
        .filter_map(|u| u.role.map(|r| (u.name.as_str(), r.as_str())))
        .collect();
    Ok(http::ok(&json!(roster)))
}

#[derive(Debug, Deserialize)]
struct MemberBody {
    user: String,
    role: Option<Role>,
}

/// `npm org set <org> <user> [role]`: adds a member or changes a role. Only owners change
/// roles or add members as owners or admins; the last owner cannot be demoted.
pub fn org_set(c: &Ctx<'_>, org: &str) -> Handled {
    let body: MemberBody = http::parse(c.body)?;
    let mut world = c.app.write();
    org_of(&world, org)?;
    let (acting, acting_role) = org_writer(c, &world, &[Role::Owner, Role::Admin])?;
    let name = body.user.trim_start_matches('@').to_owned();
    let role = body.role.unwrap_or(Role::Developer);
    let current = world.role(&name);
    let Some(_) = world.users.get(&name) else {
        return Err(SandboxError::not_found(format!(
            "User {name} not found (the sandbox only knows its scenario's users)."
        )));
    };
    let changes_role = current.is_some() && current != Some(role);
    if acting_role != Role::Owner && (changes_role || role != Role::Developer) {
        return Err(SandboxError::forbidden(format!(
            "Only owners change roles; {acting} is an admin."
        )));
    }
    if current == Some(Role::Owner) && role != Role::Owner && world.owners() == 1 {
        return Err(SandboxError::forbidden(
            "The org must keep at least one owner; promote another member first.",
        ));
    }
    if let Some(u) = world.users.get_mut(&name) {
        u.role = Some(role);
    }
    let size = world.users.values().filter(|u| u.role.is_some()).count();
    Ok(http::ok(
        &json!({"org": {"name": world.org, "size": size}, "user": name, "role": role}),
    ))
}

/// `npm org rm <org> <user>`: owners remove anyone, admins remove developers, anyone may
/// leave; never the last owner. The account stays (it only leaves the org and its teams).
pub fn org_remove(c: &Ctx<'_>, org: &str) -> Handled {
    let body: MemberBody = http::parse(c.body)?;
    let mut world = c.app.write();
    org_of(&world, org)?;
    let (acting, acting_role) =
        org_writer(c, &world, &[Role::Owner, Role::Admin, Role::Developer])?;
    let name = body.user.trim_start_matches('@').to_owned();
    let Some(target) = world.role(&name) else {
        return Err(SandboxError::not_found(format!(
            "User {name} is not a member."
        )));
    };
    let allowed = name == acting
        || acting_role == Role::Owner
        || (acting_role == Role::Admin && target == Role::Developer);
    if !allowed {
        return Err(SandboxError::forbidden(format!(
            "{acting} may not remove {name} ({}) from the org.",
            target.as_str()
        )));
    }
    if target == Role::Owner && world.owners() == 1 {
        return Err(SandboxError::forbidden(
            "The last owner cannot leave or be removed; promote another member first.",
        ));
    }
    if let Some(u) = world.users.get_mut(&name) {
        u.role = None;
    }
    for team in world.teams.values_mut() {
        team.members.retain(|m| m != &name);
    }
    Ok(http::empty_ok())
}

pub fn team_list(c: &Ctx<'_>, org: &str) -> Handled {
    let world = c.app.world();
    org_of(&world, org).and_then(|_| member(c, &world))?;
    let names: Vec<String> = world
        .teams
        .keys()
        .map(|t| format!("{}:{t}", world.org))
        .collect();
    Ok(http::ok(&json!(names)))
}

#[derive(Debug, Deserialize)]
struct TeamBody {
    name: String,
    description: Option<String>,
}

pub fn team_create(c: &Ctx<'_>, org: &str) -> Handled {
    let body: TeamBody = http::parse(c.body)?;
    let mut world = c.app.write();
    org_of(&world, org).and_then(|_| admin(c, &world))?;
    let valid = !body.name.is_empty()
        && body.name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if !valid || body.name.len() > limits::NAME {
        return Err(SandboxError::bad_request(format!(
            "Invalid team name {:?}.",
            body.name
        )));
    }
    limits::text(
        "description",
        body.description.as_deref().unwrap_or_default(),
        limits::VALUE,
    )?;
    limits::room("teams", world.teams.len(), limits::TEAMS)?;
    if world.teams.contains_key(&body.name) {
        return Err(SandboxError::new(
            StatusCode::CONFLICT,
            format!("Team {} already exists.", body.name),
        ));
    }
    let team = Team {
        name: body.name.clone(),
        description: body.description.unwrap_or_default(),
        members: Vec::new(),
        packages: BTreeMap::new(),
    };
    world.teams.insert(body.name.clone(), team);
    Ok(http::json(StatusCode::CREATED, &json!({"name": body.name})))
}

pub fn team_destroy(c: &Ctx<'_>, org: &str, team: &str) -> Handled {
    let mut world = c.app.write();
    org_of(&world, org).and_then(|_| admin(c, &world))?;
    match world.teams.remove(team) {
        Some(_) => Ok(http::empty_ok()),
        None => Err(SandboxError::not_found(format!("Team {team} not found."))),
    }
}

pub fn team_members(c: &Ctx<'_>, org: &str, team: &str) -> Handled {
    let world = c.app.world();
    org_of(&world, org).and_then(|_| member(c, &world))?;
    match world.teams.get(team) {
        Some(t) => Ok(http::ok(&json!(t.members))),
        None => Err(SandboxError::not_found(format!("Team {team} not found."))),
    }
}

pub fn team_add_member(c: &Ctx<'_>, org: &str, team: &str) -> Handled {
    change_member(c, org, team, true)
}

pub fn team_remove_member(c: &Ctx<'_>, org: &str, team: &str) -> Handled {
    change_member(c, org, team, false)
}

fn change_member(c: &Ctx<'_>, org: &str, team: &str, add: bool) -> Handled {
    let body: MemberBody = http::parse(c.body)?;
    let mut world = c.app.write();
    org_of(&world, org).and_then(|_| admin(c, &world))?;
    let name = body.user.trim_start_matches('@').to_owned();
    if world.role(&name).is_none() {
        return Err(SandboxError::not_found(format!(
            "User {name} is not an org member."
        )));
    }
    let Some(t) = world.teams.get_mut(team) else {
        return Err(SandboxError::not_found(format!("Team {team} not found.")));
    };
    t.members.retain(|m| m != &name);
    if add {
        t.members.push(name);
    }
    Ok(http::empty_ok())
}

fn short_map(perms: impl Iterator<Item = (String, Permission)>) -> Value {
    let m: BTreeMap<String, &str> = perms.map(|(p, perm)| (p, perm.short())).collect();
    json!(m)
}

pub fn org_packages(c: &Ctx<'_>, org: &str) -> Handled {
    let world = c.app.world();
    let bare = org.strip_prefix('@').unwrap_or(org);
    if bare != world.org {
        // npm falls back to `/-/user/<name>/package` on 404.
        return Err(SandboxError::not_found(format!("Org {bare} not found.")));
    }
    member(c, &world)?;
    let prefix = format!("{}/", world.scope());
    Ok(http::ok(&short_map(
        world
            .packages
            .keys()
            .filter(|p| p.starts_with(&prefix))
            .map(|p| (p.clone(), Permission::ReadWrite)),
    )))
}

pub fn user_packages(c: &Ctx<'_>, user: &str) -> Handled {
    let world = c.app.world();
    member(c, &world)?;
    if !world.users.contains_key(user) {
        return Err(SandboxError::not_found(format!("User {user} not found.")));
    }
    let perms = world.packages.keys().filter_map(|p| {
        if world.can_write(user, p) {
            Some((p.clone(), Permission::ReadWrite))
        } else if world
            .teams
            .values()
            .any(|t| t.members.iter().any(|m| m == user) && t.packages.contains_key(p))
        {
            Some((p.clone(), Permission::ReadOnly))
        } else {
            None
        }
    });
    Ok(http::ok(&short_map(perms)))
}

pub fn team_packages(c: &Ctx<'_>, org: &str, team: &str) -> Handled {
    let world = c.app.world();
    org_of(&world, org).and_then(|_| member(c, &world))?;
    match world.teams.get(team) {
        Some(t) => Ok(http::ok(&short_map(
            t.packages.iter().map(|(p, perm)| (p.clone(), *perm)),
        ))),
        None => Err(SandboxError::not_found(format!("Team {team} not found."))),
    }
}

#[derive(Debug, Deserialize)]
struct GrantBody {
    package: String,
    permissions: Option<String>,
}

pub fn team_grant(c: &Ctx<'_>, org: &str, team: &str) -> Handled {
    let body: GrantBody = http::parse(c.body)?;
    let permission = match body.permissions.as_deref() {
        Some("read-write") => Permission::ReadWrite,
        Some("read-only") | None => Permission::ReadOnly,
        Some(other) => {
            return Err(SandboxError::bad_request(format!(
                "Unknown permission {other:?}."
            )));
        }
    };
    let mut world = c.app.write();
    org_of(&world, org).and_then(|_| admin(c, &world))?;
    if !world.packages.contains_key(&body.package) {
        return Err(SandboxError::not_found(format!(
            "Package {} not found.",
            body.package
        )));
    }
    let Some(t) = world.teams.get_mut(team) else {
        return Err(SandboxError::not_found(format!("Team {team} not found.")));
    };
    t.packages.insert(body.package, permission);
    Ok(http::json(StatusCode::CREATED, &json!({})))
}

pub fn team_revoke(c: &Ctx<'_>, org: &str, team: &str) -> Handled {
    let body: GrantBody = http::parse(c.body)?;
    let mut world = c.app.write();
    org_of(&world, org).and_then(|_| admin(c, &world))?;
    let Some(t) = world.teams.get_mut(team) else {
        return Err(SandboxError::not_found(format!("Team {team} not found.")));
    };
    if t.packages.remove(&body.package).is_none() {
        return Err(SandboxError::not_found(format!(
            "Team {team} has no access to {}.",
            body.package
        )));
    }
    Ok(http::empty_ok())
}

pub fn collaborators(c: &Ctx<'_>, name: &str) -> Handled {
    let world = c.app.world();
    member(c, &world)?;
    if !world.packages.contains_key(name) {
        return Err(SandboxError::not_found(format!(
            "Package {name} not found."
        )));
    }
    let perms = world
        .users
        .values()
        .filter(|u| u.role.is_some())
        .map(|u| &u.name)
        .map(|u| {
            let perm = if world.can_write(u, name) {
                Permission::ReadWrite
            } else {
                Permission::ReadOnly
            };
            (u.clone(), perm)
        });
    Ok(http::ok(&short_map(perms)))
}
