#!/usr/bin/env python3
"""Generate a deterministic project tree for scripts/bench-scan (`tokenless tokens scan`).

The tree looks like a JavaScript monorepo: source files (js/ts/json/md/yaml, 1-50 KB) in
`src/`, `lib/`, `test/`, `docs/` and eight subprojects under `packages/`; a `node_modules/`
of hundreds of packages (package.json, index.js, dist/*.js, README.md, LICENSE, and now
and then a minified bundle of about 1 MB); lockfiles; a few binary files (.png, .woff2,
random bytes) that scanners should skip.

Into it go
  - PLANTED credentials (true positives): npm tokens (`npm_` + 36 letters and digits) in
    .npmrc files (also inside node_modules), .env files, .yarnrc.yml / .yarnrc, shell
    scripts and a shell history, JSON configs, CI configs, a Dockerfile, docs and source;
    GitHub tokens (`ghp_` + 36) and legacy UUID `_authToken`s in .npmrc files. Recorded in
    OUT_DIR/../planted.json as {"path", "line", "kind", "secret"}.
  - DECOYS that are not credentials: `npm_config_cache=/tmp/x`, `npm_package_version`,
    `npm_lifecycle_event`, `sha512-` integrity hashes in package-lock.json, long base64
    blobs, `${NPM_TOKEN}` references, `npm_` identifiers shorter than a token. Recorded in
    OUT_DIR/../decoys.json as {"path", "line", "kind"}.
Both JSON files sit outside the scanned tree. Paths are relative to OUT_DIR, lines 1-based.

Usage: gen-scan-tree.py OUT_DIR [--mb 200] [--seed 1]
The tree is at least MB MiB (files' bytes). Prints the total bytes and file count.
"""

import argparse
import base64
import json
import os
import random
import string

ALNUM = string.ascii_letters + string.digits
MIB = 1024 * 1024

WORDS = (
    "user account session request response handler config options value result error "
    "cache store state action reducer router route path query params body header token "
    "client server socket stream buffer chunk parser lexer node tree visitor plugin loader "
    "module bundle asset image style theme color layout grid item list table row column "
    "cell index count total limit offset page size width height event emitter listener "
    "queue worker task job schedule timer delay retry backoff fetch load save update delete "
    "create render mount unmount effect hook context provider consumer component element "
    "format locale message text label title description name id key hash digest encode "
    "decode serialize validate schema field record entity model service repository logger"
).split()
PKG_WORDS = (
    "core utils lite fast tiny micro mini deep simple smart super hyper async sync color "
    "chalk glob path fs stream http url query parse string array object merge clone debug "
    "log ms semver yaml json ini toml env dot cli args yargs commander minimist rimraf mkdirp "
    "which through pump once wrappy inherits inflight brace fill range micromatch picomatch "
    "anymatch chokidar readdirp normalize resolve browserslist caniuse postcss babel eslint "
    "webpack rollup esbuild terser acorn estree ast source map tslib regenerator runtime"
).split()
SCOPES = ["@babel", "@types", "@rollup", "@esbuild", "@jest", "@eslint", "@vue", "@acme", "@smithy"]


def ident(rng):
    a, b = rng.choice(WORDS), rng.choice(WORDS)
    return a + b[0].upper() + b[1:]


