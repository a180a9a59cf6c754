#!/usr/bin/env node
'use strict';
// The `tokenless` command of the npm package: runs the prebuilt binary that npm installed
// as this platform's optional dependency (@tokenless/<platform>), with the same arguments,
// standard streams and exit status. Nothing is downloaded here and no install script runs.

const { spawnSync } = require('node:child_process');
const { current, packageName, binaryName } = require('../lib/platforms.js');

function fail(message) {
  process.stderr.write(`tokenless: ${message}\n`);
  process.exit(2);
}

const platform = current();
if (!platform) {
  fail(
    `no prebuilt binary for ${process.platform}-${process.arch}. ` +
      'Build it from source: cargo install --locked --git https://github.com/tokenless-dev/tokenless tokenless',
  );
}

const name = packageName(platform);
let binary;
try {
  binary = require.resolve(`${name}/bin/${binaryName(platform)}`);
} catch {
  fail(
    `the package ${name}, which holds the binary for this platform, is not installed. ` +
      'npm installs it as an optional dependency of tokenless: reinstall without ' +
      '--omit=optional (or --no-optional), and from a lockfile made on this platform or with ' +
      'npm >= 11.',
  );
}

const run = spawnSync(binary, process.argv.slice(2), { stdio: 'inherit' });
if (run.error) fail(`could not run ${binary}: ${run.error.message}`);
if (run.signal) process.kill(process.pid, run.signal);
process.exit(run.status === null ? 1 : run.status);
