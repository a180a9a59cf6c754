//! The lint rules: one file per rule, each declaring its id, default severity and summary
//! ([`RuleMeta`]; the docs anchor is the id) and one `check` over a whole file, all
//! registered in [`REGISTRY`]. Rules read the provider model and each job's [`Facts`]
//! through [`FileCx`]/[`JobCx`] and push findings into [`Out`]; they never print.

use std::collections::HashSet;

use crate::facts::{Facts, Mint, NPMJS, NodeChoice, NpmUpgrade, Publish, Source, Wire, is_npmjs};
use crate::finding::{Confidence, Finding, Hop, RuleId, RuleMeta, Severity};
use crate::model::{Job, Loc};
use crate::provider::Provider;
use crate::versions::{self, NodeSpec, Version};
use crate::yaml::Forest;
use crate::{circleci, github, gitlab};

pub mod branch_filter_only;
pub mod cache_poisoning_publish;
pub mod literal_env_reference;
pub mod npm_too_old;
pub mod oidc_audience_mismatch;
pub mod oidc_token_logged;
pub mod oidc_token_missing;
pub mod oidc_token_misused;
pub mod oidc_token_reused;
pub mod oidc_token_unguarded;
pub mod provenance_unsupported;
pub mod static_token_publish;
pub mod token_fallback;
pub mod untrusted_trigger_publish;

/// One registered rule.
pub struct Rule {
    pub meta: RuleMeta,
    pub check: fn(&FileCx<'_>, &mut Out<'_>),
}

/// Every rule, in documentation order. Adding a rule: a file here, a [`RuleId`]
/// variant, one line in this list.
pub const REGISTRY: &[Rule] = &[
    Rule {
        meta: static_token_publish::META,
        check: static_token_publish::check,
    },
    Rule {
        meta: oidc_token_missing::META,
        check: oidc_token_missing::check,
    },
    Rule {
        meta: oidc_audience_mismatch::META,
        check: oidc_audience_mismatch::check,
    },
    Rule {
        meta: oidc_token_misused::META,
        check: oidc_token_misused::check,
    },
    Rule {
        meta: oidc_token_unguarded::META,
        check: oidc_token_unguarded::check,
    },
    Rule {
        meta: token_fallback::META,
        check: token_fallback::check,
    },
    Rule {
        meta: branch_filter_only::META,
        check: branch_filter_only::check,
    },
    Rule {
        meta: npm_too_old::META,
        check: npm_too_old::check,
    },
    Rule {
        meta: untrusted_trigger_publish::META,
        check: untrusted_trigger_publish::check,
    },
    Rule {
        meta: cache_poisoning_publish::META,
        check: cache_poisoning_publish::check,
    },
    Rule {
        meta: provenance_unsupported::META,
        check: provenance_unsupported::check,
    },
    Rule {
        meta: literal_env_reference::META,
        check: literal_env_reference::check,
    },
    Rule {
        meta: oidc_token_logged::META,
        check: oidc_token_logged::check,
    },
    Rule {
        meta: oidc_token_reused::META,
        check: oidc_token_reused::check,
    },
];

/// Every rule's metadata, in documentation order.
pub const RULES: &[RuleMeta] = &[
    static_token_publish::META,
    oidc_token_missing::META,
    oidc_audience_mismatch::META,
    oidc_token_misused::META,
    oidc_token_unguarded::META,
    token_fallback::META,
    branch_filter_only::META,
    npm_too_old::META,
    untrusted_trigger_publish::META,
    cache_poisoning_publish::META,
    provenance_unsupported::META,
    literal_env_reference::META,
    oidc_token_logged::META,
    oidc_token_reused::META,
];

/// The metadata of a rule (every [`RuleId`] is registered; a test checks it).
pub fn meta(id: RuleId) -> &'static RuleMeta {
    RULES
        .iter()
        .find(|m| m.id == id)
        .unwrap_or(&static_token_publish::META)
}

