//! `tokenless fix` end to end on a copy of the shipped legacy example repository: the diff
//! it shows (snapshot), the patches as JSON, `--write`, a second run that changes nothing,
//! `lint` afterwards, and the files on the publish path outside the CI config.

mod lint_common;

use std::path::Path;

use lint_common::{Output, repo, tokenless_in, workspace};

/// A copy of `examples/legacy-repo` in a temporary directory.
fn legacy_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&workspace().join("examples/legacy-repo"), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).expect("example exists").flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

fn fix(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["fix"];
    all.extend_from_slice(args);
    tokenless_in(dir, &all)
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).expect("file")
}

#[test]
fn the_legacy_example_diff() {
    let dir = legacy_copy();
    let before = read(dir.path(), ".circleci/config.yml");
    let out = fix(dir.path(), &["."]);
    assert_eq!(out.code, Some(1), "{}", out.transcript());
    insta::assert_snapshot!("legacy_repo_fix_diff", out.transcript());
    // Nothing is written without --write.
    assert_eq!(read(dir.path(), ".circleci/config.yml"), before);
}

#[test]
fn json_lists_the_patches_by_route() {
    let dir = legacy_copy();
    let out = fix(dir.path(), &[".", "--format", "json"]);
    assert_eq!(out.code, Some(1), "{}", out.transcript());
    let json = out.json();
    assert_eq!(json["version"], 1);
    assert_eq!(json["written"], false);
    let patches: Vec<&serde_json::Value> = json["files"]
        .as_array()
        .expect("files")
        .iter()
        .flat_map(|f| f["fixes"].as_array().into_iter().flatten())
        .flat_map(|x| x["patches"].as_array().into_iter().flatten())
        .collect();
    let has = |path: &str, route: &str, op: &str| {
        patches
            .iter()
            .any(|p| p["path"] == path && p["route"] == route && p["op"] == op)
    };
    assert!(
        has(".circleci/config.yml", "jobs.publish.steps[2]", "remove"),
        "{patches:#?}"
    );
    assert!(has(
        ".circleci/config.yml",
        "jobs.publish.steps[3].run.command",
        "replace"
    ));
    assert!(has(".github/workflows/release.yml", "jobs.publish", "set"));
    // The GitLab job lives in a local include; its patches name that file.
    assert!(has("ci/publish.yml", "publish", "set"), "{patches:#?}");
    let human = &json["files"][1]["needs_human"];
    assert!(
        human.to_string().contains("untrusted-trigger-publish"),
        "{human}"
    );
}

#[test]
fn write_then_nothing_is_left_to_fix_and_lint_agrees() {
    let dir = legacy_copy();
    let out = fix(dir.path(), &[".", "--write"]);
    // The pull_request_target trigger and the merge-request rule need a human.
    assert_eq!(out.code, Some(1), "{}", out.transcript());
    assert!(
        out.stdout.contains("2 item(s) need a human"),
        "{}",
        out.stdout
    );
    let circle = read(dir.path(), ".circleci/config.yml");
    assert!(!circle.contains("_authToken"), "{circle}");
    assert!(
        circle.contains("circleci run oidc get --claims '{\"aud\":\"npm:registry.npmjs.org\"}'")
    );
    assert!(read(dir.path(), ".github/workflows/release.yml").contains("id-token: write"));
    assert!(read(dir.path(), "ci/publish.yml").contains("NPM_ID_TOKEN"));

    let again = fix(dir.path(), &[".", "--write"]);
    assert!(
        again.stdout.contains("0 file(s) changed"),
        "{}",
        again.stdout
    );
    assert_eq!(
        again.code,
        Some(1),
        "the human items remain: {}",
        again.transcript()
    );

    let lint = tokenless_in(dir.path(), &["lint", ".", "--format", "json"]);
    let rules: Vec<String> = lint.json()["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["rule"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        rules,
        ["untrusted-trigger-publish", "untrusted-trigger-publish"],
        "{}",
        lint.stdout
    );
}

#[test]
fn files_on_the_publish_path_are_fixed_too() {
    let dir = repo(&[
        (
            ".circleci/config.yml",
            b"version: 2.1\njobs:\n  ship:\n    docker:\n      - image: cimg/node:24.16\n    steps:\n      - checkout\n      - run:\n          name: Ship\n          command: ./scripts/ship.sh\nworkflows:\n  release:\n    jobs:\n      - ship:\n          filters:\n            branches:\n              only: main\n",
        ),
        (
            "scripts/ship.sh",
            b"#!/usr/bin/env bash\nset -euo pipefail\nnpm run build\necho \"//registry.npmjs.org/:_authToken=${NPM_TOKEN}\" > ~/.npmrc\nnpm whoami\nnpm publish --access public\n",
        ),
        (
            ".npmrc",
            b"save-exact=true\n//registry.npmjs.org/:_authToken=${NPM_TOKEN}\nengine-strict=true\n",
        ),
        ("package.json", b"{\"name\": \"@acme/ship\", \"version\": \"1.0.0\"}\n"),
    ]);
    let out = fix(dir.path(), &["--write"]);
    assert_eq!(out.code, Some(0), "{}", out.transcript());
    assert_eq!(
        read(dir.path(), "scripts/ship.sh"),
        "#!/usr/bin/env bash\nset -euo pipefail\nnpm run build\nnpm publish --access public\n"
    );
    assert_eq!(
        read(dir.path(), ".npmrc"),
        "save-exact=true\nengine-strict=true\n"
    );
    let config = read(dir.path(), ".circleci/config.yml");
    assert!(
        config.contains("          command: |-\n            set -euo pipefail\n"),
        "{config}"
    );
    assert!(config.contains("context: npm-publish"), "{config}");
    let lint = tokenless_in(dir.path(), &["lint"]);
    assert_eq!(lint.code, Some(0), "{}", lint.transcript());
}

#[test]
fn usage_errors_exit_2() {
    let dir = legacy_copy();
    for args in [
        &[".", "--context", ""][..],
        &[".", "--environment", " "],
        &[".", "--format", "sarif"],
        &["does-not-exist"],
    ] {
        let out = fix(dir.path(), args);
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.transcript());
    }
}
