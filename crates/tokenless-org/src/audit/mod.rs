//! `tokenless audit`: the Definition of Done against a registry and a CircleCI org.
//!
//! Data flows one way: [`collect`] reads the registry and CircleCI into a [`Snapshot`];
//! [`checks`] turn it into a [`Report`] of nine [`CheckResult`](report::CheckResult)s with
//! evidence; a renderer prints it. Checks never print; renderers never decide.

pub mod checks;
pub mod collect;
pub mod lint_config;
pub use crate::record;
pub mod report;
pub mod restrictions;
pub mod snapshot;

pub use report::{CheckId, Report, Status};
pub use snapshot::Snapshot;

/// Run every check over a snapshot.
pub fn evaluate(snapshot: &Snapshot) -> Report {
    Report::new(snapshot.scope.clone(), checks::run_all(snapshot))
}
