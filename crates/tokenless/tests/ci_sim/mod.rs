//! A simulated CI runner for tests: runs one job of a CircleCI config or a GitHub Actions
//! workflow, step by step, the way the provider does, against a sandbox registry.
//!
//! - CircleCI: `checkout` copies the package into `~/project`; `run:` (a string, or a mapping
//!   with `command:`, `name:`, `environment:`, `working_directory:`) runs as
//!   `bash -eo pipefail -c SCRIPT` with the built-in variables, then the project's, the bound
//!   contexts', the job's and the step's `environment:`, and `BASH_ENV` naming a per-job file
//!   that starts empty (non-interactive bash sources it by itself). Commands defined in the
//!   config's own `commands:` are expanded (without parameters); orb commands and other step
//!   kinds are skipped with a note. The job's contexts come from the workflow entry's
//!   `context:` (or [`CircleCiJob::contexts`]); its `filters: branches:` are honoured (unless
//!   [`CircleCiJob::ignore_filters`]); `<< pipeline.git.branch >>` is substituted. A job whose
//!   context does not exist or whose restrictions do not admit it is not started (as CircleCI
//!   refuses it).
//! - GitHub Actions: `run:` steps as `bash -e {0}` (or the `shell:` given), `env:` at workflow,
//!   job and step level with `${{ secrets.X }}` from a given map (unknown → ""),
//!   `actions/checkout` copies the package, `actions/setup-node` with `registry-url` writes the
//!   `.npmrc` setup-node writes (pointing at the sandbox instead of registry.npmjs.org) and
//!   exports `NPM_CONFIG_USERCONFIG` and `NODE_AUTH_TOKEN` (its placeholder unless set), and
//!   `ACTIONS_ID_TOKEN_REQUEST_URL`/`_TOKEN` are set only when the job's permissions (job
//!   level, else workflow level) grant `id-token: write`. A job whose environment's protection
//!   does not admit the ref is not started. A composite action of the workspace
//!   (`uses: ./path`) runs its steps with its inputs (defaults, then `with:`); steps see
//!   `inputs.*`, `steps.<id>.outputs.*` and `runner.temp`, and may write `GITHUB_ENV`,
//!   `GITHUB_OUTPUT`, `GITHUB_PATH` and `GITHUB_STEP_SUMMARY`. `if:` is evaluated when it is
//!   made of `always()`, `success()`, `failure()`, `cancelled()` and `==`/`!=` against a
//!   literal, joined by `&&` (else it is noted and the step runs as before); after a failure
//!   only the steps that ask for it run. Other actions are skipped with a note.
//!
//! PATH starts with a shim directory: `circleci` answers `circleci run oidc get --claims JSON`
//! from the sandbox's CircleCI issuer with the job's claims and the `aud` given, unchanged;
//! `npm` turns `npm install -g npm@SPEC` into a note (the host npm must satisfy SPEC; the
//! machine's global npm is never changed) and passes everything else to the real npm, with a
//! user config that names `//registry.npmjs.org/` read as naming the sandbox (the sandbox
//! stands in for the public registry). No npm configuration of the host is visible: HOME is a
//! temporary directory whose `.npmrc` starts empty, the global config is an empty file, and
//! the cache and the global prefix are per job.
//!
//! Output is kept per step with npm tokens and JWTs redacted.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use tokenless_ci::yaml::{Forest, NodeId};

/// Where the jobs run.
#[derive(Debug, Clone)]
pub struct Sim {
    /// The sandbox registry URL, with a trailing slash.
    pub sandbox: String,
    /// What `checkout` copies into the working directory.
    pub package_dir: PathBuf,
    /// A fresh directory for this simulator's homes, shims and workspaces.
    pub work: PathBuf,
}

/// A CircleCI job to run.
#[derive(Clone, Default)]
pub struct CircleCiJob {
    pub config: String,
    pub workflow: String,
    pub job: String,
    pub branch: String,
    /// The sandbox project the pipeline belongs to (`github.com/acme/cli`).
    pub vcs_origin: String,
    /// Project environment variables.
    pub project_env: Vec<(String, String)>,
    /// Context environment variables: (context name, variable, value).
    pub context_env: Vec<(String, String, String)>,
    /// Run the job even where the workflow's `filters` would skip it on this branch (a
    /// branch's own copy of the config without the filter).
    pub ignore_filters: bool,
    /// Run as an SSH rerun.
    pub ssh_rerun: bool,
    /// Bind these contexts instead of the workflow entry's `context:` (a branch's own copy
    /// of the config with the binding changed or removed).
    pub contexts: Option<Vec<String>>,
}

/// A GitHub Actions job to run.
#[derive(Clone, Default)]
pub struct GitHubJob {
    pub workflow: String,
    /// Path of the workflow in the repository (`.github/workflows/publish.yml`).
    pub workflow_path: String,
    pub job: String,
    /// `owner/name`.
    pub repository: String,
    pub branch: String,
    pub event_name: String,
    pub secrets: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// A step exited non-zero (its name).
    Failed(String),
    /// The provider did not start the job (why).
    NotRun(String),
}

#[derive(Debug)]
pub struct StepLog {
    pub name: String,
    /// `None` when skipped.
    pub code: Option<i32>,
    /// stdout and stderr, redacted.
    pub output: String,
}

#[derive(Debug)]
pub struct JobRun {
    pub outcome: Outcome,
    pub steps: Vec<StepLog>,
    pub notes: Vec<String>,
}

impl JobRun {
    pub fn succeeded(&self) -> bool {
        self.outcome == Outcome::Succeeded
    }

    /// Everything, for assertion messages (already redacted).
    pub fn transcript(&self) -> String {
        let mut s = format!("outcome: {:?}\n", self.outcome);
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        for st in &self.steps {
            s.push_str(&format!(
                "--- step {:?} ({})\n{}\n",
                st.name,
                st.code
                    .map_or("skipped".to_owned(), |c| format!("exit {c}")),
                st.output
            ));
        }
        s
    }

    fn not_run(why: String, notes: Vec<String>) -> JobRun {
        JobRun {
            outcome: Outcome::NotRun(why),
            steps: Vec::new(),
            notes,
        }
        .shown()
    }

    /// Prints the transcript when `CI_SIM_VERBOSE` is set (for `--nocapture` runs).
    fn shown(self) -> JobRun {
        if std::env::var_os("CI_SIM_VERBOSE").is_some() {
            eprintln!("=== ci-sim job\n{}", self.transcript());
        }
        self
    }
}