def js_line(rng):
    r = rng.random()
    i = ident(rng)
    if r < 0.12:
        return f"const {i} = require('{rng.choice(PKG_WORDS)}-{rng.choice(PKG_WORDS)}');"
    if r < 0.22:
        return f"function {i}({ident(rng)}, {ident(rng)}) {{"
    if r < 0.32:
        return f"  if (!{ident(rng)}) return {rng.choice(['null', 'undefined', 'false', '[]', '{}'])};"
    if r < 0.45:
        return f"  const {i} = {ident(rng)}.{rng.choice(WORDS)}({ident(rng)}, {rng.randint(0, 999)});"
    if r < 0.55:
        return f"  // {' '.join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))}"
    if r < 0.63:
        return f"  {ident(rng)}.{rng.choice(WORDS)} = '{rng.choice(WORDS)}-{rng.choice(WORDS)}';"
    if r < 0.70:
        return f"  for (let i = 0; i < {ident(rng)}.length; i++) {{"
    if r < 0.77:
        return "  }"
    if r < 0.84:
        return f"  return {ident(rng)}({ident(rng)}, {{ {rng.choice(WORDS)}: {ident(rng)} }});"
    if r < 0.90:
        return f"export const {i} = async ({ident(rng)}) => await {ident(rng)}.{rng.choice(WORDS)}();"
    if r < 0.95:
        return "}"
    return ""


def ts_line(rng):
    r = rng.random()
    if r < 0.15:
        return f"export interface {ident(rng).capitalize()} {{ {rng.choice(WORDS)}: {rng.choice(['string', 'number', 'boolean', 'unknown'])}; }}"
    if r < 0.25:
        return f"import {{ {ident(rng)}, {ident(rng)} }} from './{rng.choice(WORDS)}';"
    if r < 0.35:
        return f"  private readonly {ident(rng)}: Map<string, {ident(rng).capitalize()}> = new Map();"
    return js_line(rng)


def md_line(rng):
    r = rng.random()
    if r < 0.08:
        return "#" * rng.randint(1, 3) + " " + " ".join(rng.choice(WORDS).capitalize() for _ in range(rng.randint(1, 4)))
    if r < 0.15:
        return f"- `{ident(rng)}` ({rng.choice(['string', 'number', 'object'])}): {' '.join(rng.choice(WORDS) for _ in range(rng.randint(4, 10)))}"
    if r < 0.2:
        return "```js" if rng.random() < 0.5 else "```"
    if r < 0.27:
        return js_line(rng)
    if r < 0.3:
        return ""
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 20))).capitalize() + "."


def yaml_line(rng):
    d = rng.randint(0, 3)
    r = rng.random()
    if r < 0.5:
        return "  " * d + f"{rng.choice(WORDS)}: {rng.choice(WORDS)}-{rng.randint(0, 99)}"
    if r < 0.7:
        return "  " * d + f"- {rng.choice(WORDS)}"
    if r < 0.8:
        return "  " * d + f"# {' '.join(rng.choice(WORDS) for _ in range(rng.randint(2, 8)))}"
    return "  " * d + f"{ident(rng)}:"


def json_line(rng):
    d = rng.randint(1, 4)
    r = rng.random()
    if r < 0.6:
        return "  " * d + f'"{ident(rng)}": "{rng.choice(WORDS)} {rng.choice(WORDS)}",'
    if r < 0.8:
        return "  " * d + f'"{ident(rng)}": {rng.randint(0, 100000)},'
    if r < 0.9:
        return "  " * d + f'"{ident(rng)}": {{'
    return "  " * d + "},"


class Pools:
    """Pre-generated lines per language; files are random draws from them (fast)."""

    def __init__(self, rng, n=6000):
        self.rng = rng
        self.lines = {
            "js": [js_line(rng) for _ in range(n)],
            "ts": [ts_line(rng) for _ in range(n)],
            "md": [md_line(rng) for _ in range(n)],
            "yaml": [yaml_line(rng) for _ in range(n)],
            "json": [json_line(rng) for _ in range(n)],
        }
        self.avg = {k: sum(len(x) + 1 for x in v) / len(v) for k, v in self.lines.items()}
        # Fragments of minified code.
        self.min_frags = [
            (f"function {rng.choice('abcdefgh')}{rng.randint(0, 99)}(e,t){{return e.{rng.choice(WORDS)}(t)||null}}"
             if rng.random() < 0.3 else
             f"var {rng.choice('abcdefgh')}{rng.randint(0, 99)}={rng.choice('ijklmno')}.{rng.choice(WORDS)}"
             f"({rng.choice('pqrstu')},\"{rng.choice(WORDS)}\",{rng.randint(0, 9999)})")
            for _ in range(n)
        ]

    def text_lines(self, kind, size):
        pool = self.lines[kind]
        k = max(1, int(size / self.avg[kind]))
        return self.rng.choices(pool, k=k)

    def minified(self, size):
        k = max(1, int(size / 40))
        return ";".join(self.rng.choices(self.min_frags, k=k))


