//! Orgs, members, teams and package permissions: what `npm org`, `npm team` and
//! `npm access list|grant|revoke` use.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{Ctx, empty_ok};
use crate::auth::{self, Principal};
use crate::http;
use crate::model::{Permission, Role, Team, World};

/// The org named in the path (with or without `@`), if it is this sandbox's.
fn org_of<'a>(world: &World, name: &'a str) -> Result<&'a str, Response> {
    let bare = name.strip_prefix('@').unwrap_or(name);
    if bare == world.org {
        Ok(bare)
    } else {
        Err(http::not_found(format!("Org {bare} not found.")))
    }
}

/// An org member reading org data.
fn member(c: &Ctx<'_>, world: &World) -> Result<String, Response> {
    match auth::require(c.app, world, c.headers)? {
        Principal::Oidc(_) => Err(http::forbidden(
            "A trusted-publishing token cannot read org data.",
        )),
        p => {
            let user = p.user().unwrap_or_default().to_owned();
            if world.users.contains_key(&user) {
                Ok(user)
            } else {
                Err(http::forbidden("Not an org member."))
            }
        }
    }
}

/// An owner or admin making an org change, through 2FA.
fn admin(c: &Ctx<'_>, world: &World) -> Result<String, Response> {
    let principal = auth::require(c.app, world, c.headers)?;
    let user = auth::require_2fa_write(world, &principal, c.headers)?;
    match world.users.get(&user).map(|u| u.role) {
        Some(Role::Owner | Role::Admin) => Ok(user),
        _ => Err(http::forbidden(format!(
            "{user} is not an owner or admin of the org."
        ))),
    }
}

pub fn org_members(c: &Ctx<'_>, org: &str) -> Response {
    let world = c.app.world();
    if let Err(e) = org_of(&world, org).and_then(|_| member(c, &world)) {
        return e;
    }
    let roster: BTreeMap<&str, &str> = world
        .users
        .values()
        .map(|u| (u.name.as_str(), u.role.as_str()))
        .collect();
    http::ok(&json!(roster))
}

#[derive(Debug, Deserialize)]
struct MemberBody {
    user: String,
    role: Option<Role>,
}

pub fn org_set(c: &Ctx<'_>, org: &str) -> Response {
    let body: MemberBody = match http::parse(c.body) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let mut world = c.app.world();
    if let Err(e) = org_of(&world, org).and_then(|_| admin(c, &world)) {
        return e;
    }
    let name = body.user.trim_start_matches('@').to_owned();
    let role = body.role.unwrap_or(Role::Developer);
    let Some(u) = world.users.get_mut(&name) else {
        return http::not_found(format!(
            "User {name} not found (the sandbox only knows its scenario's users)."
        ));
    };
    u.role = role;
    c.app.mark_dirty();
    http::ok(
        &json!({"org": {"name": world.org, "size": world.users.len()}, "user": name, "role": role}),
    )
}

pub fn org_remove(c: &Ctx<'_>, org: &str) -> Response {
    let body: MemberBody = match http::parse(c.body) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let mut world = c.app.world();
    let acting = match org_of(&world, org).and_then(|_| admin(c, &world)) {
        Ok(u) => u,
        Err(e) => return e,
    };
    let name = body.user.trim_start_matches('@').to_owned();
    if name == acting
        && world
            .users
            .values()
            .filter(|u| u.role == Role::Owner)
            .count()
            == 1
    {
        return http::forbidden("The last owner cannot leave the org.");
    }
    if world.users.remove(&name).is_none() {
        return http::not_found(format!("User {name} is not a member."));
    }
    world.tokens.retain(|_, t| t.owner != name);
    for team in world.teams.values_mut() {
        team.members.retain(|m| m != &name);
    }
    c.app.mark_dirty();
    empty_ok()
}

pub fn team_list(c: &Ctx<'_>, org: &str) -> Response {
    let world = c.app.world();
    if let Err(e) = org_of(&world, org).and_then(|_| member(c, &world)) {
        return e;
    }
    let names: Vec<String> = world
        .teams
        .keys()
        .map(|t| format!("{}:{t}", world.org))
        .collect();
    http::ok(&json!(names))
}

#[derive(Debug, Deserialize)]
struct TeamBody {
    name: String,
    description: Option<String>,
}

pub fn team_create(c: &Ctx<'_>, org: &str) -> Response {
    let body: TeamBody = match http::parse(c.body) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let mut world = c.app.world();
    if let Err(e) = org_of(&world, org).and_then(|_| admin(c, &world)) {
        return e;
    }
    let valid = !body.name.is_empty()
        && body.name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        });
    if !valid {
        return http::bad_request(format!("Invalid team name {:?}.", body.name));
    }
    if world.teams.contains_key(&body.name) {
        return http::error(
            StatusCode::CONFLICT,
            format!("Team {} already exists.", body.name),
        );
    }
    let team = Team {
        name: body.name.clone(),
        description: body.description.unwrap_or_default(),
        members: Vec::new(),
        packages: BTreeMap::new(),
    };
    world.teams.insert(body.name.clone(), team);
    c.app.mark_dirty();
    http::json(StatusCode::CREATED, &json!({"name": body.name}))
}