/// The provider's own model of the file, for rules that read workflows or triggers.
pub enum Model<'a> {
    CircleCi(&'a circleci::Config),
    GitHub(&'a github::Workflow),
    GitLab(&'a gitlab::Config),
}

/// Everything rules read about one file.
pub struct FileCx<'a> {
    pub provider: Provider,
    pub forest: &'a Forest,
    pub model: Model<'a>,
    pub jobs: Vec<JobCx<'a>>,
}

impl<'a> FileCx<'a> {
    pub fn new(
        provider: Provider,
        forest: &'a Forest,
        model: Model<'a>,
        jobs: &'a [Job],
        facts: &'a [Facts],
    ) -> FileCx<'a> {
        let jobs = jobs
            .iter()
            .zip(facts)
            .enumerate()
            .map(|(index, (job, f))| JobCx::new(index, provider, forest, job, f))
            .collect();
        FileCx {
            provider,
            forest,
            model,
            jobs,
        }
    }
}

/// One job with the judgements several rules share.
pub struct JobCx<'a> {
    pub index: usize,
    pub job: &'a Job,
    pub facts: &'a Facts,
    /// Publishes to npm's registry.
    pub publishes: Vec<&'a Publish>,
    /// An id token reaches every npm publish.
    pub all_reach: bool,
    /// The job relies on the exchange (id token reaches, npm can do it on GitHub).
    pub exchange: bool,
    /// Stored credentials that reach a publish.
    pub statics: Vec<&'a Wire>,
    pub npm: Npm,
}

impl<'a> JobCx<'a> {
    fn new(
        index: usize,
        provider: Provider,
        forest: &Forest,
        job: &'a Job,
        f: &'a Facts,
    ) -> JobCx<'a> {
        let publishes: Vec<&Publish> = npm_publishes(f).collect();
        let reaches = |p: &Publish| -> bool {
            match provider {
                // A wrong-audience token in NPM_ID_TOKEN is reported as a mismatch.
                Provider::CircleCi => {
                    circle_mint_reaches(f, p.step) || !f.audience_errors.is_empty()
                }
                Provider::GitHub => job.id_token.github_write.is_some(),
                Provider::GitLab => job.id_token.gitlab.iter().any(|g| g.var == "NPM_ID_TOKEN"),
            }
        };
        let all_reach = publishes.iter().all(|p| reaches(p));
        // A reusable workflow's npm is its own jobs' (judged in its own file).
        let npm = match publishes
            .iter()
            .find(|p| p.client != crate::publish::Client::ReusableWorkflow)
        {
            Some(first) => npm_state(provider, job, f, forest, first),
            None => Npm::Ok,
        };
        let exchange = !publishes.is_empty()
            && all_reach
            && !(provider == Provider::GitHub && matches!(npm, Npm::TooOld { .. }));
        let statics = f
            .wires
            .iter()
            .filter(|w| {
                let host_ok = w.host.as_deref().is_none_or(is_npmjs);
                let scope_ok = match w.step {
                    None => true,
                    Some(s) => w.persistent || publishes.iter().any(|p| p.step == s),
                };
                host_ok && scope_ok && matches!(w.source, Source::Static(_))
            })
            .collect();
        JobCx {
            index,
            job,
            facts: f,
            publishes,
            all_reach,
            exchange,
            statics,
            npm,
        }
    }

    pub fn name(&self) -> &str {
        &self.job.name
    }

    pub fn first(&self) -> Option<&'a Publish> {
        self.publishes.first().copied()
    }
}

/// What a job's chain and confidence are, for tagging its findings.
struct JobTag {
    name: String,
    chain: Vec<Hop>,
    confidence: Confidence,
}

/// Collects findings, deduplicated by (rule, location), tagged with the job the rule
/// was judging (set with [`Out::job`]).
pub struct Out<'a> {
    pub forest: &'a Forest,
    findings: Vec<(Loc, Finding)>,
    seen: HashSet<(RuleId, Loc)>,
    tags: Vec<JobTag>,
    current: Option<usize>,
}

