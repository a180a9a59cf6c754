//! Logging in and out: web login (`POST /-/v1/login`, an approval page, the done URL the CLI
//! polls), the legacy couch login, and logout.

use crate::error::{Handled, SandboxError};
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::clock::now_secs;
use crate::http;
use crate::router::Ctx;
use crate::state::WebLogin;

pub fn start(c: &Ctx<'_>) -> Handled {
    let id = crate::ids::opaque();
    let now = now_secs();
    let mut rt = c.app.runtime();
    rt.logins.retain(|_, l| l.created + 600 > now);
    if rt.logins.len() >= 10_000 {
        return Err(SandboxError::too_many("Too many pending web logins.", 60));
    }
    rt.logins.insert(
        id.clone(),
        WebLogin {
            approved_token: None,
            created: now,
        },
    );
    Ok(http::ok(&json!({
        "loginUrl": format!("{}/-/v1/login/approve/{id}", c.app.base),
        "doneUrl": format!("{}/-/v1/login/done/{id}", c.app.base),
    })))
}

pub fn done(c: &Ctx<'_>, id: &str) -> Handled {
    let mut rt = c.app.runtime();
    match rt.logins.get(id).map(|l| l.approved_token.clone()) {
        None => Err(SandboxError::not_found(
            "Unknown or finished login session.",
        )),
        Some(None) => {
            let mut resp = http::json(StatusCode::ACCEPTED, &json!({}));
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            Ok(resp)
        }
        Some(Some(token)) => {
            rt.logins.remove(id);
            Ok(http::ok(&json!({"token": token})))
        }
    }
}

pub fn page(c: &Ctx<'_>, id: &str) -> Handled {
    if !c.app.runtime().logins.contains_key(id) {
        return Err(SandboxError::not_found(
            "Unknown or finished login session.",
        ));
    }
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>tokenless sandbox login</title></head><body>\
<h1>Sign in to the tokenless sandbox</h1>\
<form method=\"post\" action=\"/-/v1/login/approve/{id}\">\
<label>User name <input name=\"name\" autocomplete=\"username\"></label><br>\
<label>One-time password <input name=\"otp\" inputmode=\"numeric\" autocomplete=\"one-time-code\"></label><br>\
<button type=\"submit\">Approve</button></form>\
<p>The users and their TOTP secrets are listed at <code>/-/sandbox/info</code>.</p></body></html>"
    );
    let mut resp = Response::new(Body::from(html));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(resp)
}

#[derive(Debug, Deserialize)]
struct Approval {
    name: String,
    otp: String,
}

fn parse_approval(c: &Ctx<'_>) -> Option<Approval> {
    let is_json = c
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if is_json {
        return serde_json::from_slice(c.body).ok();
    }
    let form = std::str::from_utf8(c.body).ok()?;
    Some(Approval {
        name: http::query_param(Some(form), "name")?,
        otp: http::query_param(Some(form), "otp")?,
    })
}

/// Approves a pending web login with a user name and that user's current TOTP code
/// (a form POST from the page, or JSON `{"name","otp"}` from tests).
pub fn approve(c: &Ctx<'_>, id: &str) -> Handled {
    let Some(a) = parse_approval(c) else {
        return Err(SandboxError::bad_request(
            "Expected `name` and `otp` (form fields or JSON).",
        ));
    };
    let now = now_secs();
    c.check_attempts("login", &a.name, now)?;
    if !c.app.runtime().logins.contains_key(id) {
        return Err(SandboxError::not_found(
            "Unknown or finished login session.",
        ));
    }
    // Each approved login is a fresh session (the user's other sessions stay valid).
    let token = {
        let mut world = c.app.write();
        let valid = world
            .users
            .get(&a.name)
            .is_some_and(|u| crate::totp::verify(&u.totp_secret, &a.otp, now));
        if valid {
            world.users.get_mut(&a.name).map(|u| u.new_session(now))
        } else {
            None
        }
    };
    let Some(token) = token else {
        c.record_failure("login", &a.name, now);
        return Err(SandboxError::unauthorized(
            "Unknown user or wrong one-time password.",
        ));
    };
    c.clear_failures("login", &a.name);
    let mut rt = c.app.runtime();
    match rt.logins.get_mut(id) {
        Some(l) => {
            l.approved_token = Some(token);
            Ok(http::ok(
                &json!({"ok": true, "message": "Login approved; you can close this page."}),
            ))
        }
        None => Err(SandboxError::not_found(
            "Unknown or finished login session.",
        )),
    }
}

