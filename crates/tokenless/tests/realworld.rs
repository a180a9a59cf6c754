//! The real-world check of `tokenless lint`: labels made by reading public repositories
//! that publish to npm from CI (and some that publish elsewhere), kept as data in
//! `tests/realworld/<set>/{repos,findings}.tsv`, never their files.
//!
//! - `repos.tsv`: `repo commit registry notes` (one repository per line);
//! - `findings.tsv`: `repo file job rule note`, one expected finding per job; `rule` is
//!   a lint rule id or the pseudo-rule `publish` ("this job publishes to
//!   registry.npmjs.org").
//!
//! Always checked: the files are well-formed, and no repository hashes into
//! `../shared/sealed/excluded-repos.sha256` (SHA-256 of the lowercase `owner/repo`), the
//! repositories kept for a held-out evaluation.
//!
//! When the repositories' files are on this machine (`TOKENLESS_REALWORLD_DIR`, default
//! `/work/realworld-cache`, one `OWNER+NAME` directory per repository), the test runs
//! the `tokenless lint` binary over each one in repository-aware mode, matches findings
//! to labels at (repo, file, job, rule) and prints precision and recall per rule and for
//! publish detection. It never fails on the numbers: they are a measurement, reported.
//! Other knobs: `TOKENLESS_EVAL_BIN` (another binary, e.g. a baseline build),
//! `TOKENLESS_EVAL_ARGS` (extra lint arguments, e.g. `--no-follow`),
//! `TOKENLESS_REALWORLD_LABELS` (another label directory). `scripts/realworld-eval` wraps
//! all of it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const RULE_IDS: &[&str] = &[
    "static-token-publish",
    "oidc-token-missing",
    "oidc-audience-mismatch",
    "oidc-token-misused",
    "oidc-token-unguarded",
    "token-fallback",
    "branch-filter-only",
    "npm-too-old",
    "untrusted-trigger-publish",
    "cache-poisoning-publish",
    "provenance-unsupported",
    "literal-env-reference",
    "oidc-token-logged",
    "oidc-token-reused",
];

/// Rules that only fire on a job the engine took for an npm publish (for a binary that
/// does not list its publishes, they stand in for publish detection).
const PUBLISH_RULES: &[&str] = &[
    "static-token-publish",
    "oidc-token-missing",
    "token-fallback",
    "npm-too-old",
    "untrusted-trigger-publish",
    "branch-filter-only",
    "provenance-unsupported",
    "oidc-token-reused",
];

fn labels_dir() -> PathBuf {
    std::env::var_os("TOKENLESS_REALWORLD_LABELS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/realworld"))
}

#[derive(Debug, Clone)]
struct Repo {
    name: String,
    registry: String,
}

/// (repo, file, job, rule)
type Key = (String, String, String, String);

struct Labels {
    repos: Vec<Repo>,
    findings: BTreeSet<Key>,
}

fn read_tsv(path: &Path, header: &[&str], errors: &mut Vec<String>) -> Vec<Vec<String>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        errors.push(format!("{}: cannot read", path.display()));
        return Vec::new();
    };
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let fields: Vec<String> = line.split('\t').map(str::to_owned).collect();
        if i == 0 {
            if fields != header {
                errors.push(format!(
                    "{}:1: header must be `{}`",
                    path.display(),
                    header.join("\\t")
                ));
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        if fields.len() != header.len() {
            errors.push(format!(
                "{}:{}: {} fields, expected {} ({})",
                path.display(),
                i + 1,
                fields.len(),
                header.len(),
                header.join(", ")
            ));
            continue;
        }
        rows.push(fields);
    }
    rows
}

