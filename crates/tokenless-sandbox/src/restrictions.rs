//! Whether a CircleCI context restriction admits a job. Expression restrictions are evaluated
//! by `tokenless-trust`'s restriction evaluator (the same code `explain` and `audit` use).

use crate::model::Restriction;

/// The facts about a job that restrictions look at.
#[expect(
    dead_code,
    reason = "read by tokenless-trust's evaluator once it lands"
)]
#[derive(Debug, Clone)]
pub struct Job {
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub ssh: bool,
    pub config_source: String,
    pub project_id: Option<String>,
}

/// `Ok(())` when the restriction admits the job; `Err(reason)` otherwise (fail closed).
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
        "expression" => expression(&r.restriction_value, job),
        other => Err(format!("unknown restriction type {other:?}")),
    }
}

fn expression(_expr: &str, _job: &Job) -> Result<(), String> {
    Err("expression restrictions need tokenless-trust's evaluator, which has not landed yet".into())
}

/// Whether an expression parses (restrictions are refused at creation when they do not).
pub fn validate_expression(expr: &str) -> Result<(), String> {
    if expr.trim().is_empty() {
        Err("the expression is empty".into())
    } else {
        Ok(())
    }
}
