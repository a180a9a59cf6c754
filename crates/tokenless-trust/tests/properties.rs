//! Property tests: no input makes the JWT path, the JSON parser, the trust-config parser or
//! the restriction parser/evaluator panic, and the restriction analysis agrees with direct
//! evaluation.

mod common;

use common::*;
use proptest::prelude::*;
use tokenless_trust::restriction::{self, Env, ProtectedRef};
use tokenless_trust::{Action, Verifier, parse_trust_configs, strict_json};

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn any_string_is_a_refusal_not_a_panic(token in ".{0,600}") {
        let d = Verifier::new(production()).verify_exchange(&token, &circleci_configs(), PKG, Action::Publish, HOST, NOW);
        prop_assert!(!d.accepted);
    }

    #[test]
    fn any_dotted_base64_is_a_refusal_not_a_panic(
        header in proptest::collection::vec(any::<u8>(), 0..200),
        payload in proptest::collection::vec(any::<u8>(), 0..400),
        sig in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let token = format!("{}.{}.{}", b64(&header), b64(&payload), b64(&sig));
        let d = Verifier::new(production()).verify_exchange(&token, &circleci_configs(), PKG, Action::Publish, HOST, NOW);
        prop_assert!(!d.accepted);
    }

    #[test]
    fn json_shaped_headers_and_claims_never_panic(
        header in r#"\{("(alg|kid|typ|crit|jku|x5c)":("RS256"|"ES256"|"none"|"k1"|"\.\./x"|\[\]|1|null|true),?){0,5}\}"#,
        claims in r#"\{("(iss|aud|exp|iat|nbf|jti|oidc\.circleci\.com/(org-id|context-ids|ssh-rerun))":("https://oidc\.circleci\.com/org/x"|"npm:registry\.npmjs\.org"|1790000000|-1|1e300|\[\]|\["a"\]|\{\}|true|null),?){0,9}\}"#,
    ) {
        let token = keys().rsa.sign_jwt_raw(header.as_bytes(), claims.as_bytes()).expect("sign");
        let _ = Verifier::new(production()).verify_exchange(&token, &circleci_configs(), PKG, Action::Publish, HOST, NOW);
    }

    #[test]
    fn strict_json_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = strict_json::parse(&bytes);
    }

    #[test]
    fn trust_config_parser_never_panics(text in r#"[\[\]\{\}",:a-z0-9 ]{0,200}"#) {
        let _ = parse_trust_configs(&text);
    }

    #[test]
    fn restriction_parser_never_panics_on_any_text(text in ".{0,300}") {
        if let Ok(e) = restriction::parse(&text) {
            let _ = e.admits(&Env::job(Some("main"), None, false));
        }
    }

    #[test]
    fn restriction_parser_never_panics_on_token_soup(
        words in proptest::collection::vec(
            prop_oneof![
                Just("pipeline.git.branch"), Just("job.ssh.enabled"), Just("pipeline.number"),
                Just("\"main\""), Just("\"x\""), Just("1"), Just("true"), Just("false"),
                Just("and"), Just("or"), Just("not"), Just("!"), Just("=="), Just("!="),
                Just("starts-with"), Just(">="), Just("<"), Just("("), Just(")"),
            ],
            0..40,
        )
    ) {
        let text = words.join(" ");
        if let Ok(e) = restriction::parse(&text) {
            let env = Env::job(Some("main"), None, false).with("pipeline.number", restriction::Value::Int(3));
            let _ = e.admits(&env);
        }
    }

    /// When the analysis says "guaranteed", no concrete job off main or with SSH is admitted.
    #[test]
    fn analysis_is_sound_against_concrete_jobs(
        lhs in prop_oneof![Just("pipeline.git.branch == \"main\""), Just("pipeline.git.branch starts-with \"ma\""), Just("pipeline.git.branch != \"dev\""), Just("true")],
        op in prop_oneof![Just("and"), Just("or")],
        rhs in prop_oneof![Just("not job.ssh.enabled"), Just("job.ssh.enabled == false"), Just("pipeline.git.branch == \"main\""), Just("false")],
        branch in prop_oneof![Just("main"), Just("ma"), Just("mainx"), Just("dev"), Just(""), Just("feature")],
        ssh in any::<bool>(),
    ) {
        let expr = format!("{lhs} {op} {rhs}");
        let analysis = restriction::analyze(&[&expr], &ProtectedRef::Branch("main".into()));
        if analysis.guaranteed {
            let parsed = restriction::parse(&expr).expect("parses");
            if parsed.admits(&Env::job(Some(branch), None, ssh)) == Ok(true) {
                prop_assert!(branch == "main" && !ssh, "{expr} admitted branch {branch:?} ssh {ssh}");
            }
        }
    }
}
