#!/usr/bin/env bash
# Runs a command with Node.js 22 and the project's dependencies installed.
#
# The Google client libraries opwatch uses need Node.js >= 22 (the Cloud Functions runtime is nodejs22). Where the
# machine's node is older, Node 22 comes from the npm registry's `node@22` package into .node22/ in this checkout;
# the system install is never touched. Dependencies are (re)installed from the lock file whenever package-lock.json changes.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(node_major)" -lt 22 ]; then
  if [ ! -x "$root/.node22/node_modules/.bin/node" ]; then
    echo "opwatch: system node is $(node --version 2>/dev/null || echo missing); installing node@22 into .node22/" >&2
    npm install --prefix "$root/.node22" --no-save --no-package-lock --loglevel=error node@22 >&2
  fi
  export PATH="$root/.node22/node_modules/.bin:$PATH"
fi

stamp="$root/node_modules/.opwatch-install-stamp"
want=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "opwatch: installing dependencies with node $(node --version)" >&2
  # Exactly the lock, as Cloud Functions' build and CI install it: a lock out of step with package.json fails here.
  npm ci --loglevel=error --no-audit --no-fund >&2
  echo "$want" >"$stamp"
fi

exec "$@"
