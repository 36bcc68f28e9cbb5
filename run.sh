#!/usr/bin/env bash
# ./run.sh — installs the build dependencies, builds fitserve (Release, in build/), and serves a
# model behind the OpenAI-compatible API.
#   MODEL=path/to/model.gguf ./run.sh [more `fitserve serve` flags]   (default: models/stories260K.gguf)
#   HOST (default 127.0.0.1), PORT (default 8080), API_KEY (optional) set the listen address and key.
set -euo pipefail
cd "$(dirname "$0")"
MODEL=${MODEL:-models/stories260K.gguf}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8080}
JOBS=${JOBS:-$(nproc)}

./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build -j"$JOBS" fitserve

[ -f "$MODEL" ] || { echo "run.sh: no model at $MODEL (set MODEL=path/to/model.gguf)" >&2; exit 1; }
ARGS=(serve -m "$MODEL" --host "$HOST" --port "$PORT")
AUTH=""
if [ -n "${API_KEY:-}" ]; then
  ARGS+=(--api-key "$API_KEY")
  AUTH=" -H 'Authorization: Bearer $API_KEY'"
fi
CURL_HOST=$HOST
[ "$CURL_HOST" = 0.0.0.0 ] && CURL_HOST=127.0.0.1
cat <<MSG

fitserve is starting on http://$HOST:$PORT (Ctrl-C stops it). Try, from another terminal:

  curl http://$CURL_HOST:$PORT/v1/chat/completions -H 'Content-Type: application/json'$AUTH -d '{"messages":[{"role":"user","content":"Tell me a story about a cat."}],"max_tokens":64}'

Any OpenAI client works too: base URL http://$CURL_HOST:$PORT/v1, any model name.

MSG
exec build/fitserve "${ARGS[@]}" "$@"
