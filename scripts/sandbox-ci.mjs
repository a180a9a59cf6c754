#!/usr/bin/env node
// A CI provider for a tokenless sandbox, for rehearsals, tests and the main job.
//
//   node scripts/sandbox-ci.mjs push URL
//       "Merge" the fixed CI configs: push the publish configs of the `migrated` scenario
//       (crates/tokenless-sandbox/scenarios/migrated.json) to the sandbox's CircleCI
//       projects, GitHub repositories and GitLab projects (POST /-/sandbox/push).
//   node scripts/sandbox-ci.mjs release-all URL
//       `release` of every package of the org, each at its next patch version.
//   node scripts/sandbox-ci.mjs release URL PACKAGE VERSION [BRANCH]
//       Run the publish job of PACKAGE the way its CI would after the fix: the job gets an
//       id token from the sandbox's issuer (CircleCI with the `npm-publish` context, GitHub
//       or GitLab with the `npm` environment), and the real npm CLI publishes VERSION with
//       nothing but that id token (no npm token anywhere). The provider is the one the
//       package's package.json repository points at. BRANCH defaults to main.
//
// Exit code: 0 done, 1 refused (the output says by whom), 2 usage.

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const [cmd, url, ...rest] = process.argv.slice(2);
const usage = () => {
  console.error("usage: sandbox-ci.mjs push URL | release-all URL | release URL PACKAGE VERSION [BRANCH]");
  process.exit(2);
};
if (!cmd || !url) usage();
const base = url.endsWith("/") ? url : url + "/";

async function call(method, path, body) {
  const r = await fetch(base + path, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = { text }; }
  return { status: r.status, json };
}

function originOf(url) {
  if (!url) return null;
  let u = url.replace(/^git\+/, "").replace(/\.git$/, "");
  const m = u.match(/^(?:[a-z]+:\/\/)?(?:[^@/]+@)?([^/:]+)[/:](.+)$/);
  return m ? `${m[1]}/${m[2]}` : null;
}

async function push() {
  const scenario = JSON.parse(
    readFileSync(join(here, "..", "crates/tokenless-sandbox/scenarios/migrated.json"), "utf8"),
  );
  const org = scenario.circleci?.org_slug ?? "gh/acme";
  for (const p of scenario.circleci?.projects ?? []) {
    const latest = (p.pipelines ?? []).filter((x) => (x.branch ?? "main") === "main").at(-1);
    if (!latest) continue;
    const files = { ".circleci/config.yml": latest.config.join("\n") + "\n" };
    await report(`CircleCI ${org}/${p.name}`, call("POST", "-/sandbox/push", {
      provider: "circleci", project: `${org}/${p.name}`, branch: "main", files,
    }));
  }
  const ghOrg = scenario.github?.org ?? "acme";
  for (const r of scenario.github?.repos ?? []) {
    const files = Object.fromEntries(
      Object.entries(r.files ?? {}).map(([k, v]) => [k, v.join("\n") + "\n"]),
    );
    await report(`GitHub ${ghOrg}/${r.name}`, call("POST", "-/sandbox/push", {
      provider: "github", project: `${ghOrg}/${r.name}`, files,
    }));
  }
  const group = scenario.gitlab?.group ?? "acme";
  for (const p of scenario.gitlab?.projects ?? []) {
    const files = Object.fromEntries(
      Object.entries(p.files ?? {}).map(([k, v]) => [k, v.join("\n") + "\n"]),
    );
    await report(`GitLab ${group}/${p.path}`, call("POST", "-/sandbox/push", {
      provider: "gitlab", project: `${group}/${p.path}`, files,
    }));
  }
}

async function report(what, pending) {
  const { status, json } = await pending;
  if (status !== 200) {
    console.error(`sandbox-ci: push to ${what} refused (${status}): ${JSON.stringify(json)}`);
    process.exit(1);
  }
  console.log(`sandbox-ci: pushed the fixed CI config to ${what}`);
}

