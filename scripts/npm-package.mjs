#!/usr/bin/env node
// Builds tokenless's npm packages (the esbuild/Biome pattern): `tokenless`, a small launcher
// whose optional dependencies are one package per platform, and `@tokenless/<platform>`, each
// holding one prebuilt binary with `os`/`cpu`/`libc` fields so that npm installs only the
// one that fits. The platform list is npm/tokenless/lib/platforms.js.
//
//   node scripts/npm-package.mjs platform --binary PATH --out DIR [--platform ID] [--version V]
//       DIR/platforms/ID/: the package of one platform's binary (ID defaults to this
//       machine's). When ID is this machine's, the binary must answer `--version` with V.
//   node scripts/npm-package.mjs main --out DIR [--version V]
//       DIR/tokenless/: the launcher package, depending on every platform package at V.
//   node scripts/npm-package.mjs placeholder --out DIR
//       Every package name at 0.0.0 with nothing in it but a README: the first publish that
//       npm requires before a package can have a trusted publisher (npm has no pending
//       publishers), made once from a maintainer's session with 2FA.
//
// V defaults to the workspace version in Cargo.toml. Publish the platform packages before
// the launcher (.github/workflows/release.yml): `tokenless@V` must never point at a
// binary that is not there yet.
//
// Exit code: 0 written, 1 refused (the output says why), 2 usage.

import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const launcher = join(root, "npm", "tokenless");
const { PLATFORMS, current, packageName, binaryName } = createRequire(import.meta.url)(
  join(launcher, "lib", "platforms.js"),
);

function usage(message) {
  if (message) console.error(`npm-package: ${message}`);
  console.error(
    "usage: npm-package.mjs platform --binary PATH --out DIR [--platform ID] [--version V]\n" +
      "       npm-package.mjs main --out DIR [--version V]\n" +
      "       npm-package.mjs placeholder --out DIR",
  );
  process.exit(2);
}

function refuse(message) {
  console.error(`npm-package: ${message}`);
  process.exit(1);
}

function options(args, allowed) {
  const out = {};
  for (let i = 0; i < args.length; i++) {
    const key = args[i].replace(/^--/, "");
    if (!args[i].startsWith("--") || !allowed.includes(key)) usage(`unknown argument ${args[i]}`);
    if (i + 1 >= args.length) usage(`${args[i]} needs a value`);
    out[key] = args[++i];
  }
  return out;
}

/** `version` of `[workspace.package]` in Cargo.toml. */
function workspaceVersion() {
  const toml = readFileSync(join(root, "Cargo.toml"), "utf8");
  const section = toml.split(/^\[workspace\.package\]\s*$/m)[1] ?? "";
  const m = section.split(/^\[/m)[0].match(/^version\s*=\s*"([^"]+)"/m);
  if (!m) refuse("Cargo.toml has no [workspace.package] version");
  return m[1];
}

function checkVersion(v) {
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(v)) usage(`--version ${v} is not a semver version`);
  return v;
}

const manifest = JSON.parse(readFileSync(join(launcher, "package.json"), "utf8"));
const shared = { license: manifest.license, repository: manifest.repository, homepage: manifest.homepage };

function writeJson(path, value) {
  writeFileSync(path, JSON.stringify(value, null, 2) + "\n");
}

function fresh(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

function describe(p) {
  const os = { linux: "Linux", darwin: "macOS", win32: "Windows" }[p.os];
  return `${os} ${p.cpu}${p.libc ? ` (${p.libc})` : ""}`;
}

function platformPackage({ binary, out, platform: id, version }) {
  if (!binary || !out) usage("platform needs --binary and --out");
  const here = current();
  const p = id ? PLATFORMS.find((x) => x.id === id) : here;
  if (!p) usage(id ? `unknown platform ${id} (known: ${PLATFORMS.map((x) => x.id).join(", ")})` : "no platform is built for this machine; pass --platform");
  if (p === here) {
    const said = execFileSync(binary, ["--version"], { encoding: "utf8" }).trim();
    if (said !== `tokenless ${version}`) refuse(`${binary} says "${said}", not "tokenless ${version}"`);
  }
  const dir = fresh(join(out, "platforms", p.id));
  mkdirSync(join(dir, "bin"));
  const target = join(dir, "bin", binaryName(p));
  copyFileSync(binary, target);
  chmodSync(target, 0o755);
  writeJson(join(dir, "package.json"), {
    name: packageName(p),
    version,
    description: `The tokenless binary for ${describe(p)}, built for ${p.target}; installed by the tokenless package`,
    ...shared,
    os: [p.os],
    cpu: [p.cpu],
    ...(p.libc ? { libc: [p.libc] } : {}),
    files: ["bin/"],
    preferUnplugged: true,
    publishConfig: { access: "public" },
  });
  writeFileSync(
    join(dir, "README.md"),
    `# ${packageName(p)}\n\nThe prebuilt tokenless binary for ${describe(p)}. Install \`tokenless\`, not this package: npm picks the platform package that fits.\n`,
  );
  console.log(`${packageName(p)}@${version}: ${dir}`);
}

function mainPackage({ out, version }) {
  if (!out) usage("main needs --out");
  const dir = fresh(join(out, "tokenless"));
  cpSync(join(launcher, "bin"), join(dir, "bin"), { recursive: true });
  cpSync(join(launcher, "lib"), join(dir, "lib"), { recursive: true });
  chmodSync(join(dir, "bin", "tokenless.js"), 0o755);
  writeJson(join(dir, "package.json"), {
    ...manifest,
    version,
    optionalDependencies: Object.fromEntries(PLATFORMS.map((p) => [packageName(p), version])),
  });
  copyFileSync(join(launcher, "README.md"), join(dir, "README.md"));
  console.log(`tokenless@${version}: ${dir}`);
}

function placeholders({ out }) {
  if (!out) usage("placeholder needs --out");
  const names = [...PLATFORMS.map((p) => [packageName(p), join(out, "platforms", p.id)]), ["tokenless", join(out, "tokenless")]];
  for (const [name, dir] of names) {
    fresh(dir);
    writeJson(join(dir, "package.json"), {
      name,
      version: "0.0.0",
      description: "Reserved for tokenless; releases come from its trusted publisher",
      ...shared,
      publishConfig: { access: "public" },
    });
    writeFileSync(
      join(dir, "README.md"),
      `# ${name}\n\nThis version only reserves the name. Releases of tokenless are published from its GitHub repository through npm trusted publishing.\n`,
    );
    console.log(`${name}@0.0.0: ${dir}`);
  }
}

const [command, ...args] = process.argv.slice(2);
switch (command) {
  case "platform": {
    const o = options(args, ["binary", "out", "platform", "version"]);
    platformPackage({ ...o, version: checkVersion(o.version ?? workspaceVersion()) });
    break;
  }
  case "main": {
    const o = options(args, ["out", "version"]);
    mainPackage({ ...o, version: checkVersion(o.version ?? workspaceVersion()) });
    break;
  }
  case "placeholder":
    placeholders(options(args, ["out"]));
    break;
  default:
    usage(command ? `unknown command ${command}` : undefined);
}