/// Replaces npm tokens (`npm_` + 36 characters) and JWTs by a redacted form.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
    while i < b.len() {
        if text[i..].starts_with("npm_") {
            let n = b[i + 4..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            if n >= 20 {
                let tail = &text[i + 4 + n - 4..i + 4 + n];
                out.push_str("npm_…");
                out.push_str(tail);
                i += 4 + n;
                continue;
            }
        }
        if text[i..].starts_with("eyJ") && (i == 0 || !word(b[i - 1])) {
            let n = b[i..]
                .iter()
                .take_while(|c| word(**c) || **c == b'.')
                .count();
            if text[i..i + n].matches('.').count() == 2 && n > 40 {
                out.push_str("eyJ…(jwt)");
                i += n;
                continue;
            }
        }
        let ch = text[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// `METHOD url` with a JSON body, through node's `fetch` (node is there whenever npm is):
/// status and JSON answer. Loopback only.
pub fn http(method: &str, url: &str, body: Option<&Value>) -> (u16, Value) {
    const SCRIPT: &str = r#"
const [method, url] = process.argv.slice(1);
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", async () => {
  try {
    const init = { method };
    if (input) { init.body = input; init.headers = { "content-type": "application/json" }; }
    const r = await fetch(url, init);
    process.stdout.write(`${r.status}\n${await r.text()}`);
  } catch (e) {
    process.stdout.write(`0\n${JSON.stringify({ error: String(e) })}`);
  }
});
"#;
    let node = which("node").unwrap_or_else(|| panic!("node is not on PATH"));
    let mut child = Command::new(node)
        .args(["-e", SCRIPT, method, url])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("node: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write as _;
        if let Some(b) = body {
            let _ = stdin.write_all(b.to_string().as_bytes());
        }
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("node: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (code, doc) = text.split_once('\n').unwrap_or((&text, ""));
    let status = code.trim().parse().unwrap_or(0);
    (status, serde_json::from_str(doc).unwrap_or(Value::Null))
}

/// The first `name` on the host's PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    let entries = std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    for entry in entries.flatten() {
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("copy {}: {e}", src.display()));
        }
    }
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir: {e}"));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

#[cfg(unix)]
fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755));
}

/// A job's private directories.
struct Dirs {
    root: PathBuf,
    home: PathBuf,
    shims: PathBuf,
}

