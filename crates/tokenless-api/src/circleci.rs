//! The CircleCI API v2 client (`Circle-Token` header): contexts and their restrictions,
//! context and project variable names (values are never returned), projects, pipeline
//! definitions, a project's pipelines and a pipeline's configuration.

use reqwest::Method;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{
    ApiError, ClientOptions, ErrorKind, Secret,
    http::{Http, Reply, Request, decode_success, expect_success},
};

/// Most pages followed for one paginated list.
const MAX_PAGES: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub id: String,
    pub name: String,
}

/// `GET /context/{id}`: a context with its restrictions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextDetail {
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// Filled by [`CircleCiClient::context`] from `GET /context/{id}/restrictions` when
    /// the context document does not carry them.
    #[serde(default)]
    pub restrictions: Vec<Restriction>,
}

#[derive(Deserialize)]
struct ContextDoc {
    id: String,
    #[serde(default)]
    name: String,
    restrictions: Option<Vec<Restriction>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restriction {
    #[serde(default)]
    pub id: String,
    /// `expression`, `project` or `group`.
    pub restriction_type: String,
    pub restriction_value: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub organization_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineDefinition {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pipeline {
    pub id: String,
    #[serde(default)]
    pub number: Option<u64>,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// `GET /pipeline/{id}/config`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineConfig {
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub compiled: String,
    #[serde(rename = "setup-config", default)]
    pub setup_config: Option<String>,
    #[serde(rename = "compiled-setup-config", default)]
    pub compiled_setup_config: Option<String>,
}

#[derive(Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct ContextVar {
    variable: String,
}

#[derive(Deserialize)]
struct ProjectVar {
    name: String,
}

/// A CircleCI API v2 client; `base` is e.g. `https://circleci.com/api/v2`.
#[derive(Debug, Clone)]
pub struct CircleCiClient {
    http: Http,
    token: Option<Secret>,
}

/// A path segment or query value: everything but letters, digits and `-_~` escaped (so
/// `NPM_TOKEN` and UUIDs read as themselves in paths and errors; `.` stays escaped, so `..`
/// can never climb out of its segment).
fn escape(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// Project slugs go into paths unescaped (`gh/org/repo`, `circleci/<id>/<id>`), so only
/// their own character set is allowed.
fn check_slug(slug: &str) -> Result<&str, ApiError> {
    let ok = !slug.is_empty()
        && slug
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        && slug
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(slug)
    } else {
        Err(ApiError {
            method: "-".into(),
            path: format!("/project/{}", slug.escape_default()),
            kind: ErrorKind::Invalid(
                "a project slug is `vcs/org/repo` (letters, digits, `-_.`)".into(),
            ),
        })
    }
}

impl CircleCiClient {
    pub fn new(
        base: &str,
        token: Option<Secret>,
        options: ClientOptions,
    ) -> Result<Self, ApiError> {
        Ok(CircleCiClient {
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

    async fn send(&self, req: &Request) -> Result<Reply, ApiError> {
        self.http
            .send(req, self.token.as_ref().map(|t| ("circle-token", t)))
            .await
    }

    async fn get_json<T: DeserializeOwned>(&self, req: Request) -> Result<T, ApiError> {
        let reply = self.send(&req).await?;
        decode_success(&req, reply)
    }

    /// Every page of a list endpoint (`items` + `next_page_token`).
    async fn all_pages<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, ApiError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page_path = match &token {
                None => path.to_string(),
                Some(t) => {
                    let sep = if path.contains('?') { '&' } else { '?' };
                    format!("{path}{sep}page-token={}", escape(t))
                }
            };
            let req = Request::get(page_path).shown_as(format!("/{path}"));
            let page: Page<T> = self.get_json(req).await?;
            out.extend(page.items);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
        Err(Request::get(path.to_string())
            .error(ErrorKind::Invalid(format!("more than {MAX_PAGES} pages"))))
    }

    /// `GET /context?owner-id=<org>&owner-type=organization`, every page.
    pub async fn contexts(&self, org_id: &str) -> Result<Vec<Context>, ApiError> {
        let path = format!(
            "context?owner-id={}&owner-type=organization",
            escape(org_id)
        );
        self.all_pages(&path).await
    }

    /// `GET /context/{id}`, restrictions included: from the context document when it
    /// has them, else from `GET /context/{id}/restrictions` (never guessed empty).
    pub async fn context(&self, id: &str) -> Result<ContextDetail, ApiError> {
        let doc: ContextDoc = self
            .get_json(Request::get(format!("context/{}", escape(id))))
            .await?;
        let restrictions = match doc.restrictions {
            Some(r) => r,
            None => {
                self.all_pages(&format!("context/{}/restrictions", escape(id)))
                    .await?
            }
        };
        Ok(ContextDetail {
            id: doc.id,
            name: doc.name,
            restrictions,
        })
    }

    /// `GET /context/{id}/environment-variable`: the variable names.
    pub async fn context_variable_names(&self, id: &str) -> Result<Vec<String>, ApiError> {
        let vars: Vec<ContextVar> = self
            .all_pages(&format!("context/{}/environment-variable", escape(id)))
            .await?;
        Ok(vars.into_iter().map(|v| v.variable).collect())
    }

    /// `GET /project/{slug}`.
    pub async fn project(&self, slug: &str) -> Result<Project, ApiError> {
        let slug = check_slug(slug)?;
        self.get_json(Request::get(format!("project/{slug}"))).await
    }

    /// `GET /project/{slug}/envvar`: the variable names.
    pub async fn project_variable_names(&self, slug: &str) -> Result<Vec<String>, ApiError> {
        let slug = check_slug(slug)?;
        let vars: Vec<ProjectVar> = self.all_pages(&format!("project/{slug}/envvar")).await?;
        Ok(vars.into_iter().map(|v| v.name).collect())
    }

    /// `GET /projects/{project-id}/pipeline-definitions`.
    pub async fn pipeline_definitions(
        &self,
        project_id: &str,
    ) -> Result<Vec<PipelineDefinition>, ApiError> {
        self.all_pages(&format!(
            "projects/{}/pipeline-definitions",
            escape(project_id)
        ))
        .await
    }

    /// `GET /project/{slug}/pipeline`, first page only: the most recent pipelines.
    pub async fn recent_pipelines(&self, slug: &str) -> Result<Vec<Pipeline>, ApiError> {
        let slug = check_slug(slug)?;
        let page: Page<Pipeline> = self
            .get_json(Request::get(format!("project/{slug}/pipeline")))
            .await?;
        Ok(page.items)
    }

    /// `GET /pipeline/{id}/config`.
    pub async fn pipeline_config(&self, pipeline_id: &str) -> Result<PipelineConfig, ApiError> {
        self.get_json(Request::get(format!(
            "pipeline/{}/config",
            escape(pipeline_id)
        )))
        .await
    }

    /// `POST /context/{id}/restrictions`.
    pub async fn create_context_restriction(
        &self,
        context_id: &str,
        restriction_type: &str,
        value: &str,
    ) -> Result<Restriction, ApiError> {
        let req = Request::new(
            Method::POST,
            format!("context/{}/restrictions", escape(context_id)),
        )
        .json(
            serde_json::json!({ "restriction_type": restriction_type, "restriction_value": value }),
        );
        let reply = self.send(&req).await?;
        decode_success(&req, reply)
    }

    /// `DELETE /context/{id}/restrictions/{restriction-id}`.
    pub async fn delete_context_restriction(
        &self,
        context_id: &str,
        restriction_id: &str,
    ) -> Result<(), ApiError> {
        let req = Request::new(
            Method::DELETE,
            format!(
                "context/{}/restrictions/{}",
                escape(context_id),
                escape(restriction_id)
            ),
        );
        let reply = self.send(&req).await?;
        expect_success(&req, &reply)
    }

    /// `POST /context` with `{"name", "owner": {"id": org_id, "type": "organization"}}`:
    /// a new, empty context of the organisation.
    pub async fn create_context(&self, org_id: &str, name: &str) -> Result<Context, ApiError> {
        let req = Request::new(Method::POST, "context").json(serde_json::json!({
            "name": name,
            "owner": { "id": org_id, "type": "organization" },
        }));
        let reply = self.send(&req).await?;
        decode_success(&req, reply)
    }

    /// `DELETE /context/{id}/environment-variable/{name}`.
    pub async fn delete_context_variable(
        &self,
        context_id: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        let req = Request::new(
            Method::DELETE,
            format!(
                "context/{}/environment-variable/{}",
                escape(context_id),
                escape(name)
            ),
        );
        let reply = self.send(&req).await?;
        expect_success(&req, &reply)
    }

    /// `DELETE /project/{slug}/envvar/{name}`.
    pub async fn delete_project_variable(&self, slug: &str, name: &str) -> Result<(), ApiError> {
        let slug = check_slug(slug)?;
        let req = Request::new(
            Method::DELETE,
            format!("project/{slug}/envvar/{}", escape(name)),
        );
        let reply = self.send(&req).await?;
        expect_success(&req, &reply)
    }

    /// `POST /project/{slug}/envvar`. The value is a secret and never shown.
    pub async fn set_project_variable(
        &self,
        slug: &str,
        name: &str,
        value: &Secret,
    ) -> Result<(), ApiError> {
        let slug = check_slug(slug)?;
        let req = Request::new(Method::POST, format!("project/{slug}/envvar"))
            .json(serde_json::json!({ "name": name, "value": value.expose() }));
        let reply = self.send(&req).await?;
        expect_success(&req, &reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked_before_they_reach_a_path() {
        assert!(check_slug("gh/acme/web").is_ok());
        assert!(check_slug("circleci/AbC123/xYz-9").is_ok());
        assert!(check_slug("gh/../admin").is_err());
        assert!(check_slug("gh/acme/web?x=1").is_err());
        assert!(check_slug("").is_err());
    }

    #[test]
    fn segments_cannot_climb_out_of_their_path() {
        assert_eq!(escape("NPM_TOKEN"), "NPM_TOKEN");
        assert_eq!(escape(".."), "%2E%2E");
        assert_eq!(escape("a/b?c"), "a%2Fb%3Fc");
    }

    #[test]
    fn pipeline_config_parses_the_documented_shape() {
        let c: PipelineConfig = serde_json::from_str(
            r#"{"source":"a","compiled":"b","setup-config":"","compiled-setup-config":""}"#,
        )
        .expect("config");
        assert_eq!(c.compiled, "b");
    }
}
