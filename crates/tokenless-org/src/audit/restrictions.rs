//! The one question context-bound asks of a context's restrictions: do they admit only
//! `main`, never an SSH rerun? Answered by tokenless-trust's evaluator, the same code the
//! sandbox uses to refuse a restricted job.

use tokenless_trust::restriction::{ProtectedRef, analyze};

pub use tokenless_trust::restriction::ADMIN_BYPASS;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Guaranteed(String),
    NotGuaranteed(String),
}

/// Do these expression restrictions (ANDed) admit only jobs on `main` with SSH disabled?
pub fn main_only_no_ssh(expressions: &[&str]) -> Verdict {
    let answer = analyze(expressions, &ProtectedRef::Branch("main".into()));
    if answer.guaranteed {
        Verdict::Guaranteed(answer.reason)
    } else {
        Verdict::NotGuaranteed(answer.reason)
    }
}
