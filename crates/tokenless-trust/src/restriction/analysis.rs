//! "Do these restrictions guarantee that only the protected ref can use the context, with
//! SSH reruns excluded?"
//!
//! The answer is decided by exhaustive evaluation over a finite set of values that is
//! complete for this language: every atom compares a variable with a literal or another
//! variable using `==`, `!=`, `starts-with` or an integer comparison, so a string's effect
//! is fixed by which literals it equals, which literals it starts with, and (when a
//! variable appears on the right of `starts-with`) which literals start with it. One
//! representative per such class (and enough distinct ones for variable-to-variable
//! equality) covers every possible job. If some assignment admits a job that is not on the
//! protected ref, or has SSH enabled, the answer is no and that job is the counterexample.
//! Restrictions are ANDed, and an evaluation error counts as "not admitted" (fail closed).
//! When the case count would exceed a bound the answer is no ("could not prove").

use std::collections::BTreeSet;

use super::eval::{Env, Value, VarType, known_variable_type};
use super::parser::{BinaryOp, Expr, parse};

/// Org admins are never stopped by context restrictions.
pub const ADMIN_BYPASS: &str = "org admins bypass context restrictions: a pipeline an org admin triggers can use the context from any branch, so keep the admin group small";

/// The ref a publish context must be limited to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtectedRef {
    /// `pipeline.git.branch` must equal this.
    Branch(String),
    /// `pipeline.git.tag` must equal this.
    Tag(String),
}

impl ProtectedRef {
    fn variable(&self) -> &'static str {
        match self {
            ProtectedRef::Branch(_) => "pipeline.git.branch",
            ProtectedRef::Tag(_) => "pipeline.git.tag",
        }
    }

    fn value(&self) -> &str {
        match self {
            ProtectedRef::Branch(v) | ProtectedRef::Tag(v) => v,
        }
    }
}

const SSH: &str = "job.ssh.enabled";

/// Most assignments evaluated before giving up.
const MAX_CASES: u64 = 2_000_000;

/// The answer, its reason, and the admin caveat.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RestrictionAnalysis {
    /// Whether every job the restrictions admit is on the protected ref with SSH disabled.
    pub guaranteed: bool,
    /// Why (a counterexample job when not guaranteed).
    pub reason: String,
    /// Always [`ADMIN_BYPASS`].
    pub caveat: &'static str,
}

impl std::fmt::Display for RestrictionAnalysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.reason, self.caveat)
    }
}

fn answer(guaranteed: bool, reason: impl Into<String>) -> RestrictionAnalysis {
    RestrictionAnalysis {
        guaranteed,
        reason: reason.into(),
        caveat: ADMIN_BYPASS,
    }
}

/// Analyses a context's expression restrictions (each `restriction_value` of type
/// `expression`; other restriction types do not limit branches).
pub fn analyze(expressions: &[&str], protected: &ProtectedRef) -> RestrictionAnalysis {
    let goal = format!(
        "{} == {:?} and not {SSH}",
        protected.variable(),
        protected.value()
    );
    if expressions.is_empty() {
        return answer(
            false,
            format!(
                "the context has no expression restriction, so jobs on any branch and SSH reruns can use it (needs {goal})"
            ),
        );
    }
    let mut parsed = Vec::with_capacity(expressions.len());
    for (i, text) in expressions.iter().enumerate() {
        match parse(text) {
            Ok(e) => parsed.push(e),
            Err(e) => {
                return answer(
                    false,
                    format!(
                        "restriction {} ({text:?}) does not parse ({e}); CircleCI fails such a context closed, so it cannot be shown to admit only {goal}",
                        i + 1
                    ),
                );
            }
        }
    }
    let mut variables: BTreeSet<String> = BTreeSet::new();
    for e in &parsed {
        for v in e.variables() {
            if known_variable_type(v).is_none() {
                return answer(
                    false,
                    format!(
                        "a restriction uses {v}, which restrictions cannot read; the expression always fails and the context is unusable"
                    ),
                );
            }
            variables.insert(v.to_owned());
        }
    }
    variables.insert(protected.variable().to_owned());
    variables.insert(SSH.to_owned());

    let domains = match domains(&parsed, &variables, protected) {
        Some(d) => d,
        None => {
            return answer(
                false,
                "too many cases to prove the restrictions; simplify them to the shape pipeline.git.branch == \"main\" and not job.ssh.enabled",
            );
        }
    };
    let mut satisfiable = false;
    let mut counterexample: Option<Env> = None;
    let mut index = vec![0usize; domains.len()];
    'cases: loop {
        let mut env = Env::new();
        for ((name, values), i) in domains.iter().zip(&index) {
            if let Some(v) = values.get(*i) {
                env.set(name, v.clone());
            }
        }
        if parsed.iter().all(|e| e.admits(&env) == Ok(true)) {
            satisfiable = true;
            let on_ref =
                env.get(protected.variable()) == Some(&Value::Str(protected.value().to_owned()));
            let ssh_off = env.get(SSH) == Some(&Value::Bool(false));
            if !(on_ref && ssh_off) {
                counterexample = Some(env);
                break 'cases;
            }
        }
        // Next assignment (odometer).
        for (slot, (_, values)) in index.iter_mut().zip(&domains) {
            *slot += 1;
            if *slot < values.len() {
                continue 'cases;
            }
            *slot = 0;
        }
        break;
    }
    match counterexample {
        Some(env) => {
            let branch = env
                .get(protected.variable())
                .map_or("?".to_owned(), ToString::to_string);
            let ssh = env.get(SSH).map_or("?".to_owned(), ToString::to_string);
            let others: Vec<String> = domains
                .iter()
                .map(|(n, _)| n)
                .filter(|n| n.as_str() != protected.variable() && n.as_str() != SSH)
                .filter_map(|n| env.get(n).map(|v| format!("{n} = {v}")))
                .collect();
            let with = if others.is_empty() {
                String::new()
            } else {
                format!(", {}", others.join(", "))
            };
            let why = if ssh == "true" {
                "an SSH rerun"
            } else {
                "a job off the protected ref"
            };
            answer(
                false,
                format!(
                    "the restrictions admit {why}: {} = {branch}, {SSH} = {ssh}{with}; they must imply {goal}",
                    protected.variable()
                ),
            )
        }
        None if !satisfiable => answer(
            false,
            "no job satisfies every restriction, so the context is unusable (the publish job would be Unauthorized)",
        ),
        None => answer(true, format!("every job the restrictions admit has {goal}")),
    }
}

