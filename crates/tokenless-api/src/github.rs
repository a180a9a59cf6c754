//! The GitHub REST client (`Authorization: Bearer`): repositories, deployment environments
//! and their branch policies, Actions secret names and variables at repository, environment
//! and organisation level, the OIDC subject customisation and file contents. `base` is
//! `https://api.github.com` or a GitHub Enterprise Server's `https://HOST/api/v3`.
//!
//! Lists follow `Link: <…>; rel="next"` (same origin only, a bounded number of pages, a link
//! that repeats is an error). A spent rate budget (`403`/`429` with
//! `x-ratelimit-remaining: 0`) waits for `x-ratelimit-reset`, clamped to
//! [`ClientOptions::max_retry_after`], at most `max_attempts` times.

use std::time::Duration;

use base64::Engine as _;
use reqwest::Method;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    ApiError, ClientOptions, ErrorKind, Secret,
    http::{Http, Reply, Request, decode_success, expect_success},
};

/// Most pages followed for one list.
const MAX_PAGES: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    pub id: u64,
    pub full_name: String,
    pub private: bool,
    pub default_branch: String,
}

/// Which refs an environment admits; `None` on [`Environment`] means every ref.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchPolicySettings {
    pub protected_branches: bool,
    pub custom_branch_policies: bool,
}

/// One protection rule of an environment (`wait_timer`, `required_reviewers`,
/// `branch_policy`); reviewers as their logins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectionRule {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub reviewers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Environment {
    pub name: String,
    pub deployment_branch_policy: Option<BranchPolicySettings>,
    pub protection_rules: Vec<ProtectionRule>,
}

#[derive(Deserialize)]
struct EnvironmentDoc {
    name: String,
    #[serde(default)]
    deployment_branch_policy: Option<BranchPolicySettings>,
    #[serde(default)]
    protection_rules: Vec<RuleDoc>,
}

#[derive(Deserialize)]
struct RuleDoc {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    reviewers: Vec<ReviewerDoc>,
}

#[derive(Deserialize)]
struct ReviewerDoc {
    #[serde(default)]
    reviewer: Option<serde_json::Value>,
}

