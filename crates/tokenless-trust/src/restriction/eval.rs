//! Evaluating restriction expressions against a job's pipeline values. Fails closed.

use std::collections::BTreeMap;

use super::parser::{BinaryOp, Expr};

/// A value in the restriction language.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Value {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
}

impl Value {
    fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Str(_) => "string",
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Str(s) => write!(f, "{s:?}"),
        }
    }
}

/// The type of a known variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarType {
    /// Boolean.
    Bool,
    /// Integer.
    Int,
    /// String.
    Str,
}

/// Variables a restriction may use, with their types. Anything else is unknown and makes
/// the expression fail (pipeline parameters and `pipeline.trigger_parameters.*` are not
/// available to restrictions).
const KNOWN_VARIABLES: &[(&str, VarType)] = &[
    ("pipeline.git.branch", VarType::Str),
    ("pipeline.git.tag", VarType::Str),
    ("pipeline.git.revision", VarType::Str),
    ("pipeline.git.base_revision", VarType::Str),
    ("pipeline.config_source", VarType::Str),
    ("pipeline.definition.id", VarType::Str),
    ("pipeline.id", VarType::Str),
    ("pipeline.number", VarType::Int),
    ("pipeline.project.slug", VarType::Str),
    ("pipeline.project.git_url", VarType::Str),
    ("pipeline.project.type", VarType::Str),
    ("pipeline.trigger.type", VarType::Str),
    ("pipeline.trigger_source", VarType::Str),
    ("pipeline.schedule.name", VarType::Str),
    ("pipeline.schedule.id", VarType::Str),
    ("job.ssh.enabled", VarType::Bool),
];

/// The type of a variable restrictions may use, or `None` when it is unknown.
pub fn known_variable_type(name: &str) -> Option<VarType> {
    KNOWN_VARIABLES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}

/// Why an expression has no value: the context is then unavailable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The variable is not one restrictions may use.
    #[error("unknown variable {0}")]
    UnknownVariable(String),
    /// The variable is known but the job has no value for it.
    #[error("variable {0} has no value in this job")]
    Unset(String),
    /// An operand has the wrong type.
    #[error("type error: {0}")]
    Type(String),
}

/// The values of one job: variable name → value. Values must have the variable's type.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    values: BTreeMap<String, Value>,
}

impl Env {
    /// An empty environment.
    pub fn new() -> Env {
        Env::default()
    }

    /// Sets a variable (builder style).
    pub fn with(mut self, name: &str, value: Value) -> Env {
        self.set(name, value);
        self
    }

    /// Sets a variable.
    pub fn set(&mut self, name: &str, value: Value) {
        self.values.insert(name.to_owned(), value);
    }

    /// The value of a variable.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// A job on `branch` (or a tag pipeline when `branch` is `None` and `tag` is set):
    /// `pipeline.git.branch` and `pipeline.git.tag` are `""` when absent, as in CircleCI's
    /// pipeline values; `job.ssh.enabled` is `ssh`.
    pub fn job(branch: Option<&str>, tag: Option<&str>, ssh: bool) -> Env {
        Env::new()
            .with(
                "pipeline.git.branch",
                Value::Str(branch.unwrap_or_default().to_owned()),
            )
            .with(
                "pipeline.git.tag",
                Value::Str(tag.unwrap_or_default().to_owned()),
            )
            .with("job.ssh.enabled", Value::Bool(ssh))
    }
}

fn type_error(op: &str, l: &Value, r: &Value) -> EvalError {
    EvalError::Type(format!(
        "{op} cannot compare {} {l} with {} {r}",
        l.type_name(),
        r.type_name()
    ))
}

impl Expr {
    /// The value of the expression in `env`.
    pub fn eval(&self, env: &Env) -> Result<Value, EvalError> {
        match self {
            Expr::Str(s) => Ok(Value::Str(s.clone())),
            Expr::Int(n) => Ok(Value::Int(*n)),
            Expr::Bool(b) => Ok(Value::Bool(*b)),
            Expr::Var(name) => {
                let expected = known_variable_type(name)
                    .ok_or_else(|| EvalError::UnknownVariable(name.clone()))?;
                let value = env
                    .get(name)
                    .ok_or_else(|| EvalError::Unset(name.clone()))?;
                let matches = matches!(
                    (expected, value),
                    (VarType::Bool, Value::Bool(_))
                        | (VarType::Int, Value::Int(_))
                        | (VarType::Str, Value::Str(_))
                );
                if !matches {
                    return Err(EvalError::Type(format!(
                        "variable {name} holds {} {value}",
                        value.type_name()
                    )));
                }
                Ok(value.clone())
            }
            Expr::Not(inner) => match inner.eval(env)? {
                Value::Bool(b) => Ok(Value::Bool(!b)),
                other => Err(EvalError::Type(format!(
                    "not needs a boolean, found {} {other}",
                    other.type_name()
                ))),
            },
            Expr::Binary(op, l, r) => {
                // Both sides always: an error on either side is never short-circuited away.
                let l = l.eval(env)?;
                let r = r.eval(env)?;
                binary(*op, &l, &r)
            }
        }
    }

