//! The publish path outside the CI config: token lines committed in `.npmrc`, yarn
//! berry's `npmAuthToken` in `.yarnrc.yml` (it would beat OIDC), and token lines in the
//! shell scripts the publish goes through. Paths are repository-relative.

use super::script::{self, Edit};
use super::{Draft, JobIn, Op, Patch, Target};
use crate::finding::RuleId;
use crate::follow::Follower;
use crate::yaml::Forest;

pub fn fix_job(input: &JobIn<'_>, follow: &Follower<'_>, d: &mut Draft) {
    let wants = [RuleId::StaticTokenPublish, RuleId::TokenFallback]
        .iter()
        .any(|r| input.has(*r));
    if !wants || !follow.is_repo_aware() {
        return;
    }
    if let Some(text) = follow.read(".npmrc") {
        let lines = crate::facts::committed_token_lines(&text);
        for (i, _, _) in &lines {
            d.patches.push(Patch {
                path: ".npmrc".into(),
                at: Target::Line(i + 1),
                op: Op::Remove,
            });
        }
        if !lines.is_empty() {
            d.changes
                .push(".npmrc: removes the committed npm token line".into());
        }
    }
    if let Some(text) = follow.read(".yarnrc.yml") {
        yarnrc(&text, d);
    }
    let mut seen = std::collections::BTreeSet::new();
    for p in &input.j.publishes {
        for hop in &p.chain {
            let f = hop.file.as_str();
            let shell = f.ends_with(".sh")
                || f.ends_with(".bash")
                || !f.rsplit('/').next().unwrap_or(f).contains('.');
            if !shell || f == "Makefile" || f.ends_with("/Makefile") || !seen.insert(f.to_string())
            {
                continue;
            }
            let Some(text) = follow.read(f) else { continue };
            match script::strip_token_lines(&text) {
                Edit::Changed(new) => {
                    d.patches.extend(line_patches(f, &text, &new));
                    d.changes
                        .push(format!("{f}: removes the stored-token lines"));
                }
                Edit::Unsure(r) => d.refusals.push(format!("{f}: {r}")),
                Edit::Unchanged => {}
            }
        }
    }
}

/// `npmAuthToken` entries for npmjs read from a variable, anywhere in `.yarnrc.yml`.
fn yarnrc(text: &str, d: &mut Draft) {
    let mut forest = Forest::default();
    let Ok(root) = forest.parse(".yarnrc.yml", text) else {
        d.refusals
            .push(".yarnrc.yml does not parse; remove its npmAuthToken by hand".into());
        return;
    };
    let router = super::route::Router::new(&forest, root);
    let mut found = Vec::new();
    let mut stack = vec![(root, String::new())];
    while let Some((node, parent_key)) = stack.pop() {
        for &(k, v) in forest.entries(node) {
            let key = forest.text(k);
            if key == "npmAuthToken" {
                let npmjs = parent_key.is_empty()
                    || parent_key.contains("registry.npmjs.org")
                    || !parent_key.starts_with("//") && !parent_key.starts_with("http");
                if npmjs && forest.text(v).contains('$') {
                    found.push(v);
                }
            } else if forest.is_map(v) && found.len() < 64 {
                stack.push((v, key.to_string()));
            }
        }
    }
    for v in found {
        match router.route(v) {
            Ok(route) => {
                d.patches.push(Patch {
                    path: ".yarnrc.yml".into(),
                    at: Target::Route(route),
                    op: Op::Remove,
                });
                d.changes.push(
                    ".yarnrc.yml: removes `npmAuthToken` (it would be used instead of OIDC)".into(),
                );
            }
            Err(e) => d
                .refusals
                .push(format!(".yarnrc.yml: npmAuthToken is not changed: {e}")),
        }
    }
}

/// Line patches turning `old` into `new`, where `new` only drops lines or shortens them.
fn line_patches(path: &str, old: &str, new: &str) -> Vec<Patch> {
    let old: Vec<&str> = old.lines().collect();
    let new: Vec<&str> = new.lines().collect();
    let mut out = Vec::new();
    let mut j = 0;
    for (i, line) in old.iter().enumerate() {
        let at = Target::Line(i + 1);
        match new.get(j) {
            Some(n) if n == line => j += 1,
            Some(n)
                if !n.trim().is_empty()
                    && line.ends_with(n.trim_start())
                    && line.contains("whoami") =>
            {
                out.push(Patch {
                    path: path.into(),
                    at,
                    op: Op::Replace {
                        value: super::Value::str(*n),
                    },
                });
                j += 1;
            }
            _ => out.push(Patch {
                path: path.into(),
                at,
                op: Op::Remove,
            }),
        }
    }
    out
}
