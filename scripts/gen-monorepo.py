#!/usr/bin/env python3
"""A generated monorepo for scripts/bench-lint: N packages whose publishes go through
package scripts and a shell script, with CI configs that reach them only through
`pnpm --filter … run`, root scripts and `cd … && ./publish.sh`.

    scripts/gen-monorepo.py DIR [--packages 200]
"""
import argparse
import json
import os

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--packages", type=int, default=200)
a = ap.parse_args()
root = a.dir
n = a.packages


def write(rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


root_scripts = {"build": "pnpm -r run build", "test": "vitest run"}
for i in range(n):
    root_scripts[f"release:pkg{i}"] = f"cd packages/pkg{i} && ./publish.sh"
write("package.json", json.dumps({"name": "mono", "private": True,
                                  "workspaces": ["packages/*"],
                                  "scripts": root_scripts}, indent=2) + "\n")
write("pnpm-workspace.yaml", "packages:\n  - 'packages/*'\n")
write("scripts/publish-one.sh",
      "#!/usr/bin/env bash\nset -euo pipefail\nnpm run build\nnpm publish --access public\n")
for i in range(n):
    write(f"packages/pkg{i}/package.json", json.dumps({
        "name": f"@mono/pkg{i}",
        "version": "1.0.0",
        "scripts": {
            "build": "tsc -p .",
            "test": "vitest run",
            "ci:publish": "npm run build && bash ../../scripts/publish-one.sh",
        },
    }, indent=2) + "\n")
    write(f"packages/pkg{i}/publish.sh",
          "#!/bin/sh\nset -e\nnpm run build\nnpm publish --access public\n")
    write(f".github/workflows/publish-pkg{i}.yml", f"""name: publish pkg{i}
on:
  push:
    tags: ['pkg{i}@*']
permissions:
  contents: read
  id-token: write
jobs:
  publish:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-node@v4
        with:
          node-version: 24
          registry-url: https://registry.npmjs.org
      - run: pnpm install --frozen-lockfile
      - run: pnpm --filter @mono/pkg{i} run ci:publish
""")
jobs = []
flows = []
for i in range(n):
    jobs.append(f"""  publish-pkg{i}:
    docker:
      - image: cimg/node:24.16
    steps:
      - checkout
      - run: npm ci
      - run:
          name: publish pkg{i}
          command: |
            set -eu
            NPM_ID_TOKEN="$(circleci run oidc get --claims '{{"aud":"npm:registry.npmjs.org"}}')"
            [ -n "$NPM_ID_TOKEN" ] || exit 1
            export NPM_ID_TOKEN
            npm run release:pkg{i}
""")
    flows.append(f"""      - publish-pkg{i}:
          context: [npm-publish]
          filters:
            branches:
              ignore: /.*/
            tags:
              only: /^pkg{i}@.*/
""")
write(".circleci/config.yml", "version: 2.1\njobs:\n" + "".join(jobs)
      + "workflows:\n  release:\n    jobs:\n" + "".join(flows))
