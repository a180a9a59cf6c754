//! Whether a CircleCI context restriction admits a job. Expression restrictions are parsed and
//! evaluated by `tokenless-trust` (the same code `explain` and `audit` use); evaluation fails
//! closed.

use tokenless_trust::restriction::{self, Env, Value};

use crate::model::Restriction;

/// The facts about a job that restrictions look at.
#[derive(Debug, Clone)]
pub struct Job {
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub ssh: bool,
    pub config_source: String,
    pub project_id: Option<String>,
}

/// `Ok(())` when the restriction admits the job; `Err(reason)` otherwise.
pub fn admits(r: &Restriction, job: &Job) -> Result<(), String> {
    match r.restriction_type.as_str() {
        "project" => {
            if job.project_id.as_deref() == Some(r.restriction_value.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "the context is restricted to project {}",
                    r.restriction_value
                ))
            }
        }
        // Security groups are about the triggering user, whom a sandbox token does not name.
        "group" => Ok(()),
        "expression" => {
            let expr = restriction::parse(&r.restriction_value).map_err(|e| {
                format!("restriction `{}` does not parse: {e}", r.restriction_value)
            })?;
            let env = Env::job(job.branch.as_deref(), job.tag.as_deref(), job.ssh).with(
                "pipeline.config_source",
                Value::Str(job.config_source.clone()),
            );
            match expr.admits(&env) {
                Ok(true) => Ok(()),
                Ok(false) => Err(format!(
                    "restriction `{}` is false for branch {:?}, tag {:?}, ssh rerun {}",
                    r.restriction_value,
                    job.branch.as_deref().unwrap_or(""),
                    job.tag.as_deref().unwrap_or(""),
                    job.ssh
                )),
                Err(e) => Err(format!(
                    "restriction `{}` cannot be evaluated: {e}",
                    r.restriction_value
                )),
            }
        }
        other => Err(format!("unknown restriction type {other:?}")),
    }
}

/// Whether an expression parses (restrictions are refused at creation when they do not).
pub fn validate_expression(expr: &str) -> Result<(), String> {
    restriction::parse(expr)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
