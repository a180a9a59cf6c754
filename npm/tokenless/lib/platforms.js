'use strict';
// The prebuilt binaries of tokenless: one npm package per platform, named after Node's own
// `process.platform`-`process.arch` (with `-musl` for Linux on musl libc). The main package
// lists all of them as optional dependencies; npm installs only the one whose `os`, `cpu`
// and `libc` fields match the machine. scripts/npm-package.mjs builds the packages from this
// list, bin/tokenless.js finds the installed one with it: one list, both sides.

const SCOPE = '@tokenless';

const PLATFORMS = [
  { id: 'linux-x64', os: 'linux', cpu: 'x64', libc: 'glibc', target: 'x86_64-unknown-linux-gnu' },
  { id: 'linux-arm64', os: 'linux', cpu: 'arm64', libc: 'glibc', target: 'aarch64-unknown-linux-gnu' },
  { id: 'linux-x64-musl', os: 'linux', cpu: 'x64', libc: 'musl', target: 'x86_64-unknown-linux-musl' },
  { id: 'linux-arm64-musl', os: 'linux', cpu: 'arm64', libc: 'musl', target: 'aarch64-unknown-linux-musl' },
  { id: 'darwin-x64', os: 'darwin', cpu: 'x64', target: 'x86_64-apple-darwin' },
  { id: 'darwin-arm64', os: 'darwin', cpu: 'arm64', target: 'aarch64-apple-darwin' },
  { id: 'win32-x64', os: 'win32', cpu: 'x64', target: 'x86_64-pc-windows-msvc' },
];

/** `glibc` or `musl` on Linux (Node's report names the glibc it runs on), else undefined. */
function libcOf(proc) {
  if (proc.platform !== 'linux') return undefined;
  const header = proc.report && typeof proc.report.getReport === 'function'
    ? proc.report.getReport().header
    : {};
  return header.glibcVersionRuntime ? 'glibc' : 'musl';
}

/** The entry of PLATFORMS this process runs on, or undefined when none is built for it. */
function current(proc = process) {
  const libc = libcOf(proc);
  return PLATFORMS.find(
    (p) => p.os === proc.platform && p.cpu === proc.arch && p.libc === libc,
  );
}

/** `@tokenless/linux-x64`. */
function packageName(platform) {
  return `${SCOPE}/${platform.id}`;
}

/** The binary's file name inside a platform package. */
function binaryName(platform) {
  return platform.os === 'win32' ? 'tokenless.exe' : 'tokenless';
}

module.exports = { SCOPE, PLATFORMS, current, packageName, binaryName };
