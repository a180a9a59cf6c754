#!/usr/bin/env python3
"""Generate a deterministic corpus of CI configs for scripts/bench-lint.

Each config sits in its own small repository directory, the way `tokenless lint` meets
them: `repo-NNNN/.circleci/config.yml`, `repo-NNNN/.github/workflows/<name>.yml` or
`repo-NNNN/.gitlab-ci.yml`. Sizes follow real configs (roughly 1-12 KB: a few to a few
dozen jobs, with comments, anchors, matrices and long shell bodies), and publish jobs mix
the token-era patterns with migrated OIDC ones so that the rules have work to do.

Usage: gen-lint-corpus.py OUT_DIR [--count N] [--seed S]
Prints one line per provider: `<provider> <files> <bytes>`.
"""

import argparse
import os
import random

NODE_IMAGES = ["cimg/node:18.20", "cimg/node:20.11", "cimg/node:22.14", "cimg/node:24.16"]
NODE_VERSIONS = ["18", "20", "22", "22.14.0", "24", "lts/*"]
COMMANDS = [
    "npm ci",
    "npm test",
    "npm run lint",
    "npm run build",
    "npx tsc --noEmit",
    "npm run test:coverage -- --reporter=lcov",
    "node scripts/check-licenses.js",
    "npm audit --audit-level=high",
]
WORDS = "build lint unit integration e2e docs bundle types smoke coverage".split()


def shell_body(rng, indent, lines, bullet=""):
    pad = " " * indent + bullet
    out = []
    for _ in range(lines):
        out.append(pad + rng.choice(COMMANDS) + (" # " + rng.choice(WORDS) if rng.random() < 0.2 else ""))
    return "\n".join(out)


def circleci(rng):
    jobs = []
    names = []
    for i in range(rng.randint(2, 14)):
        name = f"{rng.choice(WORDS)}-{i}"
        names.append(name)
        jobs.append(
            f"""  {name}:
    docker:
      - image: {rng.choice(NODE_IMAGES)}
    resource_class: {rng.choice(["small", "medium", "large"])}
    steps:
      - checkout
      - restore_cache:
          keys:
            - v1-deps-{{{{ checksum "package-lock.json" }}}}
      - run: npm ci
      - run:
          name: {rng.choice(WORDS)}
          command: |
{shell_body(rng, 12, rng.randint(2, 12))}
      - save_cache:
          key: v1-deps-{{{{ checksum "package-lock.json" }}}}
          paths: [node_modules]
"""
        )
    style = rng.randrange(3)
    if style == 0:
        publish = """  publish:
    docker:
      - image: cimg/node:20.11
    steps:
      - checkout
      - run: npm ci
      - run: echo "//registry.npmjs.org/:_authToken=$NPM_TOKEN" > ~/.npmrc
      - run: npm publish --access public
"""
        context = ""
    elif style == 1:
        publish = """  publish:
    docker:
      - image: cimg/node:24.16
    steps:
      - checkout
      - run: npm ci
      - run:
          name: Publish (trusted publishing)
          command: |
            set -eu
            NPM_ID_TOKEN="$(circleci run oidc get --claims '{"aud":"npm:registry.npmjs.org"}')"
            if [ -z "$NPM_ID_TOKEN" ]; then exit 1; fi
            export NPM_ID_TOKEN
            npm publish --access public
"""
        context = "\n          context: [npm-publish]"
    else:
        publish = """  publish:
    docker:
      - image: cimg/node:22.14
    steps:
      - checkout
      - run:
          command: |
            echo "export NPM_ID_TOKEN=$(circleci run oidc get --claims '{\\"aud\\": \\"npm:registry.npmjs.org\\"}')" >> "$BASH_ENV"
      - run: npx semantic-release
"""
        context = ""
    workflow_jobs = "\n".join(f"      - {n}" for n in names)
    return f"""# Generated for the tokenless lint benchmark.
version: 2.1

jobs:
{"".join(jobs)}{publish}
workflows:
  main:
    jobs:
{workflow_jobs}
      - publish:
          requires: [{names[0]}]{context}
          filters:
            branches:
              only: main
"""


