//! The GitLab REST client (`PRIVATE-TOKEN`): projects, environments, protected environments
//! (`deploy_access_levels`; a Premium feature, so a Free-tier answer is reported as such),
//! project and group CI/CD variables (keys and flags) and repository files. `base` is
//! `https://gitlab.com/api/v4` or a self-managed instance's `https://HOST/api/v4`. Lists
//! follow `x-next-page` (a bounded number of pages; a page number that does not advance is
//! an error).

use base64::Engine as _;
use reqwest::Method;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    ApiError, ClientOptions, ErrorKind, Secret,
    http::{Http, Request, decode_success, expect_success},
};

const MAX_PAGES: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: u64,
    pub path_with_namespace: String,
    pub default_branch: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    pub id: u64,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployAccessLevel {
    /// 30 developers, 40 maintainers, 60 admins; absent for a user or group rule.
    #[serde(default)]
    pub access_level: Option<u32>,
    #[serde(default)]
    pub user_id: Option<u64>,
    #[serde(default)]
    pub group_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedEnvironment {
    pub name: String,
    #[serde(default)]
    pub deploy_access_levels: Vec<DeployAccessLevel>,
    #[serde(default)]
    pub required_approval_count: u32,
}

/// A CI/CD variable's key and flags (never its value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Variable {
    pub key: String,
    #[serde(default)]
    pub protected: bool,
    #[serde(default)]
    pub masked: bool,
    #[serde(default = "any")]
    pub environment_scope: String,
}

fn any() -> String {
    "*".to_owned()
}

#[derive(Deserialize)]
struct FileDoc {
    #[serde(default)]
    encoding: String,
    #[serde(default)]
    content: String,
}

/// What a protected-environment read found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protection {
    /// The tier has protected environments; these are they.
    Listed(Vec<ProtectedEnvironment>),
    /// GitLab answered 403: protected environments are a Premium feature this namespace lacks.
    NotOnThisTier,
}

#[derive(Debug, Clone)]
pub struct GitLabClient {
    http: Http,
    token: Option<Secret>,
}

