//! The one question context-bound asks of a context's restrictions: do they admit only
//! `main`, never an SSH rerun? Answered by tokenless-trust's evaluator.

/// Org admins are never stopped by context restrictions.
pub const ADMIN_BYPASS: &str = "org admins bypass context restrictions: a pipeline an org admin triggers can use the context from any branch, so keep the admin group small";

#[allow(dead_code)] // TEMPORARY: constructed once tokenless-trust's evaluator is wired in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Guaranteed(String),
    NotGuaranteed(String),
    /// The answer cannot be computed here.
    Unavailable(String),
}

/// TEMPORARY until tokenless-trust's `restriction::analyze` lands on main.
pub fn main_only_no_ssh(expressions: &[&str]) -> Verdict {
    let _ = expressions;
    Verdict::Unavailable("the restriction evaluator is not available in this build".into())
}
