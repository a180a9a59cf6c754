//! Trusted-publisher configurations in npm's own JSON shape.
//!
//! The shape is what `npm trust github|gitlab|circleci` sends to `POST /-/package/<pkg>/trust`
//! and what `GET /-/package/<pkg>/trust` returns (then with an `id`):
//!
//! ```json
//! {"id": "…", "type": "circleci",
//!  "claims": {"oidc.circleci.com/org-id": "…", "oidc.circleci.com/project-id": "…",
//!             "oidc.circleci.com/pipeline-definition-id": "…",
//!             "oidc.circleci.com/vcs-origin": "github.com/owner/repo",
//!             "oidc.circleci.com/context-ids": ["…"]},
//!  "permissions": ["createPackage", "createStagedPackage"]}
//! ```
//!
//! Parsing is strict: unknown keys, wrong types, empty values, duplicate keys and unknown
//! permissions are errors whose message names the field (`[0].claims.repository`).

use serde_json::{Map, Value, json};

use crate::strict_json;

/// CI providers npm accepts id tokens from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// GitHub Actions.
    #[serde(rename = "github")]
    GitHub,
    /// GitLab CI/CD (gitlab.com).
    #[serde(rename = "gitlab")]
    GitLab,
    /// CircleCI cloud.
    #[serde(rename = "circleci")]
    CircleCi,
}

impl Provider {
    /// Every provider, in the order npm's docs list them.
    pub const ALL: [Provider; 3] = [Provider::GitHub, Provider::GitLab, Provider::CircleCi];

    /// The provider whose [`Provider::as_str`] is `name`, exactly.
    pub fn parse(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// The `type` value in a trust config: `github`, `gitlab`, `circleci`.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::GitHub => "github",
            Provider::GitLab => "gitlab",
            Provider::CircleCi => "circleci",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an exchange is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// `npm publish`: needs the `createPackage` permission.
    Publish,
    /// `npm stage publish`: needs the `createStagedPackage` permission.
    Stage,
}

impl Action {
    /// The permission a trust config must list to allow this action.
    pub fn permission(self) -> Permission {
        match self {
            Action::Publish => Permission::CreatePackage,
            Action::Stage => Permission::CreateStagedPackage,
        }
    }

    /// `publish` or `stage`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Publish => "publish",
            Action::Stage => "stage",
        }
    }
}

/// One action is a one-element list of actions, so
/// [`Verifier::verify_exchange`](crate::Verifier::verify_exchange) takes either.
impl AsRef<[Action]> for Action {
    fn as_ref(&self) -> &[Action] {
        std::slice::from_ref(self)
    }
}

/// A trust-config permission (npm's "allowed actions").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Permission {
    /// `createPackage`: `npm publish`.
    #[serde(rename = "createPackage")]
    CreatePackage,
    /// `createStagedPackage`: `npm stage publish`.
    #[serde(rename = "createStagedPackage")]
    CreateStagedPackage,
}

impl Permission {
    /// The wire name: `createPackage` or `createStagedPackage`.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::CreatePackage => "createPackage",
            Permission::CreateStagedPackage => "createStagedPackage",
        }
    }
}

/// A GitHub Actions trusted publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubPublisher {
    /// `owner/repo`, matched against the `repository` claim.
    pub repository: String,
    /// File name of the calling workflow (`publish.yml`), matched against `workflow_ref`.
    pub workflow_file: String,
    /// Deployment environment, when configured.
    pub environment: Option<String>,
}

/// A GitLab CI/CD trusted publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitLabPublisher {
    /// `group/sub/project`, matched against `project_path`.
    pub project_path: String,
    /// Top-level CI file (`.gitlab-ci.yml`), matched against `ci_config_ref_uri`.
    pub ci_config_file: String,
    /// Deployment environment, when configured.
    pub environment: Option<String>,
}