    /// Whether the expression admits the job: `Ok(true)` only for a boolean `true`.
    pub fn admits(&self, env: &Env) -> Result<bool, EvalError> {
        match self.eval(env)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError::Type(format!(
                "a restriction must be a boolean, found {} {other}",
                other.type_name()
            ))),
        }
    }
}

fn binary(op: BinaryOp, l: &Value, r: &Value) -> Result<Value, EvalError> {
    let name = op.as_str();
    match op {
        BinaryOp::Or | BinaryOp::And => match (l, r) {
            (Value::Bool(a), Value::Bool(b)) => Ok(Value::Bool(if op == BinaryOp::Or {
                *a || *b
            } else {
                *a && *b
            })),
            _ => Err(type_error(name, l, r)),
        },
        BinaryOp::Eq | BinaryOp::Ne => {
            if std::mem::discriminant(l) != std::mem::discriminant(r) {
                return Err(type_error(name, l, r));
            }
            Ok(Value::Bool((l == r) == (op == BinaryOp::Eq)))
        }
        BinaryOp::StartsWith => match (l, r) {
            (Value::Str(a), Value::Str(b)) => Ok(Value::Bool(a.starts_with(b.as_str()))),
            _ => Err(type_error(name, l, r)),
        },
        BinaryOp::Ge | BinaryOp::Gt | BinaryOp::Le | BinaryOp::Lt => match (l, r) {
            (Value::Int(a), Value::Int(b)) => Ok(Value::Bool(match op {
                BinaryOp::Ge => a >= b,
                BinaryOp::Gt => a > b,
                BinaryOp::Le => a <= b,
                _ => a < b,
            })),
            _ => Err(type_error(name, l, r)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn admits(expr: &str, env: &Env) -> Result<bool, EvalError> {
        parse(expr)
            .map_err(|e| EvalError::Type(e.to_string()))?
            .admits(env)
    }

    #[test]
    fn documented_examples() {
        let main = Env::job(Some("main"), None, false)
            .with("pipeline.config_source", Value::Str("github".into()));
        let ssh = Env::job(Some("main"), None, true)
            .with("pipeline.config_source", Value::Str("github".into()));
        let it = Env::job(Some("integration-test-1"), None, false);
        assert_eq!(admits(r#"pipeline.git.branch == "main""#, &main), Ok(true));
        assert_eq!(
            admits(
                r#"pipeline.git.branch == "main" or pipeline.git.branch starts-with "integration-test""#,
                &it
            ),
            Ok(true)
        );
        let strict = r#"pipeline.git.branch == "main" and not job.ssh.enabled and not (pipeline.config_source starts-with "api")"#;
        assert_eq!(admits(strict, &main), Ok(true));
        assert_eq!(admits(strict, &ssh), Ok(false));
        assert_eq!(admits("!job.ssh.enabled", &ssh), Ok(false));
    }

    #[test]
    fn fails_closed() {
        let env = Env::job(Some("main"), None, false);
        assert_eq!(
            admits("pipeline.parameters.x == 1", &env),
            Err(EvalError::UnknownVariable("pipeline.parameters.x".into()))
        );
        assert_eq!(
            admits(r#"pipeline.config_source == "x""#, &env),
            Err(EvalError::Unset("pipeline.config_source".into()))
        );
        assert!(matches!(
            admits(r#"pipeline.git.branch == 1"#, &env),
            Err(EvalError::Type(_))
        ));
        assert!(matches!(
            admits(r#"pipeline.git.branch > "a""#, &env),
            Err(EvalError::Type(_))
        ));
        assert!(matches!(
            admits(r#"not pipeline.git.branch"#, &env),
            Err(EvalError::Type(_))
        ));
        assert!(matches!(admits(r#""main""#, &env), Err(EvalError::Type(_))));
        // No short-circuit: the error on the right is still an error.
        assert!(matches!(
            admits(r#"true or pipeline.git.branch == 1"#, &env),
            Err(EvalError::Type(_))
        ));
        assert_eq!(
            admits("2 >= 1 and 1 < 2 and 3 > 2 and 2 <= 2", &env),
            Ok(true)
        );
    }
}
