//! Fixtures under `tests/fixtures/<rule-id>/<provider>-<case>.yml`, written for this
//! crate. Every finding a fixture must produce is marked on its line with
//! `# expect: rule-id[, rule-id]`; the test requires exactly those (line, rule) pairs,
//! so unmarked fixtures assert that nothing is reported. Local GitLab includes resolve
//! relative to the fixture's folder.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tokenless_ci::{Document, FileSource, Provider, RULES, lint};

struct Dir(PathBuf);

impl FileSource for Dir {
    fn read(&self, path: &str) -> Result<String, String> {
        std::fs::read_to_string(self.0.join(path)).map_err(|e| format!("{path}: {e}"))
    }
}

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn provider_of(name: &str) -> Provider {
    if name.starts_with("circleci-") {
        Provider::CircleCi
    } else if name.starts_with("github-") {
        Provider::GitHub
    } else if name.starts_with("gitlab-") {
        Provider::GitLab
    } else {
        panic!("fixture {name} must start with circleci-, github- or gitlab-")
    }
}

/// (file, line, rule): `# expect: a, b` marks its own line of the fixture;
/// `# expect-in: path:line rule` marks a line of an included file.
fn expected_in(rel: &str, src: &str) -> BTreeSet<(String, usize, String)> {
    let mut out = BTreeSet::new();
    for (i, line) in src.lines().enumerate() {
        if let Some(at) = line.find("# expect: ") {
            for id in line[at + 10..].split(',') {
                out.insert((rel.to_string(), i + 1, id.trim().to_string()));
            }
        }
        if let Some(at) = line.find("# expect-in: ") {
            let spec = line[at + 13..].trim();
            if let Some((loc, rule)) = spec.split_once(' ')
                && let Some((file, l)) = loc.rsplit_once(':')
            {
                out.insert((
                    file.to_string(),
                    l.parse().expect("line number"),
                    rule.trim().to_string(),
                ));
            }
        }
    }
    out
}

fn expected(src: &str) -> BTreeSet<(usize, String)> {
    expected_in("", src)
        .into_iter()
        .map(|(_, l, r)| (l, r))
        .collect()
}