fn valid_repo_name(name: &str) -> bool {
    let mut parts = name.split('/');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

fn load_labels() -> (Labels, Vec<String>) {
    let mut errors = Vec::new();
    let mut labels = Labels {
        repos: Vec::new(),
        findings: BTreeSet::new(),
    };
    let dir = labels_dir();
    let Ok(sets) = std::fs::read_dir(&dir) else {
        errors.push(format!("{}: no label directory", dir.display()));
        return (labels, errors);
    };
    let mut sets: Vec<PathBuf> = sets
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    sets.sort();
    let mut seen = BTreeSet::new();
    for set in sets {
        let repos = read_tsv(
            &set.join("repos.tsv"),
            &["repo", "commit", "registry", "notes"],
            &mut errors,
        );
        let mut here = BTreeSet::new();
        for (i, r) in repos.iter().enumerate() {
            let at = format!("{}:{}", set.join("repos.tsv").display(), i + 2);
            if !valid_repo_name(&r[0]) {
                errors.push(format!("{at}: `{}` is not owner/name", r[0]));
            }
            if r[1].len() != 40 || !r[1].chars().all(|c| c.is_ascii_hexdigit()) {
                errors.push(format!("{at}: commit `{}` is not 40 hex digits", r[1]));
            }
            if r[2].trim().is_empty() {
                errors.push(format!("{at}: empty registry"));
            }
            if !seen.insert(r[0].to_ascii_lowercase()) {
                errors.push(format!("{at}: `{}` is listed twice", r[0]));
            }
            here.insert(r[0].clone());
            labels.repos.push(Repo {
                name: r[0].clone(),
                registry: r[2].clone(),
            });
        }
        let findings = read_tsv(
            &set.join("findings.tsv"),
            &["repo", "file", "job", "rule", "note"],
            &mut errors,
        );
        for (i, f) in findings.iter().enumerate() {
            let at = format!("{}:{}", set.join("findings.tsv").display(), i + 2);
            if !here.contains(&f[0]) {
                errors.push(format!("{at}: `{}` is not in this set's repos.tsv", f[0]));
            }
            if f[1].is_empty() || f[1].starts_with('/') || f[1].contains("..") {
                errors.push(format!("{at}: file `{}` is not a repository path", f[1]));
            }
            if f[2].is_empty() {
                errors.push(format!("{at}: empty job"));
            }
            if f[3] != "publish" && !RULE_IDS.contains(&f[3].as_str()) {
                errors.push(format!("{at}: unknown rule `{}`", f[3]));
            }
            labels
                .findings
                .insert((f[0].clone(), f[1].clone(), f[2].clone(), f[3].clone()));
        }
    }
    (labels, errors)
}

#[test]
fn labels_are_well_formed() {
    let (labels, errors) = load_labels();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(!labels.repos.is_empty(), "no labelled repositories");
    // Every rule id used here is one the engine knows.
    for id in RULE_IDS {
        assert!(tokenless_ci::rule_meta(id).is_some(), "{id}");
    }
    assert_eq!(RULE_IDS.len(), tokenless_ci::RULES.len());
}

#[test]
fn no_labelled_repository_is_held_out() {
    let sealed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sealed/excluded-repos.sha256");
    let Ok(text) = std::fs::read_to_string(&sealed) else {
        eprintln!(
            "SKIPPED held-out check: {} is absent on this machine",
            sealed.display()
        );
        return;
    };
    let excluded: BTreeSet<String> = text
        .lines()
        .map(|l| l.trim().to_ascii_lowercase())
        .filter(|l| !l.is_empty())
        .collect();
    assert!(
        excluded.iter().all(|h| h.len() == 64),
        "malformed sealed list"
    );
    let (labels, _) = load_labels();
    let held: Vec<&str> = labels
        .repos
        .iter()
        .filter(|r| excluded.contains(&hex(&sha256(r.name.to_ascii_lowercase().as_bytes()))))
        .map(|r| r.name.as_str())
        .collect();
    assert!(
        held.is_empty(),
        "held-out repositories in the labels: {held:?}"
    );
}

#[test]
fn sha256_known_answers() {
    assert_eq!(
        hex(&sha256(b"")),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        hex(&sha256(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let long = vec![b'a'; 1000];
    assert_eq!(
        hex(&sha256(&long)),
        "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"
    );
}

/// One lint run's predictions for one repository.
struct Predicted {
    findings: BTreeSet<Key>,
    publishes: BTreeSet<Key>,
    /// Publishes inferred from publish-only rules (for binaries without `publishes`).
    inferred: BTreeSet<Key>,
    listed: bool,
}

fn job_from_message(message: &str) -> Option<String> {
    let at = message.find("job `")? + 5;
    let rest = &message[at..];
    Some(rest[..rest.find('`')?].to_owned())
}

fn run_lint(bin: &Path, extra: &[String], repo: &str, dir: &Path) -> Result<Predicted, String> {
    let out = Command::new(bin)
        .arg("lint")
        .arg(".")
        .args(["--format", "json", "--min-severity", "info"])
        .args(extra)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "{repo}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    let mut p = Predicted {
        findings: BTreeSet::new(),
        publishes: BTreeSet::new(),
        inferred: BTreeSet::new(),
        listed: json.get("publishes").is_some(),
    };
    let clean = |path: &str| path.trim_start_matches("./").to_owned();
    for f in json["findings"].as_array().into_iter().flatten() {
        let rule = f["rule"].as_str().unwrap_or_default().to_owned();
        let file = clean(f["path"].as_str().unwrap_or_default());
        let job = f["job"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| job_from_message(f["message"].as_str().unwrap_or_default()))
            .unwrap_or_default();
        if PUBLISH_RULES.contains(&rule.as_str()) {
            p.inferred.insert((
                repo.to_owned(),
                file.clone(),
                job.clone(),
                "publish".to_owned(),
            ));
        }
        p.findings.insert((repo.to_owned(), file, job, rule));
    }
    for pb in json["publishes"].as_array().into_iter().flatten() {
        let registry = pb["registry"].as_str().unwrap_or_default();
        if !matches!(
            registry,
            "registry.npmjs.org" | "registry.npmjs.com" | "registry.yarnpkg.com"
        ) {
            continue;
        }
        p.publishes.insert((
            repo.to_owned(),
            clean(pb["path"].as_str().unwrap_or_default()),
            pb["job"].as_str().unwrap_or_default().to_owned(),
            "publish".to_owned(),
        ));
    }
    Ok(p)
}

#[derive(Default)]
struct Score {
    tp: usize,
    fp: usize,
    fn_: usize,
    fps: Vec<String>,
    fns: Vec<String>,
}

impl Score {
    fn add(&mut self, predicted: &BTreeSet<Key>, expected: &BTreeSet<Key>) {
        for k in predicted {
            if expected.contains(k) {
                self.tp += 1;
            } else {
                self.fp += 1;
                self.fps.push(format!("{} {} {}", k.0, k.1, k.2));
            }
        }
        for k in expected.difference(predicted) {
            self.fn_ += 1;
            self.fns.push(format!("{} {} {}", k.0, k.1, k.2));
        }
    }

    fn ratio(a: usize, b: usize) -> String {
        if b == 0 {
            "  -  ".to_owned()
        } else {
            format!("{:.2}", a as f64 / b as f64)
        }
    }
}

#[test]
fn precision_and_recall_on_labelled_repositories() {
    let cache = std::env::var_os("TOKENLESS_REALWORLD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/realworld-cache"));
    if !cache.is_dir() {
        eprintln!(
            "SKIPPED real-world precision/recall: {} is absent (set TOKENLESS_REALWORLD_DIR)",
            cache.display()
        );
        return;
    }
    let bin = std::env::var_os("TOKENLESS_EVAL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_tokenless")));
    let extra: Vec<String> = std::env::var("TOKENLESS_EVAL_ARGS")
        .map(|a| a.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    let (labels, errors) = load_labels();
    assert!(errors.is_empty(), "{}", errors.join("\n"));

    let mut scores: BTreeMap<String, Score> = BTreeMap::new();
    let mut inferred_score = Score::default();
    let mut evaluated = 0;
    let mut missing = Vec::new();
    let mut listed = true;
    for repo in &labels.repos {
        let dir = cache.join(repo.name.replace('/', "+"));
        if !dir.is_dir() {
            missing.push(repo.name.clone());
            continue;
        }
        let predicted = match run_lint(&bin, &extra, &repo.name, &dir) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        evaluated += 1;
        listed &= predicted.listed;
        let expected_of = |rule: &str| -> BTreeSet<Key> {
            labels
                .findings
                .iter()
                .filter(|k| k.0 == repo.name && k.3 == rule)
                .cloned()
                .collect()
        };
        for rule in RULE_IDS {
            let predicted_rule: BTreeSet<Key> = predicted
                .findings
                .iter()
                .filter(|k| k.3 == *rule)
                .cloned()
                .collect();
            scores
                .entry((*rule).to_owned())
                .or_default()
                .add(&predicted_rule, &expected_of(rule));
        }
        let publishes = if predicted.listed {
            &predicted.publishes
        } else {
            &predicted.inferred
        };
        scores
            .entry("publish".to_owned())
            .or_default()
            .add(publishes, &expected_of("publish"));
        inferred_score.add(&predicted.inferred, &expected_of("publish"));
        let _ = &repo.registry;
    }
    println!(
        "\nreal-world evaluation: {} ({}), {evaluated} repositories, {} labels{}",
        bin.display(),
        if extra.is_empty() {
            "default arguments: repository-aware when supported".to_owned()
        } else {
            extra.join(" ")
        },
        labels.findings.len(),
        if missing.is_empty() {
            String::new()
        } else {
            format!(", {} not in the cache", missing.len())
        }
    );
    println!(
        "{:<34} {:>4} {:>4} {:>4} {:>9} {:>7}",
        "rule", "tp", "fp", "fn", "precision", "recall"
    );
    let mut rows: Vec<(String, &Score)> = scores.iter().map(|(k, v)| (k.clone(), v)).collect();
    rows.push((
        "publish (inferred from findings)".to_owned(),
        &inferred_score,
    ));
    for (rule, s) in &rows {
        if s.tp + s.fp + s.fn_ == 0 {
            continue;
        }
        let label = if rule == "publish" && !listed {
            "publish (inferred: no list)".to_owned()
        } else {
            rule.clone()
        };
        println!(
            "{label:<34} {:>4} {:>4} {:>4} {:>9} {:>7}",
            s.tp,
            s.fp,
            s.fn_,
            Score::ratio(s.tp, s.tp + s.fp),
            Score::ratio(s.tp, s.tp + s.fn_)
        );
    }
    if std::env::var_os("TOKENLESS_EVAL_VERBOSE").is_some() {
        for (rule, s) in &rows {
            for fp in &s.fps {
                println!("  FP {rule}: {fp}");
            }
            for fnn in &s.fns {
                println!("  FN {rule}: {fnn}");
            }
        }
    }
}

// SHA-256 (FIPS 180-4), small and dependency-free: only names of repositories go in.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (i, v) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
