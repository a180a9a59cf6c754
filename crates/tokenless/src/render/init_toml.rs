//! The starting `tokenless.toml` `init` writes: every guess with a comment saying why.

use std::fmt::Write;

use tokenless_org::init::{DraftValue, Starter};

fn q(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn list(items: &[String]) -> String {
    format!(
        "[{}]",
        items.iter().map(|s| q(s)).collect::<Vec<_>>().join(", ")
    )
}

/// The file text.
pub fn render(s: &Starter, registry: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# tokenless.toml for {} — written by `tokenless init`.\n# Every value below was read from the registry or a CI provider, or guessed; each guess\n# says from what. Review it, then `tokenless plan -c tokenless.toml`.\n",
        s.scope
    );
    let _ = writeln!(
        out,
        "[org]\nscope = {}\nregistry = {}",
        q(&s.scope),
        q(registry)
    );
    if let Some(org) = &s.circleci_org {
        let _ = writeln!(out, "circleci_org = {}", q(org));
    }
    for w in &s.warnings {
        let _ = writeln!(out, "# warning: {w}");
    }

    for p in &s.publishers {
        let _ = writeln!(out);
        for why in &p.because {
            let _ = writeln!(out, "# from {why}");
        }
        let _ = writeln!(out, "[[publisher]]\npackages = {}", list(&p.packages));
        for (k, v) in &p.fields {
            let v = match v {
                DraftValue::Text(t) => q(t),
                DraftValue::List(l) => list(l),
            };
            let _ = writeln!(out, "{k} = {v}");
        }
    }
    if !s.unmatched.is_empty() {
        let _ = writeln!(
            out,
            "\n# No publisher found (add a [[publisher]] table for each, or leave them to people):"
        );
        for (name, why) in &s.unmatched {
            let _ = writeln!(out, "#   {name}: {why}");
        }
    }

    let _ = writeln!(
        out,
        "\n# \"Require two-factor authentication and disallow tokens\" on every package; set only\n# for packages whose latest release came through a trusted publisher.\n[access]\nmfa = \"publish\""
    );

    if !s.teams.is_empty() {
        let _ = writeln!(out, "\n[teams]");
        for t in &s.teams {
            let _ = writeln!(out, "{} = \"read-only\"  # {}", q(&t.value), t.because);
        }
    }

    let _ = writeln!(out, "\n[members]");
    for (key, people) in [
        ("owners", &s.owners),
        ("humans", &s.humans),
        ("service_accounts", &s.service_accounts),
    ] {
        for g in people.iter() {
            let _ = writeln!(out, "# {}: {}", g.value, g.because);
        }
        let names: Vec<String> = people.iter().map(|g| g.value.clone()).collect();
        let _ = writeln!(out, "{key} = {}", list(&names));
    }

    if !s.secret_stores.is_empty() {
        let mut names: Vec<String> = s
            .secret_stores
            .iter()
            .flat_map(|st| st.names.clone())
            .collect();
        names.sort();
        names.dedup();
        let _ = writeln!(
            out,
            "\n# CI secrets and variables that look like npm tokens, removed once every package they\n# could break has a verified trusted release.\n[secrets]\nnames = {}",
            list(&names)
        );
        for key in [
            "circleci_projects",
            "circleci_contexts",
            "github_repositories",
            "gitlab_projects",
        ] {
            let stores: Vec<_> = s.secret_stores.iter().filter(|st| st.key == key).collect();
            if stores.is_empty() {
                continue;
            }
            for st in &stores {
                let _ = writeln!(out, "# {}: {}", st.name, st.names.join(", "));
            }
            let names: Vec<String> = stores.iter().map(|st| st.name.clone()).collect();
            let _ = writeln!(out, "{key} = {}", list(&names));
        }
        for key in ["github_organization", "gitlab_group"] {
            if let Some(st) = s.secret_stores.iter().find(|st| st.key == key) {
                let _ = writeln!(
                    out,
                    "{key} = {}  # holds {}",
                    q(&st.name),
                    st.names.join(", ")
                );
            }
        }
    }

    let _ = writeln!(
        out,
        "\n# The signed-in owner's static tokens are deleted once every package is verified\n# (leftover temporary bulk tokens at once). Other members revoke their own.\n[tokens]\ndelete = \"all\"\nkeep = []"
    );
    out
}