async function release(name, version, branch = "main") {
  if (!name || !version) usage();
  const info = (await call("GET", "-/sandbox/info")).json;
  const doc = (await call("GET", encodeURIComponent(name).replace("%40", "@"))).json;
  const origin = originOf(doc.repository?.url ?? doc.repository);
  if (!origin) {
    console.error(`sandbox-ci: ${name} has no repository URL to find its CI by`);
    process.exit(1);
  }
  const aud = info.audiences[0];
  const ref = `refs/heads/${branch}`;
  const project = info.circleci.projects.find((p) => p.vcs_origin === origin);
  let provider, ciVar, claims;
  if (project) {
    const ctx = info.circleci.contexts.find((c) => c.name === "npm-publish");
    provider = "circleci"; ciVar = "CIRCLECI";
    claims = {
      aud,
      "oidc.circleci.com/project-id": project.id,
      "oidc.circleci.com/pipeline-definition-id": project.pipeline_definition_id,
      "oidc.circleci.com/vcs-origin": project.vcs_origin,
      "oidc.circleci.com/vcs-ref": ref,
      "oidc.circleci.com/context-ids": ctx ? [ctx.id] : [],
      "oidc.circleci.com/ssh-rerun": false,
    };
  } else if (origin.startsWith("github.com/")) {
    const repo = origin.slice("github.com/".length);
    provider = "github"; ciVar = "GITHUB_ACTIONS";
    claims = {
      aud, repository: repo, repository_owner: repo.split("/")[0], environment: "npm", ref,
      workflow_ref: `${repo}/.github/workflows/publish.yml@${ref}`, event_name: "push",
    };
  } else if (origin.startsWith("gitlab.com/")) {
    const path = origin.slice("gitlab.com/".length);
    provider = "gitlab"; ciVar = "GITLAB_CI";
    claims = {
      aud, project_path: path, environment: "npm", ref_protected: branch === "main" ? "true" : "false",
      user_access_level: "maintainer", ci_config_ref_uri: `gitlab.com/${path}//.gitlab-ci.yml@${ref}`,
    };
  } else {
    console.error(`sandbox-ci: no CI provider in the sandbox for ${origin}`);
    process.exit(1);
  }
  const minted = await call("POST", `-/sandbox/oidc/${provider}/token`, claims);
  if (minted.status !== 200) {
    console.error(`sandbox-ci: ${provider} gave the job no id token (${minted.status}): ${minted.json.error ?? JSON.stringify(minted.json)}`);
    process.exit(1);
  }
  const work = mkdtempSync(join(tmpdir(), "sandbox-ci-"));
  try {
    const pkg = join(work, "pkg");
    mkdirSync(pkg);
    writeFileSync(join(pkg, "package.json"), JSON.stringify({
      name, version, main: "index.js", license: "MIT",
      repository: { type: "git", url: `git+https://${origin}.git` },
    }));
    writeFileSync(join(pkg, "index.js"), "module.exports = 1;\n");
    writeFileSync(join(work, ".npmrc"), "");
    execFileSync("npm", ["publish", `--userconfig=${join(work, ".npmrc")}`, `--cache=${join(work, "cache")}`], {
      cwd: pkg,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH, HOME: work, NO_COLOR: "1",
        npm_config_registry: base, [ciVar]: "true", NPM_ID_TOKEN: minted.json.token,
      },
    });
    console.log(`sandbox-ci: ${provider} job published ${name}@${version} through trusted publishing`);
  } catch (e) {
    console.error(`sandbox-ci: npm publish of ${name}@${version} failed:\n${e.stderr?.toString() ?? e}`);
    process.exit(1);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function releaseAll() {
  const info = (await call("GET", "-/sandbox/info")).json;
  const owner = info.users.find((u) => u.role === "owner" && u.token);
  const r = await fetch(`${base}-/org/${info.org}/package`, {
    headers: { authorization: `Bearer ${owner.token}` },
  });
  if (!r.ok) {
    console.error(`sandbox-ci: cannot list the org's packages (${r.status})`);
    process.exit(1);
  }
  for (const name of Object.keys(await r.json()).sort()) {
    const doc = (await call("GET", encodeURIComponent(name).replace("%40", "@"))).json;
    const [a, b, c] = doc["dist-tags"].latest.split(".").map((n) => parseInt(n, 10));
    await release(name, `${a}.${b}.${c + 1}`);
  }
}

if (cmd === "push") await push();
else if (cmd === "release-all") await releaseAll();
else if (cmd === "release") await release(...rest);
else usage();
