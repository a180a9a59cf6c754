//! Web login (`POST /-/v1/login`, then poll the done URL) and logout
//! (`DELETE /-/user/token/<token>`).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use url::Url;

use super::{NpmClient, decode, escape_segment};
use crate::{ApiError, ErrorKind, Secret, http::Request};

/// A started web login: the page the person opens, and the URL tokenless polls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebLogin {
    pub login_url: String,
    pub done_url: String,
}

#[derive(serde::Deserialize)]
struct LoginReply {
    #[serde(rename = "loginUrl")]
    login_url: String,
    #[serde(rename = "doneUrl")]
    done_url: String,
}

#[derive(serde::Deserialize)]
struct DoneReply {
    token: Option<String>,
}

fn is_http_url(s: &str) -> bool {
    Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

impl NpmClient {
    /// `POST /-/v1/login` with `{}` → the login and done URLs.
    pub async fn start_web_login(&self) -> Result<WebLogin, ApiError> {
        let req = Request::new(Method::POST, "-/v1/login").json(serde_json::json!({}));
        let reply = self.send(&req).await?;
        let r: LoginReply = decode(&req, reply)?;
        if !is_http_url(&r.login_url) || !is_http_url(&r.done_url) {
            return Err(req.error(ErrorKind::Invalid(
                "invalid response from the web login endpoint (loginUrl/doneUrl must be http(s) URLs)".into(),
            )));
        }
        let done_url = self.rewrite_done_url(&r.done_url);
        Ok(WebLogin {
            login_url: r.login_url,
            done_url,
        })
    }

    /// As npm does: a done URL on registry.npmjs.org is polled on the configured registry.
    fn rewrite_done_url(&self, done: &str) -> String {
        let base = self.http.base();
        match Url::parse(done) {
            Ok(u)
                if u.host_str() == Some("registry.npmjs.org")
                    && base.host_str() != Some("registry.npmjs.org") =>
            {
                let path = u.path().trim_start_matches('/');
                let query = u.query().map(|q| format!("?{q}")).unwrap_or_default();
                format!("{}{path}{query}", base.as_str())
            }
            _ => done.to_string(),
        }
    }

    /// Poll the done URL: `202` + `retry-after` → wait; `200 {token}` → the session token.
    /// Gives up at `timeout`.
    pub async fn finish_web_login(
        &self,
        login: &WebLogin,
        timeout: Duration,
    ) -> Result<Secret, ApiError> {
        let deadline = Instant::now() + timeout;
        let anonymous = NpmClient {
            http: self.http.clone(),
            token: None,
        };
        loop {
            let req = Request::get(login.done_url.clone()).shown_as("/-/v1/login (done URL)");
            let reply = anonymous.send(&req).await?;
            match reply.status {
                StatusCode::ACCEPTED => {
                    let wait = reply
                        .headers
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs)
                        .unwrap_or(Duration::from_secs(1))
                        .clamp(Duration::from_millis(100), Duration::from_secs(30));
                    if Instant::now() + wait > deadline {
                        return Err(req.error(ErrorKind::Timeout(timeout)));
                    }
                    tokio::time::sleep(wait).await;
                }
                StatusCode::OK => {
                    let done: DoneReply = decode(&req, reply)?;
                    return done
                        .token
                        .filter(|t| !t.is_empty())
                        .map(Secret::new)
                        .ok_or_else(|| {
                            req.error(ErrorKind::Invalid(
                                "the login finished without a token".into(),
                            ))
                        });
                }
                _ => {
                    let _: serde_json::Value = decode(&req, reply)?;
                    return Err(req.error(ErrorKind::Invalid(
                        "unexpected answer while waiting for the login".into(),
                    )));
                }
            }
        }
    }

    /// `DELETE /-/user/token/<token>`: end a session. The path shown in errors is redacted.
    pub async fn logout(&self, session: &Secret) -> Result<(), ApiError> {
        let path = format!("-/user/token/{}", escape_segment(session.expose()));
        let req = Request::new(Method::DELETE, path).shown_as(format!("/-/user/token/{session}"));
        let signer = self.with_token(session.clone());
        let reply = signer.send(&req).await?;
        super::check(&req, reply).map(drop)
    }
}
