//! The lint rules that judge one job from its [`Facts`], the same way for every
//! provider; the provider modules add the rules that need workflows or triggers.

use std::collections::HashSet;

use crate::facts::{self, Facts, NPMJS, Publish, Source};
use crate::finding::{Finding, Severity, rule_meta};
use crate::model::{Job, Loc};
use crate::provider::Provider;
use crate::versions::{self, NodeSpec, Version};
use crate::yaml::Forest;

/// Collects findings, deduplicated by (rule, location).
pub struct Out<'a> {
    pub forest: &'a Forest,
    pub findings: Vec<(Loc, Finding)>,
    seen: HashSet<(&'static str, Loc)>,
}

impl<'a> Out<'a> {
    pub fn new(forest: &'a Forest) -> Self {
        Out {
            forest,
            findings: Vec::new(),
            seen: HashSet::new(),
        }
    }

    /// Record a finding; `severity` overrides the rule's default.
    pub fn push(
        &mut self,
        rule: &'static str,
        severity: Option<Severity>,
        loc: Loc,
        message: String,
        help: &str,
    ) {
        if !self.seen.insert((rule, loc)) {
            return;
        }
        let severity = severity
            .or_else(|| rule_meta(rule).map(|m| m.default_severity))
            .unwrap_or(Severity::Medium);
        let file =
            &self.forest.files[(loc.file as usize).min(self.forest.files.len().saturating_sub(1))];
        self.findings.push((
            loc,
            Finding {
                rule,
                severity,
                path: file.path.to_string(),
                span: loc.span,
                message,
                help: help.to_string(),
            },
        ));
    }

    /// Findings in source order (by file, then span).
    pub fn finish(mut self) -> Vec<Finding> {
        self.findings.sort_by(|a, b| {
            (a.0.file, a.0.span.start, a.0.span.end).cmp(&(b.0.file, b.0.span.start, b.0.span.end))
        });
        self.findings.into_iter().map(|(_, f)| f).collect()
    }
}

/// The registry a publish goes to: its own `--registry`, else the last registry the
/// job configures, else npmjs.
pub fn target_of(f: &Facts, p: &Publish) -> String {
    p.registry
        .clone()
        .or_else(|| f.registries.last().map(|r| r.0.clone()))
        .unwrap_or_else(|| NPMJS.to_string())
}

/// Publishes that go to npm's registry.
pub fn npm_publishes(f: &Facts) -> impl Iterator<Item = &Publish> {
    f.publishes
        .iter()
        .filter(|p| facts::is_npmjs(&target_of(f, p)))
}

fn mint_is_npm(m: &facts::Mint) -> bool {
    m.var.as_deref() == Some("NPM_ID_TOKEN")
        || m.claims.as_ref().is_some_and(|c| c.1.contains("npm"))
}

/// Does an id token minted in a shell step reach step `p`?
fn circle_mint_reaches(f: &Facts, p: usize) -> bool {
    f.mints.iter().any(|m| {
        m.var.as_deref() == Some("NPM_ID_TOKEN")
            && (m.step == p
                || (m.step < p
                    && (m.to_bash_env
                        || f.bash_env_exports
                            .iter()
                            .any(|(s, _)| *s >= m.step && *s < p))))
    })
}

/// What npm the publish step runs, as far as the config shows.
enum Npm {
    Ok,
    TooOld { what: String, loc: Loc },
    Unknown { what: String, loc: Loc },
}

