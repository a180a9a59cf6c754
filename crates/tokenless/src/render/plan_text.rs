//! `tokenless plan` (and the plan `apply` shows) for people.

use std::collections::BTreeMap;
use std::fmt::Write;

use tokenless_org::plan::{Phase, Plan, Step};

/// Render a plan; `approvals` is the estimate for the pace the apply will use.
pub fn render(plan: &Plan, scope: &str, registry: &str, approvals: usize, pace: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "tokenless plan: {scope} on {registry} as {}",
        plan.user
    );
    let additive: Vec<&Step> = plan
        .steps
        .iter()
        .filter(|s| s.phase == Phase::Additive)
        .collect();
    let destructive: Vec<&Step> = plan
        .steps
        .iter()
        .filter(|s| s.phase == Phase::Destructive)
        .collect();
    let _ = writeln!(
        out,
        "\nadditive: {} step{} (safe while CI still publishes with its token)",
        additive.len(),
        plural(additive.len())
    );
    steps(&mut out, &additive, '+');
    let _ = writeln!(
        out,
        "\ndestructive: {} step{} ready{}",
        destructive.len(),
        plural(destructive.len()),
        if plan.held.is_empty() {
            String::new()
        } else {
            format!(
                ", {} held until the packages they could break have a verified trusted release",
                plan.held.len()
            )
        }
    );
    steps(&mut out, &destructive, '-');
    if !plan.forced.is_empty() {
        let _ = writeln!(out, "\n--force-unverified lets through:");
        for f in &plan.forced {
            let _ = writeln!(out, "  ! {f}");
        }
    }
    if !plan.waiting.is_empty() {
        let _ = writeln!(
            out,
            "\nwaiting for a trusted release ({}):",
            plan.waiting.len()
        );
        for w in &plan.waiting {
            let _ = writeln!(out, "  {}: {}; {}", w.package, w.reason, w.todo);
        }
    }
    if !plan.notes.is_empty() {
        let _ = writeln!(out, "\nnotes:");
        for n in &plan.notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    let writes = plan.writes_needing_2fa();
    let _ = writeln!(
        out,
        "\n{} registry write{} need 2FA: {} approval{} at most (one per 5-minute window at {pace}s per write)",
        writes,
        plural(writes),
        approvals,
        plural(approvals)
    );
    if plan.steps.is_empty() && plan.held.is_empty() {
        let _ = writeln!(out, "no changes: the org matches tokenless.toml");
    }
    out
}

fn steps(out: &mut String, steps: &[&Step], mark: char) {
    let mut by_package: BTreeMap<&str, Vec<&Step>> = BTreeMap::new();
    for s in steps {
        match &s.package {
            None => {
                let _ = writeln!(out, "  {mark} {}", s.op.describe());
            }
            Some(p) => by_package.entry(p.as_str()).or_default().push(s),
        }
    }
    for (package, list) in by_package {
        let _ = writeln!(out, "  {package}");
        for s in list {
            let text = s.op.describe();
            let text = text
                .strip_prefix(&format!("{package}: "))
                .unwrap_or(&text)
                .to_owned();
            let _ = writeln!(out, "    {mark} {text}");
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
