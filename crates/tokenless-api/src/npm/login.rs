//! Web login (`POST /-/v1/login`, then poll the done URL) and logout
//! (`DELETE /-/user/token/<token>`).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use url::Url;

use super::{NpmClient, decode, escape_segment, otp::is_http_url};
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
    pub(super) fn rewrite_done_url(&self, done: &str) -> String {
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
        self.poll_done(&login.done_url, "/-/v1/login (done URL)", "login", timeout)
            .await
    }

    /// Wait for a web 2FA challenge ([`WebChallenge`](super::WebChallenge)) to be approved:
    /// polls its done URL exactly as [`NpmClient::finish_web_login`] does (`202` +
    /// `retry-after` → wait; `200 {token}` → done). The answer is the one-use code to send
    /// as `npm-otp` (return it from [`OtpSource::code`](super::OtpSource::code)). Gives up
    /// at `timeout`.
    pub async fn wait_for_web_approval(
        &self,
        done_url: &str,
        timeout: Duration,
    ) -> Result<Secret, ApiError> {
        self.poll_done(done_url, "/-/v1/2fa (done URL)", "2FA approval", timeout)
            .await
    }

    /// npm's done-URL protocol (`npm-profile`'s `webAuthCheckLogin`), shared by web login and
    /// web 2FA. The poll is anonymous: the done URL is the capability. `shown` is what errors
    /// print instead of the URL; `what` names the wait in them.
    async fn poll_done(
        &self,
        done_url: &str,
        shown: &str,
        what: &str,
        timeout: Duration,
    ) -> Result<Secret, ApiError> {
        let deadline = Instant::now() + timeout;
        let anonymous = NpmClient {
            http: self.http.clone(),
            token: None,
        };
        loop {
            let req = Request::get(done_url.to_owned()).shown_as(shown);
            if !is_http_url(done_url) {
                return Err(req.error(ErrorKind::Invalid(format!(
                    "the {what} done URL must be an http(s) URL"
                ))));
            }
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
                            req.error(ErrorKind::Invalid(format!(
                                "the {what} finished without a token"
                            )))
                        });
                }
                _ => {
                    let _: serde_json::Value = decode(&req, reply)?;
                    return Err(req.error(ErrorKind::Invalid(format!(
                        "unexpected answer while waiting for the {what}"
                    ))));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClientOptions;

    #[test]
    fn done_urls_on_the_public_registry_move_to_the_configured_one() {
        let npm = NpmClient::new("http://127.0.0.1:4873/npm/", None, ClientOptions::default())
            .expect("client");
        assert_eq!(
            npm.rewrite_done_url("https://registry.npmjs.org/-/v1/2fa/done/abc?x=1"),
            "http://127.0.0.1:4873/npm/-/v1/2fa/done/abc?x=1"
        );
        assert_eq!(
            npm.rewrite_done_url("http://127.0.0.1:9/-/v1/done/abc"),
            "http://127.0.0.1:9/-/v1/done/abc"
        );
    }
}
