//! The npm registry client: packages, packuments, trust, publishing access, tokens,
//! org members and teams, whoami, web login/logout and OTP challenges.

mod login;
pub mod model;
mod otp;

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

pub use login::WebLogin;
pub use model::*;
pub use otp::{Challenge, OtpSource, StaticOtp, WebChallenge};

use crate::{
    ApiError, ClientOptions, ErrorKind, Secret,
    http::{Http, Reply, Request},
};

/// Most pages followed for one paginated list.
const MAX_PAGES: usize = 1000;

/// A registry client. Clones share one connection pool, one concurrency limit and one
/// rate-limit pause; [`NpmClient::with_token`] makes a clone that signs as someone else.
#[derive(Debug, Clone)]
pub struct NpmClient {
    http: Http,
    token: Option<Secret>,
}

/// `@scope/name` → `@scope%2fname`, everything else outside the unreserved set escaped.
pub fn escape_name(name: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'@');
    percent_encoding::utf8_percent_encode(name, SET)
        .to_string()
        .replace("%2F", "%2f")
}

fn escape_segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `@acme` or `acme` → `acme`.
fn org_name(scope: &str) -> &str {
    scope.trim_start_matches('@')
}

impl NpmClient {
    pub fn new(
        registry: &str,
        token: Option<Secret>,
        options: ClientOptions,
    ) -> Result<Self, ApiError> {
        Ok(NpmClient {
            http: Http::new(registry, options)?,
            token,
        })
    }

    /// The same client, signing as `token`.
    pub fn with_token(&self, token: Secret) -> Self {
        NpmClient {
            http: self.http.clone(),
            token: Some(token),
        }
    }

    pub fn registry(&self) -> &str {
        self.http.base().as_str()
    }

    pub fn token(&self) -> Option<&Secret> {
        self.token.as_ref()
    }

    pub fn stats(&self) -> crate::StatsSnapshot {
        self.http.stats().snapshot()
    }

    async fn send(&self, req: &Request) -> Result<Reply, ApiError> {
        let auth = self.token.as_ref().map(|t| ("authorization", t));
        match auth {
            Some((name, token)) => {
                let bearer = Secret::new(format!("Bearer {}", token.expose()));
                self.http.send(req, Some((name, &bearer))).await
            }
            None => self.http.send(req, None).await,
        }
    }

    async fn get_json<T: DeserializeOwned>(&self, req: Request) -> Result<T, ApiError> {
        let reply = self.send(&req).await?;
        decode(&req, reply)
    }

    /// `GET /-/whoami` → the signed-in user's name.
    pub async fn whoami(&self) -> Result<String, ApiError> {
        #[derive(serde::Deserialize)]
        struct Who {
            username: String,
        }
        let who: Who = self.get_json(Request::get("-/whoami")).await?;
        Ok(who.username)
    }

    /// The OIDC token exchange npm runs before a publish (`lib/utils/oidc.js`):
    /// `POST /-/npm/v1/oidc/token/exchange/package/<pkg>` at the registry's host root (a
    /// registry path prefix is dropped, as npm drops it), no body, the CI job's id token as
    /// `Authorization: Bearer`. A 2xx `{"token"}` is the short-lived token for that one
    /// package; anything else is the registry's refusal (npmjs answers 404 for every trust
    /// mismatch). A POST is retried only when it never reached the server (or was answered 429):
    /// the registry spends the id token for the package on the first exchange it answers.
    pub async fn oidc_exchange(
        &self,
        package: &str,
        id_token: &Secret,
    ) -> Result<Secret, ApiError> {
        #[derive(serde::Deserialize)]
        struct Minted {
            #[serde(default)]
            token: Option<String>,
        }
        let path = format!(
            "/-/npm/v1/oidc/token/exchange/package/{}",
            escape_name(package)
        );
        let url = self.http.base().join(&path).map_err(|e| {
            Request::new(Method::POST, path.clone())
                .error(ErrorKind::Invalid(format!("bad URL: {e}")))
        })?;
        let req = Request::new(Method::POST, url.to_string()).shown_as(path);
        let bearer = Secret::new(format!("Bearer {}", id_token.expose()));
        let reply = self
            .http
            .send(&req, Some(("authorization", &bearer)))
            .await?;
        let minted: Minted = decode(&req, reply)?;
        match minted.token {
            Some(t) if !t.is_empty() => Ok(Secret::new(t)),
            _ => Err(req.error(ErrorKind::Decode(
                "the exchange answered 2xx without a token (npm falls back to other credentials)"
                    .into(),
            ))),
        }
    }

