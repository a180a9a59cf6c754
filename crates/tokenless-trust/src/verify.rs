//! The exchange decision: [`Verifier::verify_exchange`].
//!
//! Order of checks (ids from [`CheckId`]): `token-size`, `token-format`, `header`, `alg`,
//! `key-injection`, `crit`, `kid`, `claims`, `issuer`, `issuer-alg`, `signing-key`,
//! `signature`, `exp`, `nbf`, `iat`, `lifetime`, `audience`, `trust-config`, `action`, the provider's
//! claim checks, `jti`. A failure up to `signature` stops the run (the rest are listed as
//! skipped: nothing from an unverified token is trusted); later checks all run so one
//! report shows every mismatch. The `jti` is consumed only when everything else passed.

use std::sync::Arc;

use crate::borrowed_json::{self, Json, Object};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::audience::audience_for_host;
use crate::check::{Cause, Check, CheckId, CheckStatus, Quoted};

/// A pass check's detail, built only when details are on (`$on`); failures always build
/// theirs.
macro_rules! detail {
    ($on:expr, $($arg:tt)*) => {
        if $on {
            format!($($arg)*)
        } else {
            String::new()
        }
    };
}

use crate::issuer::IssuerTable;
use crate::jti::{JtiError, JtiStore};
use crate::keys::Algorithm;
use crate::policy;
use crate::strict_json::StrictJsonError;
use crate::trust_config::{Action, CIRCLECI_ORG_ID, Permission, Provider, Publisher, TrustConfig};

/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECS: u64 = 60;
/// Largest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Largest value of any one claim (serialized JSON), in bytes.
pub const MAX_CLAIM_BYTES: usize = 4 * 1024;
/// Largest `kid` accepted.
const MAX_KID_BYTES: usize = 256;

/// The outcome of one exchange: accepted or not, and every check that led there.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Decision {
    /// Whether a registry token may be minted: the token verified, its claims match at
    /// least one trust config of its provider, and a matching config allows at least one
    /// asked action ([`Decision::grants`] is then not empty).
    pub accepted: bool,
    /// The package asked for.
    pub package: String,
    /// The actions the caller asked to be allowed to perform, in the order given (without
    /// repeats).
    pub actions: Vec<Action>,
    /// The provider, once the issuer is known.
    pub provider: Option<Provider>,
    /// The id of the trust config used for the first grant (`None` when refused or when
    /// that config has no id).
    pub trust_config_id: Option<String>,
    /// Every check, in order. The trust-config part (`trust-config`, `action`, the
    /// provider's claim checks) is that of the config used for the first grant, or, when
    /// refused, of the candidate config with the fewest failures (the first on a tie);
    /// [`Decision::configs`] holds every config's own evaluation.
    pub checks: Vec<Check>,
    /// For each asked action that is allowed, the config that allows it.
    pub grants: Vec<Grant>,
    /// Every trust config passed in, each with its own evaluation (empty when verification
    /// stopped before the claims could be trusted).
    pub configs: Vec<ConfigDecision>,
    /// The id token's `exp`, when read.
    pub token_expires_at: Option<u64>,
}

/// One allowed action and the trust config allowing it: the first config (in the order the
/// configs were given) whose claims match the token and whose permissions allow the action.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Grant {
    /// The allowed action.
    pub action: Action,
    /// The id of the config that allows it (for `_npmUser.trustedPublisher`).
    pub trust_config_id: Option<String>,
}

/// One trust config's own evaluation against a token.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConfigDecision {
    /// Position of the config in the slice given to [`Verifier::verify_exchange`].
    pub index: usize,
    /// The config's id.
    pub id: Option<String>,
    /// The provider the config trusts.
    pub provider: Provider,
    /// The config's permissions.
    pub permissions: Vec<Permission>,
    /// The asked actions this config allows (whether or not its claims match).
    pub allows: Vec<Action>,
    /// For a config of the token's provider: the `action` check, then the provider's claim
    /// checks. For a config of another provider: one failed `trust-config` check.
    pub checks: Vec<Check>,
    /// Whether the token's claims match this config (every claim check passes; the
    /// `action` check does not count).
    pub matches: bool,
    /// Whether at least one grant is attributed to this config.
    pub used: bool,
}

impl ConfigDecision {
    /// The failed checks of this config.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == CheckStatus::Fail)
    }
}

