//! Which provider a file belongs to, from its path or, when the path says nothing, its content.
//!
//! Paths are matched by their components, so a config is recognised at any depth
//! (`repo/.circleci/config.yml`, `monorepo/pkg/.github/workflows/ci.yml`). Content
//! detection looks only at the shape of the document (top-level keys, a `runs-on:` or
//! `script:` key anywhere) without parsing it, so it is cheap and cannot fail.

use crate::Provider;

/// The provider a path names, or `None` when the path says nothing.
///
/// - `.circleci/*.yml` and `circle.yml` → CircleCI
/// - `.github/workflows/*.yml` and `*.yaml` → GitHub Actions
/// - `.gitlab-ci.yml` (also `*.gitlab-ci.yml` and the `.yaml` spellings) → GitLab CI
///
/// Both `/` and `\` separate components.
pub fn provider_from_path(path: &str) -> Option<Provider> {
    let mut parts = path.rsplit(['/', '\\']).filter(|p| !p.is_empty());
    let name = parts.next()?;
    let parent = parts.next();
    let grandparent = parts.next();
    let is_yml = name.ends_with(".yml");
    let is_yaml = is_yml || name.ends_with(".yaml");
    if name == "circle.yml" || (parent == Some(".circleci") && is_yml) {
        return Some(Provider::CircleCi);
    }
    if parent == Some("workflows") && grandparent == Some(".github") && is_yaml {
        return Some(Provider::GitHub);
    }
    if name.ends_with(".gitlab-ci.yml") || name.ends_with(".gitlab-ci.yaml") {
        return Some(Provider::GitLab);
    }
    None
}

/// The provider a document's shape suggests, or `None` when it matches none.
///
/// - top-level `jobs:` and `workflows:` → CircleCI
/// - top-level `on:` and `jobs:`, and a `runs-on:` key somewhere → GitHub Actions
/// - top-level `stages:`, or a `script:` key one level down → GitLab CI
pub fn provider_from_content(source: &str) -> Option<Provider> {
    let mut top = TopKeys::default();
    let mut runs_on = false;
    let mut nested_script = false;
    for line in source.lines() {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        let Some(key) = key_of(line.get(indent..).unwrap_or_default()) else {
            continue;
        };
        if indent == 0 {
            top.note(key);
        } else {
            runs_on |= key == "runs-on";
            nested_script |= key == "script";
        }
    }
    if top.jobs && top.workflows {
        Some(Provider::CircleCi)
    } else if top.on && top.jobs && runs_on {
        Some(Provider::GitHub)
    } else if top.stages || nested_script {
        Some(Provider::GitLab)
    } else {
        None
    }
}

/// The provider of a file: its path first, then its content.
pub fn detect(path: &str, source: &str) -> Option<Provider> {
    provider_from_path(path).or_else(|| provider_from_content(source))
}

#[derive(Default)]
struct TopKeys {
    jobs: bool,
    workflows: bool,
    on: bool,
    stages: bool,
}

impl TopKeys {
    fn note(&mut self, key: &str) {
        match key {
            "jobs" => self.jobs = true,
            "workflows" => self.workflows = true,
            "on" => self.on = true,
            "stages" => self.stages = true,
            _ => {}
        }
    }
}