class Tree:
    def __init__(self, root, rng):
        self.root = root
        self.rng = rng
        self.bytes = 0
        self.files = 0
        self.planted = []
        self.decoys = []

    def write(self, rel, data):
        p = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if isinstance(data, str):
            data = data.encode()
        if os.path.exists(p):
            self.bytes -= os.path.getsize(p)
            self.files -= 1
        with open(p, "wb") as f:
            f.write(data)
        self.bytes += len(data)
        self.files += 1

    def write_lines(self, rel, lines, plants=(), decoys=(), lo=0):
        """Write `lines`, inserting plants [(kind, secret, line)] and decoys [(kind, line)]
        at random positions; records their 1-based line numbers."""
        lines = list(lines)
        extra = [("p", x) for x in plants] + [("d", x) for x in decoys]
        for tag, item in extra:
            pos = self.rng.randint(lo, len(lines))
            lines.insert(pos, (tag, item))
        # Resolve line numbers after all inserts.
        out = []
        for n, entry in enumerate(lines, 1):
            if isinstance(entry, tuple):
                tag, item = entry
                if tag == "p":
                    kind, secret, text = item
                    self.planted.append({"path": rel, "line": n, "kind": kind, "secret": secret})
                else:
                    kind, text = item
                    self.decoys.append({"path": rel, "line": n, "kind": kind})
                out.append(text)
            else:
                out.append(entry)
        self.write(rel, "\n".join(out) + "\n")


def npm_token(rng):
    return "npm_" + "".join(rng.choices(ALNUM, k=36))


def ghp_token(rng):
    return "ghp_" + "".join(rng.choices(ALNUM, k=36))


def uuid(rng):
    h = "".join(rng.choices("0123456789abcdef", k=32))
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def short_npm_ident(rng):
    return "npm_" + "".join(rng.choices(string.ascii_lowercase + string.digits, k=rng.randint(3, 30)))


def decoy_line(rng, kind):
    """One line of text containing a decoy of `kind`, in the style of a JS source file."""
    if kind == "npm-config-cache":
        return "process.env.npm_config_cache = process.env.npm_config_cache || '/tmp/x';"
    if kind == "npm-package-version":
        return "const version = process.env.npm_package_version || '0.0.0';"
    if kind == "npm-lifecycle-event":
        return "if (process.env.npm_lifecycle_event === 'prepublishOnly') checkBuild();"
    if kind == "reference":
        return "const token = process.env.NPM_TOKEN; // set from ${NPM_TOKEN} in CI"
    if kind == "short-npm-ident":
        return f"function {short_npm_ident(rng)}({ident(rng)}) {{ return {short_npm_ident(rng)}; }}"
    if kind == "base64-blob":
        blob = base64.b64encode(rng.randbytes(rng.randint(600, 3000))).decode()
        if rng.random() < 0.5:
            return f"export const {ident(rng).upper()}_DATA = 'data:font/woff2;base64,{blob}';"
        return f'const {ident(rng)}Blob = "{blob}";'

    raise ValueError(kind)


SRC_DECOYS = ["npm-config-cache", "npm-package-version", "npm-lifecycle-event", "reference", "short-npm-ident", "base64-blob"]


