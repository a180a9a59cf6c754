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

pub use report::{CheckId, PackageRow, Report, Status};
pub use snapshot::Snapshot;

/// Run every check over a snapshot.
pub fn evaluate(snapshot: &Snapshot) -> Report {
    let mut report = Report::new(snapshot.scope.clone(), checks::run_all(snapshot));
    report.packages = package_rows(snapshot);
    report
}

/// The per-package facts behind the boxes.
fn package_rows(s: &Snapshot) -> Vec<PackageRow> {
    let usable = s.record.is_for(&s.registry, &s.scope);
    let Ok(packages) = &s.packages else {
        return Vec::new();
    };
    packages
        .iter()
        .map(|p| PackageRow {
            name: p.name.clone(),
            providers: p.trust.as_ref().ok().map(|configs| {
                configs
                    .iter()
                    .map(|c| c.provider().as_str().to_owned())
                    .collect()
            }),
            latest: match &p.releases {
                Some(Ok(r)) => r.latest.as_ref().map(|v| {
                    let via = r
                        .versions
                        .iter()
                        .find(|x| &x.version == v)
                        .and_then(|x| x.oidc_config_id.clone());
                    (v.clone(), via)
                }),
                _ => None,
            },
            access_acknowledged: usable
                .then(|| s.record.mfa_for(&p.name).map(|e| e.at.clone()))
                .flatten(),
        })
        .collect()
}