    /// `GET /-/org/<org>/package` → package name → `read`/`write`.
    pub async fn org_packages(&self, scope: &str) -> Result<BTreeMap<String, String>, ApiError> {
        let path = format!("-/org/{}/package", escape_segment(org_name(scope)));
        self.get_json(Request::get(path)).await
    }

    /// `GET /<pkg>` → the packument.
    pub async fn packument(&self, name: &str) -> Result<Packument, ApiError> {
        let req = Request::get(escape_name(name)).header("accept", "application/json");
        self.get_json(req).await
    }

    /// `GET /-/package/<pkg>/visibility` → public?
    pub async fn visibility(&self, name: &str) -> Result<bool, ApiError> {
        #[derive(serde::Deserialize)]
        struct Visibility {
            public: bool,
        }
        let path = format!("-/package/{}/visibility", escape_name(name));
        let v: Visibility = self.get_json(Request::get(path)).await?;
        Ok(v.public)
    }

    /// `GET /-/package/<pkg>/trust` → every trust config of the package (npm allows several
    /// since 2026-09). A config that does not parse is an error naming the package and the
    /// field (`trust config of @acme/a: [1].claims.repository: missing required field`),
    /// never dropped: a config tokenless cannot read is still a way in.
    pub async fn trust_configs(&self, name: &str) -> Result<Vec<TrustConfig>, ApiError> {
        let path = format!("-/package/{}/trust", escape_name(name));
        let req = Request::get(path);
        let reply = self.send(&req).await?;
        if reply.status == StatusCode::NOT_FOUND {
            // npm answers 404 for a package without a trusted publisher.
            return Ok(Vec::new());
        }
        decode_trust(&req, reply, name)
    }

    /// The publishing access as a tokenless sandbox shows it to tests and narration
    /// (`GET /-/sandbox/package/<pkg>/access`). npm has no read of the setting, so nothing
    /// that decides (audit, plan) calls this.
    pub async fn sandbox_publishing_access(
        &self,
        name: &str,
    ) -> Result<PublishingAccess, ApiError> {
        let path = format!("-/sandbox/package/{}/access", escape_name(name));
        self.get_json(Request::get(path)).await
    }

    /// `GET /-/package/<pkg>/collaborators` → user → `read`/`write`.
    pub async fn collaborators(&self, name: &str) -> Result<BTreeMap<String, String>, ApiError> {
        let path = format!("-/package/{}/collaborators", escape_name(name));
        self.get_json(Request::get(path)).await
    }

    /// `GET /-/npm/v1/tokens`, following `urls.next` until it is empty.
    pub async fn tokens(&self) -> Result<Vec<Token>, ApiError> {
        let mut out = Vec::new();
        let mut next = Some("-/npm/v1/tokens".to_string());
        let mut pages = 0;
        while let Some(path) = next.take() {
            pages += 1;
            let req = Request::get(path).shown_as("/-/npm/v1/tokens");
            if pages > MAX_PAGES {
                return Err(req.error(ErrorKind::Invalid(format!(
                    "more than {MAX_PAGES} pages of tokens"
                ))));
            }
            let page: TokenPage = self.get_json(req).await?;
            out.extend(page.objects);
            next = page.urls.next.filter(|n| !n.is_empty());
        }
        Ok(out)
    }

    /// `GET /-/org/<org>/user` → member → `owner`/`admin`/`developer`.
    pub async fn org_members(&self, scope: &str) -> Result<BTreeMap<String, String>, ApiError> {
        let path = format!("-/org/{}/user", escape_segment(org_name(scope)));
        self.get_json(Request::get(path)).await
    }

    /// `GET /-/org/<org>/team?format=cli` → team names without the scope.
    pub async fn teams(&self, scope: &str) -> Result<Vec<String>, ApiError> {
        let org = org_name(scope);
        let path = format!("-/org/{}/team?format=cli", escape_segment(org));
        let names: Vec<String> = self.get_json(Request::get(path)).await?;
        Ok(names
            .into_iter()
            .map(|n| match n.split_once(':') {
                Some((_, team)) => team.to_string(),
                None => n,
            })
            .collect())
    }