def plant_configs(t, rng, pools, subprojects):
    """The config files that carry planted credentials and the config-shaped decoys."""
    P = lambda kind, secret, text: (kind, secret, text)  # noqa: E731
    D = lambda kind, text: (kind, text)  # noqa: E731
    filler_npmrc = ["registry=https://registry.npmjs.org/", "save-exact=true", "engine-strict=true",
                    "fund=false", "audit-level=high", "progress=false", "loglevel=warn"]

    def npmrc(rel, plants, decoys=()):
        base = rng.sample(filler_npmrc, rng.randint(2, 5))
        t.write_lines(rel, base, plants, decoys)

    def env(rel, plants, decoys=()):
        base = [f"{w.upper()}_{rng.choice(WORDS).upper()}={rng.choice(WORDS)}-{rng.randint(1, 999)}"
                for w in rng.sample(WORDS, rng.randint(4, 12))]
        t.write_lines(rel, base, plants, decoys)

    tok = npm_token(rng)
    npmrc(".npmrc", [P("npm-token", tok, f"//registry.npmjs.org/:_authToken={tok}")],
          [D("npm-config-cache", "cache=/tmp/x")])
    for i, sub in enumerate(subprojects):
        base = f"packages/{sub}"
        if i < 5:
            tok = npm_token(rng)
            plants = [P("npm-token", tok, f"//registry.npmjs.org/:_authToken={tok}")]
            if i == 2:
                g = ghp_token(rng)
                plants.append(P("github-token", g, f"//npm.pkg.github.com/:_authToken={g}"))
                plants_decoys = [D("reference", "//npm.pkg.github.com/:_authToken=${GITHUB_TOKEN}")]
            else:
                plants_decoys = []
            npmrc(f"{base}/.npmrc", plants, plants_decoys)
        elif i == 5:
            g = ghp_token(rng)
            npmrc(f"{base}/.npmrc", [P("github-token", g, f"//npm.pkg.github.com/:_authToken={g}")])
        elif i == 6:
            u = uuid(rng)
            npmrc(f"{base}/.npmrc", [P("legacy-token", u, f"//registry.npmjs.org/:_authToken={u}")])
        else:
            npmrc(f"{base}/.npmrc", [], [D("reference", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}")])
        if i < 7:
            tok = npm_token(rng)
            env(f"{base}/.env", [P("npm-token", tok, f"NPM_TOKEN={tok}")],
                [D("npm-config-cache", "npm_config_cache=/tmp/x")] if i % 2 == 0 else [])
        else:
            env(f"{base}/.env", [], [D("reference", "NPM_TOKEN=${NPM_TOKEN}"),
                                     D("npm-config-cache", "npm_config_cache=/tmp/x")])
    u = uuid(rng)
    npmrc("tools/legacy/.npmrc", [P("legacy-token", u, f"_authToken={u}")])

    tok = npm_token(rng)
    env(".env", [P("npm-token", tok, f"NPM_TOKEN={tok}")],
        [D("npm-config-cache", "npm_config_cache=/tmp/x"), D("reference", "NODE_AUTH_TOKEN=${NPM_TOKEN}")])
    tok = npm_token(rng)
    env(".env.production", [P("npm-token", tok, f"NPM_TOKEN={tok}")])

    # Yarn Berry and Yarn 1.
    tok = npm_token(rng)
    t.write_lines(".yarnrc.yml", ["nodeLinker: node-modules", "enableTelemetry: false",
                                  "yarnPath: .yarn/releases/yarn-4.5.0.cjs"],
                  [P("npm-token", tok, f"npmAuthToken: {tok}")])
    tok = npm_token(rng)
    sub = subprojects[3]
    t.write(f"packages/{sub}/.yarnrc.yml",
            f'nodeLinker: node-modules\nnpmScopes:\n  acme:\n    npmRegistryServer: "https://registry.npmjs.org"\n'
            f"    npmAuthToken: {tok}\n    npmAlwaysAuth: true\n")
    t.planted.append({"path": f"packages/{sub}/.yarnrc.yml", "line": 5, "kind": "npm-token", "secret": tok})
    t.write(f"packages/{subprojects[7]}/.yarnrc.yml", 'nodeLinker: node-modules\nnpmAuthToken: "${NPM_TOKEN}"\n')
    t.decoys.append({"path": f"packages/{subprojects[7]}/.yarnrc.yml", "line": 2, "kind": "reference"})
    tok = npm_token(rng)
    t.write_lines(f"packages/{subprojects[4]}/.yarnrc", ['registry "https://registry.npmjs.org/"',
                                                         "save-prefix \"^\""],
                  [P("npm-token", tok, f'"//registry.npmjs.org/:_authToken" {tok}')])

    # Shell.
    sh = ["#!/usr/bin/env bash", "set -euo pipefail", 'cd "$(dirname "$0")/.."', "npm ci", "npm run build",
          "npm test", "npm publish --access public", 'echo "published $(node -p "require(\'./package.json\').version")"']
    tok = npm_token(rng)
    t.write_lines("scripts/deploy.sh", sh, [P("npm-token", tok, f"export NPM_TOKEN={tok}")],
                  [D("npm-config-cache", "export npm_config_cache=/tmp/x")])
    tok = npm_token(rng)
    t.write_lines(f"packages/{subprojects[1]}/deploy.sh", sh, [P("npm-token", tok, f"export NPM_TOKEN={tok}")],
                  [D("reference", 'echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > ~/.npmrc')])
    hist = [rng.choice(["ls -la", "git status", "npm ci", "npm test", "cd packages", "git pull", "npm whoami",
                        "node -v", "npm run build", "git log --oneline", "vim package.json"]) for _ in range(300)]
    tok = npm_token(rng)
    t.write_lines("ops/.bash_history", hist,
                  [P("npm-token", tok, f"npm config set //registry.npmjs.org/:_authToken {tok}")])

    # JSON configs.
    for rel in ["config/publish.json", f"packages/{subprojects[2]}/config/release.json", "config/ci.json"]:
        tok = npm_token(rng)
        body = pools.text_lines("json", rng.randint(400, 3000))
        lines = ["{"] + [x.rstrip(",") + "," for x in body if not x.strip().endswith("{") and x.strip() != "},"]
        t.write_lines(rel, lines, [P("npm-token", tok, f'  "npmToken": "{tok}",')],
                      [D("npm-package-version", '  "versionFrom": "npm_package_version",')], lo=1)
        with open(os.path.join(t.root, rel), "a") as f:
            f.write('  "end": true\n}\n')
        t.bytes += len('  "end": true\n}\n')

    # CI.
    tok = npm_token(rng)
    wf = ["name: release", "on:", "  push:", "    tags: ['v*']", "jobs:", "  publish:", "    runs-on: ubuntu-latest",
          "    steps:", "      - uses: actions/checkout@v4", "      - uses: actions/setup-node@v4",
          "        with:", "          node-version: 22", "          registry-url: https://registry.npmjs.org",
          "      - run: npm ci", "      - run: npm publish", "        env:"]
    t.write(".github/workflows/release.yml",
            "\n".join(wf + [f"          NODE_AUTH_TOKEN: {tok}", "      - run: npm publish --dry-run", "        env:",
                            "          NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}"]) + "\n")
    t.planted.append({"path": ".github/workflows/release.yml", "line": len(wf) + 1, "kind": "npm-token", "secret": tok})
    t.decoys.append({"path": ".github/workflows/release.yml", "line": len(wf) + 4, "kind": "reference"})
    tok = npm_token(rng)
    t.write(".gitlab-ci.yml",
            "stages: [test, publish]\nvariables:\n  NODE_VERSION: \"22\"\n"
            f"  NPM_TOKEN: {tok}\npublish:\n  stage: publish\n  script:\n"
            "    - echo \"//registry.npmjs.org/:_authToken=${NPM_TOKEN}\" > .npmrc\n    - npm publish\n")
    t.planted.append({"path": ".gitlab-ci.yml", "line": 4, "kind": "npm-token", "secret": tok})
    t.decoys.append({"path": ".gitlab-ci.yml", "line": 8, "kind": "reference"})

    # Docker.
    tok1, tok2 = npm_token(rng), npm_token(rng)
    t.write("Dockerfile",
            "FROM node:22-alpine\nWORKDIR /app\nCOPY package*.json ./\n"
            f"ENV NPM_TOKEN={tok1}\n"
            f"RUN echo \"//registry.npmjs.org/:_authToken={tok2}\" > .npmrc && npm ci && rm .npmrc\n"
            "COPY . .\nRUN npm run build\nCMD [\"node\", \"dist/index.js\"]\n")
    t.planted.append({"path": "Dockerfile", "line": 4, "kind": "npm-token", "secret": tok1})
    t.planted.append({"path": "Dockerfile", "line": 5, "kind": "npm-token", "secret": tok2})

    # Docs and source.
    tok = npm_token(rng)
    t.write_lines("docs/publishing.md", pools.text_lines("md", rng.randint(3000, 12000)),
                  [P("npm-token", tok, f"    //registry.npmjs.org/:_authToken={tok}")],
                  [D("reference", "    //registry.npmjs.org/:_authToken=${NPM_TOKEN}")])
    tok = npm_token(rng)
    t.write_lines("src/config/registry.ts", pools.text_lines("ts", rng.randint(2000, 8000)),
                  [P("npm-token", tok, f'export const NPM_TOKEN = "{tok}";')],
                  [D("short-npm-ident", "const npm_registry = 'https://registry.npmjs.org/';")])
    tok = npm_token(rng)
    t.write_lines(f"packages/{subprojects[4]}/src/publish.js", pools.text_lines("js", rng.randint(2000, 8000)),
                  [P("npm-token", tok, f"  headers: {{ authorization: 'Bearer {tok}' }},")],
                  [D("npm-lifecycle-event", decoy_line(rng, "npm-lifecycle-event"))])


def gen_node_modules(t, rng, pools, budget):
    """Packages until `budget` bytes; returns [(name, version)]."""
    pkgs = []
    seen = set()
    start = t.bytes
    lic = ("MIT License\n\nCopyright (c) {y} {a}\n\nPermission is hereby granted, free of charge, to any person "
           "obtaining a copy\nof this software and associated documentation files (the \"Software\"), to deal\n"
           "in the Software without restriction, including without limitation the rights\nto use, copy, modify, "
           "merge, publish, distribute, sublicense, and/or sell\ncopies of the Software, and to permit persons to "
           "whom the Software is\nfurnished to do so, subject to the following conditions:\n\nTHE SOFTWARE IS "
           "PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND.\n")
    while t.bytes - start < budget or len(pkgs) < 12:
        name = f"{rng.choice(PKG_WORDS)}-{rng.choice(PKG_WORDS)}"
        if rng.random() < 0.2:
            name = f"{rng.choice(SCOPES)}/{name}"
        if name in seen:
            name += f"-{len(pkgs)}"
        seen.add(name)
        ver = f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 20)}"
        pkgs.append((name, ver))
        d = f"node_modules/{name}"
        pj = {
            "name": name, "version": ver, "description": " ".join(rng.choice(WORDS) for _ in range(6)),
            "main": "index.js", "license": "MIT",
            "scripts": {"test": "node test.js", "prepublishOnly": "npm run build"},
            "dependencies": {f"{rng.choice(PKG_WORDS)}-{rng.choice(PKG_WORDS)}": f"^{rng.randint(0, 5)}.0.0"
                             for _ in range(rng.randint(0, 5))},
        }
        t.write(f"{d}/package.json", json.dumps(pj, indent=2) + "\n")
        t.write(f"{d}/index.js", "\n".join(pools.text_lines("js", rng.randint(500, 12000))) + "\n")
        for j in range(rng.randint(1, 4)):
            t.write(f"{d}/dist/{rng.choice(WORDS)}{j}.js", "\n".join(pools.text_lines("js", rng.randint(2000, 40000))) + "\n")
        if rng.random() < 0.08:
            t.write(f"{d}/dist/{name.split('/')[-1]}.min.js", pools.minified(rng.randint(800_000, 1_200_000)) + "\n")
        t.write(f"{d}/README.md", "\n".join(pools.text_lines("md", rng.randint(1000, 15000))) + "\n")
        t.write(f"{d}/LICENSE", lic.format(y=rng.randint(2012, 2025), a=rng.choice(WORDS).capitalize()))
    return pkgs