impl<'a> Out<'a> {
    pub fn new(forest: &'a Forest) -> Self {
        Out {
            forest,
            findings: Vec::new(),
            seen: HashSet::new(),
            tags: Vec::new(),
            current: None,
        }
    }

    fn tag_jobs(&mut self, cx: &FileCx<'_>) {
        // Line starts per file, computed once (a file may hold thousands of jobs).
        let starts: Vec<Vec<usize>> = self
            .forest
            .files
            .iter()
            .map(|f| {
                std::iter::once(0)
                    .chain(f.text.match_indices('\n').map(|(i, _)| i + 1))
                    .collect()
            })
            .collect();
        self.tags = cx
            .jobs
            .iter()
            .map(|j| {
                let publish = j.first().or_else(|| j.facts.publishes.first());
                let mut chain = Vec::new();
                if let Some(p) = publish {
                    chain.push(self.ci_hop(j.name(), p.loc, &starts));
                    chain.extend(p.chain.iter().cloned());
                }
                JobTag {
                    name: j.name().to_string(),
                    chain,
                    confidence: publish.map_or(Confidence::High, |p| p.confidence),
                }
            })
            .collect();
    }

    /// The first hop of a chain: the CI step that starts it.
    fn ci_hop(&self, job: &str, loc: Loc, starts: &[Vec<usize>]) -> Hop {
        let index = (loc.file as usize).min(self.forest.files.len().saturating_sub(1));
        let file = &self.forest.files[index];
        let line = starts
            .get(index)
            .map_or(1, |s| s.partition_point(|&b| b <= loc.span.start));
        let text = file.text.get(loc.span.start..loc.span.end).unwrap_or("");
        let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let text = crate::facts::redact(&text);
        let text = if text.chars().count() > 60 {
            format!("{}…", text.chars().take(57).collect::<String>())
        } else {
            text
        };
        Hop {
            file: file.path.to_string(),
            line,
            what: format!("job {job}: {text}"),
        }
    }

    /// Findings pushed from now on are about job `index` of the file.
    pub fn job(&mut self, index: usize) {
        self.current = Some(index);
    }

    /// Findings pushed from now on are about no job in particular.
    pub fn no_job(&mut self) {
        self.current = None;
    }

    /// Record a finding; `severity` overrides the rule's default.
    pub fn push(
        &mut self,
        rule: RuleId,
        severity: Option<Severity>,
        loc: Loc,
        message: String,
        help: &str,
    ) {
        if !self.seen.insert((rule, loc)) {
            return;
        }
        let severity = severity.unwrap_or(rule.meta().default_severity);
        let file =
            &self.forest.files[(loc.file as usize).min(self.forest.files.len().saturating_sub(1))];
        let tag = self.current.and_then(|i| self.tags.get(i));
        self.findings.push((
            loc,
            Finding {
                rule,
                severity,
                path: file.path.to_string(),
                span: loc.span,
                message,
                help: help.to_string(),
                job: tag.map(|t| t.name.clone()),
                chain: tag.map(|t| t.chain.clone()).unwrap_or_default(),
                confidence: tag.map_or(Confidence::High, |t| t.confidence),
                fix: None,
            },
        ));
    }

    /// Push with an explicit confidence (a finding that does not rest on the job's publish).
    pub fn push_with_confidence(
        &mut self,
        rule: RuleId,
        severity: Option<Severity>,
        confidence: Confidence,
        loc: Loc,
        message: String,
        help: &str,
    ) {
        let before = self.findings.len();
        self.push(rule, severity, loc, message, help);
        if self.findings.len() > before
            && let Some((_, f)) = self.findings.last_mut()
        {
            f.confidence = confidence;
        }
    }

    /// Findings in source order (by file, then span).
    pub fn finish(mut self) -> Vec<Finding> {
        self.findings.sort_by(|a, b| {
            (a.0.file, a.0.span.start, a.0.span.end).cmp(&(b.0.file, b.0.span.start, b.0.span.end))
        });
        self.findings.into_iter().map(|(_, f)| f).collect()
    }
}