impl Sim {
    fn dirs(&self, label: &str) -> Dirs {
        let mut n = 0;
        let root = loop {
            let candidate = self.work.join(format!("{label}-{n}"));
            if std::fs::create_dir(&candidate).is_ok() {
                break candidate;
            }
            n += 1;
            assert!(
                n < 10_000,
                "cannot create a job directory in {:?}",
                self.work
            );
        };
        let home = root.join("home");
        let shims = root.join("shims");
        for d in [&home, &shims, &root.join("npm-cache"), &root.join("tmp")] {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("mkdir: {e}"));
        }
        write(&home.join(".npmrc"), "");
        write(&root.join("global-npmrc"), "");
        Dirs { root, home, shims }
    }

    /// The registry's `host:port` as npm's nerf dart names it (`127.0.0.1:PORT`).
    fn registry_host(&self) -> String {
        self.sandbox
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/')
            .to_owned()
    }

    /// Writes the `npm` shim (and, with `oidc_claims`, the `circleci` one).
    fn write_shims(&self, dirs: &Dirs, circleci_claims: Option<&Value>) {
        let node = which("node").unwrap_or_else(|| panic!("node is not on PATH"));
        let npm = which("npm").unwrap_or_else(|| panic!("npm is not on PATH"));
        let host_npm_version = Command::new(&npm)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default();
        let npm_shim = format!(
            r#"#!{node}
// ci-sim: npm, with `npm install -g npm@SPEC` a no-op (the host npm must satisfy SPEC).
const {{ spawnSync }} = require("child_process");
const fs = require("fs");
const path = require("path");
const REAL = {real};
const HOST_VERSION = {version};
const SANDBOX = {sandbox};
const HOST = {host};
const args = process.argv.slice(2);
const words = args.filter((a) => !a.startsWith("-"));
const isInstall = ["install", "i", "add", "in", "ins", "inst", "insta", "instal", "isnt", "isntal", "isntall"].includes(words[0]);
const global = args.some((a) => a === "-g" || a === "--global" || a === "--location=global" || a === "--global=true");
const specs = words.slice(1);
function satisfies(version, spec) {{
  const v = version.split(".").map(Number);
  const m = /^(\^|~|>=)?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(spec);
  if (spec === "latest" || spec === "" || spec === "*") return true;
  if (!m) return false;
  const want = [Number(m[2]), Number(m[3] ?? 0), Number(m[4] ?? 0)];
  const cmp = (a, b) => (a[0] - b[0]) || (a[1] - b[1]) || (a[2] - b[2]);
  if (m[1] === ">=") return cmp(v, want) >= 0;
  if (m[1] === "~") return v[0] === want[0] && v[1] === want[1] && v[2] >= want[2];
  if (m[1] === "^" || m[3] === undefined) return v[0] === want[0] && cmp(v, want) >= 0;
  return cmp(v, want) === 0;
}}
if (isInstall && global && specs.length > 0 && specs.every((s) => s === "npm" || s.startsWith("npm@"))) {{
  for (const s of specs) {{
    const spec = s === "npm" ? "latest" : s.slice(4);
    if (!satisfies(HOST_VERSION, spec)) {{
      console.error(`ci-sim: npm install -g ${{s}}: the host npm ${{HOST_VERSION}} does not satisfy ${{spec}}`);
      process.exit(1);
    }}
    console.log(`ci-sim: skipped npm install -g ${{s}} (the host npm ${{HOST_VERSION}} satisfies it)`);
  }}
  process.exit(0);
}}
// The sandbox stands in for registry.npmjs.org: a user config naming it is read as naming the sandbox.
const env = {{ ...process.env }};
const userconfig = env.npm_config_userconfig || env.NPM_CONFIG_USERCONFIG || path.join(env.HOME || "", ".npmrc");
try {{
  const text = fs.readFileSync(userconfig, "utf8");
  if (text.includes("registry.npmjs.org")) {{
    const mapped = text.split("https://registry.npmjs.org/").join(SANDBOX).split("https://registry.npmjs.org").join(SANDBOX.replace(/\/$/, "")).split("//registry.npmjs.org/").join(`//${{HOST}}/`);
    const copy = path.join({tmp}, `userconfig-${{process.pid}}`);
    fs.writeFileSync(copy, mapped, {{ mode: 0o600 }});
    delete env.NPM_CONFIG_USERCONFIG;
    env.npm_config_userconfig = copy;
  }}
}} catch (e) {{}}
const r = spawnSync(REAL, args, {{ stdio: "inherit", env }});
process.exit(r.status ?? 1);
"#,
            node = node.display(),
            real = json!(npm.display().to_string()),
            version = json!(host_npm_version),
            sandbox = json!(self.sandbox),
            host = json!(self.registry_host()),
            tmp = json!(dirs.root.join("tmp").display().to_string()),
        );
        let p = dirs.shims.join("npm");
        write(&p, &npm_shim);
        make_executable(&p);

        let circleci_shim = format!(
            r#"#!{node}
// ci-sim: the circleci CLI's `run oidc get`, from the sandbox's CircleCI issuer.
const SANDBOX = {sandbox};
const CLAIMS = {claims};
const args = process.argv.slice(2);
function fail(msg) {{ console.error(`Error: ${{msg}}`); process.exit(1); }}
if (!(args[0] === "run" && args[1] === "oidc" && args[2] === "get")) {{
  fail(`ci-sim: only \`circleci run oidc get\` is simulated, not \`circleci ${{args.join(" ")}}\``);
}}
let claimsArg;
for (let i = 3; i < args.length; i++) {{
  if (args[i] === "--claims") {{
    if (i + 1 >= args.length) fail("flag needs an argument: --claims");
    claimsArg = args[++i];
  }} else if (args[i].startsWith("--claims=")) {{
    claimsArg = args[i].slice("--claims=".length);
  }} else {{
    fail(`unknown flag: ${{args[i]}}`);
  }}
}}
const claims = {{ ...CLAIMS }};
if (claimsArg !== undefined) {{
  let custom;
  try {{ custom = JSON.parse(claimsArg); }} catch (e) {{ fail(`invalid claims: ${{e.message}}`); }}
  if (custom === null || typeof custom !== "object" || Array.isArray(custom)) fail("invalid claims: must be a JSON object");
  for (const [k, v] of Object.entries(custom)) {{
    if (k !== "aud") fail(`claim ${{JSON.stringify(k)}} cannot be customised; only "aud" can`);
    claims.aud = v;
  }}
}}
(async () => {{
  const r = await fetch(`${{SANDBOX}}-/sandbox/oidc/circleci/token`, {{
    method: "POST", headers: {{ "content-type": "application/json" }}, body: JSON.stringify(claims),
  }});
  const body = await r.json().catch(() => ({{}}));
  if (r.status !== 200 || typeof body.token !== "string") fail(`failed to get an OIDC token (${{r.status}}): ${{body.error ?? body.message ?? ""}}`);
  process.stdout.write(body.token + "\n");
}})().catch((e) => fail(String(e)));
"#,
            node = node.display(),
            sandbox = json!(self.sandbox),
            claims = circleci_claims.cloned().unwrap_or(Value::Null),
        );
        if circleci_claims.is_some() {
            let p = dirs.shims.join("circleci");
            write(&p, &circleci_shim);
            make_executable(&p);
        }
    }

    /// The environment every step starts from: nothing of the host but PATH (after the shims).
    fn base_env(&self, dirs: &Dirs) -> Vec<(String, String)> {
        let host_path = std::env::var("PATH").unwrap_or_default();
        let kv = |k: &str, v: String| (k.to_owned(), v);
        let prefix = dirs.root.join("npm-prefix");
        vec![
            kv(
                "PATH",
                format!(
                    "{}:{}:{host_path}",
                    dirs.shims.display(),
                    prefix.join("bin").display()
                ),
            ),
            // Any other global install lands here, never in the machine's prefix.
            kv("npm_config_prefix", prefix.display().to_string()),
            kv("HOME", dirs.home.display().to_string()),
            kv("USER", "runner".into()),
            kv("LANG", "C.UTF-8".into()),
            kv("TMPDIR", dirs.root.join("tmp").display().to_string()),
            kv("CI", "true".into()),
            kv("NO_COLOR", "1".into()),
            kv("npm_config_registry", self.sandbox.clone()),
            kv(
                "npm_config_cache",
                dirs.root.join("npm-cache").display().to_string(),
            ),
            kv(
                "npm_config_globalconfig",
                dirs.root.join("global-npmrc").display().to_string(),
            ),
            kv("npm_config_update_notifier", "false".into()),
            kv("npm_config_audit", "false".into()),
            kv("npm_config_fund", "false".into()),
        ]
    }

    // ------------------------------------------------------------------ CircleCI

    pub fn run_circleci(&self, job: &CircleCiJob) -> JobRun {
        let mut notes = Vec::new();
        let mut forest = Forest::default();
        let root = match forest.parse(".circleci/config.yml", &job.config) {
            Ok(r) => r,
            Err(e) => return JobRun::not_run(format!("config does not parse: {e:?}"), notes),
        };
        let f = &forest;
        // The workflow entry of the job.
        let Some(wf_jobs) = f.path(root, &["workflows", &job.workflow, "jobs"]) else {
            return JobRun::not_run(format!("no workflow {:?}", job.workflow), notes);
        };
        let mut entry: Option<(String, Option<NodeId>)> = None;
        for item in f.items(wf_jobs) {
            if let Some(name) = f.str(*item) {
                if name == job.job {
                    entry = Some((name.to_owned(), None));
                }
            } else if let Some((k, v)) = f.entries(*item).first() {
                let key = f.text(*k);
                let alias = f.get(*v, "name").and_then(|n| f.str(n));
                if key == job.job || alias == Some(job.job.as_str()) {
                    entry = Some((key.to_owned(), Some(*v)));
                }
            }
        }
        let Some((job_key, params)) = entry else {
            return JobRun::not_run(
                format!("workflow {:?} has no job {:?}", job.workflow, job.job),
                notes,
            );
        };
        let bound: Vec<String> = params
            .and_then(|p| f.get(p, "context"))
            .map(|c| {
                f.str_or_list(c)
                    .into_iter()
                    .map(|(_, s)| s.to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let contexts = match &job.contexts {
            Some(c) => {
                notes.push(format!(
                    "contexts {c:?} instead of the workflow's {bound:?}"
                ));
                c.clone()
            }
            None => bound,
        };
        if let Some(filters) = params.and_then(|p| f.path(p, &["filters", "branches"])) {
            let only: Vec<&str> = f
                .get(filters, "only")
                .map(|n| f.str_or_list(n).into_iter().map(|(_, s)| s).collect())
                .unwrap_or_default();
            let ignore: Vec<&str> = f
                .get(filters, "ignore")
                .map(|n| f.str_or_list(n).into_iter().map(|(_, s)| s).collect())
                .unwrap_or_default();
            let matches = |pat: &str| {
                if pat.len() > 1 && pat.starts_with('/') && pat.ends_with('/') {
                    // Regex filters: only the forms the tests use (an exact anchored name).
                    pat.trim_matches('/') == job.branch
                } else {
                    pat == job.branch
                }
            };
            let admitted = (only.is_empty() || only.iter().any(|p| matches(p)))
                && !ignore.iter().any(|p| matches(p));
            if !admitted {
                if job.ignore_filters {
                    notes.push(format!(
                        "filters would skip {:?} on {:?}; run anyway (ignore_filters)",
                        job.job, job.branch
                    ));
                } else {
                    return JobRun::not_run(
                        format!("filtered out on branch {:?}", job.branch),
                        notes,
                    );
                }
            }
        }
        let Some(job_node) = f.path(root, &["jobs", &job_key]) else {
            return JobRun::not_run(format!("no job definition {job_key:?}"), notes);
        };

        // The project and the contexts, as the sandbox's CircleCI knows them.
        let (status, info) = http("GET", &format!("{}-/sandbox/info", self.sandbox), None);
        assert_eq!(status, 200, "GET /-/sandbox/info: {status}");
        let Some(project) = info["circleci"]["projects"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["vcs_origin"] == job.vcs_origin.as_str())
            .cloned()
        else {
            return JobRun::not_run(
                format!("the sandbox has no CircleCI project {:?}", job.vcs_origin),
                notes,
            );
        };
        let mut context_ids = Vec::new();
        for name in &contexts {
            let id = info["circleci"]["contexts"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|c| c["name"] == name.as_str())
                .and_then(|c| c["id"].as_str());
            match id {
                Some(id) => context_ids.push(id.to_owned()),
                None => {
                    return JobRun::not_run(format!("context {name:?} not found"), notes);
                }
            }
        }
        let claims = json!({
            "oidc.circleci.com/project-id": project["id"],
            "oidc.circleci.com/pipeline-definition-id": project["pipeline_definition_id"],
            "oidc.circleci.com/vcs-origin": project["vcs_origin"],
            "oidc.circleci.com/vcs-ref": format!("refs/heads/{}", job.branch),
            "oidc.circleci.com/context-ids": context_ids,
            "oidc.circleci.com/ssh-rerun": job.ssh_rerun,
        });
        // CircleCI does not start a job whose contexts' restrictions do not admit it: ask the
        // issuer (which applies the same restrictions) once before any step.
        if !contexts.is_empty() {
            let (status, answer) = http(
                "POST",
                &format!("{}-/sandbox/oidc/circleci/token", self.sandbox),
                Some(&claims),
            );
            if status != 200 {
                return JobRun::not_run(
                    answer["error"]
                        .as_str()
                        .or(answer["message"].as_str())
                        .unwrap_or("Unauthorized")
                        .to_owned(),
                    notes,
                );
            }
        }

        let dirs = self.dirs("circleci");
        self.write_shims(&dirs, Some(&claims));
        let bash_env = dirs.root.join("bash_env");
        write(&bash_env, "");
        let project_dir = dirs.home.join("project");
        std::fs::create_dir_all(&project_dir).unwrap_or_else(|e| panic!("mkdir: {e}"));
        let workdir = f
            .get(job_node, "working_directory")
            .and_then(|n| f.str(n))
            .map(|w| resolve_home(w, &dirs.home, &project_dir))
            .unwrap_or_else(|| project_dir.clone());
        std::fs::create_dir_all(&workdir).unwrap_or_else(|e| panic!("mkdir: {e}"));

        let mut env = self.base_env(&dirs);
        let kv = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let reponame = job.vcs_origin.rsplit('/').next().unwrap_or_default();
        env.extend([
            kv("CIRCLECI", "true"),
            kv("CIRCLE_BRANCH", &job.branch),
            kv("CIRCLE_JOB", &job.job),
            kv("CIRCLE_PROJECT_REPONAME", reponame),
            kv("CIRCLE_WORKING_DIRECTORY", &workdir.display().to_string()),
            kv("BASH_ENV", &bash_env.display().to_string()),
        ]);
        env.extend(job.project_env.iter().cloned());
        for ctx in &contexts {
            env.extend(
                job.context_env
                    .iter()
                    .filter(|(c, _, _)| c == ctx)
                    .map(|(_, k, v)| (k.clone(), v.clone())),
            );
        }
        env.extend(env_map(f, f.get(job_node, "environment")));

        let mut steps = Vec::new();
        let Some(step_list) = f.get(job_node, "steps") else {
            return JobRun::not_run(format!("job {job_key:?} has no steps"), notes);
        };
        let mut queue: Vec<NodeId> = f.items(step_list).to_vec();
        queue.reverse();
        let mut expanded = 0;
        while let Some(step) = queue.pop() {
            let (kind, body) = match f.str(step) {
                Some(s) => (s.to_owned(), None),
                None => match f.entries(step).first() {
                    Some((k, v)) => (f.text(*k).to_owned(), Some(*v)),
                    None => continue,
                },
            };
            match kind.as_str() {
                "checkout" => {
                    let to = body
                        .and_then(|b| f.get(b, "path"))
                        .and_then(|p| f.str(p))
                        .map_or_else(
                            || workdir.clone(),
                            |p| resolve_home(p, &dirs.home, &workdir),
                        );
                    copy_dir(&self.package_dir, &to);
                    steps.push(StepLog {
                        name: "checkout".into(),
                        code: Some(0),
                        output: String::new(),
                    });
                }
                "run" => {
                    let Some(body) = body else { continue };
                    let (name, command, step_env, dir) = if let Some(cmd) = f.str(body) {
                        (
                            cmd.lines().next().unwrap_or_default().to_owned(),
                            cmd.to_owned(),
                            Vec::new(),
                            None,
                        )
                    } else {
                        let command = f
                            .get(body, "command")
                            .map(|c| f.text(c))
                            .unwrap_or_default();
                        let name = f
                            .get(body, "name")
                            .and_then(|n| f.str(n))
                            .map(str::to_owned)
                            .unwrap_or_else(|| {
                                command.lines().next().unwrap_or_default().to_owned()
                            });
                        for unsupported in ["shell", "background", "when", "no_output_timeout"] {
                            if f.get(body, unsupported).is_some() {
                                notes
                                    .push(format!("step {name:?}: `{unsupported}:` not simulated"));
                            }
                        }
                        let dir = f
                            .get(body, "working_directory")
                            .and_then(|n| f.str(n))
                            .map(|w| resolve_home(w, &dirs.home, &workdir));
                        (
                            name,
                            command.to_owned(),
                            env_map(f, f.get(body, "environment")),
                            dir,
                        )
                    };
                    let command = pipeline_values(&command, &job.branch, &mut notes);
                    let mut all = env.clone();
                    all.extend(step_env);
                    let dir = dir.unwrap_or_else(|| workdir.clone());
                    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir: {e}"));
                    let mut cmd = Command::new("bash");
                    cmd.args(["-eo", "pipefail", "-c", &command]);
                    let log = run_step(cmd, &all, &dir, &name);
                    let failed = log.code != Some(0);
                    steps.push(log);
                    if failed {
                        return JobRun {
                            outcome: Outcome::Failed(name),
                            steps,
                            notes,
                        }
                        .shown();
                    }
                }
                other => {
                    let own = f.path(root, &["commands", other, "steps"]);
                    match own {
                        Some(list) if expanded < 100 => {
                            expanded += 1;
                            if body.is_some_and(|b| !f.entries(b).is_empty()) {
                                notes.push(format!("command {other:?}: parameters not simulated"));
                            }
                            for s in f.items(list).iter().rev() {
                                queue.push(*s);
                            }
                        }
                        _ => {
                            notes.push(format!("skipped step {other:?}"));
                            steps.push(StepLog {
                                name: other.to_owned(),
                                code: None,
                                output: String::new(),
                            });
                        }
                    }
                }
            }
        }
        JobRun {
            outcome: Outcome::Succeeded,
            steps,
            notes,
        }
        .shown()
    }

    // ------------------------------------------------------------------ GitHub Actions

    pub fn run_github(&self, job: &GitHubJob) -> JobRun {
        let mut notes = Vec::new();
        let mut forest = Forest::default();
        let root = match forest.parse(&job.workflow_path, &job.workflow) {
            Ok(r) => r,
            Err(e) => return JobRun::not_run(format!("workflow does not parse: {e:?}"), notes),
        };
        let f = &forest;
        let Some(job_node) = f.path(root, &["jobs", &job.job]) else {
            return JobRun::not_run(format!("no job {:?}", job.job), notes);
        };
        let git_ref = format!("refs/heads/{}", job.branch);
        let environment = f.get(job_node, "environment").and_then(|e| {
            f.str(e)
                .or_else(|| f.get(e, "name").and_then(|n| f.str(n)))
                .map(str::to_owned)
        });
        let permissions = f
            .get(job_node, "permissions")
            .or_else(|| f.get(root, "permissions"));
        let id_token = permissions.is_some_and(|p| match f.str(p) {
            Some(s) => s == "write-all",
            None => f.get(p, "id-token").and_then(|v| f.str(v)) == Some("write"),
        });
        let mut claims = json!({
            "repository": job.repository,
            "repository_owner": job.repository.split('/').next().unwrap_or_default(),
            "ref": git_ref,
            "ref_type": "branch",
            "event_name": job.event_name,
            "workflow_ref": format!("{}/{}@{}", job.repository, job.workflow_path, git_ref),
            "job_workflow_ref": format!("{}/{}@{}", job.repository, job.workflow_path, git_ref),
        });
        if let Some(env) = &environment {
            claims["environment"] = json!(env);
        }
        let encoded = {
            use base64::Engine as _;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string())
        };
        let request_url = format!(
            "{}-/sandbox/oidc/github/actions-token?claims={encoded}",
            self.sandbox
        );
        // GitHub does not start a job whose environment's protection rules do not admit
        // the ref: ask the issuer (which applies them) once.
        if environment.is_some() {
            let (status, answer) = http("GET", &request_url, None);
            if status != 200 {
                return JobRun::not_run(
                    answer["error"]
                        .as_str()
                        .or(answer["message"].as_str())
                        .unwrap_or("environment protection")
                        .to_owned(),
                    notes,
                );
            }
        }
        if f.get(job_node, "if").is_some() {
            notes.push("job `if:` not evaluated".into());
        }

        let dirs = self.dirs("github");
        self.write_shims(&dirs, None);
        let workspace = dirs.root.join("workspace");
        let runner_temp = dirs.root.join("runner-temp");
        for d in [&workspace, &runner_temp] {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("mkdir: {e}"));
        }
        let runner_temp_text = runner_temp.display().to_string();
        let ctx = Expr {
            unknown: std::cell::RefCell::new(Vec::new()),
            secrets: &job.secrets,
            git_ref: &git_ref,
            branch: &job.branch,
            repository: &job.repository,
            event_name: &job.event_name,
            runner_temp: &runner_temp_text,
            inputs: BTreeMap::new(),
            outputs: Default::default(),
        };
        let kv = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        let mut base = self.base_env(&dirs);
        base.extend([
            kv("GITHUB_ACTIONS", "true"),
            kv("GITHUB_REPOSITORY", &job.repository),
            kv("GITHUB_REF", &git_ref),
            kv("GITHUB_REF_NAME", &job.branch),
            kv("GITHUB_EVENT_NAME", &job.event_name),
            kv("GITHUB_WORKSPACE", &workspace.display().to_string()),
            kv("RUNNER_TEMP", &runner_temp.display().to_string()),
            kv(
                "NPM_CONFIG_USERCONFIG",
                &dirs.home.join(".npmrc").display().to_string(),
            ),
        ]);
        if id_token {
            base.push(kv("ACTIONS_ID_TOKEN_REQUEST_URL", &request_url));
            base.push(kv("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ci-sim-request-token"));
        }
        let workflow_env = gh_env(f, f.get(root, "env"), &ctx);
        let job_env = gh_env(f, f.get(job_node, "env"), &ctx);
        let default_shell = f
            .path(job_node, &["defaults", "run", "shell"])
            .or_else(|| f.path(root, &["defaults", "run", "shell"]))
            .and_then(|s| f.str(s))
            .map(str::to_owned);
        let Some(step_list) = f.get(job_node, "steps") else {
            return JobRun::not_run("job has no steps".into(), notes);
        };
        let mut run = GhRun {
            base,
            exported: Vec::new(),
            paths: Vec::new(),
            steps: Vec::new(),
            notes,
            failed: None,
            workspace,
            runner_temp,
            default_shell,
            scripts: 0,
        };
        let layers: Vec<(String, String)> = workflow_env.into_iter().chain(job_env).collect();
        self.gh_steps(f, step_list, &ctx, &layers, &mut run, "");
        run.notes.extend(ctx.unknown.take());
        JobRun {
            outcome: run.failed.map_or(Outcome::Succeeded, Outcome::Failed),
            steps: run.steps,
            notes: run.notes,
        }
        .shown()
    }

    /// Runs `list`'s steps in order, as GitHub does: after a failure only the steps whose
    /// `if:` asks for it (`always()`, `failure()`) run. `layers` is the environment the
    /// steps inherit (workflow and job `env:`, or a composite step's), `label` prefixes step
    /// names inside a composite action.
    fn gh_steps(
        &self,
        f: &Forest,
        list: NodeId,
        ctx: &Expr<'_>,
        layers: &[(String, String)],
        run: &mut GhRun,
        label: &str,
    ) {
        let kv = |k: &str, v: &Path| (k.to_owned(), v.display().to_string());
        for step in f.items(list) {
            let step = *step;
            let step_env = gh_env(f, f.get(step, "env"), ctx);
            let mut env = run.base.clone();
            env.extend(run.exported.iter().cloned());
            env.extend(layers.iter().cloned());
            env.extend(step_env.iter().cloned());
            if !run.paths.is_empty() {
                let path = env
                    .iter()
                    .rev()
                    .find(|(k, _)| k == "PATH")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                env.push(("PATH".into(), format!("{}:{path}", run.paths.join(":"))));
            }
            let go = match f.get(step, "if").and_then(|c| f.str(c)) {
                None => run.failed.is_none(),
                Some(cond) => ctx
                    .condition(cond, run.failed.is_some())
                    .unwrap_or_else(|| {
                        run.notes
                            .push(format!("{label}`if: {cond}` not evaluated (run)"));
                        run.failed.is_none()
                    }),
            };
            let uses = f.get(step, "uses").and_then(|u| f.str(u));
            let name = f
                .get(step, "name")
                .and_then(|n| f.str(n))
                .map(str::to_owned)
                .or_else(|| uses.map(str::to_owned))
                .unwrap_or_else(|| {
                    let script = f.get(step, "run").and_then(|r| f.str(r)).unwrap_or("");
                    format!("Run {}", script.lines().next().unwrap_or_default())
                });
            let name = format!("{label}{name}");
            if !go {
                if run.failed.is_none() {
                    run.steps.push(StepLog {
                        name,
                        code: None,
                        output: "skipped: its `if:` is false".into(),
                    });
                }
                continue;
            }
            if let Some(uses) = uses {
                self.gh_uses(f, step, uses, ctx, layers, &step_env, run, &name);
                continue;
            }
            let Some(script) = f.get(step, "run").and_then(|r| f.str(r)) else {
                run.notes
                    .push(format!("{name}: neither `run:` nor `uses:`"));
                continue;
            };
            let script = ctx.expand(script);
            let dir = f
                .get(step, "working-directory")
                .and_then(|d| f.str(d))
                .map(|d| run.workspace.join(ctx.expand(d)))
                .unwrap_or_else(|| run.workspace.clone());
            run.scripts += 1;
            let script_path = run.runner_temp.join(format!("step-{}.sh", run.scripts));
            write(&script_path, &script);
            let shell = f
                .get(step, "shell")
                .and_then(|s| f.str(s))
                .map(str::to_owned)
                .or_else(|| run.default_shell.clone());
            let cmd = gh_shell(shell.as_deref(), &script_path.display().to_string());
            let files = ["github_env", "github_output", "github_path", "step_summary"]
                .map(|n| run.runner_temp.join(n));
            for file in &files[..3] {
                write(file, "");
            }
            env.extend([
                kv("GITHUB_ENV", &files[0]),
                kv("GITHUB_OUTPUT", &files[1]),
                kv("GITHUB_PATH", &files[2]),
                kv("GITHUB_STEP_SUMMARY", &files[3]),
            ]);
            let log = run_step(cmd, &env, &dir, &name);
            if log.code != Some(0) {
                run.failed.get_or_insert(name);
            } else {
                run.exported.extend(read_github_env(&files[0]));
                if let Some(id) = f.get(step, "id").and_then(|i| f.str(i)) {
                    let mut outputs = ctx.outputs.borrow_mut();
                    for (k, v) in read_github_env(&files[1]) {
                        outputs.insert(format!("{id}.{k}"), v);
                    }
                }
                let added = std::fs::read_to_string(&files[2]).unwrap_or_default();
                for line in added.lines().filter(|l| !l.trim().is_empty()) {
                    run.paths.insert(0, line.trim().to_owned());
                }
            }
            run.steps.push(log);
        }
    }

    /// A `uses:` step: checkout, setup-node, a composite action of the workspace (`./path`);
    /// any other action is skipped with a note.
    #[allow(clippy::too_many_arguments)]
    fn gh_uses(
        &self,
        f: &Forest,
        step: NodeId,
        uses: &str,
        ctx: &Expr<'_>,
        layers: &[(String, String)],
        step_env: &[(String, String)],
        run: &mut GhRun,
        name: &str,
    ) {
        let action = uses.split('@').next().unwrap_or_default();
        let with = |k: &str| {
            f.path(step, &["with", k])
                .and_then(|n| f.str(n))
                .map(|s| ctx.expand(s))
        };
        let kv = |k: &str, v: &str| (k.to_owned(), v.to_owned());
        match action {
            "actions/checkout" => {
                copy_dir(&self.package_dir, &run.workspace);
                run.steps.push(StepLog {
                    name: name.to_owned(),
                    code: Some(0),
                    output: String::new(),
                });
            }
            "actions/setup-node" => {
                let mut output = String::new();
                if let Some(url) = with("registry-url") {
                    let url = if url.contains("registry.npmjs.org") {
                        self.sandbox.clone()
                    } else {
                        url
                    };
                    let url = if url.ends_with('/') {
                        url
                    } else {
                        format!("{url}/")
                    };
                    let nerf = url
                        .trim_start_matches("http:")
                        .trim_start_matches("https:")
                        .to_owned();
                    let mut npmrc = format!("{nerf}:_authToken=${{NODE_AUTH_TOKEN}}\n");
                    match with("scope") {
                        Some(scope) => {
                            let scope = if scope.starts_with('@') {
                                scope
                            } else {
                                format!("@{scope}")
                            };
                            npmrc.push_str(&format!("{scope}:registry={url}\n"));
                        }
                        None => npmrc.push_str(&format!("registry={url}\n")),
                    }
                    let path = run.runner_temp.join(".npmrc");
                    write(&path, &npmrc);
                    run.exported
                        .push(kv("NPM_CONFIG_USERCONFIG", &path.display().to_string()));
                    let token = step_env
                        .iter()
                        .rev()
                        .chain(layers.iter().rev())
                        .find(|(k, _)| k == "NODE_AUTH_TOKEN")
                        .map(|(_, v)| v.clone())
                        .unwrap_or_else(|| "XXXXX-XXXXX-XXXXX-XXXXX".to_owned());
                    run.exported.push(kv("NODE_AUTH_TOKEN", &token));
                    output = format!("wrote {} for {url}", path.display());
                }
                run.notes.push(format!(
                    "{uses}: the host's node is used (node-version {:?} not installed)",
                    with("node-version").unwrap_or_default()
                ));
                run.steps.push(StepLog {
                    name: name.to_owned(),
                    code: Some(0),
                    output,
                });
            }
            local if local.starts_with("./") => {
                let dir = run.workspace.join(local.trim_start_matches("./"));
                let file = ["action.yml", "action.yaml"]
                    .map(|n| dir.join(n))
                    .into_iter()
                    .find(|p| p.is_file());
                let text = file.as_ref().and_then(|p| std::fs::read_to_string(p).ok());
                let mut af = Forest::default();
                let parsed = text.as_deref().map(|t| af.parse("action.yml", t));
                let Some(Ok(root)) = parsed else {
                    run.steps.push(StepLog {
                        name: name.to_owned(),
                        code: Some(1),
                        output: format!("no readable action.yml in {}", dir.display()),
                    });
                    run.failed.get_or_insert(name.to_owned());
                    return;
                };
                let using = af.path(root, &["runs", "using"]).and_then(|u| af.str(u));
                let Some(steps) = af
                    .path(root, &["runs", "steps"])
                    .filter(|_| using == Some("composite"))
                else {
                    run.notes
                        .push(format!("skipped step {uses:?}: not a composite action"));
                    return;
                };
                // Inputs: the action's defaults, then the step's `with:`.
                let mut inputs = BTreeMap::new();
                if let Some(spec) = af.get(root, "inputs") {
                    for (k, v) in af.entries(spec) {
                        let default = af.get(*v, "default").map(|d| ctx.expand(af.text(d)));
                        inputs.insert(af.text(*k).to_owned(), default.unwrap_or_default());
                    }
                }
                if let Some(given) = f.get(step, "with") {
                    for (k, v) in f.entries(given) {
                        inputs.insert(f.text(*k).to_owned(), ctx.expand(f.text(*v)));
                    }
                }
                let inner = Expr {
                    inputs,
                    outputs: Default::default(),
                    unknown: Default::default(),
                    ..*ctx
                };
                let layers: Vec<(String, String)> =
                    layers.iter().chain(step_env).cloned().collect();
                self.gh_steps(&af, steps, &inner, &layers, run, &format!("{name}: "));
                run.notes.extend(inner.unknown.take());
            }
            _ => {
                run.notes.push(format!("skipped step {uses:?}"));
                run.steps.push(StepLog {
                    name: name.to_owned(),
                    code: None,
                    output: String::new(),
                });
            }
        }
    }
}