/// A CircleCI trusted publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircleCiPublisher {
    /// `oidc.circleci.com/org-id`.
    pub org_id: String,
    /// `oidc.circleci.com/project-id`.
    pub project_id: String,
    /// `oidc.circleci.com/pipeline-definition-id`.
    pub pipeline_definition_id: String,
    /// `oidc.circleci.com/vcs-origin`, e.g. `github.com/owner/repo`.
    pub vcs_origin: String,
    /// `oidc.circleci.com/context-ids`: every one must be attached to the job. Empty when
    /// the config binds no context.
    pub context_ids: Vec<String>,
}

/// The provider-specific half of a trust config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Publisher {
    /// `"type": "github"`.
    GitHub(GitHubPublisher),
    /// `"type": "gitlab"`.
    GitLab(GitLabPublisher),
    /// `"type": "circleci"`.
    CircleCi(CircleCiPublisher),
}

impl Publisher {
    /// The provider this publisher trusts.
    pub fn provider(&self) -> Provider {
        match self {
            Publisher::GitHub(_) => Provider::GitHub,
            Publisher::GitLab(_) => Provider::GitLab,
            Publisher::CircleCi(_) => Provider::CircleCi,
        }
    }
}

/// One trusted-publisher configuration of a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustConfig {
    /// The registry's id for the config (present in `GET …/trust` responses); recorded in
    /// minted tokens for `_npmUser.trustedPublisher`.
    pub id: Option<String>,
    /// Provider and claims.
    pub publisher: Publisher,
    /// Allowed actions; never empty.
    pub permissions: Vec<Permission>,
}

impl TrustConfig {
    /// Whether this config allows `action`.
    pub fn allows(&self, action: Action) -> bool {
        self.permissions.contains(&action.permission())
    }

    /// The provider this config trusts.
    pub fn provider(&self) -> Provider {
        self.publisher.provider()
    }

    /// The id, or `(no id)` for a config not read from a registry (for messages).
    pub fn display_id(&self) -> &str {
        self.id.as_deref().unwrap_or("(no id)")
    }

    /// The CircleCI context ids the config pins (empty when none, or not CircleCI).
    pub fn context_ids(&self) -> &[String] {
        match &self.publisher {
            Publisher::CircleCi(p) => &p.context_ids,
            _ => &[],
        }
    }

    /// The GitHub/GitLab deployment environment the config pins, if any.
    pub fn environment(&self) -> Option<&str> {
        match &self.publisher {
            Publisher::GitHub(p) => p.environment.as_deref(),
            Publisher::GitLab(p) => p.environment.as_deref(),
            Publisher::CircleCi(_) => None,
        }
    }

    /// The config in npm's JSON shape (with `id` when known).
    pub fn to_json(&self) -> Value {
        let claims = match &self.publisher {
            Publisher::GitHub(p) => {
                let mut c =
                    json!({"repository": p.repository, "workflow_ref": {"file": p.workflow_file}});
                if let (Some(env), Some(obj)) = (&p.environment, c.as_object_mut()) {
                    obj.insert("environment".into(), json!(env));
                }
                c
            }
            Publisher::GitLab(p) => {
                let mut c = json!({"project_path": p.project_path, "ci_config_ref_uri": {"file": p.ci_config_file}});
                if let (Some(env), Some(obj)) = (&p.environment, c.as_object_mut()) {
                    obj.insert("environment".into(), json!(env));
                }
                c
            }
            Publisher::CircleCi(p) => {
                let mut c = json!({
                    CIRCLECI_ORG_ID: p.org_id,
                    CIRCLECI_PROJECT_ID: p.project_id,
                    CIRCLECI_PIPELINE_DEFINITION_ID: p.pipeline_definition_id,
                    CIRCLECI_VCS_ORIGIN: p.vcs_origin,
                });
                if let (false, Some(obj)) = (p.context_ids.is_empty(), c.as_object_mut()) {
                    obj.insert(CIRCLECI_CONTEXT_IDS.into(), json!(p.context_ids));
                }
                c
            }
        };
        let mut out = Map::new();
        if let Some(id) = &self.id {
            out.insert("id".into(), json!(id));
        }
        out.insert("type".into(), json!(self.publisher.provider().as_str()));
        out.insert("claims".into(), claims);
        out.insert(
            "permissions".into(),
            json!(
                self.permissions
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
            ),
        );
        Value::Object(out)
    }
}