pub fn team_destroy(c: &Ctx<'_>, org: &str, team: &str) -> Response {
    let mut world = c.app.world();
    if let Err(e) = org_of(&world, org).and_then(|_| admin(c, &world)) {
        return e;
    }
    match world.teams.remove(team) {
        Some(_) => {
            c.app.mark_dirty();
            empty_ok()
        }
        None => http::not_found(format!("Team {team} not found.")),
    }
}

pub fn team_members(c: &Ctx<'_>, org: &str, team: &str) -> Response {
    let world = c.app.world();
    if let Err(e) = org_of(&world, org).and_then(|_| member(c, &world)) {
        return e;
    }
    match world.teams.get(team) {
        Some(t) => http::ok(&json!(t.members)),
        None => http::not_found(format!("Team {team} not found.")),
    }
}

pub fn team_add_member(c: &Ctx<'_>, org: &str, team: &str) -> Response {
    change_member(c, org, team, true)
}

pub fn team_remove_member(c: &Ctx<'_>, org: &str, team: &str) -> Response {
    change_member(c, org, team, false)
}

fn change_member(c: &Ctx<'_>, org: &str, team: &str, add: bool) -> Response {
    let body: MemberBody = match http::parse(c.body) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let mut world = c.app.world();
    if let Err(e) = org_of(&world, org).and_then(|_| admin(c, &world)) {
        return e;
    }
    let name = body.user.trim_start_matches('@').to_owned();
    if !world.users.contains_key(&name) {
        return http::not_found(format!("User {name} is not an org member."));
    }
    let Some(t) = world.teams.get_mut(team) else {
        return http::not_found(format!("Team {team} not found."));
    };
    t.members.retain(|m| m != &name);
    if add {
        t.members.push(name);
    }
    c.app.mark_dirty();
    empty_ok()
}

fn short_map(perms: impl Iterator<Item = (String, Permission)>) -> Value {
    let m: BTreeMap<String, &str> = perms.map(|(p, perm)| (p, perm.short())).collect();
    json!(m)
}

pub fn org_packages(c: &Ctx<'_>, org: &str) -> Response {
    let world = c.app.world();
    let bare = org.strip_prefix('@').unwrap_or(org);
    if bare != world.org {
        // npm falls back to `/-/user/<name>/package` on 404.
        return http::not_found(format!("Org {bare} not found."));
    }
    if let Err(e) = member(c, &world) {
        return e;
    }
    let prefix = format!("{}/", world.scope());
    http::ok(&short_map(
        world
            .packages
            .keys()
            .filter(|p| p.starts_with(&prefix))
            .map(|p| (p.clone(), Permission::ReadWrite)),
    ))
}

pub fn user_packages(c: &Ctx<'_>, user: &str) -> Response {
    let world = c.app.world();
    if let Err(e) = member(c, &world) {
        return e;
    }
    if !world.users.contains_key(user) {
        return http::not_found(format!("User {user} not found."));
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
    http::ok(&short_map(perms))
}

pub fn team_packages(c: &Ctx<'_>, org: &str, team: &str) -> Response {
    let world = c.app.world();
    if let Err(e) = org_of(&world, org).and_then(|_| member(c, &world)) {
        return e;
    }
    match world.teams.get(team) {
        Some(t) => http::ok(&short_map(
            t.packages.iter().map(|(p, perm)| (p.clone(), *perm)),
        )),
        None => http::not_found(format!("Team {team} not found.")),
    }
}

#[derive(Debug, Deserialize)]
struct GrantBody {
    package: String,
    permissions: Option<String>,
}

pub fn team_grant(c: &Ctx<'_>, org: &str, team: &str) -> Response {
    let body: GrantBody = match http::parse(c.body) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let permission = match body.permissions.as_deref() {
        Some("read-write") => Permission::ReadWrite,
        Some("read-only") | None => Permission::ReadOnly,
        Some(other) => return http::bad_request(format!("Unknown permission {other:?}.")),
    };
    let mut world = c.app.world();
    if let Err(e) = org_of(&world, org).and_then(|_| admin(c, &world)) {
        return e;
    }
    if !world.packages.contains_key(&body.package) {
        return http::not_found(format!("Package {} not found.", body.package));
    }
    let Some(t) = world.teams.get_mut(team) else {
        return http::not_found(format!("Team {team} not found."));
    };
    t.packages.insert(body.package, permission);
    c.app.mark_dirty();
    http::json(StatusCode::CREATED, &json!({}))
}

pub fn team_revoke(c: &Ctx<'_>, org: &str, team: &str) -> Response {
    let body: GrantBody = match http::parse(c.body) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let mut world = c.app.world();
    if let Err(e) = org_of(&world, org).and_then(|_| admin(c, &world)) {
        return e;
    }
    let Some(t) = world.teams.get_mut(team) else {
        return http::not_found(format!("Team {team} not found."));
    };
    if t.packages.remove(&body.package).is_none() {
        return http::not_found(format!("Team {team} has no access to {}.", body.package));
    }
    c.app.mark_dirty();
    empty_ok()
}

pub fn collaborators(c: &Ctx<'_>, name: &str) -> Response {
    let world = c.app.world();
    if let Err(e) = member(c, &world) {
        return e;
    }
    if !world.packages.contains_key(name) {
        return http::not_found(format!("Package {name} not found."));
    }
    let perms = world.users.keys().map(|u| {
        let perm = if world.can_write(u, name) {
            Permission::ReadWrite
        } else {
            Permission::ReadOnly
        };
        (u.clone(), perm)
    });
    http::ok(&short_map(perms))
}