/// What a GitHub job has done so far.
struct GhRun {
    base: Vec<(String, String)>,
    /// Variables exported by earlier steps (GITHUB_ENV, setup-node).
    exported: Vec<(String, String)>,
    /// Directories added through GITHUB_PATH, the latest first.
    paths: Vec<String>,
    steps: Vec<StepLog>,
    notes: Vec<String>,
    /// The first step that failed.
    failed: Option<String>,
    workspace: PathBuf,
    runner_temp: PathBuf,
    default_shell: Option<String>,
    /// Scripts written so far (each step's gets its own file).
    scripts: usize,
}

/// The command GitHub runs a script file with, for a `shell:` (or the default, bash).
fn gh_shell(shell: Option<&str>, file: &str) -> Command {
    match shell {
        None => {
            let mut c = Command::new("bash");
            c.args(["-e", file]);
            c
        }
        Some("bash") => {
            let mut c = Command::new("bash");
            c.args(["--noprofile", "--norc", "-eo", "pipefail", file]);
            c
        }
        Some("sh") => {
            let mut c = Command::new("sh");
            c.args(["-e", file]);
            c
        }
        Some(other) => {
            let parts: Vec<String> = other
                .replace("{0}", file)
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            let mut c = Command::new(&parts[0]);
            c.args(&parts[1..]);
            c
        }
    }
}