impl Decision {
    /// The first failed check.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| c.status == CheckStatus::Fail)
    }

    /// The most likely fix for a refusal: that of the first failed check carrying one.
    pub fn fix(&self) -> Option<&str> {
        self.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Fail)
            .find_map(|c| c.fix.as_deref())
    }

    /// The grant for `action`, when the exchange allows it.
    pub fn grant_for(&self, action: Action) -> Option<&Grant> {
        self.grants.iter().find(|g| g.action == action)
    }

    /// The check with this id, if it ran.
    pub fn check(&self, id: CheckId) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// The named causes of the failed checks (see [`Cause`]), without repeats.
    pub fn causes(&self) -> Vec<Cause> {
        let mut causes = Vec::new();
        for c in self.checks.iter().filter(|c| c.status == CheckStatus::Fail) {
            if let Some(cause) = c.cause
                && !causes.contains(&cause)
            {
                causes.push(cause);
            }
        }
        causes
    }

    /// The HTTP status npm's exchange answers a refusal with: that of the first named cause
    /// (401 for [`Cause::GithubEnterpriseIssuer`]), else 404, as registry.npmjs.org answers
    /// every other refusal. Meaningless for an accepted decision.
    pub fn refusal_status(&self) -> u16 {
        self.causes().first().map_or(404, |c| c.npm_status())
    }

    /// One line for a refusal response body (`{"message": …}`): the first failure, or
    /// `accepted`.
    pub fn summary(&self) -> String {
        match self.first_failure() {
            Some(c) => format!("{}: {}", c.id, c.detail),
            None => "accepted".to_owned(),
        }
    }
}

/// Verifies id tokens against trust configs with one issuer table and, optionally, a replay
/// store.
#[derive(Clone)]
pub struct Verifier {
    issuers: IssuerTable,
    jti_store: Option<Arc<dyn JtiStore>>,
    pass_details: bool,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuers", &self.issuers)
            .field("jti_store", &self.jti_store.is_some())
            .field("pass_details", &self.pass_details)
            .finish()
    }
}

const GENERIC_BEFORE_POLICY: &[CheckId] = &[
    CheckId::TokenSize,
    CheckId::TokenFormat,
    CheckId::Header,
    CheckId::Alg,
    CheckId::KeyInjection,
    CheckId::Crit,
    CheckId::Kid,
    CheckId::Claims,
    CheckId::Issuer,
    CheckId::IssuerAlg,
    CheckId::SigningKey,
    CheckId::Signature,
    CheckId::Exp,
    CheckId::Nbf,
    CheckId::Iat,
    CheckId::Lifetime,
    CheckId::Audience,
    CheckId::TrustConfig,
    CheckId::Action,
];

const MINT_FRESH: &str = "mint the id token inside the CI job, right before `npm publish` (CircleCI: `circleci run oidc get --claims '{\"aud\":\"npm:registry.npmjs.org\"}'`), and pass it unchanged";

struct Run {
    checks: Vec<Check>,
    provider: Option<Provider>,
    grants: Vec<Grant>,
    configs: Vec<ConfigDecision>,
}

impl Run {
    fn push(&mut self, check: Check) -> bool {
        let ok = check.status != CheckStatus::Fail;
        self.checks.push(check);
        ok
    }

    /// Marks every check after the last one recorded as skipped because `failed` failed.
    fn skip_rest(&mut self) {
        let failed = self
            .checks
            .last()
            .map_or("an earlier check", |c| c.id.as_str());
        let reason = format!("not evaluated: {failed} failed");
        let done: Vec<CheckId> = self.checks.iter().map(|c| c.id).collect();
        let mut rest: Vec<CheckId> = GENERIC_BEFORE_POLICY
            .iter()
            .copied()
            .filter(|id| !done.contains(id))
            .collect();
        if let Some(p) = self.provider {
            rest.extend(policy::check_ids(p));
        }
        rest.push(CheckId::Jti);
        for id in rest {
            self.checks.push(Check::skip(id, reason.clone()));
        }
    }
}

fn decode_segment(segment: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD.decode(segment).map_err(|e| e.to_string())
}

fn json_object(bytes: &[u8]) -> Result<Object<'_>, String> {
    match borrowed_json::parse(bytes) {
        Ok(Json::Object(map)) => Ok(map),
        Ok(_) => Err("is JSON but not an object".to_owned()),
        Err(StrictJsonError::DuplicateKey(k)) => Err(format!("holds the key {k:?} twice")),
        Err(StrictJsonError::Syntax(e)) => Err(format!("is not JSON ({e})")),
    }
}

/// A NumericDate claim as whole seconds.
fn numeric_date(claims: &Object<'_>, name: &str) -> Result<Option<i64>, String> {
    match claims.get(name) {
        None => Ok(None),
        Some(Json::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite() && f.abs() < 1e15)
                    .map(|f| f.floor() as i64)
            })
            .map(Some)
            .ok_or_else(|| format!("{name} {n} is out of range")),
        Some(other) => Err(format!("{name} is {other} (expected a number of seconds)")),
    }
}

fn kid_is_safe(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= MAX_KID_BYTES
        && !kid.contains("..")
        && kid.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'=' | b'+' | b'~')
        })
}

impl Verifier {
    /// A verifier trusting exactly `issuers`, with no replay store (use
    /// [`Verifier::with_jti_store`] for a registry; `explain` runs without one).
    pub fn new(issuers: IssuerTable) -> Verifier {
        Verifier {
            issuers,
            jti_store: None,
            pass_details: true,
        }
    }

