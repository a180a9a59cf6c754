//! The registry's side of npm's OIDC token exchange: the decision an npm registry makes
//! when a CI job presents an id token for a package, made by code tokenless owns, so that
//! `tokenless explain`, the sandbox's exchange endpoint and the audit share one verifier.
//!
//! # Public API
//!
//! - [`trust_config`]: trust configs in npm's JSON shape ([`TrustConfig`],
//!   [`parse_trust_configs`] accepting one object or the `GET /-/package/<pkg>/trust` array;
//!   strict, errors name the field), [`Provider`], [`Action`], [`Permission`].
//! - [`issuer`]: [`IssuerTable`] — [`IssuerTable::production`] pins CircleCI
//!   `https://oidc.circleci.com/org/<org-id>`, GitHub `https://token.actions.githubusercontent.com`
//!   and GitLab `https://gitlab.com`, byte-exact; [`IssuerTable::sandbox`] and
//!   [`IssuerTable::new`] with [`IssuerEntry`] build other tables (the sandbox's
//!   `http://127.0.0.1:PORT/-/sandbox/oidc/github`, …). No flag loosens production.
//! - [`jwks`]: the [`JwksSource`] trait; [`StaticJwks`] (in memory or
//!   [`StaticJwks::from_file`]); [`CachingJwks`] over a [`JwksFetcher`] (refresh on an
//!   unknown `kid` at most once a minute per issuer, keeping old keys when a refresh fails);
//!   with the `discovery` feature, [`discovery::HttpFetcher`] fetches
//!   `<iss>/.well-known/openid-configuration` → `jwks_uri` over HTTP.
//! - [`keys`]: [`VerifyingKey`] (a JWK parsed once) and [`KeySet`]; [`Algorithm`] (RS256, ES256).
//! - [`verify`]: [`Verifier::verify_exchange`]`(token, trust_configs, package, actions,
//!   registry_host, now)` → [`Decision`] `{accepted, provider, trust_config_id, checks,
//!   grants, configs, …}`. A package may have several trust configs; `actions` are the
//!   actions the caller may perform (one, or `[Publish, Stage]` for a registry that learns
//!   the action after the exchange). The token is accepted when its claims match a config
//!   of its provider that allows an asked action; each [`Grant`] names, per allowed action,
//!   the first matching config allowing it, and each [`ConfigDecision`] is one config's own
//!   evaluation (`matches`, `used`, its checks). Each [`Check`] has a stable [`CheckId`], a
//!   [`CheckStatus`] (pass/fail/skip), a detail naming the values compared (never the
//!   token), a [`Policy`] (npm's rule or tokenless's stricter one) and, for failures, a fix.
//!   Known npm behaviours are named on the failing check as a [`Cause`] (stable id, npm's
//!   status and answer, the issue): `github-immutable-subject` (check `github-subject`, 404,
//!   npm/cli#9969) and `github-enterprise-issuer` (check `issuer`, 401, npm/cli#9203);
//!   [`Decision::causes`] lists them and [`Decision::refusal_status`] is the status npm answers.
//!   A registry that reports only refusals uses [`Verifier::with_pass_details`]`(false)`:
//!   same decision, no detail text built for passing checks. The header and claims are
//!   parsed into a borrowed [`borrowed_json::Json`] (no `serde_json::Value` tree), still
//!   refusing duplicate keys.
//! - [`jti`]: the [`JtiStore`] trait and [`InMemoryJtiStore`] (atomic check-and-insert per
//!   `(issuer, jti, package)`, entries dropped once the token expires with amortised
//!   pruning, a hard cap on live entries refused with [`JtiError::Full`]); the verifier
//!   refuses tokens living longer than their issuer's [`IssuerEntry::max_lifetime_secs`].
//! - [`mint`]: [`Minter`] → [`MintedToken`] (`npm_` + 36 base62, one package, exactly the
//!   granted actions each with its config ([`MintedToken::grant_for`]), default 5 minutes).
//! - [`restriction`]: CircleCI context-restriction expressions ([`restriction::parse`],
//!   [`restriction::Expr::admits`] with an [`restriction::Env`]) and
//!   [`restriction::analyze`]: do these restrictions guarantee only the protected ref, with
//!   SSH reruns excluded?
//! - [`file::read_capped`]: every file read from a user-given path, refused when it is not a
//!   regular file (FIFO, device, directory) or larger than a cap, before it is read.
//! - [`secret::Secret`]: a credential whose `Debug`/`Display` print `npm_…abcd`.
//! - [`audience_for_registry`]: `npm:` + `new URL(registry).hostname`, as the npm CLI does.
//! - [`signer`]: issuer-side signing keys (RS256/ES256 keygen, public JWK, JWT signing) for
//!   the sandbox, tests and benchmarks.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use tokenless_trust::{
//!     Action, IssuerTable, KeySet, StaticJwks, Verifier, parse_trust_configs,
//!     signer::{SigningKey, jwks_document},
//! };
//!
//! let key = SigningKey::generate_rs256("k1").unwrap();
//! let keys = KeySet::from_jwks_json(jwks_document([&key]).to_string().as_bytes()).unwrap();
//! let verifier = Verifier::new(IssuerTable::production(Arc::new(StaticJwks::new(keys))));
//! let configs = parse_trust_configs(r#"{"type":"github","claims":{"repository":"o/r",
//!     "workflow_ref":{"file":"publish.yml"}},"permissions":["createPackage"]}"#).unwrap();
//! let token = key.sign_jwt(&serde_json::json!({
//!     "iss": "https://token.actions.githubusercontent.com", "aud": "npm:registry.npmjs.org",
//!     "iat": 1_000, "exp": 1_300, "jti": "j1", "repository": "o/r",
//!     "workflow_ref": "o/r/.github/workflows/publish.yml@refs/heads/main", "event_name": "push",
//! })).unwrap();
//! let decision = verifier.verify_exchange(&token, &configs, "pkg", Action::Publish, "registry.npmjs.org", 1_010);
//! assert!(decision.accepted, "{}", decision.summary());
//! ```
//!
//! # Dependencies
//!
//! Signatures are verified with aws-lc-rs directly (the backend `rust-stack.md` picks for
//! jsonwebtoken) instead of through jsonwebtoken: the verifier must refuse duplicate JSON
//! keys, `crit`, key-injection headers and unlisted algorithms before any key lookup, and
//! report each step as a check, which jsonwebtoken's all-in-one `decode` does not expose;
//! aws-lc-rs's `ParsedPublicKey` also lets each JWK be parsed once per key set.