/// CircleCI's compile-time `<< pipeline.git.branch >>` (and `<< pipeline.git.tag >>`, empty on
/// a branch); other `<< … >>` are left alone with a note.
fn pipeline_values(command: &str, branch: &str, notes: &mut Vec<String>) -> String {
    let mut out = String::new();
    let mut rest = command;
    while let Some(start) = rest.find("<<") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find(">>") {
            Some(end) => {
                match after[..end].trim() {
                    "pipeline.git.branch" => out.push_str(branch),
                    "pipeline.git.tag" => {}
                    other => {
                        notes.push(format!("<< {other} >> not substituted"));
                        out.push_str(&rest[start..start + 2 + end + 2]);
                    }
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `~/x` → HOME/x; a relative path → under `base`.
fn resolve_home(w: &str, home: &Path, base: &Path) -> PathBuf {
    if w == "~" {
        home.to_owned()
    } else if let Some(rest) = w.strip_prefix("~/") {
        home.join(rest)
    } else if Path::new(w).is_absolute() {
        PathBuf::from(w)
    } else {
        base.join(w)
    }
}

/// A CircleCI `environment:` mapping (or list of `K=V` / single-entry maps).
fn env_map(f: &Forest, node: Option<NodeId>) -> Vec<(String, String)> {
    let Some(node) = node else { return Vec::new() };
    let mut out = Vec::new();
    for (k, v) in f.entries(node) {
        out.push((f.text(*k).to_owned(), f.text(*v).to_owned()));
    }
    for item in f.items(node) {
        if let Some((k, v)) = f.str(*item).and_then(|s| s.split_once('=')) {
            out.push((k.to_owned(), v.to_owned()));
        }
        for (k, v) in f.entries(*item) {
            out.push((f.text(*k).to_owned(), f.text(*v).to_owned()));
        }
    }
    out
}

/// GitHub's expression context, as far as the tests need it.
struct Expr<'a> {
    unknown: std::cell::RefCell<Vec<String>>,
    secrets: &'a BTreeMap<String, String>,
    git_ref: &'a str,
    branch: &'a str,
    repository: &'a str,
    event_name: &'a str,
    runner_temp: &'a str,
    /// A composite action's inputs (empty for a workflow's own steps).
    inputs: BTreeMap<String, String>,
    /// `steps.<id>.outputs.<name>` as `<id>.<name>`.
    outputs: std::cell::RefCell<BTreeMap<String, String>>,
}

impl Expr<'_> {
    fn value(&self, expr: &str) -> String {
        let e = expr.trim();
        if let Some(name) = e.strip_prefix("secrets.") {
            return self.secrets.get(name).cloned().unwrap_or_default();
        }
        if let Some(name) = e.strip_prefix("inputs.") {
            return self.inputs.get(name).cloned().unwrap_or_default();
        }
        if let Some((id, name)) = e
            .strip_prefix("steps.")
            .and_then(|rest| rest.split_once(".outputs."))
        {
            let key = format!("{id}.{name}");
            return self.outputs.borrow().get(&key).cloned().unwrap_or_default();
        }
        match e {
            "runner.temp" => self.runner_temp.to_owned(),
            "github.ref" => self.git_ref.to_owned(),
            "github.ref_name" => self.branch.to_owned(),
            "github.repository" => self.repository.to_owned(),
            "github.event_name" => self.event_name.to_owned(),
            other => {
                self.unknown
                    .borrow_mut()
                    .push(format!("${{{{ {other} }}}} evaluated as \"\""));
                String::new()
            }
        }
    }

    /// A step's `if:` when it is made of what the tests use, joined by `&&`: `always()`,
    /// `success()`, `failure()`, `cancelled()` and `X == 'literal'` / `X != 'literal'`. Without
    /// a status function the step runs only when nothing failed, as on GitHub. `None`: not
    /// understood.
    fn condition(&self, text: &str, failed: bool) -> Option<bool> {
        let e = text.trim();
        let e = e
            .strip_prefix("${{")
            .and_then(|r| r.strip_suffix("}}"))
            .unwrap_or(e)
            .trim();
        if e.contains("||") || e.contains('!') && !e.contains("!=") {
            return None;
        }
        let mut status: Option<bool> = None;
        let mut holds = true;
        for term in e.split("&&").map(str::trim) {
            let from_status = match term {
                "always()" => Some(true),
                "success()" => Some(!failed),
                "failure()" => Some(failed),
                "cancelled()" => Some(false),
                _ => None,
            };
            if let Some(b) = from_status {
                status = Some(status.unwrap_or(true) && b);
                continue;
            }
            let (left, equal, right) = match (term.split_once("=="), term.split_once("!=")) {
                (Some((l, r)), None) => (l, true, r),
                (None, Some((l, r))) => (l, false, r),
                _ => return None,
            };
            let right = right.trim();
            let literal = right
                .strip_prefix('\'')
                .and_then(|r| r.strip_suffix('\''))
                .or(matches!(right, "true" | "false").then_some(right))?;
            holds &= (self.value(left) == literal) == equal;
        }
        Some(holds && status.unwrap_or(!failed))
    }

    /// Replaces every `${{ … }}`.
    fn expand(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 3..];
            match after.find("}}") {
                Some(end) => {
                    out.push_str(&self.value(&after[..end]));
                    rest = &after[end + 2..];
                }
                None => {
                    out.push_str(&rest[start..]);
                    rest = "";
                }
            }
        }
        out.push_str(rest);
        out
    }
}