impl From<EnvironmentDoc> for Environment {
    fn from(d: EnvironmentDoc) -> Environment {
        Environment {
            name: d.name,
            deployment_branch_policy: d.deployment_branch_policy,
            protection_rules: d
                .protection_rules
                .into_iter()
                .map(|r| ProtectionRule {
                    kind: r.kind,
                    reviewers: r
                        .reviewers
                        .into_iter()
                        .filter_map(|rv| {
                            let v = rv.reviewer?;
                            v.get("login")
                                .or_else(|| v.get("slug"))
                                .and_then(|l| l.as_str())
                                .map(str::to_owned)
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

/// A deployment branch (or tag) policy: a name pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BranchPolicy {
    pub id: u64,
    pub name: String,
    /// `branch` or `tag`.
    #[serde(rename = "type", default = "branch")]
    pub kind: String,
}

fn branch() -> String {
    "branch".to_owned()
}

/// An Actions variable (GitHub serves variable values, unlike secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    pub name: String,
    pub value: String,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

/// `GET …/actions/oidc/customization/sub`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcSubject {
    #[serde(default)]
    pub use_default: bool,
    #[serde(default)]
    pub include_claim_keys: Vec<String>,
    #[serde(default)]
    pub use_immutable_subject: bool,
}

#[derive(Deserialize)]
struct FileDoc {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    encoding: String,
    #[serde(default)]
    content: String,
}

/// A GitHub REST client; cheap to clone.
#[derive(Debug, Clone)]
pub struct GitHubClient {
    http: Http,
    auth: Option<Secret>,
}

fn escape(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `owner/repo` checked into two path segments.
fn repo_path(full: &str) -> Result<String, ApiError> {
    match full.split_once('/') {
        Some((o, r)) if !o.is_empty() && !r.is_empty() && !r.contains('/') => {
            Ok(format!("repos/{}/{}", escape(o), escape(r)))
        }
        _ => Err(Request::get(format!("repos/{}", full.escape_default()))
            .error(ErrorKind::Invalid("a repository is `owner/name`".into()))),
    }
}

/// A request with the media type and API version GitHub asks clients to send.
fn request(method: Method, path: impl Into<String>) -> Request {
    Request::new(method, path)
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
}

/// The `rel="next"` target of a `Link` header.
fn next_link(reply: &Reply) -> Option<String> {
    let link = reply.headers.get("link")?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
    })
}

/// Seconds until `x-ratelimit-reset` when the budget is spent (`remaining: 0`).
fn budget_spent(reply: &Reply) -> Option<Duration> {
    let header = |n: &str| reply.headers.get(n).and_then(|v| v.to_str().ok());
    if !matches!(reply.status.as_u16(), 403 | 429) || header("x-ratelimit-remaining") != Some("0") {
        return None;
    }
    let reset: u64 = header("x-ratelimit-reset")?.parse().ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Some(Duration::from_secs(reset.saturating_sub(now).max(1)))
}

impl GitHubClient {
    pub fn new(
        base: &str,
        token: Option<Secret>,
        options: ClientOptions,
    ) -> Result<Self, ApiError> {
        Ok(GitHubClient {
            http: Http::new(base, options)?,
            auth: token.map(|t| Secret::new(format!("Bearer {}", t.expose()))),
        })
    }

    pub fn base(&self) -> &str {
        self.http.base().as_str()
    }

    pub fn stats(&self) -> crate::StatsSnapshot {
        self.http.stats().snapshot()
    }

    async fn send(&self, req: &Request) -> Result<Reply, ApiError> {
        let max = self.http.options().max_attempts.max(1);
        let mut waited = 0;
        loop {
            let reply = self
                .http
                .send(req, self.auth.as_ref().map(|t| ("authorization", t)))
                .await?;
            match budget_spent(&reply) {
                Some(wait) if waited + 1 < max => {
                    waited += 1;
                    tokio::time::sleep(wait.min(self.http.options().max_retry_after)).await;
                }
                Some(_) => return Err(req.error(ErrorKind::RateLimited(waited + 1))),
                None => return Ok(reply),
            }
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: String) -> Result<T, ApiError> {
        let req = request(Method::GET, path);
        let reply = self.send(&req).await?;
        decode_success(&req, reply)
    }

    /// Every page of a list whose items sit under `key` (`{"total_count", key: [...]}`).
    async fn all<T: DeserializeOwned>(&self, path: String, key: &str) -> Result<Vec<T>, ApiError> {
        let mut out = Vec::new();
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut next = Some(format!("{path}{sep}per_page=100"));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..MAX_PAGES {
            let Some(url) = next.take() else {
                return Ok(out);
            };
            let req = request(Method::GET, url.clone()).shown_as(format!("/{path}"));
            if !seen.insert(url) {
                return Err(req.error(ErrorKind::Invalid(
                    "the Link header loops back to a page already read".into(),
                )));
            }
            let reply = self.send(&req).await?;
            next = next_link(&reply);
            let mut doc: serde_json::Value = decode_success(&req, reply)?;
            let items = doc
                .get_mut(key)
                .map(serde_json::Value::take)
                .ok_or_else(|| req.error(ErrorKind::Decode(format!("no `{key}` list"))))?;
            let items: Vec<T> = serde_json::from_value(items)
                .map_err(|e| req.error(ErrorKind::Decode(e.to_string())))?;
            out.extend(items);
        }
        Err(Request::get(path).error(ErrorKind::Invalid(format!("more than {MAX_PAGES} pages"))))
    }

    async fn delete(&self, path: String) -> Result<(), ApiError> {
        let req = request(Method::DELETE, path);
        let reply = self.send(&req).await?;
        expect_success(&req, &reply)
    }

    /// `GET /repos/{owner}/{repo}`.
    pub async fn repository(&self, full: &str) -> Result<Repository, ApiError> {
        self.get(repo_path(full)?).await
    }

    /// `GET /repos/{owner}/{repo}/environments`, every page.
    pub async fn environments(&self, full: &str) -> Result<Vec<Environment>, ApiError> {
        let docs: Vec<EnvironmentDoc> = self
            .all(format!("{}/environments", repo_path(full)?), "environments")
            .await?;
        Ok(docs.into_iter().map(Environment::from).collect())
    }

    /// `GET /repos/{owner}/{repo}/environments/{name}`.
    pub async fn environment(&self, full: &str, name: &str) -> Result<Environment, ApiError> {
        let doc: EnvironmentDoc = self
            .get(format!(
                "{}/environments/{}",
                repo_path(full)?,
                escape(name)
            ))
            .await?;
        Ok(doc.into())
    }

    /// `GET …/environments/{name}/deployment-branch-policies`, every page.
    pub async fn branch_policies(
        &self,
        full: &str,
        env: &str,
    ) -> Result<Vec<BranchPolicy>, ApiError> {
        self.all(
            format!(
                "{}/environments/{}/deployment-branch-policies",
                repo_path(full)?,
                escape(env)
            ),
            "branch_policies",
        )
        .await
    }

    /// `PUT /repos/{owner}/{repo}/environments/{name}`: creates or updates, setting the
    /// deployment branch policy (`None`: every ref).
    pub async fn put_environment(
        &self,
        full: &str,
        name: &str,
        policy: Option<BranchPolicySettings>,
    ) -> Result<Environment, ApiError> {
        let req = request(
            Method::PUT,
            format!("{}/environments/{}", repo_path(full)?, escape(name)),
        )
        .json(serde_json::json!({ "deployment_branch_policy": policy }));
        let reply = self.send(&req).await?;
        let doc: EnvironmentDoc = decode_success(&req, reply)?;
        Ok(doc.into())
    }

    /// `POST …/deployment-branch-policies` (`kind`: `branch` or `tag`).
    pub async fn create_branch_policy(
        &self,
        full: &str,
        env: &str,
        name: &str,
        kind: &str,
    ) -> Result<BranchPolicy, ApiError> {
        let req = request(
            Method::POST,
            format!(
                "{}/environments/{}/deployment-branch-policies",
                repo_path(full)?,
                escape(env)
            ),
        )
        .json(serde_json::json!({ "name": name, "type": kind }));
        let reply = self.send(&req).await?;
        decode_success(&req, reply)
    }

    /// `DELETE …/deployment-branch-policies/{id}`.
    pub async fn delete_branch_policy(
        &self,
        full: &str,
        env: &str,
        id: u64,
    ) -> Result<(), ApiError> {
        self.delete(format!(
            "{}/environments/{}/deployment-branch-policies/{id}",
            repo_path(full)?,
            escape(env)
        ))
        .await
    }

    /// Repository Actions secret names.
    pub async fn repository_secret_names(&self, full: &str) -> Result<Vec<String>, ApiError> {
        let named: Vec<Named> = self
            .all(format!("{}/actions/secrets", repo_path(full)?), "secrets")
            .await?;
        Ok(named.into_iter().map(|n| n.name).collect())
    }

    /// Environment secret names.
    pub async fn environment_secret_names(
        &self,
        full: &str,
        env: &str,
    ) -> Result<Vec<String>, ApiError> {
        let named: Vec<Named> = self
            .all(
                format!("{}/environments/{}/secrets", repo_path(full)?, escape(env)),
                "secrets",
            )
            .await?;
        Ok(named.into_iter().map(|n| n.name).collect())
    }

    /// Organisation secret names.
    pub async fn organization_secret_names(&self, org: &str) -> Result<Vec<String>, ApiError> {
        let named: Vec<Named> = self
            .all(format!("orgs/{}/actions/secrets", escape(org)), "secrets")
            .await?;
        Ok(named.into_iter().map(|n| n.name).collect())
    }

    /// Repository Actions variables.
    pub async fn repository_variables(&self, full: &str) -> Result<Vec<Variable>, ApiError> {
        self.all(
            format!("{}/actions/variables", repo_path(full)?),
            "variables",
        )
        .await
    }

    /// Organisation Actions variables.
    pub async fn organization_variables(&self, org: &str) -> Result<Vec<Variable>, ApiError> {
        self.all(
            format!("orgs/{}/actions/variables", escape(org)),
            "variables",
        )
        .await
    }

    /// `DELETE …/actions/secrets/{name}` of a repository.
    pub async fn delete_repository_secret(&self, full: &str, name: &str) -> Result<(), ApiError> {
        self.delete(format!(
            "{}/actions/secrets/{}",
            repo_path(full)?,
            escape(name)
        ))
        .await
    }

    /// `DELETE …/environments/{env}/secrets/{name}`.
    pub async fn delete_environment_secret(
        &self,
        full: &str,
        env: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        self.delete(format!(
            "{}/environments/{}/secrets/{}",
            repo_path(full)?,
            escape(env),
            escape(name)
        ))
        .await
    }

    /// `DELETE /orgs/{org}/actions/secrets/{name}`.
    pub async fn delete_organization_secret(&self, org: &str, name: &str) -> Result<(), ApiError> {
        self.delete(format!(
            "orgs/{}/actions/secrets/{}",
            escape(org),
            escape(name)
        ))
        .await
    }

    /// `DELETE /repos/{owner}/{repo}/actions/variables/{name}`.
    pub async fn delete_repository_variable(&self, full: &str, name: &str) -> Result<(), ApiError> {
        self.delete(format!(
            "{}/actions/variables/{}",
            repo_path(full)?,
            escape(name)
        ))
        .await
    }

    /// `DELETE /orgs/{org}/actions/variables/{name}`.
    pub async fn delete_organization_variable(
        &self,
        org: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        self.delete(format!(
            "orgs/{}/actions/variables/{}",
            escape(org),
            escape(name)
        ))
        .await
    }

    /// `GET …/actions/oidc/customization/sub`.
    pub async fn oidc_subject(&self, full: &str) -> Result<OidcSubject, ApiError> {
        self.get(format!(
            "{}/actions/oidc/customization/sub",
            repo_path(full)?
        ))
        .await
    }

    /// A file's text (`GET …/contents/{path}`, base64 decoded); `None` when it does not exist.
    pub async fn file(&self, full: &str, path: &str) -> Result<Option<String>, ApiError> {
        let segments: Vec<String> = path.split('/').map(escape).collect();
        let req = request(
            Method::GET,
            format!("{}/contents/{}", repo_path(full)?, segments.join("/")),
        );
        let reply = self.send(&req).await?;
        if reply.status.as_u16() == 404 {
            return Ok(None);
        }
        let doc: FileDoc = decode_success(&req, reply)?;
        if doc.kind != "file" || doc.encoding != "base64" {
            return Err(req.error(ErrorKind::Decode(format!(
                "{path} is a {} in {} encoding, not a base64 file",
                doc.kind, doc.encoding
            ))));
        }
        let compact: String = doc.content.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| req.error(ErrorKind::Decode(format!("content is not base64: {e}"))))?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| req.error(ErrorKind::Decode(format!("{path} is not UTF-8 text"))))
    }
}

/// What npm does on GitHub Actions when `NPM_ID_TOKEN` is empty (`lib/utils/oidc.js`):
/// `GET <ACTIONS_ID_TOKEN_REQUEST_URL>&audience=<audience>` with
/// `Authorization: Bearer <ACTIONS_ID_TOKEN_REQUEST_TOKEN>`; the id token is the answer's
/// `value`. Every call mints a fresh id token. Errors never show the URL's query (it can
/// carry a credential) nor the request token.
pub async fn actions_id_token(
    request_url: &str,
    request_token: &crate::Secret,
    audience: &str,
    options: crate::ClientOptions,
) -> Result<crate::Secret, crate::ApiError> {
    use crate::http::{Http, Request, decode_success};
    #[derive(serde::Deserialize)]
    struct Value {
        #[serde(default)]
        value: Option<String>,
    }
    let mut url = url::Url::parse(request_url).map_err(|e| crate::ApiError {
        method: "GET".into(),
        path: "ACTIONS_ID_TOKEN_REQUEST_URL".into(),
        kind: crate::ErrorKind::Invalid(format!("not a URL: {e}")),
    })?;
    url.query_pairs_mut().append_pair("audience", audience);
    let http = Http::new(url.as_str(), options)?;
    let req = Request::get(url.to_string())
        .shown_as("ACTIONS_ID_TOKEN_REQUEST_URL")
        .header("accept", "application/json");
    let bearer = crate::Secret::new(format!("Bearer {}", request_token.expose()));
    let reply = http.send(&req, Some(("authorization", &bearer))).await?;
    let body: Value = decode_success(&req, reply)?;
    match body.value {
        Some(v) if !v.is_empty() => Ok(crate::Secret::new(v)),
        _ => Err(req.error(crate::ErrorKind::Decode(
            "the answer has no `value` (npm: \"Failed to fetch id_token from GitHub: missing value\")"
                .into(),
        ))),
    }
}