fn fixtures() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for rule in std::fs::read_dir(fixtures_root()).expect("fixtures folder") {
        let rule = rule.expect("entry").path();
        if !rule.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&rule).expect("rule folder") {
            let f = f.expect("entry").path();
            if f.extension().is_some_and(|e| e == "yml") {
                let rel = f
                    .strip_prefix(fixtures_root())
                    .expect("under root")
                    .display()
                    .to_string();
                out.push((rel, f));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_fixture_reports_exactly_its_expectations() {
    let mut failures = Vec::new();
    let all = fixtures();
    assert!(all.len() >= 50, "only {} fixtures", all.len());
    for (rel, path) in &all {
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string();
        let src = std::fs::read_to_string(path).expect("readable");
        let dir = Dir(path.parent().expect("parent").to_path_buf());
        let got = match lint(
            Document {
                path: rel,
                source: &src,
                provider: provider_of(&name),
            },
            &dir,
        ) {
            Ok(findings) => findings
                .iter()
                .map(|f| {
                    let text = if f.path == *rel {
                        src.clone()
                    } else {
                        std::fs::read_to_string(path.parent().expect("p").join(&f.path))
                            .expect("included file")
                    };
                    (
                        f.path.clone(),
                        text[..f.span.start].matches('\n').count() + 1,
                        f.rule.to_string(),
                    )
                })
                .collect::<BTreeSet<_>>(),
            Err(e) => {
                failures.push(format!("{rel}: {e}"));
                continue;
            }
        };
        let want = expected_in(rel, &src);
        if got != want {
            failures.push(format!("{rel}\n  expected {want:?}\n  got      {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_rule_has_positive_and_negative_fixtures_per_provider() {
    let all = fixtures();
    for rule in RULES {
        let id = rule.id.as_str();
        let mine: Vec<&(String, PathBuf)> = all
            .iter()
            .filter(|(rel, _)| rel.starts_with(&format!("{}/", rule.id)))
            .collect();
        let positive = mine.iter().any(|(_, p)| {
            expected(&std::fs::read_to_string(p).expect("r"))
                .iter()
                .any(|(_, r)| r == id)
        });
        let negative = mine.iter().any(|(_, p)| {
            !expected(&std::fs::read_to_string(p).expect("r"))
                .iter()
                .any(|(_, r)| r == id)
        });
        assert!(
            positive && negative,
            "{} needs positive and negative fixtures",
            rule.id
        );
        // Rules about CircleCI-only mechanisms (workflow contexts, shell-minted tokens,
        // environment maps, provenance support) have CircleCI fixtures only.
        let circleci_only = [
            "branch-filter-only",
            "oidc-token-unguarded",
            "provenance-unsupported",
            "literal-env-reference",
            "oidc-token-reused",
        ];
        let providers: &[&str] = if circleci_only.contains(&id) {
            &["circleci"]
        } else {
            &["circleci", "github", "gitlab"]
        };
        for p in providers {
            assert!(
                mine.iter().any(|(rel, _)| rel.contains(&format!("/{p}-"))),
                "{} has no {p} fixture",
                rule.id
            );
        }
    }
}

#[test]
fn findings_point_at_exact_spans() {
    let root = fixtures_root();
    let check = |rel: &str, rule: &str, text: &str| {
        let path = root.join(rel);
        let src = std::fs::read_to_string(&path).expect("fixture");
        let name = path.file_name().expect("n").to_string_lossy().to_string();
        let findings = lint(
            Document {
                path: rel,
                source: &src,
                provider: provider_of(&name),
            },
            &Dir(root.clone()),
        )
        .expect("lints");
        let f = findings
            .iter()
            .find(|f| f.rule == rule)
            .unwrap_or_else(|| panic!("{rel}: no {rule}"));
        assert_eq!(&src[f.span.start..f.span.end], text, "{rel} {rule}");
    };
    check(
        "oidc-audience-mismatch/circleci-escaped-claims.yml",
        "oidc-audience-mismatch",
        r#"'{\"aud\": \"npm:registry.npmjs.org\"}'"#,
    );
    check(
        "oidc-audience-mismatch/circleci-escaped-claims.yml",
        "oidc-token-unguarded",
        "circleci run oidc get",
    );
    check(
        "static-token-publish/github-node-auth-token.yml",
        "static-token-publish",
        "${{ secrets.NPM_TOKEN }}",
    );
    check(
        "oidc-token-missing/gitlab-no-id-tokens.yml",
        "oidc-token-missing",
        "npm publish",
    );
    check(
        "oidc-token-misused/circleci-jwt-as-npm-token.yml",
        "oidc-token-misused",
        r#"export NPM_TOKEN=$(circleci run oidc get --claims '{"aud":"npm:registry.npmjs.org"}')"#,
    );
    check(
        "npm-too-old/circleci-cimg-22.yml",
        "npm-too-old",
        "cimg/node:22.14",
    );
    check(
        "branch-filter-only/circleci-filters-without-context.yml",
        "branch-filter-only",
        "publish",
    );
    check(
        "untrusted-trigger-publish/github-pull-request-target.yml",
        "untrusted-trigger-publish",
        "pull_request_target",
    );
}

#[test]
fn cache_poisoning_findings_say_which_condition_fired() {
    let root = fixtures_root();
    let one = |rel: &str| {
        let path = root.join(rel);
        let src = std::fs::read_to_string(&path).expect("fixture");
        let name = path.file_name().expect("n").to_string_lossy().to_string();
        let findings = lint(
            Document {
                path: rel,
                source: &src,
                provider: provider_of(&name),
            },
            &Dir(path.parent().expect("p").to_path_buf()),
        )
        .expect("lints");
        let f = findings
            .into_iter()
            .find(|f| f.rule == "cache-poisoning-publish")
            .unwrap_or_else(|| panic!("{rel}: no finding"));
        let text = src[f.span.start..f.span.end].to_string();
        (f, text)
    };
    let (f, text) = one("cache-poisoning-publish/github-pull-request-target-writer.yml");
    assert_eq!(f.severity.as_str(), "high");
    assert_eq!(text, "node-modules-${{ hashFiles('package-lock.json') }}");
    assert!(f.message.contains("job `test` also saves"), "{}", f.message);
    assert!(f.message.contains("`pull_request_target`"), "{}", f.message);
    assert!(f.message.contains("`npm ci`"), "{}", f.message);
    assert!(!f.help.contains("CircleCI") && !f.help.contains("unprotect"));

    let (f, text) = one("cache-poisoning-publish/github-install-after-restore.yml");
    assert_eq!(f.severity.as_str(), "medium");
    assert_eq!(text, "pnpm");
    assert!(
        f.message.contains("`pnpm install --frozen-lockfile`"),
        "{}",
        f.message
    );
    assert!(
        f.message
            .contains("no job reachable from untrusted triggers")
    );

    let (f, text) = one("cache-poisoning-publish/circleci-prefix-fallback.yml");
    assert_eq!(f.severity.as_str(), "high");
    assert_eq!(text, "deps-");
    assert!(f.message.contains("job `test` saves"), "{}", f.message);
    assert!(
        f.message.contains("Branch filters on the writer"),
        "{}",
        f.message
    );
    assert!(f.message.contains("context restrictions on the publisher"));
    assert!(!f.help.contains("id-token: write") && !f.help.contains("unprotect"));

    let (f, text) = one("cache-poisoning-publish/gitlab-unprotect.yml");
    assert_eq!(f.severity.as_str(), "high");
    assert_eq!(text, "true");
    assert!(
        f.message
            .contains("job `test` saves the same key in merge-request pipelines")
    );
    assert!(f.help.contains("unprotect") && !f.help.contains("branch filters"));
}