fn npm_state(provider: Provider, job: &Job, f: &Facts, forest: &Forest, publish: &Publish) -> Npm {
    let min = if provider == Provider::CircleCi {
        versions::NPM_MIN_CIRCLECI
    } else {
        versions::NPM_MIN_OTHER
    };
    if let Some((_, v, loc, spec)) = f.npm_upgrades.iter().rev().find(|u| u.0 <= publish.step) {
        return match v {
            Some(v) if *v >= min => Npm::Ok,
            Some(v) => Npm::TooOld {
                what: format!("`npm@{spec}` can install npm {v}"),
                loc: *loc,
            },
            None => Npm::Unknown {
                what: format!("cannot tell which npm `npm@{spec}` installs"),
                loc: *loc,
            },
        };
    }
    let (node, what, loc) =
        if let Some((spec, loc, text)) = f.node_versions.iter().rev().find(|_| true) {
            let what = if matches!(spec, NodeSpec::Unknown) {
                text.clone()
            } else {
                format!("Node `{}`", text.trim())
            };
            (*spec, what, *loc)
        } else if let Some((img, node)) = job.images.first() {
            match versions::node_of_image(img) {
                Some(spec) => (spec, format!("image `{img}`"), Loc::of(forest, *node)),
                None => (
                    NodeSpec::Unknown,
                    format!("image `{img}`"),
                    Loc::of(forest, *node),
                ),
            }
        } else if provider == Provider::GitHub {
            (
                NodeSpec::Known {
                    major: 20,
                    minor: None,
                    patch: None,
                },
                "the runner's default Node 20 (no `actions/setup-node`)".to_string(),
                publish.loc,
            )
        } else {
            return Npm::Unknown {
                what: "the job names no image, so its npm is unknown".into(),
                loc: publish.loc,
            };
        };
    match versions::bundled_npm(node) {
        Some(v) if v >= min => Npm::Ok,
        Some(v) => Npm::TooOld {
            what: format!("{what} ships npm {}", short(v)),
            loc,
        },
        None => Npm::Unknown {
            what: format!("cannot tell which npm {what} ships"),
            loc,
        },
    }
}

fn short(v: Version) -> String {
    if v.0 < 11 {
        format!("{}", v.0)
    } else {
        v.to_string()
    }
}

const HELP_MINT_CIRCLE: &str = "mint the token in the publish step: NPM_ID_TOKEN=\"$(circleci run oidc get --claims '{\"aud\":\"npm:registry.npmjs.org\"}')\", check it is not empty, then export it";