/// CircleCI claim names, shared by trust configs and id tokens.
pub const CIRCLECI_ORG_ID: &str = "oidc.circleci.com/org-id";
/// See [`CIRCLECI_ORG_ID`].
pub const CIRCLECI_PROJECT_ID: &str = "oidc.circleci.com/project-id";
/// See [`CIRCLECI_ORG_ID`].
pub const CIRCLECI_PIPELINE_DEFINITION_ID: &str = "oidc.circleci.com/pipeline-definition-id";
/// See [`CIRCLECI_ORG_ID`].
pub const CIRCLECI_VCS_ORIGIN: &str = "oidc.circleci.com/vcs-origin";
/// See [`CIRCLECI_ORG_ID`].
pub const CIRCLECI_CONTEXT_IDS: &str = "oidc.circleci.com/context-ids";
/// See [`CIRCLECI_ORG_ID`].
pub const CIRCLECI_SSH_RERUN: &str = "oidc.circleci.com/ssh-rerun";

/// A trust config that does not parse; `path` names the field (`[0].claims.repository`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct TrustConfigError {
    /// Where in the document: `$` for the root, `[1].claims.environment`, …
    pub path: String,
    /// What was expected.
    pub message: String,
}

fn err(path: &str, message: impl Into<String>) -> TrustConfigError {
    TrustConfigError {
        path: if path.is_empty() {
            "$".into()
        } else {
            path.to_owned()
        },
        message: message.into(),
    }
}

