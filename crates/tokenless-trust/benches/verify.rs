//! Full verification of a valid CircleCI token (parse, header checks, issuer, key lookup,
//! signature, time, audience, claim policy) against bare RS256 signature verification with
//! the same crypto library (aws-lc-rs, key parsed once), measured in the same run.
//!
//! Full verification is measured as a registry runs it (`full_verification`: pass details
//! off, the sandbox's exchange configuration) and as `explain` runs it
//! (`full_verification_with_details`: every pass check's detail built).
//!
//! `cargo bench -p tokenless-trust` prints criterion's numbers for all three, then a
//! summary: verifications per second on one core for each and the ratios to bare.
//! Goal: full >= 80 % of bare and >= 10,000 verifications/s/core.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group};
use serde_json::json;
use tokenless_trust::signer::{SigningKey, jwks_document};
use tokenless_trust::{
    Action, IssuerTable, KeySet, StaticJwks, TrustConfig, Verifier, parse_trust_configs,
};

const NOW: u64 = 1_790_000_000;
const ORG: &str = "1f0e8a5b-7c1d-4e2f-9a3b-5c6d7e8f9a0b";

struct Fixture {
    verifier: Verifier,
    detailed: Verifier,
    configs: Vec<TrustConfig>,
    token: String,
    bare_key: signature::ParsedPublicKey,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

fn fixture() -> Fixture {
    let key = SigningKey::generate_rs256("k1").expect("key");
    let keys = KeySet::from_jwks_json(jwks_document([&key]).to_string().as_bytes()).expect("jwks");
    let detailed = Verifier::new(IssuerTable::production(Arc::new(StaticJwks::new(keys))));
    let verifier = detailed.clone().with_pass_details(false);
    let configs = parse_trust_configs(
        &json!({"id": "tc", "type": "circleci", "claims": {
            "oidc.circleci.com/org-id": ORG,
            "oidc.circleci.com/project-id": "2a1b3c4d-0000-4000-8000-000000000001",
            "oidc.circleci.com/pipeline-definition-id": "3b2c4d5e-0000-4000-8000-000000000002",
            "oidc.circleci.com/vcs-origin": "github.com/acme/widgets",
            "oidc.circleci.com/context-ids": ["1f0c0d1e-0000-4000-8000-000000000003"],
        }, "permissions": ["createPackage"]})
        .to_string(),
    )
    .expect("config");
    // Claims shaped like a real CircleCI token.
    let token = key
        .sign_jwt(&json!({
            "iss": format!("https://oidc.circleci.com/org/{ORG}"),
            "sub": format!("org/{ORG}/project/2a1b3c4d-0000-4000-8000-000000000001/user/5e6f7a8b-0000-4000-8000-000000000005"),
            "aud": "npm:registry.npmjs.org",
            "iat": NOW - 30, "exp": NOW + 3570,
            "jti": "c7d8e9f0-0000-4000-8000-000000000006",
            "oidc.circleci.com/org-id": ORG,
            "oidc.circleci.com/project-id": "2a1b3c4d-0000-4000-8000-000000000001",
            "oidc.circleci.com/pipeline-definition-id": "3b2c4d5e-0000-4000-8000-000000000002",
            "oidc.circleci.com/pipeline-id": "6a7b8c9d-0000-4000-8000-000000000007",
            "oidc.circleci.com/workflow-id": "7b8c9d0e-0000-4000-8000-000000000008",
            "oidc.circleci.com/job-id": "8c9d0e1f-0000-4000-8000-000000000009",
            "oidc.circleci.com/vcs-origin": "github.com/acme/widgets",
            "oidc.circleci.com/vcs-ref": "refs/heads/main",
            "oidc.circleci.com/context-ids": ["1f0c0d1e-0000-4000-8000-000000000003"],
            "oidc.circleci.com/ssh-rerun": false,
        }))
        .expect("sign");
    let (signing_input, sig_b64) = token.rsplit_once('.').expect("three segments");
    let jwk = key.public_jwk();
    let n = URL_SAFE_NO_PAD
        .decode(jwk["n"].as_str().expect("n"))
        .expect("n");
    let e = URL_SAFE_NO_PAD
        .decode(jwk["e"].as_str().expect("e"))
        .expect("e");
    let bare_key = RsaPublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
        .expect("key");
    Fixture {
        verifier,
        detailed,
        configs,
        signing_input: signing_input.as_bytes().to_vec(),
        signature: URL_SAFE_NO_PAD.decode(sig_b64).expect("sig"),
        token,
        bare_key,
    }
}

fn full(f: &Fixture) -> bool {
    exchange(f, &f.verifier)
}

fn full_with_details(f: &Fixture) -> bool {
    exchange(f, &f.detailed)
}

fn exchange(f: &Fixture, verifier: &Verifier) -> bool {
    verifier
        .verify_exchange(
            black_box(&f.token),
            &f.configs,
            "@acme/widgets",
            Action::Publish,
            "registry.npmjs.org",
            NOW,
        )
        .accepted
}

fn bare(f: &Fixture) -> bool {
    f.bare_key
        .verify_sig(black_box(&f.signing_input), black_box(&f.signature))
        .is_ok()
}

fn benches(c: &mut Criterion) {
    let f = fixture();
    assert!(full(&f), "the benchmark token must be accepted");
    assert!(full_with_details(&f));
    assert!(bare(&f));
    let mut group = c.benchmark_group("circleci");
    group.bench_function("full_verification", |b| b.iter(|| full(&f)));
    group.bench_function("full_verification_with_details", |b| {
        b.iter(|| full_with_details(&f))
    });
    group.bench_function("bare_rs256_signature", |b| b.iter(|| bare(&f)));
    group.finish();
}

/// Operations per second of each of `ops` on this thread, measured together for about
/// `window`: batches of 32 of each op alternate, so all of them see the same machine load
/// (another process taking the core slows every op alike instead of whichever window it
/// lands in).
fn rates<const N: usize>(window: Duration, ops: [&dyn Fn() -> bool; N]) -> [f64; N] {
    let mut spent = [Duration::ZERO; N];
    let mut counts = [0u64; N];
    let start = Instant::now();
    while start.elapsed() < window {
        for (i, op) in ops.iter().enumerate() {
            let t = Instant::now();
            for _ in 0..32 {
                black_box(op());
            }
            spent[i] += t.elapsed();
            counts[i] += 32;
        }
    }
    std::array::from_fn(|i| counts[i] as f64 / spent[i].as_secs_f64())
}

/// The three rates measured in five 1 s windows of alternating batches; each ratio is the
/// median of the per-window ratios.
fn summary() {
    let f = fixture();
    let window = Duration::from_secs(1);
    let (mut bare_rates, mut full_rates, mut detailed_rates) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ratios, mut detailed_ratios) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let [b, r, d] = rates(
            window,
            [&|| bare(&f), &|| full(&f), &|| full_with_details(&f)],
        );
        bare_rates.push(b);
        full_rates.push(r);
        detailed_rates.push(d);
        ratios.push(r / b);
        detailed_ratios.push(d / b);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    println!("\nsummary (one core, medians of 5 windows of alternating 32-op batches):");
    println!(
        "  bare RS256 signature (aws-lc-rs, parsed key):      {:>10.0} verifications/s",
        median(&mut bare_rates)
    );
    println!(
        "  full CircleCI verification (registry):             {:>10.0} verifications/s",
        median(&mut full_rates)
    );
    println!(
        "  full CircleCI verification with details (explain): {:>10.0} verifications/s",
        median(&mut detailed_rates)
    );
    println!(
        "  ratio full / bare: {:.1} %   with details: {:.1} %   (goals: >= 80 %, >= 10,000 verifications/s)",
        100.0 * median(&mut ratios),
        100.0 * median(&mut detailed_ratios)
    );
}

criterion_group!(group, benches);

fn main() {
    group();
    Criterion::default().configure_from_args().final_summary();
    summary();
}
