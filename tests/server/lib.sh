# tests/server/lib.sh — sourced by the server script tests: a temp dir, failure counting and
# starting `fitserve serve` processes that are killed when the script exits.
# Offers: TMP, PIDS, FAILS, fail MSG..., start_server NAME ARGS... (BIN serve --port 0 ARGS; waits
# up to 120 s for "listening on", sets BASE and PID_<NAME>; exits 1 if the server dies or hangs).
TMP=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$TMP"; }
trap cleanup EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }

start_server() {
  local name=$1; shift
  "$BIN" serve --port 0 "$@" >"$TMP/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  eval "PID_$name=$pid"
  local port=""
  for _ in $(seq 1 1200); do
    port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9][0-9]*\).*/\1/p' "$TMP/$name.log" | head -1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$TMP/$name.log"; echo "server $name died"; exit 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { cat "$TMP/$name.log"; echo "server $name did not start"; exit 1; }
  BASE=http://127.0.0.1:$port
}