pub mod audience;
pub mod borrowed_json;
pub mod check;
pub mod clock;
#[cfg(feature = "discovery")]
pub mod discovery;
pub mod file;
pub mod issuer;
pub mod jti;
pub mod jwks;
pub mod keys;
pub mod mint;
pub mod policy;
pub mod restriction;
pub mod secret;
pub mod signer;
pub mod strict_json;
pub mod trust_config;
pub mod verify;

pub use audience::{AudienceError, audience_for_host, audience_for_registry};
pub use check::{Cause, Check, CheckId, CheckStatus, Policy};
pub use file::{ReadError, read_capped};
pub use issuer::{IssuerEntry, IssuerPattern, IssuerTable, ResolvedIssuer};
pub use jti::{DEFAULT_JTI_CAPACITY, InMemoryJtiStore, JtiError, JtiStore};
pub use jwks::{CachingJwks, JwksFetcher, JwksFileError, JwksSource, KeyLookupError, StaticJwks};
pub use keys::{Algorithm, JwkError, KeySet, VerifyingKey};
pub use mint::{DEFAULT_TTL_SECS, MintError, MintedToken, Minter};
pub use secret::Secret;
pub use trust_config::{
    Action, CircleCiPublisher, GitHubPublisher, GitLabPublisher, Permission, Provider, Publisher,
    TrustConfig, TrustConfigError, parse_trust_configs,
};
pub use verify::{
    ConfigDecision, Decision, Grant, LEEWAY_SECS, MAX_CLAIM_BYTES, MAX_TOKEN_BYTES, Verifier,
};
