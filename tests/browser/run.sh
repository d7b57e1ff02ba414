#!/usr/bin/env bash
# Browser tests: the real hearth binary, driven in headless Chromium by playwright-core.
#
#   bash tests/browser/run.sh [name-filter-regexp]
#
# Installs Debian's chromium when /usr/bin/chromium is missing (needs root, as in CI), runs
# `npm ci` here, builds the debug binary unless HEARTH_BIN names one, and runs the tests.
# Exits non-zero on any failure, including a browser that cannot start.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  if [ "$chromium" != /usr/bin/chromium ]; then
    echo "run.sh: CHROMIUM_PATH=$chromium is not an executable" >&2
    exit 1
  fi
  echo "== installing chromium (apt-get)"
  if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo -n); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" apt-get install -y -q chromium </dev/null
fi
"$chromium" --version || { echo "run.sh: $chromium does not run" >&2; exit 1; }

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "run.sh: node and npm are needed (Node 20 or newer)" >&2
  exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "run.sh: Node $(node --version) is too old; playwright-core needs 20 or newer" >&2
  exit 1
fi

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 # playwright-core ships no browser; never fetch one
echo "== npm ci (tests/browser)"
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

if [ -z "${HEARTH_BIN:-}" ]; then
  echo "== cargo build (the hearth binary)"
  cargo build --bin hearth
  target="${CARGO_TARGET_DIR:-$repo/target}"
  case "$target" in /*) ;; *) target="$repo/$target" ;; esac
  export HEARTH_BIN="$target/debug/hearth"
fi

cd "$here"
echo "== client unit tests (static/hearth-client.js in Node)"
node client-unit.mjs

echo "== browser tests ($HEARTH_BIN)"
exec node run-tests.mjs "$@"