def plant_node_modules(t, rng, pkgs):
    chosen = rng.sample(pkgs, 5)
    for k, (name, _) in enumerate(chosen):
        d = f"node_modules/{name}"
        base = ["registry=https://registry.npmjs.org/", "package-lock=false"]
        if k < 3:
            tok = npm_token(rng)
            t.write_lines(f"{d}/.npmrc", base, [("npm-token", tok, f"//registry.npmjs.org/:_authToken={tok}")])
        elif k == 3:
            g = ghp_token(rng)
            t.write_lines(f"{d}/.npmrc", base, [("github-token", g, f"//npm.pkg.github.com/:_authToken={g}")])
        else:
            tok = npm_token(rng)
            t.write_lines(f"{d}/test/fixtures/.npmrc", base,
                          [("npm-token", tok, f"//registry.npmjs.org/:_authToken={tok}")],
                          [("reference", "//registry.npmjs.org/:_authToken=${NPM_TOKEN}")])


def lockfile(t, rng, rel, pkgs):
    lines = ["{", '  "name": "acme-monorepo",', '  "version": "1.0.0",', '  "lockfileVersion": 3,',
             '  "requires": true,', '  "packages": {']
    entries = []
    for name, ver in pkgs:
        integ = "sha512-" + base64.b64encode(rng.randbytes(64)).decode()
        entries.append([f'    "node_modules/{name}": {{', f'      "version": "{ver}",',
                        f'      "resolved": "https://registry.npmjs.org/{name}/-/{name.split("/")[-1]}-{ver}.tgz",',
                        ("integrity", f'      "integrity": "{integ}",'), '      "license": "MIT"', "    }"])
    out = list(lines)
    for i, e in enumerate(entries):
        if i < len(entries) - 1:
            e[-1] = "    },"
        for x in e:
            if isinstance(x, tuple):
                t.decoys.append({"path": rel, "line": len(out) + 1, "kind": "integrity"})
                out.append(x[1])
            else:
                out.append(x)
    out += ["  }", "}"]
    t.write(rel, "\n".join(out) + "\n")