def github(rng):
    jobs = []
    for i in range(rng.randint(1, 10)):
        jobs.append(
            f"""  {rng.choice(WORDS)}-{i}:
    runs-on: ${{{{ matrix.os }}}}
    strategy:
      fail-fast: false
      matrix:
        os: [ubuntu-latest, macos-latest, windows-latest]
        node: [{", ".join(rng.sample(NODE_VERSIONS[:5], 3))}]
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: ${{{{ matrix.node }}}}
          cache: npm
      - run: |
{shell_body(rng, 10, rng.randint(2, 10))}
"""
        )
    style = rng.randrange(3)
    if style == 0:
        publish = """  publish:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 20
          registry-url: https://registry.npmjs.org
      - run: npm ci
      - run: npm publish
        env:
          NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}
"""
    elif style == 1:
        publish = """  publish:
    runs-on: ubuntu-latest
    permissions:
      contents: read
      id-token: write
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 24
          registry-url: https://registry.npmjs.org
      - run: npm ci
      - run: npm publish --provenance
"""
    else:
        publish = """  publish:
    runs-on: ubuntu-latest
    permissions:
      id-token: write
    steps:
      - uses: actions/checkout@v4
      - uses: JS-DevTools/npm-publish@v3
        with:
          token: ${{ secrets.NPM_TOKEN }}
"""
    trigger = rng.choice(["push:\n    branches: [main]", "push:\n    tags: ['v*']", "pull_request:\n  push:"])
    return f"""# Generated for the tokenless lint benchmark.
name: ci-{rng.randrange(1000)}

on:
  {trigger}

permissions:
  contents: read

jobs:
{"".join(jobs)}{publish}"""


def gitlab(rng):
    jobs = []
    for i in range(rng.randint(2, 14)):
        jobs.append(
            f"""{rng.choice(WORDS)}-{i}:
  <<: *node
  stage: test
  script:
{shell_body(rng, 4, rng.randint(2, 10), bullet="- ")}
  artifacts:
    when: always
    paths: [coverage/]
"""
        )
    style = rng.randrange(2)
    if style == 0:
        publish = """publish:
  <<: *node
  stage: release
  rules:
    - if: $CI_COMMIT_TAG
  script:
    - echo "//registry.npmjs.org/:_authToken=${NPM_TOKEN}" > .npmrc
    - npm publish
"""
    else:
        publish = """publish:
  <<: *node
  stage: release
  id_tokens:
    NPM_ID_TOKEN:
      aud: "npm:registry.npmjs.org"
  rules:
    - if: $CI_COMMIT_TAG
  script:
    - npm publish
"""
    return f""".node: &node
  image: node:{rng.choice(["20", "22", "24"])}
  cache:
    key: $CI_COMMIT_REF_SLUG
    paths: [node_modules/]
  before_script:
    - npm ci

stages:
  - test
  - release

{"".join(jobs)}{publish}"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--count", type=int, default=2100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    totals = {"circleci": [0, 0], "github": [0, 0], "gitlab": [0, 0]}
    for n in range(args.count):
        repo = os.path.join(args.out, f"repo-{n:04d}")
        kind = ("circleci", "github", "gitlab")[n % 3]
        if kind == "circleci":
            path, text = os.path.join(repo, ".circleci", "config.yml"), circleci(rng)
        elif kind == "github":
            path, text = os.path.join(repo, ".github", "workflows", f"ci-{n}.yml"), github(rng)
        else:
            path, text = os.path.join(repo, ".gitlab-ci.yml"), gitlab(rng)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        totals[kind][0] += 1
        totals[kind][1] += len(text.encode())
    for kind, (files, size) in totals.items():
        print(kind, files, size)


if __name__ == "__main__":
    main()