fn escape(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

impl GitLabClient {
    pub fn new(
        base: &str,
        token: Option<Secret>,
        options: ClientOptions,
    ) -> Result<Self, ApiError> {
        Ok(GitLabClient {
            http: Http::new(base, options)?,
            token,
        })
    }

    pub fn base(&self) -> &str {
        self.http.base().as_str()
    }

    pub fn stats(&self) -> crate::StatsSnapshot {
        self.http.stats().snapshot()
    }

    async fn send(&self, req: &Request) -> Result<crate::http::Reply, ApiError> {
        self.http
            .send(req, self.token.as_ref().map(|t| ("private-token", t)))
            .await
    }

    async fn get<T: DeserializeOwned>(&self, path: String) -> Result<T, ApiError> {
        let req = Request::get(path);
        let reply = self.send(&req).await?;
        decode_success(&req, reply)
    }

    /// Every page of a list (a JSON array per page, `x-next-page` naming the next).
    async fn all<T: DeserializeOwned>(&self, path: String) -> Result<Vec<T>, ApiError> {
        let mut out = Vec::new();
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut page: u64 = 1;
        for _ in 0..MAX_PAGES {
            let req = Request::get(format!("{path}{sep}per_page=100&page={page}"))
                .shown_as(format!("/{path}"));
            let reply = self.send(&req).await?;
            let next = reply
                .headers
                .get("x-next-page")
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| v.parse::<u64>());
            let items: Vec<T> = decode_success(&req, reply)?;
            out.extend(items);
            match next {
                None => return Ok(out),
                Some(Ok(n)) if n > page => page = n,
                Some(_) => {
                    return Err(req.error(ErrorKind::Invalid(
                        "x-next-page does not advance: refusing to loop".into(),
                    )));
                }
            }
        }
        Err(Request::get(path).error(ErrorKind::Invalid(format!("more than {MAX_PAGES} pages"))))
    }

    /// `GET /projects/:id` (a numeric id or `group/project`).
    pub async fn project(&self, id_or_path: &str) -> Result<Project, ApiError> {
        self.get(format!("projects/{}", escape(id_or_path))).await
    }

    pub async fn environments(&self, project: &str) -> Result<Vec<Environment>, ApiError> {
        self.all(format!("projects/{}/environments", escape(project)))
            .await
    }

    /// `GET /projects/:id/protected_environments`, or [`Protection::NotOnThisTier`] on 403.
    pub async fn protected_environments(&self, project: &str) -> Result<Protection, ApiError> {
        match self
            .all(format!(
                "projects/{}/protected_environments",
                escape(project)
            ))
            .await
        {
            Ok(list) => Ok(Protection::Listed(list)),
            Err(e) if e.status() == Some(403) => Ok(Protection::NotOnThisTier),
            Err(e) => Err(e),
        }
    }

    /// `POST /projects/:id/protected_environments` with one access level.
    pub async fn protect_environment(
        &self,
        project: &str,
        name: &str,
        access_level: u32,
    ) -> Result<ProtectedEnvironment, ApiError> {
        let req = Request::new(Method::POST, format!("projects/{}/protected_environments", escape(project)))
            .json(serde_json::json!({"name": name, "deploy_access_levels": [{"access_level": access_level}]}));
        let reply = self.send(&req).await?;
        decode_success(&req, reply)
    }

    /// `DELETE /projects/:id/protected_environments/:name`.
    pub async fn unprotect_environment(&self, project: &str, name: &str) -> Result<(), ApiError> {
        let req = Request::new(
            Method::DELETE,
            format!(
                "projects/{}/protected_environments/{}",
                escape(project),
                escape(name)
            ),
        );
        let reply = self.send(&req).await?;
        expect_success(&req, &reply)
    }

    pub async fn project_variables(&self, project: &str) -> Result<Vec<Variable>, ApiError> {
        self.all(format!("projects/{}/variables", escape(project)))
            .await
    }

    pub async fn group_variables(&self, group: &str) -> Result<Vec<Variable>, ApiError> {
        self.all(format!("groups/{}/variables", escape(group)))
            .await
    }

    pub async fn delete_project_variable(&self, project: &str, key: &str) -> Result<(), ApiError> {
        let req = Request::new(
            Method::DELETE,
            format!("projects/{}/variables/{}", escape(project), escape(key)),
        );
        let reply = self.send(&req).await?;
        expect_success(&req, &reply)
    }

    pub async fn delete_group_variable(&self, group: &str, key: &str) -> Result<(), ApiError> {
        let req = Request::new(
            Method::DELETE,
            format!("groups/{}/variables/{}", escape(group), escape(key)),
        );
        let reply = self.send(&req).await?;
        expect_success(&req, &reply)
    }

    /// A repository file's text at `git_ref`; `None` when it does not exist.
    pub async fn file(
        &self,
        project: &str,
        path: &str,
        git_ref: &str,
    ) -> Result<Option<String>, ApiError> {
        let req = Request::get(format!(
            "projects/{}/repository/files/{}?ref={}",
            escape(project),
            escape(path),
            escape(git_ref)
        ));
        let reply = self.send(&req).await?;
        if reply.status.as_u16() == 404 {
            return Ok(None);
        }
        let doc: FileDoc = decode_success(&req, reply)?;
        if doc.encoding != "base64" {
            return Err(req.error(ErrorKind::Decode(format!(
                "{path}: {} encoding, not base64",
                doc.encoding
            ))));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(doc.content.trim())
            .map_err(|e| req.error(ErrorKind::Decode(format!("content is not base64: {e}"))))?;
        String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| req.error(ErrorKind::Decode(format!("{path} is not UTF-8 text"))))
    }
}