/// Run every registered rule over one file.
pub fn run(cx: &FileCx<'_>, out: &mut Out<'_>) {
    out.tag_jobs(cx);
    for rule in REGISTRY {
        (rule.check)(cx, out);
        out.no_job();
    }
}

/// The registry a publish goes to: its own `--registry` (or its package's config), else
/// the last registry the job configures, else npmjs.
pub fn target_of(f: &Facts, p: &Publish) -> String {
    p.registry
        .clone()
        .or_else(|| f.registries.last().map(|r| r.host.clone()))
        .unwrap_or_else(|| NPMJS.to_string())
}

/// Publishes that go to npm's registry.
pub fn npm_publishes(f: &Facts) -> impl Iterator<Item = &Publish> {
    f.publishes.iter().filter(|p| is_npmjs(&target_of(f, p)))
}

pub(crate) fn mint_is_npm(m: &Mint) -> bool {
    m.var.as_deref() == Some("NPM_ID_TOKEN")
        || m.claims.as_ref().is_some_and(|c| c.text.contains("npm"))
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
                            .any(|e| e.step >= m.step && e.step < p))))
    })
}

/// What npm the publish step runs, as far as the config shows.
pub enum Npm {
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
    let node_info = if let Some(NodeChoice { spec, loc, text }) = f.node_versions.last() {
        let what = if matches!(spec, NodeSpec::Unknown) {
            text.clone()
        } else {
            format!("Node `{}`", text.trim())
        };
        Some((*spec, what, *loc))
    } else if let Some((img, node)) = job.images.first() {
        Some(match versions::node_of_image(img) {
            Some(spec) => (spec, format!("image `{img}`"), Loc::of(forest, *node)),
            None => (
                NodeSpec::Unknown,
                format!("image `{img}`"),
                Loc::of(forest, *node),
            ),
        })
    } else if provider == Provider::GitHub {
        Some((
            NodeSpec::Known {
                major: 20,
                minor: None,
                patch: None,
            },
            "the runner's default Node 20 (no `actions/setup-node`)".to_string(),
            publish.loc,
        ))
    } else {
        None
    };
    if let Some(NpmUpgrade {
        lowest: v,
        loc,
        spec,
        ..
    }) = f.npm_upgrades.iter().rev().find(|u| u.step <= publish.step)
    {
        return match v {
            // npm 11 runs on Node ^20.17 or >= 22.9 only: an upgrade on an older Node fails.
            Some(v) if *v >= min => match &node_info {
                Some((node, what, at)) if v.0 >= 11 && !versions::runs_npm_11(*node) => {
                    Npm::TooOld {
                        what: format!(
                            "`npm@{spec}` needs Node ^20.17 or >= 22.9, and {what} is older"
                        ),
                        loc: *at,
                    }
                }
                _ => Npm::Ok,
            },
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
    let Some((node, what, loc)) = node_info else {
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

pub(crate) fn provider_label(p: Provider) -> &'static str {
    match p {
        Provider::CircleCi => "CircleCI trusted publishing",
        Provider::GitHub => "trusted publishing from GitHub Actions",
        Provider::GitLab => "trusted publishing from GitLab",
    }
}

/// Shorten long values for messages (never shows more than 60 characters).
pub(crate) fn abbreviate(s: &str) -> String {
    let s = crate::facts::redact(s.trim());
    let s = s.as_str();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(57).collect::<String>())
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_id_is_registered_once() {
        for id in RuleId::ALL {
            assert_eq!(RULES.iter().filter(|m| m.id == *id).count(), 1, "{id}");
            assert_eq!(
                REGISTRY.iter().filter(|r| r.meta.id == *id).count(),
                1,
                "{id}"
            );
            assert_eq!(RuleId::parse(id.as_str()), Some(*id));
        }
        assert_eq!(RULES.len(), RuleId::ALL.len());
    }
}
