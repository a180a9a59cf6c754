//! `POST /-/sandbox/push` (tests and the demo): what a `git push` to a branch does at each
//! provider, so a fixed CI config can be "merged" in a rehearsal. CircleCI gains a pipeline
//! with the pushed `.circleci/config.yml` (it becomes the project's latest pipeline, which
//! the audit reads); GitHub and GitLab serve the pushed files. Body:
//!
//! ```json
//! {"provider": "circleci", "project": "gh/acme/monorepo", "branch": "main",
//!  "files": {".circleci/config.yml": "version: 2.1\n…"}}
//! {"provider": "github", "project": "acme/site", "files": {".github/workflows/publish.yml": "…"}}
//! ```

use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

use crate::clock::now_secs;
use crate::error::{Handled, SandboxError};
use crate::model::Pipeline;
use crate::router::Ctx;
use crate::{http, ids};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Push {
    provider: String,
    project: String,
    #[serde(default = "main")]
    branch: String,
    files: BTreeMap<String, String>,
}

fn main() -> String {
    "main".into()
}

/// Files in one push, and the size of each.
const MAX_FILES: usize = 64;

pub fn handler(c: &Ctx<'_>) -> Handled {
    let push: Push = http::parse(c.body)?;
    if push.files.is_empty() || push.files.len() > MAX_FILES {
        return Err(SandboxError::bad_request(format!(
            "`files` must hold 1 to {MAX_FILES} files"
        )));
    }
    let mut world = c.app.write();
    match push.provider.as_str() {
        "circleci" => {
            let Some(config) = push.files.get(".circleci/config.yml") else {
                return Err(SandboxError::bad_request(
                    "a CircleCI push needs `.circleci/config.yml` in `files`",
                ));
            };
            let Some(project) = world
                .circleci
                .projects
                .iter_mut()
                .find(|p| p.slug == push.project)
            else {
                return Err(SandboxError::not_found(format!(
                    "no CircleCI project {}",
                    push.project
                )));
            };
            let number = project
                .pipelines
                .iter()
                .map(|p| p.number)
                .max()
                .unwrap_or(0)
                + 1;
            let id = ids::random_uuid();
            project.pipelines.push(Pipeline {
                id: id.clone(),
                number,
                created: now_secs(),
                branch: Some(push.branch.clone()),
                tag: None,
                revision: ids::random_uuid().replace('-', "") + "00000000",
                config: config.clone(),
                setup_config: String::new(),
            });
            Ok(http::ok(
                &json!({"ok": true, "pipeline": id, "number": number}),
            ))
        }
        "github" => {
            let Some((owner, name)) = push.project.split_once('/') else {
                return Err(SandboxError::bad_request("`project` must be owner/repo"));
            };
            let Some(repo) = world.github.repo_mut(owner, name) else {
                return Err(SandboxError::not_found(format!(
                    "no GitHub repository {}",
                    push.project
                )));
            };
            repo.files.extend(push.files);
            Ok(http::ok(&json!({"ok": true})))
        }
        "gitlab" => {
            let Some(project) = world.gitlab.project_mut(&push.project) else {
                return Err(SandboxError::not_found(format!(
                    "no GitLab project {}",
                    push.project
                )));
            };
            project.files.extend(push.files);
            Ok(http::ok(&json!({"ok": true})))
        }
        other => Err(SandboxError::bad_request(format!(
            "unknown provider {other:?}; use circleci, github or gitlab"
        ))),
    }
}
