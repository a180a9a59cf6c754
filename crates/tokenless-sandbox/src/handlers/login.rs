//! Logging in and out: web login (`POST /-/v1/login`, an approval page, the done URL the CLI
//! polls), the legacy couch login, and logout.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::app::{Ctx, WebLogin, empty_ok};
use crate::clock::now_secs;
use crate::http;

pub fn start(c: &Ctx<'_>) -> Response {
    let id = crate::ids::opaque();
    let mut rt = c.app.runtime();
    if rt.logins.len() > 10_000 {
        rt.logins.clear();
    }
    rt.logins.insert(id.clone(), WebLogin::default());
    http::ok(&json!({
        "loginUrl": format!("{}/-/v1/login/approve/{id}", c.app.base),
        "doneUrl": format!("{}/-/v1/login/done/{id}", c.app.base),
    }))
}

pub fn done(c: &Ctx<'_>, id: &str) -> Response {
    let mut rt = c.app.runtime();
    match rt.logins.get(id).map(|l| l.approved_token.clone()) {
        None => http::not_found("Unknown or finished login session."),
        Some(None) => {
            let mut resp = http::json(StatusCode::ACCEPTED, &json!({}));
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from_static("1"));
            resp
        }
        Some(Some(token)) => {
            rt.logins.remove(id);
            http::ok(&json!({"token": token}))
        }
    }
}

pub fn page(c: &Ctx<'_>, id: &str) -> Response {
    if !c.app.runtime().logins.contains_key(id) {
        return http::not_found("Unknown or finished login session.");
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
    resp
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
pub fn approve(c: &Ctx<'_>, id: &str) -> Response {
    let Some(a) = parse_approval(c) else {
        return http::bad_request("Expected `name` and `otp` (form fields or JSON).");
    };
    let token = {
        let world = c.app.world();
        match world.users.get(&a.name) {
            Some(u) if crate::totp::verify(&u.totp_secret, &a.otp, now_secs()) => {
                u.session_token.clone()
            }
            _ => return http::unauthorized("Unknown user or wrong one-time password."),
        }
    };
    let mut rt = c.app.runtime();
    match rt.logins.get_mut(id) {
        Some(l) => {
            l.approved_token = Some(token);
            http::ok(&json!({"ok": true, "message": "Login approved; you can close this page."}))
        }
        None => http::not_found("Unknown or finished login session."),
    }
}

#[derive(Debug, Deserialize)]
struct CouchBody {
    name: String,
    password: String,
}

/// `PUT /-/user/org.couchdb.user:<name>`: password login (plus OTP, as the account has 2FA).
pub fn couch(c: &Ctx<'_>) -> Response {
    let body: CouchBody = match http::parse(c.body) {
        Ok(b) => b,
        Err(e) => return e,
    };
    let world = c.app.world();
    let Some(u) = world
        .users
        .get(&body.name)
        .filter(|u| u.password == body.password)
    else {
        return http::unauthorized("Incorrect user name or password.");
    };
    if !crate::auth::otp_valid(&world, &u.name, c.headers) {
        return http::otp_challenge();
    }
    http::json(
        StatusCode::CREATED,
        &json!({"ok": format!("you are authenticated as '{}'", u.name), "token": u.session_token}),
    )
}

/// `DELETE /-/user/token/<token>`: ends the caller's login session (a new one replaces it).
pub fn logout(c: &Ctx<'_>, token: &str) -> Response {
    if http::bearer(c.headers) != Some(token) {
        return http::unauthorized("You can only log out your own session.");
    }
    let mut world = c.app.world();
    match world.users.values_mut().find(|u| u.session_token == token) {
        Some(u) => {
            u.session_token = crate::ids::npm_token();
            c.app.mark_dirty();
            empty_ok()
        }
        None => http::not_found("Not a login session."),
    }
}