    /// `GET /-/team/<org>/<team>/user?format=cli` → member names.
    pub async fn team_members(&self, scope: &str, team: &str) -> Result<Vec<String>, ApiError> {
        let path = format!(
            "-/team/{}/{}/user?format=cli",
            escape_segment(org_name(scope)),
            escape_segment(team)
        );
        self.get_json(Request::get(path)).await
    }

    /// `GET /-/team/<org>/<team>/package` → package → `read`/`write`.
    pub async fn team_packages(
        &self,
        scope: &str,
        team: &str,
    ) -> Result<BTreeMap<String, String>, ApiError> {
        let path = format!(
            "-/team/{}/{}/package",
            escape_segment(org_name(scope)),
            escape_segment(team)
        );
        self.get_json(Request::get(path)).await
    }

    // ---- writes: every one goes through the OTP challenge ----

    /// Send a write; on `401` + `www-authenticate: OTP` ask `otp` for a code and retry,
    /// asking again (up to three times) when the code is refused. A challenge that offers
    /// npm's web 2FA (`authUrl`/`doneUrl`) is handed to `otp` as [`Challenge::web`].
    async fn write(&self, req: Request, otp: &dyn OtpSource) -> Result<Reply, ApiError> {
        const MAX_PROMPTS: u32 = 3;
        // A code the source holds goes with the first attempt; if the registry refuses it,
        // the challenge that follows is a retry.
        let mut code: Option<String> = otp.current();
        let sent_first = code.is_some();
        let mut prompts = 0;
        loop {
            let mut attempt = req.clone();
            if let Some(c) = &code {
                attempt = attempt.header("npm-otp", c.clone());
            }
            let reply = self.send(&attempt).await?;
            if !otp::is_challenge(&reply) {
                return check(&req, reply);
            }
            if prompts == MAX_PROMPTS {
                return Err(req.error(ErrorKind::OtpRejected(prompts)));
            }
            prompts += 1;
            let web = otp::web_urls(&reply)
                .map_err(|why| req.error(ErrorKind::Invalid(why)))?
                .map(|(auth_url, done_url)| WebChallenge {
                    auth_url,
                    done_url: self.rewrite_done_url(&done_url),
                });
            let challenge = Challenge {
                retry: prompts > 1 || sent_first,
                web,
            };
            code = Some(
                otp.code(&challenge)
                    .await
                    .ok_or_else(|| req.error(ErrorKind::OtpRequired))?,
            );
        }
    }

    /// `npm access set mfa=…`: `POST /-/package/<pkg>/access`.
    pub async fn set_publishing_access(
        &self,
        name: &str,
        access: PublishingAccess,
        otp: &dyn OtpSource,
    ) -> Result<(), ApiError> {
        let path = format!("-/package/{}/access", escape_name(name));
        let body = serde_json::to_value(access).map_err(|e| {
            Request::new(Method::POST, path.clone()).error(ErrorKind::Invalid(e.to_string()))
        })?;
        self.write(Request::new(Method::POST, path).json(body), otp)
            .await
            .map(drop)
    }

    /// `npm trust …`: `POST /-/package/<pkg>/trust` with one config (its `id`, if any, is not
    /// sent: the registry assigns it). Returns the created config(s) as the registry answers.
    pub async fn create_trust(
        &self,
        name: &str,
        config: &TrustConfig,
        otp: &dyn OtpSource,
    ) -> Result<Vec<TrustConfig>, ApiError> {
        let path = format!("-/package/{}/trust", escape_name(name));
        let mut wire = config.to_json();
        if let Some(obj) = wire.as_object_mut() {
            obj.remove("id");
        }
        let req = Request::new(Method::POST, path).json(serde_json::Value::Array(vec![wire]));
        let reply = self.write(req, otp).await?;
        let req = Request::new(
            Method::POST,
            format!("-/package/{}/trust", escape_name(name)),
        );
        decode_trust(&req, reply, name)
    }