def gen_binaries(t, rng, budget):
    start = t.bytes
    n = 0
    while t.bytes - start < budget:
        if n % 3 == 2:
            t.write(f"assets/fonts/{rng.choice(WORDS)}-{n}.woff2", b"wOF2" + rng.randbytes(rng.randint(20_000, 120_000)))
        else:
            t.write(f"assets/img/{rng.choice(WORDS)}-{n}.png",
                    b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(5_000, 200_000)))
        n += 1


def gen_sources(t, rng, pools, subprojects, target):
    dirs = ["src", "src/components", "src/lib", "src/routes", "lib", "test", "docs", "config"]
    dirs += [f"packages/{s}/{x}" for s in subprojects for x in ("src", "lib", "test")]
    exts = [("js", "js"), ("ts", "ts"), ("ts", "tsx"), ("json", "json"), ("md", "md"), ("yaml", "yaml")]
    weights = [30, 30, 10, 10, 12, 8]
    n = 0
    while t.bytes < target:
        lang, ext = rng.choices(exts, weights)[0]
        size = int(min(50_000, max(1_000, rng.lognormvariate(8.8, 0.9))))
        rel = f"{rng.choice(dirs)}/{ident(rng)}-{n}.{ext}"
        n += 1
        lines = pools.text_lines(lang, size)
        if lang == "json":
            lines = ["{"] + [x.rstrip(",") + "," for x in lines if not x.strip().endswith("{") and x.strip() != "},"]
            lines += ['  "end": true', "}"]
            t.write(rel, "\n".join(lines) + "\n")
            continue
        decoys = []
        if lang in ("js", "ts") and rng.random() < 0.15:
            kind = rng.choice(SRC_DECOYS)
            decoys.append((kind, decoy_line(rng, kind)))
        t.write_lines(rel, lines, (), decoys)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--mb", type=float, default=200)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    root = os.path.abspath(a.out_dir)
    if os.path.exists(root) and os.listdir(root):
        raise SystemExit(f"{root} exists and is not empty")
    os.makedirs(root, exist_ok=True)
    target = int(a.mb * MIB)
    t = Tree(root, rng)
    pools = Pools(rng)
    subprojects = [f"{w}-{i}" for i, w in enumerate(rng.sample(["api", "web", "cli", "sdk", "ui", "core", "docs", "worker", "admin"], 8))]

    t.write("package.json", json.dumps({
        "name": "acme-monorepo", "private": True, "version": "1.0.0", "workspaces": ["packages/*"],
        "scripts": {"build": "tsc -b", "test": "node --test", "release": "npm publish --workspaces"},
    }, indent=2) + "\n")
    for s in subprojects:
        t.write(f"packages/{s}/package.json", json.dumps({"name": f"@acme/{s}", "version": "1.0.0",
                                                          "main": "dist/index.js"}, indent=2) + "\n")
    plant_configs(t, rng, pools, subprojects)
    pkgs = gen_node_modules(t, rng, pools, int(target * 0.6))
    plant_node_modules(t, rng, pkgs)
    lockfile(t, rng, "package-lock.json", pkgs)
    for s in subprojects[:3]:
        lockfile(t, rng, f"packages/{s}/package-lock.json", rng.sample(pkgs, min(len(pkgs), 60)))
    with open(os.path.join(root, "yarn.lock"), "w") as f:
        body = "".join(f'"{n}@^{v}":\n  version "{v}"\n  resolved "https://registry.yarnpkg.com/{n}/-/{n.split("/")[-1]}-{v}.tgz"\n\n'
                       for n, v in pkgs)
        f.write("# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n" + body)
    t.bytes += os.path.getsize(os.path.join(root, "yarn.lock"))
    t.files += 1
    gen_binaries(t, rng, int(target * 0.03))
    gen_sources(t, rng, pools, subprojects, target)

    # Sanity: every record points at the line it claims.
    for rec in t.planted:
        with open(os.path.join(root, rec["path"]), encoding="utf-8") as f:
            line = f.read().split("\n")[rec["line"] - 1]
        assert rec["secret"] in line, rec
    parent = os.path.dirname(root)
    with open(os.path.join(parent, "planted.json"), "w") as f:
        json.dump(t.planted, f, indent=1)
    with open(os.path.join(parent, "decoys.json"), "w") as f:
        json.dump(t.decoys, f, indent=1)
    total = sum(os.path.getsize(os.path.join(d, x)) for d, _, fs in os.walk(root) for x in fs)
    files = sum(len(fs) for _, _, fs in os.walk(root))
    print(f"bytes {total}")
    print(f"files {files}")
    print(f"planted {len(t.planted)} (node_modules: {sum(p['path'].startswith('node_modules/') for p in t.planted)})")
    print(f"decoys {len(t.decoys)}")


if __name__ == "__main__":
    main()