/// The key of a block-mapping line (`key:`, `"key":`, `'key':`, `- key:`), if it is one.
fn key_of(rest: &str) -> Option<&str> {
    let rest = rest.strip_prefix("- ").unwrap_or(rest).trim_start();
    if rest.starts_with('#') {
        return None;
    }
    let (key, after) = if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find('"')?;
        (quoted.get(..end)?, quoted.get(end + 1..)?)
    } else if let Some(quoted) = rest.strip_prefix('\'') {
        let end = quoted.find('\'')?;
        (quoted.get(..end)?, quoted.get(end + 1..)?)
    } else {
        let end = rest.find(':')?;
        (rest.get(..end)?.trim_end(), rest.get(end..)?)
    };
    let after = after.strip_prefix(':')?;
    if after.is_empty() || after.starts_with([' ', '\t']) {
        Some(key)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_provider_at_any_depth() {
        let cases = [
            (".circleci/config.yml", Some(Provider::CircleCi)),
            ("repo/.circleci/release.yml", Some(Provider::CircleCi)),
            ("repo\\.circleci\\config.yml", Some(Provider::CircleCi)),
            ("circle.yml", Some(Provider::CircleCi)),
            (".github/workflows/ci.yml", Some(Provider::GitHub)),
            ("a/b/.github/workflows/release.yaml", Some(Provider::GitHub)),
            (".gitlab-ci.yml", Some(Provider::GitLab)),
            ("ci/main.gitlab-ci.yml", Some(Provider::GitLab)),
            (".circleci/config.json", None),
            ("workflows/ci.yml", None),
            (".github/ci.yml", None),
            ("config.yml", None),
            ("", None),
        ];
        for (path, want) in cases {
            assert_eq!(provider_from_path(path), want, "{path}");
        }
    }

    #[test]
    fn content_decides_when_the_path_says_nothing() {
        let circle = "version: 2.1\njobs:\n  build:\n    docker: []\nworkflows:\n  main: {}\n";
        let github =
            "name: ci\n\"on\": push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps: []\n";
        let gitlab_stages = "stages: [build]\nbuild:\n  stage: build\n";
        let gitlab_script = "publish:\n  image: node:22\n  script:\n    - npm publish\n";
        assert_eq!(provider_from_content(circle), Some(Provider::CircleCi));
        assert_eq!(provider_from_content(github), Some(Provider::GitHub));
        assert_eq!(provider_from_content(gitlab_stages), Some(Provider::GitLab));
        assert_eq!(provider_from_content(gitlab_script), Some(Provider::GitLab));
        assert_eq!(provider_from_content("name: x\nvalue: 1\n"), None);
        assert_eq!(provider_from_content(""), None);
        // `on:` + `jobs:` without `runs-on` is not enough for GitHub.
        assert_eq!(provider_from_content("on: push\njobs: {}\n"), None);
        // Keys in comments and values do not count.
        assert_eq!(
            provider_from_content("# jobs:\n# workflows:\nx: 'jobs: 1'\n"),
            None
        );
    }

    #[test]
    fn path_wins_over_content() {
        let gitlabish = "stages: [a]\n";
        assert_eq!(
            detect(".circleci/config.yml", gitlabish),
            Some(Provider::CircleCi)
        );
        assert_eq!(detect("ci.yml", gitlabish), Some(Provider::GitLab));
    }

    #[test]
    fn key_of_reads_block_mapping_keys_only() {
        assert_eq!(key_of("jobs:"), Some("jobs"));
        assert_eq!(key_of("jobs: {}"), Some("jobs"));
        assert_eq!(key_of("- script:"), Some("script"));
        assert_eq!(key_of("\"on\": push"), Some("on"));
        assert_eq!(key_of("'on':"), Some("on"));
        assert_eq!(key_of("url: https://x"), Some("url"));
        assert_eq!(key_of("https://x"), None);
        assert_eq!(key_of("# jobs:"), None);
        assert_eq!(key_of("plain"), None);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn detection_never_panics_on_any_text(path in ".{0,40}", source in "(?s).{0,400}") {
            let _ = detect(&path, &source);
        }

        #[test]
        fn yaml_shaped_text_is_typed_consistently(keys in proptest::collection::vec("[a-z-]{1,8}", 0..8)) {
            let source: String = keys.iter().map(|k| format!("{k}:\n  x: 1\n")).collect();
            let got = provider_from_content(&source);
            let has = |k: &str| keys.iter().any(|x| x == k);
            if has("jobs") && has("workflows") {
                prop_assert_eq!(got, Some(Provider::CircleCi));
            } else if has("stages") {
                prop_assert_eq!(got, Some(Provider::GitLab));
            } else {
                prop_assert_eq!(got, None);
            }
        }
    }
}