    /// `npm trust revoke`: `DELETE /-/package/<pkg>/trust/<id>`.
    pub async fn revoke_trust(
        &self,
        name: &str,
        id: &str,
        otp: &dyn OtpSource,
    ) -> Result<(), ApiError> {
        let path = format!(
            "-/package/{}/trust/{}",
            escape_name(name),
            escape_segment(id)
        );
        self.write(Request::new(Method::DELETE, path), otp)
            .await
            .map(drop)
    }

    /// `npm token create`: the new token's key and secret.
    pub async fn create_token(
        &self,
        token: &NewToken,
        otp: &dyn OtpSource,
    ) -> Result<(String, Secret), ApiError> {
        let req = Request::new(Method::POST, "-/npm/v1/tokens");
        let body = serde_json::to_value(token)
            .map_err(|e| req.error(ErrorKind::Invalid(e.to_string())))?;
        let reply = self.write(req.json(body), otp).await?;
        let req = Request::new(Method::POST, "-/npm/v1/tokens");
        let created: CreatedToken = decode(&req, reply)?;
        Ok((created.key, Secret::new(created.secret)))
    }

    /// `npm token revoke`: `DELETE /-/npm/v1/tokens/token/<key>`.
    pub async fn delete_token(&self, key: &str, otp: &dyn OtpSource) -> Result<(), ApiError> {
        let path = format!("-/npm/v1/tokens/token/{}", escape_segment(key));
        self.write(Request::new(Method::DELETE, path), otp)
            .await
            .map(drop)
    }

    /// `npm org rm <org> <user>`: `DELETE /-/org/<org>/user` with `{"user": name}`.
    pub async fn remove_org_member(
        &self,
        scope: &str,
        user: &str,
        otp: &dyn OtpSource,
    ) -> Result<(), ApiError> {
        let path = format!("-/org/{}/user", escape_segment(org_name(scope)));
        let req = Request::new(Method::DELETE, path).json(serde_json::json!({ "user": user }));
        self.write(req, otp).await.map(drop)
    }

    /// `npm access grant read-only|read-write <scope:team> <pkg>`.
    pub async fn set_team_permission(
        &self,
        scope: &str,
        team: &str,
        package: &str,
        write: bool,
        otp: &dyn OtpSource,
    ) -> Result<(), ApiError> {
        let org = org_name(scope);
        let path = format!(
            "-/team/{}/{}/package",
            escape_segment(org),
            escape_segment(team)
        );
        let permissions = if write { "read-write" } else { "read-only" };
        let req = Request::new(Method::PUT, path)
            .header("npm-scope", format!("@{org}"))
            .json(serde_json::json!({ "package": package, "permissions": permissions }));
        self.write(req, otp).await.map(drop)
    }
}

/// A 2xx answer, or the error it stands for.
fn check(req: &Request, reply: Reply) -> Result<Reply, ApiError> {
    if reply.status.is_success() {
        return Ok(reply);
    }
    if otp::is_challenge(&reply) {
        return Err(req.error(ErrorKind::OtpRequired));
    }
    Err(req.error(ErrorKind::Status {
        status: reply.status.as_u16(),
        message: reply.message(),
    }))
}

/// A trust endpoint's answer (one config or an array) in tokenless-trust's model; an error
/// names the package and the field.
fn decode_trust(req: &Request, reply: Reply, package: &str) -> Result<Vec<TrustConfig>, ApiError> {
    let reply = check(req, reply)?;
    let text = std::str::from_utf8(&reply.body).map_err(|e| {
        req.error(ErrorKind::Decode(format!(
            "trust configs of {package} are not UTF-8 ({e})"
        )))
    })?;
    tokenless_trust::parse_trust_configs(text)
        .map_err(|e| req.error(ErrorKind::Decode(format!("trust config of {package}: {e}"))))
}

pub(crate) fn decode<T: DeserializeOwned>(req: &Request, reply: Reply) -> Result<T, ApiError> {
    let reply = check(req, reply)?;
    serde_json::from_slice(&reply.body).map_err(|e| req.error(ErrorKind::Decode(e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_like_npm() {
        assert_eq!(escape_name("@acme/web-ui"), "@acme%2fweb-ui");
        assert_eq!(escape_name("left-pad"), "left-pad");
        assert_eq!(escape_name("../etc"), "..%2fetc");
        assert_eq!(org_name("@acme"), "acme");
    }
}