/// The values to try for each variable, or `None` when there are too many cases.
fn domains(
    parsed: &[Expr],
    variables: &BTreeSet<String>,
    protected: &ProtectedRef,
) -> Option<Vec<(String, Vec<Value>)>> {
    let mut strings: BTreeSet<String> = BTreeSet::new();
    let mut ints: BTreeSet<i64> = BTreeSet::new();
    let mut prefix_sensitive = false;
    strings.insert(protected.value().to_owned());
    for e in parsed {
        e.walk(&mut |node| match node {
            Expr::Str(s) => {
                strings.insert(s.clone());
            }
            Expr::Int(n) => {
                ints.insert(*n);
            }
            Expr::Binary(BinaryOp::StartsWith, _, rhs) if !matches!(**rhs, Expr::Str(_)) => {
                prefix_sensitive = true
            }
            _ => {}
        });
    }
    let string_vars = variables
        .iter()
        .filter(|v| known_variable_type(v) == Some(VarType::Str))
        .count();
    let reps = string_vars.clamp(1, 3);
    let string_pool = string_pool(&strings, prefix_sensitive, reps);
    let mut int_pool: BTreeSet<i64> = BTreeSet::from([0]);
    for n in &ints {
        int_pool.extend([n.saturating_sub(1), *n, n.saturating_add(1)]);
    }
    let mut out = Vec::new();
    let mut cases: u64 = 1;
    for v in variables {
        let values: Vec<Value> = match known_variable_type(v) {
            Some(VarType::Bool) => vec![Value::Bool(false), Value::Bool(true)],
            Some(VarType::Int) => int_pool.iter().map(|n| Value::Int(*n)).collect(),
            Some(VarType::Str) => string_pool.iter().map(|s| Value::Str(s.clone())).collect(),
            None => return None,
        };
        cases = cases.saturating_mul(values.len() as u64);
        if cases > MAX_CASES {
            return None;
        }
        out.push((v.clone(), values));
    }
    Some(out)
}

