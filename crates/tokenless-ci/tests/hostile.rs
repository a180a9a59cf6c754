//! Hostile input: every case must end in findings or a clean `LintError`, quickly, with
//! bounded memory, and never a panic or a stack overflow.

use tokenless_ci::{Document, LintError, NoFiles, Provider, lint};

fn run(src: &str, provider: Provider) -> Result<Vec<tokenless_ci::Finding>, LintError> {
    lint(
        Document {
            path: "hostile.yml",
            source: src,
            provider,
        },
        &NoFiles,
    )
}

/// Run on a thread with the default 2 MiB stack, as the CLI's main thread would see it.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic, no overflow")
}

#[test]
fn billion_laughs_is_refused() {
    let mut src = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["b", "c", "d", "e", "f", "g", "h", "i"];
    let mut prev = "a";
    for n in names {
        src.push_str(&format!(
            "{n}: &{n} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
        prev = n;
    }
    for p in Provider::ALL {
        let err = run(&src, p).expect_err("a YAML bomb is refused");
        assert!(err.message.contains("alias expansion"), "{err}");
        assert!(err.line >= 1);
    }
}

#[test]
fn billion_laughs_through_merge_keys_is_refused() {
    let mut src = String::from("a: &a {x1: 1, x2: 2, x3: 3, x4: 4, x5: 5, x6: 6, x7: 7, x8: 8}\n");
    let mut prev = "a".to_string();
    for i in 0..30 {
        let n = format!("m{i}");
        src.push_str(&format!(
            "{n}: &{n} {{p: [*{prev}, *{prev}, *{prev}, *{prev}], q: *{prev}}}\n"
        ));
        prev = n;
    }
    let err = run(&src, Provider::CircleCi).expect_err("refused");
    assert!(err.message.contains("alias expansion"), "{err}");
}

#[test]
fn deep_block_nesting_is_a_clean_error() {
    let err = on_small_stack(|| {
        let mut src = String::new();
        for i in 0..1_000 {
            src.push_str(&" ".repeat(i));
            src.push_str("a:\n");
        }
        run(&src, Provider::CircleCi).expect_err("too deep")
    });
    assert!(err.message.contains("nesting"), "{err}");
    assert_eq!((err.line, err.column), (129, 129));
}

#[test]
fn ten_thousand_nested_block_sequences_are_a_clean_error() {
    // `- - - …` nests block sequences without growing the line.
    let err = on_small_stack(|| {
        let src = format!("{}x\n", "- ".repeat(10_000));
        run(&src, Provider::GitLab).expect_err("too deep")
    });
    assert!(err.message.contains("nesting"), "{err}");
    assert_eq!(err.line, 1);
}

#[test]
fn ten_thousand_indented_levels_are_refused_cleanly() {
    // Ten thousand indentation levels need about 50 MB of text: refused by size,
    // cleanly, before any parsing.
    let err = on_small_stack(|| {
        let mut src = String::new();
        for i in 0..10_000 {
            src.push_str(&" ".repeat(i));
            src.push_str("a:\n");
        }
        run(&src, Provider::CircleCi).expect_err("refused")
    });
    assert!(err.message.contains("not analysed"), "{err}");
}

#[test]
fn deep_flow_nesting_is_a_clean_error() {
    for open in ["[", "{a: "] {
        let err = on_small_stack(move || {
            let src = open.repeat(10_000);
            run(&src, Provider::GitHub).expect_err("too deep")
        });
        assert_eq!(err.line, 1);
        assert!(err.column > 1, "{err}");
    }
}

#[test]
fn malformed_yaml_names_line_and_column() {
    let err = run(
        "version: 2.1\njobs:\n  a:\n    steps: [checkout\n",
        Provider::CircleCi,
    )
    .expect_err("bad");
    assert_eq!(err.path, "hostile.yml");
    assert_eq!((err.line, err.column), (5, 1));
    let err = run(
        "jobs:\n  a:\n   b: 1\n  c: d\n    e: f\n",
        Provider::CircleCi,
    )
    .expect_err("bad");
    assert_eq!((err.line, err.column), (5, 6));
    let err = run("a: 'unterminated\n", Provider::GitHub).expect_err("bad");
    assert_eq!((err.line, err.column), (1, 4));
    let err = run("x: *nope\n", Provider::GitLab).expect_err("bad");
    assert_eq!((err.line, err.column), (1, 4));
}

#[test]
fn alias_cycles_cannot_exist_and_self_reference_is_an_error() {
    // YAML anchors only refer backwards; an alias inside its own anchor is unknown.
    let err = run("a: &a [*a]\n", Provider::CircleCi).expect_err("bad");
    assert!(err.message.contains("alias"), "{err}");
    // An alias inside the collection that carries the same anchor name refers to that
    // collection itself: a cycle, refused.
    let err = run("a: &x 1\nb: &x [*x, *x]\n", Provider::CircleCi).expect_err("cycle");
    assert_eq!((err.line, err.column), (2, 8));
    // Reusing an anchor name after the first is complete rebinds it: finite.
    assert!(run("a: &x 1\nb: &x [1, 2]\nc: [*x, *x]\n", Provider::CircleCi).is_ok());
}

#[test]
fn recursive_circleci_commands_terminate() {
    let src = "version: 2.1\ncommands:\n  a:\n    steps: [b, b]\n  b:\n    steps: [a, a, {run: npm publish}]\njobs:\n  j:\n    docker: [{image: cimg/node:24.16}]\n    steps: [a]\nworkflows:\n  w:\n    jobs: [j]\n";
    let start = std::time::Instant::now();
    let findings = run(src, Provider::CircleCi).expect("lints");
    assert!(findings.iter().any(|f| f.rule == "oidc-token-missing"));
    assert!(start.elapsed().as_secs() < 10);
}

#[test]
fn gitlab_extends_cycles_terminate() {
    let src = ".a:\n  extends: .b\n.b:\n  extends: .a\njob:\n  extends: [.a, job]\n  script: [npm publish]\n";
    let findings = run(src, Provider::GitLab).expect("lints");
    assert!(findings.iter().any(|f| f.rule == "oidc-token-missing"));
}

/// A CircleCI config of about `bytes` bytes with one job per few hundred bytes.
fn generated_config(bytes: usize) -> String {
    let mut src = String::from("version: 2.1\njobs:\n");
    let mut n = 0;
    while src.len() < bytes {
        src.push_str(&format!(
            "  job{n}:\n    docker:\n      - image: cimg/node:24.16\n    steps:\n      - checkout\n      - run:\n          name: build {n}\n          command: |\n            npm ci\n            npm run build -- --project {n}\n"
        ));
        n += 1;
    }
    src.push_str("workflows:\n  w:\n    jobs: [job0]\n");
    src
}

/// Linear work on large inputs: four times the config costs about four times the time (a
/// quadratic pass would cost sixteen). A ratio of two runs in the same process, not a wall-
/// clock limit, so machine load does not decide it.
#[test]
fn large_generated_configs_are_linted_in_linear_time() {
    let time = |bytes: usize| {
        let src = generated_config(bytes);
        let start = std::time::Instant::now();
        let findings = run(&src, Provider::CircleCi).expect("lints");
        assert!(findings.is_empty());
        start.elapsed().as_secs_f64()
    };
    let small = time(2 * 1024 * 1024).max(0.001);
    let large = time(8 * 1024 * 1024);
    assert!(
        large / small < 10.0,
        "2 MiB took {small:.2}s, 8 MiB {large:.2}s: {:.1}x for 4x the input",
        large / small
    );
}

#[test]
fn huge_scalars_and_weird_keys() {
    let big = "x".repeat(5 * 1024 * 1024);
    let src = format!(
        "? [a, b]\n: 1\n? {{k: v}}\n: 2\n\"\\u0000\": 3\n'': 4\nbig: \"{big}\"\nrun: |\n  {big} npm publish\n"
    );
    for p in Provider::ALL {
        run(&src, p).expect("lints");
    }
    let src = format!(
        "version: 2.1\njobs:\n  j:\n    steps:\n      - run: \"{}\"\n",
        "$(".repeat(100_000)
    );
    run(&src, Provider::CircleCi).expect("lints");
    let src = format!(
        "jobs:\n  j:\n    steps:\n      - run: '{}'\n",
        "\"$(echo ".repeat(50_000)
    );
    run(&src, Provider::GitHub).expect("lints");
}

#[test]
fn non_mapping_documents_are_empty() {
    for src in [
        "",
        "---\n",
        "- a\n- b\n",
        "just text",
        "~",
        "---\na: 1\n---\nb: 2\n",
    ] {
        for p in Provider::ALL {
            assert!(run(src, p).expect("lints").is_empty());
        }
    }
}

#[test]
fn oversized_source_is_refused_before_parsing() {
    let src = format!("a: \"{}\"\n", "x".repeat(tokenless_ci::MAX_SOURCE_BYTES));
    let start = std::time::Instant::now();
    let err = run(&src, Provider::CircleCi).expect_err("too large");
    assert!(err.message.contains("not analysed"), "{err}");
    assert!(start.elapsed().as_secs() < 5);
}

/// A document the strict parse refuses is read once more with libyaml's leniencies
/// (docs/yaml.md): that second pass must stay linear on large, hostile text too.
#[test]
fn the_libyaml_retry_stays_linear() {
    let n = 200_000;
    let flow = format!("k:\n  v: [\n{}]\nz: \"unterminated\n", "a, # c\n".repeat(n));
    let quotes = format!("a: {}\n", "\"x\" 'y'#z ".repeat(n));
    let blocks = format!("a: \"x\"{}\n", " >b |c".repeat(n));
    for src in [flow, quotes, blocks] {
        let start = std::time::Instant::now();
        let err = run(&src, Provider::GitLab).expect_err(&src[..40]);
        assert!(err.line >= 1);
        assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
    }
    // Accepted after the retry, with the values libyaml reads.
    let ok = format!("a: [\n{}]\nb: \"x\"# c\n", "1,\n".repeat(n));
    let start = std::time::Instant::now();
    run(&ok, Provider::GitLab).expect("accepted as libyaml accepts it");
    assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
}