fn gh_env(f: &Forest, node: Option<NodeId>, ctx: &Expr<'_>) -> Vec<(String, String)> {
    let Some(node) = node else { return Vec::new() };
    f.entries(node)
        .iter()
        .map(|(k, v)| (f.text(*k).to_owned(), ctx.expand(f.text(*v))))
        .collect()
}

/// `NAME=value` lines and `NAME<<DELIM` blocks of a `GITHUB_ENV` file.
fn read_github_env(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.push((name.to_owned(), value.join("\n")));
        } else if let Some((k, v)) = line.split_once('=') {
            out.push((k.to_owned(), v.to_owned()));
        }
    }
    out
}

fn run_step(mut cmd: Command, env: &[(String, String)], dir: &Path, name: &str) -> StepLog {
    cmd.env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.current_dir(dir).stdin(std::process::Stdio::null());
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("step {name:?}: cannot start: {e}"));
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    StepLog {
        name: name.to_owned(),
        code: Some(out.status.code().unwrap_or(-1)),
        output: redact(&output),
    }
}

/// The host npm's version when it is at least `major.minor`, else why not.
pub fn npm_at_least(major: u64, minor: u64) -> Result<String, String> {
    let Some(npm) = which("npm") else {
        return Err("npm is not on PATH".into());
    };
    let out = Command::new(npm)
        .arg("--version")
        .env("NO_UPDATE_NOTIFIER", "1")
        .output()
        .map_err(|e| format!("npm --version: {e}"))?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let mut parts = v.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let (ma, mi) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (ma, mi) >= (major, minor) {
        Ok(v)
    } else {
        Err(format!("npm {v} is older than {major}.{minor}"))
    }
}
