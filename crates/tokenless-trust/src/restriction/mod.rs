//! CircleCI context restrictions: the expression language, its evaluator, and the analysis
//! "do these restrictions guarantee that only the protected ref can use the context, with
//! SSH reruns excluded?".
//!
//! Grammar (`../shared/reference/circleci.md` §3.2), weakest to strongest binding:
//! `or`, `and`, `==`/`!=`, `starts-with`, `>= > <= <`, `not`/`!`; all binary operators
//! left-associative; literals are integers, double-quoted strings (escapes `\"` and `\\`),
//! `true` and `false`; variables are dotted names (`pipeline.git.branch`, `job.ssh.enabled`).
//!
//! Evaluation fails closed: an unknown or unset variable, or an operand of the wrong type
//! (`and`/`or`/`not` take booleans, `starts-with` strings, comparisons integers, `==`/`!=`
//! two values of one type) is an error, and an error means the context is unavailable.
//! Both operands of `and`/`or` are always evaluated, so an error is never hidden by
//! short-circuiting. Parsing is bounded: at most [`MAX_EXPRESSION_BYTES`] of input, [`MAX_TOKENS`] tokens
//! and [`MAX_DEPTH`] levels of nesting.
//!
//! Org admins bypass context restrictions entirely; [`analyze`] always says so.

mod analysis;
mod eval;
mod lexer;
mod parser;

pub use analysis::{ADMIN_BYPASS, ProtectedRef, RestrictionAnalysis, analyze};
pub use eval::{Env, EvalError, Value, VarType, known_variable_type};
pub use parser::{BinaryOp, Expr, ParseError, parse};

/// Longest expression accepted.
pub const MAX_EXPRESSION_BYTES: usize = 8 * 1024;
/// Most tokens an expression may have (bounds the depth of operator chains too).
pub const MAX_TOKENS: usize = 512;
/// Deepest nesting of parentheses and `not` accepted.
pub const MAX_DEPTH: usize = 64;