/// Parses one config object or the array `GET /-/package/<pkg>/trust` returns.
pub fn parse_trust_configs(text: &str) -> Result<Vec<TrustConfig>, TrustConfigError> {
    let value = strict_json::parse(text.as_bytes()).map_err(|e| err("", e.to_string()))?;
    match &value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| TrustConfig::from_json(item, &format!("[{i}]")))
            .collect(),
        Value::Object(_) => Ok(vec![TrustConfig::from_json(&value, "")?]),
        _ => Err(err(
            "",
            "expected a trust config object or an array of them",
        )),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, TrustConfigError> {
    value
        .as_object()
        .ok_or_else(|| err(path, format!("expected an object, found {}", kind(value))))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn only_keys(
    map: &Map<String, Value>,
    path: &str,
    allowed: &[&str],
) -> Result<(), TrustConfigError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(err(
            &join(path, k),
            format!("unknown field (expected one of: {})", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

fn required_string(
    map: &Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<String, TrustConfigError> {
    match map.get(key) {
        None => Err(err(&join(path, key), "missing required field")),
        Some(v) => string_value(v, &join(path, key)),
    }
}

fn optional_string(
    map: &Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<Option<String>, TrustConfigError> {
    map.get(key)
        .map(|v| string_value(v, &join(path, key)))
        .transpose()
}

fn string_value(value: &Value, path: &str) -> Result<String, TrustConfigError> {
    match value {
        Value::String(s) if s.is_empty() => Err(err(path, "expected a non-empty string")),
        Value::String(s) => Ok(s.clone()),
        other => Err(err(
            path,
            format!("expected a string, found {}", kind(other)),
        )),
    }
}

fn file_object(
    map: &Map<String, Value>,
    path: &str,
    key: &str,
) -> Result<String, TrustConfigError> {
    let here = join(path, key);
    let inner = object(
        map.get(key)
            .ok_or_else(|| err(&here, "missing required field"))?,
        &here,
    )?;
    only_keys(inner, &here, &["file"])?;
    required_string(inner, &here, "file")
}

impl TrustConfig {
    /// Parses one config object; `path` prefixes error locations (`""` for the root).
    pub fn from_json(value: &Value, path: &str) -> Result<TrustConfig, TrustConfigError> {
        let map = object(value, path)?;
        only_keys(map, path, &["id", "type", "claims", "permissions"])?;
        let id = optional_string(map, path, "id")?;
        let type_path = join(path, "type");
        let provider = match map.get("type") {
            None => return Err(err(&type_path, "missing required field")),
            Some(Value::String(t)) => match Provider::parse(t) {
                Some(p) => p,
                None => {
                    return Err(err(
                        &type_path,
                        format!("unknown provider {t:?} (expected github, gitlab or circleci)"),
                    ));
                }
            },
            Some(other) => {
                return Err(err(
                    &type_path,
                    format!("expected a string, found {}", kind(other)),
                ));
            }
        };
        let claims_path = join(path, "claims");
        let claims = object(
            map.get("claims")
                .ok_or_else(|| err(&claims_path, "missing required field"))?,
            &claims_path,
        )?;
        let publisher = match provider {
            Provider::GitHub => {
                only_keys(
                    claims,
                    &claims_path,
                    &["repository", "workflow_ref", "environment"],
                )?;
                Publisher::GitHub(GitHubPublisher {
                    repository: required_string(claims, &claims_path, "repository")?,
                    workflow_file: file_object(claims, &claims_path, "workflow_ref")?,
                    environment: optional_string(claims, &claims_path, "environment")?,
                })
            }
            Provider::GitLab => {
                only_keys(
                    claims,
                    &claims_path,
                    &["project_path", "ci_config_ref_uri", "environment"],
                )?;
                Publisher::GitLab(GitLabPublisher {
                    project_path: required_string(claims, &claims_path, "project_path")?,
                    ci_config_file: file_object(claims, &claims_path, "ci_config_ref_uri")?,
                    environment: optional_string(claims, &claims_path, "environment")?,
                })
            }
            Provider::CircleCi => {
                only_keys(
                    claims,
                    &claims_path,
                    &[
                        CIRCLECI_ORG_ID,
                        CIRCLECI_PROJECT_ID,
                        CIRCLECI_PIPELINE_DEFINITION_ID,
                        CIRCLECI_VCS_ORIGIN,
                        CIRCLECI_CONTEXT_IDS,
                    ],
                )?;
                let ctx_path = join(&claims_path, CIRCLECI_CONTEXT_IDS);
                let context_ids = match claims.get(CIRCLECI_CONTEXT_IDS) {
                    None => Vec::new(),
                    Some(Value::Array(items)) => items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| string_value(v, &format!("{ctx_path}[{i}]")))
                        .collect::<Result<_, _>>()?,
                    Some(other) => {
                        return Err(err(
                            &ctx_path,
                            format!("expected an array of strings, found {}", kind(other)),
                        ));
                    }
                };
                Publisher::CircleCi(CircleCiPublisher {
                    org_id: required_string(claims, &claims_path, CIRCLECI_ORG_ID)?,
                    project_id: required_string(claims, &claims_path, CIRCLECI_PROJECT_ID)?,
                    pipeline_definition_id: required_string(
                        claims,
                        &claims_path,
                        CIRCLECI_PIPELINE_DEFINITION_ID,
                    )?,
                    vcs_origin: required_string(claims, &claims_path, CIRCLECI_VCS_ORIGIN)?,
                    context_ids,
                })
            }
        };
        let perm_path = join(path, "permissions");
        let permissions = match map.get("permissions") {
            None => return Err(err(&perm_path, "missing required field")),
            Some(Value::Array(items)) if items.is_empty() => {
                return Err(err(&perm_path, "expected at least one of createPackage, createStagedPackage"));
            }
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let here = format!("{perm_path}[{i}]");
                    match v {
                        Value::String(s) if s == "createPackage" => Ok(Permission::CreatePackage),
                        Value::String(s) if s == "createStagedPackage" => Ok(Permission::CreateStagedPackage),
                        Value::String(s) => Err(err(
                            &here,
                            format!("unknown permission {s:?} (expected createPackage or createStagedPackage)"),
                        )),
                        other => Err(err(&here, format!("expected a string, found {}", kind(other)))),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(other) => return Err(err(&perm_path, format!("expected an array, found {}", kind(other)))),
        };
        Ok(TrustConfig {
            id,
            publisher,
            permissions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIRCLE: &str = r#"{"id":"tc-1","type":"circleci","claims":{
        "oidc.circleci.com/org-id":"o","oidc.circleci.com/project-id":"p",
        "oidc.circleci.com/pipeline-definition-id":"d","oidc.circleci.com/vcs-origin":"github.com/a/b",
        "oidc.circleci.com/context-ids":["c1","c2"]},"permissions":["createPackage"]}"#;

    #[test]
    fn circleci_object_parses_and_round_trips() {
        let configs = parse_trust_configs(CIRCLE).expect("valid");
        assert_eq!(configs.len(), 1);
        let c = &configs[0];
        assert_eq!(c.id.as_deref(), Some("tc-1"));
        assert!(c.allows(Action::Publish));
        assert!(!c.allows(Action::Stage));
        let again = parse_trust_configs(&c.to_json().to_string()).expect("round trip");
        assert_eq!(&again[0], c);
    }

    #[test]
    fn array_of_github_and_gitlab_parses() {
        let text = r#"[{"type":"github","claims":{"repository":"o/r","workflow_ref":{"file":"publish.yml"},"environment":"prod"},"permissions":["createPackage","createStagedPackage"]},
                      {"type":"gitlab","claims":{"project_path":"g/p","ci_config_ref_uri":{"file":".gitlab-ci.yml"}},"permissions":["createStagedPackage"]}]"#;
        let configs = parse_trust_configs(text).expect("valid");
        assert_eq!(configs.len(), 2);
        assert!(
            matches!(&configs[0].publisher, Publisher::GitHub(g) if g.environment.as_deref() == Some("prod"))
        );
        assert!(
            matches!(&configs[1].publisher, Publisher::GitLab(g) if g.ci_config_file == ".gitlab-ci.yml")
        );
    }

    fn error_of(text: &str) -> String {
        match parse_trust_configs(text) {
            Ok(c) => panic!("expected an error, parsed {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            error_of(r#"{"type":"bitbucket","claims":{},"permissions":["createPackage"]}"#),
            "type: unknown provider \"bitbucket\" (expected github, gitlab or circleci)"
        );
        assert_eq!(
            error_of(
                r#"[{"type":"github","claims":{"workflow_ref":{"file":"x.yml"}},"permissions":["createPackage"]}]"#
            ),
            "[0].claims.repository: missing required field"
        );
        assert_eq!(
            error_of(
                r#"{"type":"github","claims":{"repository":"o/r","workflow_ref":"x.yml"},"permissions":["createPackage"]}"#
            ),
            "claims.workflow_ref: expected an object, found a string"
        );
        assert_eq!(
            error_of(&CIRCLE.replace(r#"["c1","c2"]"#, r#""c1""#)),
            "claims.oidc.circleci.com/context-ids: expected an array of strings, found a string"
        );
        assert_eq!(
            error_of(&CIRCLE.replace("createPackage", "publish")),
            "permissions[0]: unknown permission \"publish\" (expected createPackage or createStagedPackage)"
        );
        assert_eq!(
            error_of(&CIRCLE.replace(r#""permissions":["createPackage"]"#, r#""permissions":[]"#)),
            "permissions: expected at least one of createPackage, createStagedPackage"
        );
        assert!(
            error_of(&CIRCLE.replace("\"type\"", "\"typo\"")).starts_with("typo: unknown field")
        );
        assert_eq!(
            error_of(r#"{"type":"github","type":"gitlab"}"#),
            "$: duplicate key \"type\""
        );
        assert_eq!(
            error_of("42"),
            "$: expected a trust config object or an array of them"
        );
    }
}
