#!/usr/bin/env bash
# tests/server/openai_client_test.sh <fitserve> <work dir>
# Installs the real `openai` npm client into <work dir>/npm (once; skipped with exit 77 when npm
# or the registry is unavailable), then runs openai_client_test.mjs against a live server.
set -uo pipefail
BIN=$1
WORK=${2:-$(dirname "$BIN")/openai-client}
HERE=$(cd "$(dirname "$0")" && pwd)
command -v node >/dev/null || { echo "skipped: node not installed"; exit 77; }
command -v npm >/dev/null || { echo "skipped: npm not installed"; exit 77; }
NPM_DIR=$WORK/npm
if [ ! -f "$NPM_DIR/node_modules/openai/package.json" ]; then
  mkdir -p "$NPM_DIR"
  [ -f "$NPM_DIR/package.json" ] || echo '{"private":true}' >"$NPM_DIR/package.json"
  if ! timeout 180 npm install --prefix "$NPM_DIR" --no-audit --no-fund --silent openai@4 >"$WORK/npm.log" 2>&1; then
    echo "skipped: could not install the openai npm package (offline?)"
    tail -5 "$WORK/npm.log"
    exit 77
  fi
fi
OPENAI_NPM_DIR=$NPM_DIR exec node "$HERE/openai_client_test.mjs" "$BIN"