    /// Whether checks that pass carry a detail (on by default, as `explain` shows them). A
    /// registry that reports only refusals turns them off: a passing check then has an
    /// empty detail and none is built, which is most of the formatting work of an accepted
    /// exchange. Failed and skipped checks always carry their detail and fix; statuses,
    /// grants and config decisions are the same either way.
    pub fn with_pass_details(mut self, on: bool) -> Verifier {
        self.pass_details = on;
        self
    }

    /// Consumes each `(jti, package)` in `store` on acceptance.
    pub fn with_jti_store(mut self, store: Arc<dyn JtiStore>) -> Verifier {
        self.jti_store = Some(store);
        self
    }

    /// The issuer table.
    pub fn issuers(&self) -> &IssuerTable {
        &self.issuers
    }

    /// Decides whether `token` may be exchanged for a registry token that performs some of
    /// `actions` on `package`, given the package's `trust_configs`, the registry's hostname
    /// (the audience is `npm:<registry_host>`) and the time `now` (Unix seconds).
    ///
    /// `actions` are the actions the caller may go on to perform: one ([`Action`] itself
    /// converts, as `explain` and the audit ask) or several (`&[Action::Publish,
    /// Action::Stage]`, as a registry that learns the action only after the exchange asks).
    /// The token is accepted when its claims match at least one config of its provider and
    /// a matching config allows at least one asked action; [`Decision::grants`] then says,
    /// for each allowed action, which config allows it.
    pub fn verify_exchange(
        &self,
        token: &str,
        trust_configs: &[TrustConfig],
        package: &str,
        actions: impl AsRef<[Action]>,
        registry_host: &str,
        now: u64,
    ) -> Decision {
        let mut asked: Vec<Action> = Vec::with_capacity(2);
        for a in actions.as_ref() {
            if !asked.contains(a) {
                asked.push(*a);
            }
        }
        let mut run = Run {
            checks: Vec::with_capacity(32),
            provider: None,
            grants: Vec::new(),
            configs: Vec::new(),
        };
        let outcome = self.run(
            &mut run,
            token,
            trust_configs,
            package,
            &asked,
            registry_host,
            now,
        );
        let token_expires_at = outcome.unwrap_or_default();
        let accepted = !run.checks.is_empty()
            && !run.grants.is_empty()
            && run.checks.iter().all(|c| c.status != CheckStatus::Fail);
        if !accepted {
            run.grants.clear();
            for c in &mut run.configs {
                c.used = false;
            }
        }
        Decision {
            accepted,
            package: package.to_owned(),
            actions: asked,
            provider: run.provider,
            trust_config_id: run.grants.first().and_then(|g| g.trust_config_id.clone()),
            checks: run.checks,
            grants: run.grants,
            configs: run.configs,
            token_expires_at,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        run: &mut Run,
        token: &str,
        trust_configs: &[TrustConfig],
        package: &str,
        asked: &[Action],
        registry_host: &str,
        now: u64,
    ) -> Option<Option<u64>> {
        let detailed = self.pass_details;
        macro_rules! fatal {
            ($check:expr) => {
                if !run.push($check) {
                    run.skip_rest();
                    return None;
                }
            };
        }
        let token = token.trim();
        fatal!(if token.len() > MAX_TOKEN_BYTES {
            Check::fail(
                CheckId::TokenSize,
                format!("token is {} bytes (at most {MAX_TOKEN_BYTES})", token.len()),
            )
            .with_fix(MINT_FRESH)
        } else {
            Check::pass(
                CheckId::TokenSize,
                detail!(
                    detailed,
                    "token is {} bytes (at most {MAX_TOKEN_BYTES})",
                    token.len()
                ),
            )
        });

        // token-format
        let mut split = token.split('.');
        let parts = [split.next(), split.next(), split.next(), split.next()];
        let segments = match parts {
            [Some(h), Some(p), Some(s), None] => [h, p, s].map(decode_segment),
            _ => {
                fatal!(
                    Check::fail(
                        CheckId::TokenFormat,
                        format!(
                            "token has {} dot-separated segments (a signed JWT has 3)",
                            token.split('.').count()
                        )
                    )
                    .with_fix(MINT_FRESH)
                );
                return None;
            }
        };
        let [header_bytes, payload_bytes, signature] = match segments {
            [Ok(h), Ok(p), Ok(s)] => [h, p, s],
            segments => {
                let which = ["header", "payload", "signature"];
                let bad = segments
                    .iter()
                    .zip(which)
                    .filter_map(|(r, name)| r.as_ref().err().map(|e| format!("{name}: {e}")))
                    .collect::<Vec<_>>()
                    .join("; ");
                fatal!(
                    Check::fail(
                        CheckId::TokenFormat,
                        format!("not base64url without padding ({bad})")
                    )
                    .with_fix(MINT_FRESH)
                );
                return None;
            }
        };
        fatal!(Check::pass(
            CheckId::TokenFormat,
            detail!(detailed, "three base64url segments")
        ));
        let signing_input_len = parts[0].map_or(0, str::len) + 1 + parts[1].map_or(0, str::len);
        let signing_input = token
            .as_bytes()
            .get(..signing_input_len)
            .unwrap_or_default();

        // header
        let header = match json_object(&header_bytes) {
            Ok(h) => h,
            Err(e) => {
                fatal!(
                    Check::fail(CheckId::Header, format!("the header {e}")).with_fix(MINT_FRESH)
                );
                return None;
            }
        };
        fatal!(Check::pass(
            CheckId::Header,
            detail!(detailed, "JSON object with keys {}", keys_of(&header))
        ));

        // alg
        let alg_name = match header.get("alg") {
            Some(Json::String(a)) => a.as_ref(),
            Some(other) => {
                fatal!(
                    Check::fail(CheckId::Alg, format!("alg is {other} (expected a string)"))
                        .with_fix(MINT_FRESH)
                );
                return None;
            }
            None => {
                fatal!(Check::fail(CheckId::Alg, "alg is missing").with_fix(MINT_FRESH));
                return None;
            }
        };
        let Some(alg) = Algorithm::from_name(alg_name) else {
            let why = if alg_name.eq_ignore_ascii_case("none") {
                " (an unsigned token)"
            } else if alg_name.starts_with("HS") {
                " (a shared-secret MAC: anyone holding the issuer's public key could forge it)"
            } else {
                ""
            };
            fatal!(
                Check::fail(
                    CheckId::Alg,
                    format!("alg {alg_name:?} is refused{why}; only RS256 and ES256 are accepted")
                )
                .with_fix(MINT_FRESH)
            );
            return None;
        };
        fatal!(Check::pass(
            CheckId::Alg,
            detail!(detailed, "alg {} is RS256 or ES256", Quoted(alg_name))
        ));

        // key-injection
        let injected: Vec<&str> = ["jku", "x5u", "jwk", "x5c"]
            .into_iter()
            .filter(|k| header.contains_key(k))
            .collect();
        fatal!(if injected.is_empty() {
            Check::pass(
                CheckId::KeyInjection,
                detail!(detailed, "no jku, x5u, jwk or x5c header"),
            )
        } else {
            Check::fail(CheckId::KeyInjection, format!("header carries {} (keys named by the token itself are never followed or trusted)", injected.join(", "))).with_fix(MINT_FRESH)
        });

        // crit
        fatal!(match header.get("crit") {
            None => Check::pass(CheckId::Crit, detail!(detailed, "no crit header")),
            Some(v) => Check::fail(CheckId::Crit, format!("crit {v} names extensions tokenless does not implement (RFC 7515 §4.1.11: refuse)")).with_fix(MINT_FRESH),
        });

        // kid
        let kid = match header.get("kid") {
            Some(Json::String(k)) if kid_is_safe(k) => k.as_ref(),
            Some(Json::String(k)) => {
                fatal!(Check::fail(CheckId::Kid, format!("kid {:?} has characters outside [A-Za-z0-9._=+~-], a \"..\" or is over {MAX_KID_BYTES} bytes", truncate(k))).with_fix(MINT_FRESH));
                return None;
            }
            Some(other) => {
                fatal!(
                    Check::fail(
                        CheckId::Kid,
                        format!(
                            "kid is {} (expected a string)",
                            truncate(&other.to_string())
                        )
                    )
                    .with_fix(MINT_FRESH)
                );
                return None;
            }
            None => {
                fatal!(
                    Check::fail(CheckId::Kid, "kid is missing; the key must be named")
                        .with_fix(MINT_FRESH)
                );
                return None;
            }
        };
        fatal!(Check::pass(
            CheckId::Kid,
            detail!(detailed, "kid {}", Quoted(kid))
        ));

        // claims
        let claims = match json_object(&payload_bytes) {
            Ok(c) => c,
            Err(e) => {
                fatal!(
                    Check::fail(CheckId::Claims, format!("the payload {e}")).with_fix(MINT_FRESH)
                );
                return None;
            }
        };
        let oversize: Vec<String> = claims
            .iter()
            .filter_map(|(k, v)| {
                let len = v.json_len();
                (len > MAX_CLAIM_BYTES).then(|| format!("{:?} ({len} bytes)", truncate(k)))
            })
            .collect();
        fatal!(if oversize.is_empty() {
            Check::pass(
                CheckId::Claims,
                detail!(
                    detailed,
                    "JSON object with {} claims, none over {MAX_CLAIM_BYTES} bytes",
                    claims.len()
                ),
            )
        } else {
            Check::fail(
                CheckId::Claims,
                format!(
                    "claim values over {MAX_CLAIM_BYTES} bytes: {}",
                    oversize.join(", ")
                ),
            )
            .with_fix(MINT_FRESH)
        });

        // issuer
        let iss = match claims.get("iss") {
            Some(Json::String(s)) => s.as_ref(),
            Some(other) => {
                fatal!(
                    Check::fail(
                        CheckId::Issuer,
                        format!(
                            "iss is {} (expected a string)",
                            truncate(&other.to_string())
                        )
                    )
                    .with_fix(MINT_FRESH)
                );
                return None;
            }
            None => {
                fatal!(Check::fail(CheckId::Issuer, "iss is missing").with_fix(MINT_FRESH));
                return None;
            }
        };
        let Some(resolved) = self.issuers.resolve(iss) else {
            if let Some((base, slug)) = self.issuers.github_enterprise_slug(iss) {
                run.provider = Some(Provider::GitHub);
                fatal!(
                    Check::fail(
                        CheckId::Issuer,
                        format!(
                            "iss {iss:?} is GitHub's enterprise-scoped issuer (enterprise {slug:?}, include_enterprise_slug); npm trusts only {base:?} and answers 401 \"OIDC token exchange error - unauthorized\" (npm/cli#9203); the signature was not checked"
                        )
                    )
                    .with_fix(format!(
                        "mint the token from the default issuer: turn off the enterprise's custom issuer (`PUT /enterprises/{slug}/actions/oidc/customization/issuer` with `{{\"include_enterprise_slug\": false}}`); npm trusts only {base}"
                    ))
                    .with_cause(Cause::GithubEnterpriseIssuer)
                );
                return None;
            }
            let hint = if iss.starts_with("http://") {
                " (http:// is never trusted)"
            } else if iss.ends_with('/') {
                " (a trailing slash makes it a different issuer)"
            } else {
                ""
            };
            fatal!(
                Check::fail(
                    CheckId::Issuer,
                    format!(
                        "iss {iss:?} is not a trusted issuer{hint}; trusted: {}",
                        self.issuers.describe()
                    )
                )
                .with_fix(MINT_FRESH)
            );
            return None;
        };
        let provider = resolved.entry.provider();
        run.provider = Some(provider);
        if let Some(org) = &resolved.circleci_org {
            let configured = || {
                trust_configs.iter().filter_map(|c| match &c.publisher {
                    Publisher::CircleCi(p) => Some(p.org_id.as_str()),
                    _ => None,
                })
            };
            let claim_org = claims.get(CIRCLECI_ORG_ID).and_then(Json::as_str);
            if configured().next().is_some() && !configured().any(|o| o == org.as_str()) {
                let pinned = configured().collect::<Vec<_>>().join(", ");
                fatal!(Check::fail(CheckId::Issuer, format!("iss {iss:?} is the issuer of CircleCI org {org:?}; the trust config pins org {pinned:?}"))
                    .with_fix("publish from the CircleCI organization in the trust config, or update the config's org id"));
            }
            if claim_org != Some(org.as_str()) {
                fatal!(
                    Check::fail(
                        CheckId::Issuer,
                        format!(
                            "iss {iss:?} names org {org:?} but the {CIRCLECI_ORG_ID} claim is {}",
                            claim_org.map_or("missing".to_owned(), |c| format!("{c:?}"))
                        )
                    )
                    .with_fix(MINT_FRESH)
                );
            }
            fatal!(Check::pass(
                CheckId::Issuer,
                detail!(
                    detailed,
                    "iss {}: CircleCI issuer of org {}",
                    Quoted(iss),
                    Quoted(org)
                )
            ));
        } else {
            fatal!(Check::pass(
                CheckId::Issuer,
                detail!(detailed, "iss {}: {provider} issuer", Quoted(iss))
            ));
        }

        // issuer-alg
        let allowed = resolved.entry.algorithms();
        fatal!(if allowed.contains(&alg) {
            Check::pass(
                CheckId::IssuerAlg,
                detail!(detailed, "{} is allowed for this issuer", alg.as_str()),
            )
        } else {
            Check::fail(
                CheckId::IssuerAlg,
                format!(
                    "{} is not allowed for this issuer (allowed: {})",
                    alg.as_str(),
                    allowed
                        .iter()
                        .map(|a| a.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .with_fix(MINT_FRESH)
        });

        // signing-key
        let key = match resolved.entry.keys().key(iss, kid, now) {
            Ok(k) if k.algorithm() == alg => k,
            Ok(k) => {
                fatal!(
                    Check::fail(
                        CheckId::SigningKey,
                        format!(
                            "key {kid:?} is a {} key; the token says {}",
                            k.algorithm().as_str(),
                            alg.as_str()
                        )
                    )
                    .with_fix(MINT_FRESH)
                );
                return None;
            }
            Err(e) => {
                fatal!(Check::fail(CheckId::SigningKey, format!("{e}")).with_fix("supply the issuer's current keys (--jwks with its JWKS, or --online to fetch them from the pinned issuer)"));
                return None;
            }
        };
        fatal!(Check::pass(
            CheckId::SigningKey,
            detail!(detailed, "issuer key {} ({})", Quoted(kid), alg.as_str())
        ));

        // signature
        fatal!(if signature.is_empty() {
            Check::fail(
                CheckId::Signature,
                "the signature segment is empty (an unsigned or stripped token)",
            )
            .with_fix(MINT_FRESH)
        } else if key.verify(signing_input, &signature) {
            Check::pass(
                CheckId::Signature,
                detail!(
                    detailed,
                    "{} signature verified with key {}",
                    alg.as_str(),
                    Quoted(kid)
                ),
            )
        } else {
            Check::fail(CheckId::Signature, format!("{} signature does not verify with key {kid:?} (the token was altered or signed by another key)", alg.as_str())).with_fix(MINT_FRESH)
        });

        // Time.
        let now_i = i64::try_from(now).unwrap_or(i64::MAX);
        let leeway = LEEWAY_SECS as i64;
        let mut token_exp = None;
        run.push(match numeric_date(&claims, "exp") {
            Err(e) => Check::fail(CheckId::Exp, e).with_fix(MINT_FRESH),
            Ok(None) => Check::fail(CheckId::Exp, "exp is missing").with_fix(MINT_FRESH),
            Ok(Some(exp)) => {
                token_exp = u64::try_from(exp).ok();
                if now_i > exp.saturating_add(leeway) {
                    Check::fail(
                        CheckId::Exp,
                        format!(
                            "exp {exp} is {}s before now {now} (leeway {leeway}s)",
                            now_i.saturating_sub(exp)
                        ),
                    )
                    .with_fix(MINT_FRESH)
                } else {
                    Check::pass(
                        CheckId::Exp,
                        detail!(
                            detailed,
                            "exp {exp} is not before now {now} (leeway {leeway}s)"
                        ),
                    )
                }
            }
        });
        run.push(match numeric_date(&claims, "nbf") {
            Err(e) => Check::fail(CheckId::Nbf, e).with_fix(MINT_FRESH),
            Ok(None) => Check::skip(CheckId::Nbf, "nbf is absent"),
            Ok(Some(nbf)) if nbf > now_i.saturating_add(leeway) => Check::fail(
                CheckId::Nbf,
                format!(
                    "nbf {nbf} is {}s after now {now} (leeway {leeway}s)",
                    nbf.saturating_sub(now_i)
                ),
            )
            .with_fix("check the clock of this machine (or --now)"),
            Ok(Some(nbf)) => Check::pass(
                CheckId::Nbf,
                detail!(
                    detailed,
                    "nbf {nbf} is not after now {now} (leeway {leeway}s)"
                ),
            ),
        });
        let iat_claim = numeric_date(&claims, "iat");
        let token_iat = iat_claim.as_ref().ok().copied().flatten();
        run.push(match iat_claim {
            Err(e) => Check::fail(CheckId::Iat, e).with_fix(MINT_FRESH),
            Ok(None) => Check::fail(CheckId::Iat, "iat is missing").with_fix(MINT_FRESH),
            Ok(Some(iat)) if iat > now_i.saturating_add(leeway) => Check::fail(
                CheckId::Iat,
                format!(
                    "iat {iat} is {}s after now {now} (leeway {leeway}s)",
                    iat.saturating_sub(now_i)
                ),
            )
            .with_fix("check the clock of this machine (or --now)"),
            Ok(Some(iat)) => Check::pass(
                CheckId::Iat,
                detail!(
                    detailed,
                    "iat {iat} is not after now {now} (leeway {leeway}s)"
                ),
            ),
        });

        // lifetime
        let max_lifetime = resolved.entry.max_lifetime_secs();
        run.push(match (token_iat, numeric_date(&claims, "exp").ok().flatten()) {
            (Some(iat), Some(exp)) if exp < iat => Check::fail(
                CheckId::Lifetime,
                format!("exp {exp} is before iat {iat}"),
            )
            .with_fix(MINT_FRESH)
            .tokenless(),
            (Some(iat), Some(exp)) => {
                let lifetime = exp.abs_diff(iat);
                if lifetime > max_lifetime {
                    Check::fail(
                        CheckId::Lifetime,
                        format!(
                            "the token lives {lifetime}s (exp - iat); {provider} issues tokens living at most {max_lifetime}s"
                        ),
                    )
                    .with_fix(MINT_FRESH)
                    .tokenless()
                } else {
                    Check::pass(
                        CheckId::Lifetime,
                        detail!(detailed, "the token lives {lifetime}s (at most {max_lifetime}s for {provider})"),
                    )
                    .tokenless()
                }
            }
            _ => Check::skip(CheckId::Lifetime, "not evaluated: exp or iat unreadable").tokenless(),
        });

        // audience
        // The expected `npm:<host>` is compared without building it; the string is built
        // only for a detail or a failure.
        let is_expected = |a: &str| a.strip_prefix("npm:") == Some(registry_host);
        let aud_fix = |expected_aud: &str| {
            format!(
                "request the audience exactly {expected_aud:?}: CircleCI `circleci run oidc get --claims '{{\"aud\":\"{expected_aud}\"}}'`, GitLab `id_tokens: NPM_ID_TOKEN: aud: \"{expected_aud}\"` (GitHub: npm computes it from the registry URL)"
            )
        };
        run.push(match claims.get("aud") {
            Some(Json::String(a)) if is_expected(a) => Check::pass(
                CheckId::Audience,
                detail!(
                    detailed,
                    "aud {} equals {}",
                    Quoted(a),
                    Quoted(&audience_for_host(registry_host))
                ),
            ),
            Some(Json::Array(items))
                if items.len() == 1
                    && items
                        .first()
                        .and_then(Json::as_str)
                        .is_some_and(is_expected) =>
            {
                Check::pass(
                    CheckId::Audience,
                    detail!(
                        detailed,
                        "aud [{0:?}] holds exactly {0:?}",
                        audience_for_host(registry_host)
                    ),
                )
            }
            Some(other) => {
                let expected_aud = audience_for_host(registry_host);
                Check::fail(
                    CheckId::Audience,
                    format!(
                        "aud {} is not exactly {expected_aud:?}",
                        truncate(&other.to_string())
                    ),
                )
                .with_fix(aud_fix(&expected_aud))
            }
            None => {
                let expected_aud = audience_for_host(registry_host);
                Check::fail(
                    CheckId::Audience,
                    format!("aud is missing (expected {expected_aud:?})"),
                )
                .with_fix(aud_fix(&expected_aud))
            }
        });

        // trust-config, action, provider claims
        Verifier::evaluate_configs(
            run,
            &claims,
            trust_configs,
            package,
            asked,
            provider,
            resolved.entry.config_host(),
            detailed,
        );

        // jti
        let failed_so_far = run.checks.iter().any(|c| c.status == CheckStatus::Fail);
        run.push(match claims.get("jti") {
            Some(Json::String(j)) if !j.is_empty() => {
                if failed_so_far {
                    Check::skip(CheckId::Jti, format!("jti {} not consumed: the exchange is refused", Quoted(j)))
                } else if let Some(store) = &self.jti_store {
                    let forget_after = token_exp.unwrap_or(now).saturating_add(LEEWAY_SECS);
                    match store.claim(iss, j, package, forget_after, now) {
                        Ok(()) => Check::pass(CheckId::Jti, detail!(detailed, "jti {} first exchange for {package}", Quoted(j))),
                        Err(e @ JtiError::Replayed { .. }) => Check::fail(CheckId::Jti, e.to_string()).with_fix("mint a new id token for every exchange; a token is exchanged once per package"),
                        Err(e @ JtiError::Full { .. }) => Check::fail(CheckId::Jti, e.to_string()).with_fix("the registry is refusing exchanges until older tokens expire; retry in a few minutes"),
                    }
                } else {
                    Check::skip(CheckId::Jti, format!("jti {} present; not consumed (no replay store: explain never records a jti)", Quoted(j)))
                }
            }
            Some(other) => Check::fail(CheckId::Jti, format!("jti is {} (expected a non-empty string)", truncate(&other.to_string()))).with_fix(MINT_FRESH),
            None => Check::fail(CheckId::Jti, "jti is missing; replays could not be detected").with_fix(MINT_FRESH),
        });

        Some(token_exp)
    }

    /// Evaluates every config, records the grants, and pushes the `trust-config`, `action`
    /// and claim checks of the representative config (see [`Decision::checks`]).
    #[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
    fn evaluate_configs(
        run: &mut Run,
        claims: &Object<'_>,
        trust_configs: &[TrustConfig],
        package: &str,
        asked: &[Action],
        provider: Provider,
        config_host: Option<&str>,
        detailed: bool,
    ) {
        let mut configs = Vec::with_capacity(trust_configs.len());
        for (index, config) in trust_configs.iter().enumerate() {
            let config_provider = config.publisher.provider();
            let allows: Vec<Action> = asked
                .iter()
                .copied()
                .filter(|a| config.allows(*a))
                .collect();
            let (checks, matches) = if config_provider == provider {
                let mut checks = Vec::with_capacity(8);
                checks.push(action_check(config, asked, package, detailed));
                let before = checks.len();
                policy::evaluate_into(
                    &mut checks,
                    &config.publisher,
                    claims,
                    config_host,
                    detailed,
                );
                let matches = checks
                    .get(before..)
                    .unwrap_or_default()
                    .iter()
                    .all(|c| c.status != CheckStatus::Fail);
                (checks, matches)
            } else {
                let check = Check::fail(
                    CheckId::TrustConfig,
                    format!("a {config_provider} config; the token is from {provider}"),
                );
                (vec![check], false)
            };
            configs.push(ConfigDecision {
                index,
                id: config.id.clone(),
                provider: config_provider,
                permissions: config.permissions.clone(),
                allows,
                checks,
                matches,
                used: false,
            });
        }
        for action in asked {
            if let Some(c) = configs
                .iter_mut()
                .find(|c| c.matches && c.allows.contains(action))
            {
                c.used = true;
                run.grants.push(Grant {
                    action: *action,
                    trust_config_id: c.id.clone(),
                });
            }
        }
        let candidates = configs.iter().filter(|c| c.provider == provider).count();
        // The config whose checks `Decision::checks` shows.
        let representative = if run.grants.is_empty() {
            configs
                .iter()
                .filter(|c| c.provider == provider)
                .min_by_key(|c| c.failures().count())
        } else {
            configs.iter().find(|c| c.used)
        };
        match representative {
            None => {
                let configured = trust_configs
                    .iter()
                    .map(|c| c.publisher.provider().as_str())
                    .collect::<Vec<_>>();
                let detail = if configured.is_empty() {
                    format!("{package} has no trust config")
                } else {
                    format!(
                        "{package} trusts {} only; the token is from {provider}",
                        configured.join(", ")
                    )
                };
                run.push(Check::fail(CheckId::TrustConfig, detail).with_fix(format!(
                    "add a trusted publisher for {provider}: `npm trust {provider} {package} …`"
                )));
                run.push(Check::skip(
                    CheckId::Action,
                    "no trust config for this provider",
                ));
                for id in policy::check_ids(provider) {
                    run.push(Check::skip(*id, "no trust config for this provider"));
                }
            }
            Some(config) => {
                let detail = if detailed {
                    let id_text = config
                        .id
                        .as_deref()
                        .map_or("without id".to_owned(), |i| Quoted(i).to_string());
                    let of = if candidates > 1 {
                        let role = if run.grants.is_empty() {
                            "closest"
                        } else {
                            "used"
                        };
                        format!(" ({role} of {candidates} {provider} configs)")
                    } else {
                        String::new()
                    };
                    format!("{provider} trust config {id_text}{of}")
                } else {
                    String::new()
                };
                run.push(Check::pass(CheckId::TrustConfig, detail));
                for c in &config.checks {
                    run.push(c.clone());
                }
            }
        }
        run.configs = configs;
    }
}

fn action_check(config: &TrustConfig, asked: &[Action], package: &str, detailed: bool) -> Check {
    let allowed = asked.iter().filter(|a| config.allows(**a)).count();
    if !detailed && allowed > 0 {
        return Check::pass(CheckId::Action, String::new());
    }
    // Built with push_str: this runs for every candidate config of every exchange.
    let mut detail = String::with_capacity(96);
    for (i, a) in asked.iter().enumerate() {
        if i > 0 {
            detail.push_str(", ");
        }
        detail.push_str(a.as_str());
        detail.push_str(" needs ");
        detail.push_str(a.permission().as_str());
    }
    detail.push_str(if allowed == 0 {
        "; the config allows only "
    } else {
        "; the config allows "
    });
    for (i, p) in config.permissions.iter().enumerate() {
        if i > 0 {
            detail.push_str(", ");
        }
        detail.push_str(p.as_str());
    }
    if asked.is_empty() {
        Check::fail(CheckId::Action, "no action was asked for")
    } else if allowed == asked.len() {
        Check::pass(CheckId::Action, detail)
    } else if allowed > 0 {
        detail.push_str(" (so not ");
        let refused = asked.iter().filter(|a| !config.allows(**a));
        for (i, a) in refused.enumerate() {
            if i > 0 {
                detail.push_str(", ");
            }
            detail.push_str(a.as_str());
        }
        detail.push(')');
        Check::pass(CheckId::Action, detail)
    } else {
        let flag = match asked.first() {
            Some(Action::Stage) => "--allow-stage-publish",
            _ => "--allow-publish",
        };
        Check::fail(CheckId::Action, detail).with_fix(format!(
            "allow the action in the trust config: `npm trust {} {package} … {flag}`",
            config.publisher.provider()
        ))
    }
}

fn keys_of(map: &Object<'_>) -> String {
    let mut out = String::with_capacity(map.len() * 6);
    for (i, k) in map.keys().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if k.len() <= 40 && k.bytes().all(|b| b.is_ascii_graphic()) {
            out.push_str(k);
        } else {
            out.push_str(&format!("{:?}", truncate(k)));
        }
    }
    out
}

/// Shortens hostile values before they reach a detail line.
fn truncate(text: &str) -> String {
    const MAX: usize = 120;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… ({} bytes)",
        text.get(..end).unwrap_or_default(),
        text.len()
    )
}