/// Representative strings: fresh values first (the most readable counterexamples), then
/// the literals, then values extending each base without forming a longer literal prefix.
fn string_pool(literals: &BTreeSet<String>, prefix_sensitive: bool, reps: usize) -> Vec<String> {
    let mut bases: BTreeSet<String> = BTreeSet::from([String::new()]);
    for lit in literals {
        if prefix_sensitive {
            for (i, _) in lit.char_indices() {
                bases.insert(lit.get(..i).unwrap_or_default().to_owned());
            }
        }
        bases.insert(lit.clone());
    }
    const FRESH: &[&str] = &[
        "feature/x",
        "attacker",
        "zz",
        "q",
        "1",
        "_",
        "~",
        "\u{1}",
        "\u{2}",
        "\u{3}",
    ];
    const EXTEND: &[&str] = &[
        "-attacker",
        "/x",
        "x",
        "z",
        "q",
        "1",
        "_",
        "~",
        "\u{1}",
        "\u{2}",
        "\u{3}",
    ];
    let mut pool: Vec<String> = Vec::new();
    let push = |s: String, pool: &mut Vec<String>| {
        if !pool.contains(&s) {
            pool.push(s);
        }
    };
    for base in &bases {
        let next_chars: BTreeSet<char> = literals
            .iter()
            .filter_map(|l| {
                l.strip_prefix(base.as_str())
                    .and_then(|rest| rest.chars().next())
            })
            .collect();
        let suffixes = if base.is_empty() { FRESH } else { EXTEND };
        let chosen = suffixes
            .iter()
            .filter(|s| s.chars().next().is_some_and(|c| !next_chars.contains(&c)))
            .take(reps);
        for suffix in chosen {
            push(format!("{base}{suffix}"), &mut pool);
        }
    }
    for base in &bases {
        if !base.is_empty() {
            push(base.clone(), &mut pool);
        }
    }
    push(String::new(), &mut pool);
    pool
}

#[cfg(test)]
mod tests {
    use super::*;

    fn main_only(exprs: &[&str]) -> RestrictionAnalysis {
        analyze(exprs, &ProtectedRef::Branch("main".into()))
    }

    #[test]
    fn main_and_no_ssh_is_guaranteed() {
        let a = main_only(&[r#"pipeline.git.branch == "main" and not job.ssh.enabled"#]);
        assert!(a.guaranteed, "{a}");
        assert!(a.to_string().contains("org admins bypass"));
        let a = main_only(&[
            r#"not job.ssh.enabled and pipeline.git.branch == "main" and not (pipeline.config_source starts-with "api")"#,
        ]);
        assert!(a.guaranteed, "{a}");
        let a = main_only(&[r#"!job.ssh.enabled"#, r#"pipeline.git.branch == "main""#]);
        assert!(a.guaranteed, "multiple restrictions are ANDed: {a}");
    }

    #[test]
    fn or_starts_with_leaks() {
        let a = main_only(&[
            r#"pipeline.git.branch == "main" and not job.ssh.enabled or pipeline.git.branch starts-with "x""#,
        ]);
        assert!(!a.guaranteed);
        assert!(
            a.reason.contains("pipeline.git.branch = \"x"),
            "{}",
            a.reason
        );
    }

    #[test]
    fn missing_ssh_clause_is_not_enough() {
        let a = main_only(&[r#"pipeline.git.branch == "main""#]);
        assert!(!a.guaranteed);
        assert!(a.reason.contains("SSH rerun"), "{}", a.reason);
    }

    #[test]
    fn tricky_shapes() {
        // starts-with "main" also admits "main-attacker".
        assert!(
            !main_only(&[r#"pipeline.git.branch starts-with "main" and not job.ssh.enabled"#])
                .guaranteed
        );
        // != admits everything else.
        assert!(
            !main_only(&[r#"pipeline.git.branch != "dev" and not job.ssh.enabled"#]).guaranteed
        );
        // Double negation still works.
        assert!(
            main_only(&[r#"not (pipeline.git.branch != "main" or job.ssh.enabled)"#]).guaranteed
        );
        // ssh == false is the same as not ssh.
        assert!(
            main_only(&[r#"pipeline.git.branch == "main" and job.ssh.enabled == false"#])
                .guaranteed
        );
        // A literal starting with the variable: "main" starts-with branch admits "ma".
        assert!(
            !main_only(&[r#""main" starts-with pipeline.git.branch and not job.ssh.enabled"#])
                .guaranteed
        );
        // Two variables compared with each other.
        assert!(
            !main_only(&[r#"pipeline.git.branch == pipeline.git.tag and not job.ssh.enabled"#])
                .guaranteed
        );
        // Unknown variable: unusable.
        assert!(!main_only(&[r#"pipeline.parameters.release == true"#]).guaranteed);
        // Unsatisfiable.
        let a = main_only(&[r#"pipeline.git.branch == "main" and pipeline.git.branch == "dev""#]);
        assert!(
            !a.guaranteed && a.reason.contains("unusable"),
            "{}",
            a.reason
        );
        // Nothing at all.
        assert!(!main_only(&[]).guaranteed);
        // Parse error.
        assert!(!main_only(&["pipeline.git.branch = \"main\""]).guaranteed);
    }

    #[test]
    fn protected_tag() {
        let a = analyze(
            &[r#"pipeline.git.tag == "v1" and not job.ssh.enabled"#],
            &ProtectedRef::Tag("v1".into()),
        );
        assert!(a.guaranteed, "{a}");
    }
}