/// Rules over one job.
pub fn job_rules(out: &mut Out<'_>, provider: Provider, job: &Job, f: &Facts) {
    let forest = out.forest;
    let publishes: Vec<&Publish> = npm_publishes(f).collect();
    let mut npm_aud_minted = f.mints.iter().any(|m| {
        m.claims
            .as_ref()
            .is_some_and(|c| c.1.contains("npm:registry.npmjs.org"))
    });
    npm_aud_minted |= job
        .id_token
        .gitlab
        .iter()
        .any(|g| g.2.trim() == "npm:registry.npmjs.org");

    // An npm-audience id token sent to another registry.
    if npm_aud_minted && provider != Provider::GitHub {
        for p in &f.publishes {
            let target = target_of(f, p);
            if !facts::is_npmjs(&target) {
                out.push(
                    "oidc-audience-mismatch",
                    None,
                    p.loc,
                    format!("job `{}` mints an id token for npm:registry.npmjs.org and {} sends it to `{target}`, which could replay it to npm", job.name, p.what),
                    "do not mint NPM_ID_TOKEN in jobs that publish to other registries, or unset it before the publish",
                );
            }
        }
    }

    // Audience and JSON of every npm mint.
    let mut allowed: Vec<String> = vec![format!("npm:{NPMJS}")];
    for (h, _) in &f.registries {
        allowed.push(format!("npm:{h}"));
    }
    for m in &f.mints {
        if !mint_is_npm(m) && m.claims.is_some() {
            continue;
        }
        match &m.claims {
            None => {
                if m.var.as_deref() == Some("NPM_ID_TOKEN") {
                    out.push(
                        "oidc-audience-mismatch",
                        None,
                        m.loc,
                        format!("job `{}` runs `circleci run oidc get` without `--claims`: the token's audience is the organization id, not npm:registry.npmjs.org", job.name),
                        "pass --claims '{\"aud\":\"npm:registry.npmjs.org\"}'",
                    );
                }
            }
            Some((loc, text)) => match serde_json::from_str::<serde_json::Value>(text) {
                Err(e) => out.push(
                    "oidc-audience-mismatch",
                    None,
                    *loc,
                    format!("job `{}`: after shell quoting the `--claims` argument is `{}`, which is not valid JSON ({e}); the fetch fails and NPM_ID_TOKEN is empty", job.name, text),
                    "write the claims in single quotes without backslashes: --claims '{\"aud\":\"npm:registry.npmjs.org\"}'",
                ),
                Ok(v) => {
                    let aud = v.get("aud");
                    let ok = match aud.and_then(|a| a.as_str()) {
                        Some(a) => allowed.iter().any(|x| x == a),
                        None => false,
                    };
                    if !ok {
                        let shown = aud.map(|a| a.to_string()).unwrap_or_else(|| "missing".into());
                        out.push(
                            "oidc-audience-mismatch",
                            None,
                            *loc,
                            format!("job `{}` requests audience {shown}; npm accepts only exactly \"npm:registry.npmjs.org\" (npm: + the registry hostname, no scheme or port)", job.name),
                            "use --claims '{\"aud\":\"npm:registry.npmjs.org\"}'",
                        );
                    }
                }
            },
        }
    }
    for g in &job.id_token.gitlab {
        if g.0 == "NPM_ID_TOKEN" && !allowed.iter().any(|a| a == g.2.trim()) {
            out.push(
                "oidc-audience-mismatch",
                None,
                Loc::of(forest, g.3),
                format!("job `{}` requests NPM_ID_TOKEN with audience `{}`; npm accepts only exactly `npm:registry.npmjs.org`", job.name, g.2.trim()),
                "set `aud: npm:registry.npmjs.org` under id_tokens.NPM_ID_TOKEN",
            );
        }
    }
    for (loc, msg) in &f.audience_errors {
        out.push(
            "oidc-audience-mismatch",
            None,
            *loc,
            format!("job `{}`: {msg}", job.name),
            "mint a token for npm with circleci run oidc get --claims '{\"aud\":\"npm:registry.npmjs.org\"}'",
        );
    }

    // The id token put where a registry token goes.
    if !publishes.is_empty() || !f.mints.is_empty() || !job.id_token.gitlab.is_empty() {
        for w in &f.wires {
            if let Source::Oidc(src) = &w.source {
                out.push(
                    "oidc-token-misused",
                    None,
                    w.loc,
                    format!("job `{}` puts an OIDC id token (`{}`) into {}; it is not an npm token, and only the exchange turns it into one", job.name, abbreviate(src), w.what),
                    "export the token as NPM_ID_TOKEN and let npm exchange it; remove the NPM_TOKEN/_authToken wiring",
                );
            }
        }
    }

    // Masked fetches (of the npm id token; a JWT mis-stored in NPM_TOKEN is reported as misuse).
    for m in &f.mints {
        let npm_var = match m.var.as_deref() {
            Some(v) => v == "NPM_ID_TOKEN",
            None => mint_is_npm(m),
        };
        if !npm_var {
            continue;
        }
        let Some(reason) = &m.masked else { continue };
        let var = m.var.clone().unwrap_or_else(|| "NPM_ID_TOKEN".into());
        if f.guards.iter().any(|(s, v)| *s >= m.step && *v == var) {
            continue;
        }
        out.push(
            "oidc-token-unguarded",
            None,
            m.loc,
            format!("job `{}`: a failed `circleci run oidc get` goes unnoticed: {reason}, and nothing checks that {var} is non-empty", job.name),
            "assign on its own line under `set -e` (NPM_ID_TOKEN=\"$(…)\"), then `[ -n \"$NPM_ID_TOKEN\" ] || exit 1`, then export it",
        );
    }

    // The id token printed to the log.
    for (_, loc, how) in &f.logged {
        out.push(
            "oidc-token-logged",
            None,
            *loc,
            format!("job `{}`: {how}; anyone who can read the log can replay it within its lifetime", job.name),
            "capture the token in a variable and never print it (log its length with ${#NPM_ID_TOKEN} if needed)",
        );
    }
    for (s, loc) in &f.xtrace {
        if f.mints.iter().any(|m| m.step == *s) {
            out.push(
                "oidc-token-logged",
                None,
                *loc,
                format!("job `{}` traces the step that mints the id token (`set -x`), which prints the token to the log", job.name),
                "remove `set -x` from the minting step (or `set +x` around the mint)",
            );
        }
    }

    if publishes.is_empty() {
        return;
    }

    // Provenance on CircleCI.
    if provider == Provider::CircleCi {
        for loc in &f.provenance {
            out.push(
                "provenance-unsupported",
                None,
                *loc,
                format!("job `{}` asks for provenance, which npm does not generate on CircleCI: the publish fails with EUSAGE", job.name),
                "drop --provenance / NPM_CONFIG_PROVENANCE (and publishConfig.provenance) from the CircleCI publish",
            );
        }
    }

    // Does an id token reach each publish?
    let reaches = |p: &Publish| -> bool {
        match provider {
            // A wrong-audience token in NPM_ID_TOKEN is reported as a mismatch, not as missing.
            Provider::CircleCi => circle_mint_reaches(f, p.step) || !f.audience_errors.is_empty(),
            Provider::GitHub => job.id_token.github_write.is_some(),
            Provider::GitLab => job.id_token.gitlab.iter().any(|g| g.0 == "NPM_ID_TOKEN"),
        }
    };
    let first = publishes[0];
    let all_reach = publishes.iter().all(|p| reaches(p));
    let npm = npm_state(provider, job, f, forest, first);
    // On GitHub the permission alone proves nothing: an npm without OIDC ignores it.
    let exchange =
        all_reach && !(provider == Provider::GitHub && matches!(npm, Npm::TooOld { .. }));

    let relevant = |w: &&facts::Wire| -> bool {
        let host_ok = w.host.as_deref().is_none_or(facts::is_npmjs);
        let scope_ok = match w.step {
            None => true,
            Some(s) => w.persistent || publishes.iter().any(|p| p.step == s),
        };
        host_ok && scope_ok && matches!(w.source, Source::Static(_))
    };
    let statics: Vec<&facts::Wire> = f.wires.iter().filter(relevant).collect();
    for w in &statics {
        let Source::Static(src) = &w.source else {
            continue;
        };
        if exchange {
            out.push(
                "token-fallback",
                None,
                w.loc,
                format!("job `{}` obtains an id token but still wires {} from `{}`: when the exchange fails npm silently publishes with the stored token", job.name, w.what, abbreviate(src)),
                "remove the stored token from the job (and from its contexts/secrets) so a failed exchange fails the publish",
            );
        } else {
            out.push(
                "static-token-publish",
                None,
                w.loc,
                format!("job `{}` runs {} with {} from `{}`, a stored credential", job.name, first.what, w.what, abbreviate(src)),
                "delete the stored token and publish with trusted publishing (an OIDC id token exchanged by npm)",
            );
        }
    }
    if exchange {
        for (_, loc, what) in &f.token_commands {
            out.push(
                "token-fallback",
                Some(Severity::Medium),
                *loc,
                format!("job `{}` runs {what}, which OIDC does not cover: it needs a stored token that npm would also fall back to", job.name),
                "remove token-only commands (npm whoami, token checks, dist-tag, access) from the publish job",
            );
        }
    }

    // No id token.
    if let Some(ci) = f.ci_false {
        out.push(
            "oidc-token-missing",
            None,
            ci,
            format!(
                "job `{}` sets CI=false: npm then detects no CI provider and skips OIDC entirely",
                job.name
            ),
            "do not set CI=false in the publish job (set the build tool's own option instead)",
        );
    }
    if !all_reach {
        let stranded = if provider == Provider::CircleCi {
            f.mints
                .iter()
                .find(|m| m.var.as_deref() == Some("NPM_ID_TOKEN"))
        } else {
            None
        };
        let missing: Vec<&&Publish> = publishes.iter().filter(|p| !reaches(p)).collect();
        let p = missing.first().copied().copied().unwrap_or(first);
        match (provider, stranded) {
            (Provider::CircleCi, Some(m)) => out.push(
                "oidc-token-missing",
                None,
                m.loc,
                format!("job `{}` mints NPM_ID_TOKEN in one step but {} runs in another: each `run` step is a new shell, and the token is not written to $BASH_ENV", job.name, p.what),
                "mint in the publish step, or append `printf 'export NPM_ID_TOKEN=%q\\n' \"$NPM_ID_TOKEN\" >> \"$BASH_ENV\"` after checking it",
            ),
            (Provider::CircleCi, None) => out.push(
                "oidc-token-missing",
                None,
                p.loc,
                format!("job `{}` runs {} but never mints an id token into NPM_ID_TOKEN (`circleci run oidc get`)", job.name, p.what),
                HELP_MINT_CIRCLE,
            ),
            (Provider::GitHub, _) => {
                let (loc, why) = match job.id_token.github_denied {
                    Some(n) => (Loc::of(forest, n), "its `permissions` do not grant `id-token: write`"),
                    None => (p.loc, "it has no `permissions: id-token: write`"),
                };
                out.push(
                    "oidc-token-missing",
                    None,
                    loc,
                    format!("job `{}` runs {} but {why}, so npm cannot request an id token", job.name, p.what),
                    "add `permissions: { id-token: write, contents: read }` to the publish job",
                );
            }
            (Provider::GitLab, _) => out.push(
                "oidc-token-missing",
                None,
                p.loc,
                format!("job `{}` runs {} but declares no `id_tokens: NPM_ID_TOKEN`", job.name, p.what),
                "add `id_tokens: { NPM_ID_TOKEN: { aud: \"npm:registry.npmjs.org\" } }` to the publish job",
            ),
        }
    }

    // One mint for a multi-package publish (CircleCI tokens are accepted only briefly).
    if provider == Provider::CircleCi && all_reach {
        for p in &publishes {
            let w = p.what.to_ascii_lowercase();
            if [
                "changeset",
                "lerna",
                "nx release",
                "workspaces foreach",
                "--recursive",
            ]
            .iter()
            .any(|k| w.contains(k))
            {
                out.push(
                    "oidc-token-reused",
                    None,
                    p.loc,
                    format!("job `{}` mints one id token and then runs {}, which publishes package after package; npm reportedly accepts a CircleCI token in the exchange only for a few minutes", job.name, p.what),
                    "mint a fresh NPM_ID_TOKEN before each package's publish in long monorepo releases",
                );
            }
        }
    }

    // npm too old for a job that relies on the exchange.
    if all_reach && statics.is_empty() {
        match npm {
            Npm::Ok => {}
            Npm::TooOld { what, loc } => {
                let min = if provider == Provider::CircleCi { "11.11.0" } else { "11.5.1" };
                out.push(
                    "npm-too-old",
                    None,
                    loc,
                    format!("job `{}` relies on trusted publishing, but {what}; {} needs npm >= {min}, so no exchange happens", job.name, provider_label(provider)),
                    "use an image with npm >= 11.11.0 (e.g. cimg/node:24.16) or run `npm install -g npm@^11.11.0` before publishing",
                );
            }
            Npm::Unknown { what, loc } => out.push(
                "npm-too-old",
                Some(Severity::Low),
                loc,
                format!("job `{}` relies on trusted publishing, but tokenless {what}", job.name),
                "pin a Node image known to ship npm >= 11.11.0, or run `npm install -g npm@^11.11.0` before publishing",
            ),
        }
        // Node policy floor (GitHub/GitLab).
        if provider != Provider::CircleCi {
            let node = f
                .node_versions
                .last()
                .map(|(s, l, _)| (*s, *l))
                .or_else(|| {
                    job.images.first().and_then(|(i, n)| {
                        versions::node_of_image(i).map(|s| (s, Loc::of(forest, *n)))
                    })
                });
            if let Some((spec, loc)) = node
                && let Some(v) = versions::node_version(spec)
                && v < versions::NODE_MIN
            {
                out.push(
                    "npm-too-old",
                    Some(Severity::Low),
                    loc,
                    format!("job `{}` publishes on Node {}.{}; npm documents Node >= 22.14.0 for trusted publishing", job.name, v.0, if v.1 == 99 { "x".to_string() } else { v.1.to_string() }),
                    "use Node 22.14.0 or newer in the publish job",
                );
            }
        }
        for (tool, ver, loc) in &f.tool_versions {
            if tool == "semantic-release"
                && let Some(major) = ver
                    .trim_start_matches(['^', '~', 'v'])
                    .split('.')
                    .next()
                    .and_then(|m| m.parse::<u32>().ok())
                && major < 25
            {
                out.push(
                    "npm-too-old",
                    None,
                    *loc,
                    format!("job `{}` runs semantic-release {ver}, whose npm plugin predates trusted publishing and insists on NPM_TOKEN", job.name),
                    "use semantic-release 25 or newer",
                );
            }
        }
    }
}

fn provider_label(p: Provider) -> &'static str {
    match p {
        Provider::CircleCi => "CircleCI trusted publishing",
        Provider::GitHub => "trusted publishing from GitHub Actions",
        Provider::GitLab => "trusted publishing from GitLab",
    }
}

/// Shorten long values for messages (never shows more than 60 characters).
fn abbreviate(s: &str) -> String {
    let s = facts::redact(s.trim());
    let s = s.as_str();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(57).collect::<String>())
    } else {
        s.to_string()
    }
}
