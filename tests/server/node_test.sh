#!/usr/bin/env bash
# tests/server/node_test.sh <script.mjs> <fitserve> — runs a Node live-server test; skipped (77)
# when node is not installed.
command -v node >/dev/null || { echo "skipped: node not installed"; exit 77; }
exec node "$@"