#[derive(Debug, Deserialize)]
struct CouchBody {
    name: String,
    password: String,
}

/// `PUT /-/user/org.couchdb.user:<name>`: password login (plus OTP, as the account has 2FA).
pub fn couch(c: &Ctx<'_>) -> Handled {
    let body: CouchBody = http::parse(c.body)?;
    let now = now_secs();
    c.check_attempts("login", &body.name, now)?;
    let mut world = c.app.write();
    if world
        .users
        .get(&body.name)
        .is_none_or(|u| u.password != body.password)
    {
        drop(world);
        c.record_failure("login", &body.name, now);
        return Err(SandboxError::unauthorized(
            "Incorrect user name or password.",
        ));
    }
    c.clear_failures("login", &body.name);
    c.second_factor(&world, &body.name)?;
    // A fresh session per login; the user's other sessions stay valid.
    let Some(token) = world.users.get_mut(&body.name).map(|u| u.new_session(now)) else {
        return Err(SandboxError::unauthorized("Unknown account."));
    };
    Ok(http::json(
        StatusCode::CREATED,
        &json!({"ok": format!("you are authenticated as '{}'", body.name), "token": token}),
    ))
}

/// `DELETE /-/user/token/<token>`: ends the caller's login session (the account's other
/// sessions stay).
pub fn logout(c: &Ctx<'_>, token: &str) -> Handled {
    if http::bearer(c.headers) != Some(token) {
        return Err(SandboxError::unauthorized(
            "You can only log out your own session.",
        ));
    }
    let mut world = c.app.write();
    let ended = world
        .users
        .values_mut()
        .any(|u| http::remove_matching(&mut u.sessions, |s| s.token == token));
    if ended {
        Ok(http::empty_ok())
    } else {
        Err(SandboxError::not_found("Not a login session."))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expire {
    #[serde(default)]
    sessions: bool,
    #[serde(default)]
    tfa_windows: bool,
}

/// `POST /-/sandbox/expire` (tests and the demo): `{"sessions": true}` ends every login
/// session of every account now, the scenario's listed ones included (they are refused as
/// expired from then on, also after a restart from `--state`); `{"tfa_windows": true}` closes
/// every open "skip 2FA for the next 5 minutes" window. Answers how many of each were open.
pub fn expire(c: &Ctx<'_>) -> Handled {
    let body: Expire = serde_json::from_slice(c.body).map_err(|e| {
        SandboxError::bad_request(format!(
            "Expected {{\"sessions\": bool, \"tfa_windows\": bool}}: {e}."
        ))
    })?;
    let now = now_secs();
    let sessions = if body.sessions {
        c.app.write().end_sessions(now)
    } else {
        0
    };
    let windows = if body.tfa_windows {
        let mut rt = c.app.runtime();
        let open = rt
            .tfa_windows
            .values()
            .filter(|until| **until > now)
            .count();
        rt.tfa_windows.clear();
        open
    } else {
        0
    };
    Ok(http::ok(
        &json!({"ok": true, "sessions": sessions, "tfa_windows": windows}),
    ))
}

/// The `doneUrl` of a web 2FA challenge: 202 + `retry-after` until approved, then 200
/// `{"token": code}` once (the CLI sends the code as `npm-otp` on its retry).
pub fn tfa_done(c: &Ctx<'_>, id: &str) -> Handled {
    let mut rt = c.app.runtime();
    match rt
        .challenges
        .get(id)
        .map(|ch| (ch.code.clone(), ch.user.clone()))
    {
        None => Err(SandboxError::not_found(
            "Unknown or finished 2FA challenge.",
        )),
        Some((None, _)) => {
            let mut resp = http::json(StatusCode::ACCEPTED, &json!({}));
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            Ok(resp)
        }
        Some((Some(code), user)) => {
            rt.challenges.remove(id);
            rt.tfa_codes.insert(code.clone(), user);
            Ok(http::ok(&json!({"token": code})))
        }
    }
}

/// The `authUrl` of a web 2FA challenge: where a person would touch their security key.
pub fn tfa_page(c: &Ctx<'_>, id: &str) -> Handled {
    let user = c
        .app
        .runtime()
        .challenges
        .get(id)
        .map(|ch| ch.user.clone())
        .ok_or_else(|| SandboxError::not_found("Unknown or finished 2FA challenge."))?;
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>tokenless sandbox 2FA</title></head><body>\
<h1>Confirm a write for {user}</h1>\
<p>The sandbox has no security keys: approve with <code>POST /-/sandbox/2fa/{id}/approve</code> \
(JSON <code>{{\"remember\": true}}</code> skips 2FA for the next 5 minutes).</p></body></html>"
    );
    let mut resp = Response::new(Body::from(html));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(resp)
}

#[derive(Debug, Default, Deserialize)]
struct TfaApproval {
    #[serde(default)]
    remember: bool,
}

/// `POST /-/sandbox/2fa/<id>/approve` (tests and the demo stand in for the person with the
/// security key): approves the challenge; `{"remember": true}` also opens the "skip 2FA for
/// the next 5 minutes" window of that user.
pub fn tfa_approve(c: &Ctx<'_>, id: &str) -> Handled {
    let approval: TfaApproval = if c.body.is_empty() {
        TfaApproval::default()
    } else {
        http::parse(c.body)?
    };
    let now = now_secs();
    let mut rt = c.app.runtime();
    let Some(ch) = rt.challenges.get_mut(id) else {
        return Err(SandboxError::not_found(
            "Unknown or finished 2FA challenge.",
        ));
    };
    if ch.code.is_none() {
        ch.code = Some(crate::ids::opaque());
    }
    ch.remember = approval.remember;
    let user = ch.user.clone();
    if approval.remember {
        rt.tfa_windows.retain(|_, until| *until > now);
        rt.tfa_windows
            .insert(user.clone(), now + crate::auth::TFA_WINDOW_SECS);
    }
    Ok(http::ok(
        &json!({"ok": true, "user": user, "remember": approval.remember}),
    ))
}

/// `GET /-/sandbox/2fa` (tests and the demo): the pending web 2FA challenges, oldest first,
/// `[{id, user, created, approved}]`, and how many approved codes each user has not spent yet
/// (`unspent`; the codes themselves are never shown). A write that carried its code leaves
/// neither its challenge nor its code behind.
pub fn tfa_pending(c: &Ctx<'_>) -> Handled {
    let now = now_secs();
    let rt = c.app.runtime();
    let mut pending: Vec<(&String, &crate::state::TfaChallenge)> = rt
        .challenges
        .iter()
        .filter(|(_, ch)| ch.created + 600 > now)
        .collect();
    pending.sort_by(|a, b| a.1.created.cmp(&b.1.created).then_with(|| a.0.cmp(b.0)));
    let challenges: Vec<serde_json::Value> = pending
        .iter()
        .map(|(id, ch)| {
            json!({
                "id": id,
                "user": ch.user,
                "created": crate::clock::rfc3339(ch.created),
                "approved": ch.code.is_some(),
            })
        })
        .collect();
    let mut unspent = std::collections::BTreeMap::<&str, u64>::new();
    for user in rt.tfa_codes.values() {
        *unspent.entry(user.as_str()).or_default() += 1;
    }
    Ok(http::ok(
        &json!({"challenges": challenges, "unspent": unspent}),
    ))
}
