#!/usr/bin/env bash
# tests/server/curl_test.sh <fitserve> — the raw HTTP protocol with curl against live servers on
# stories260K: every endpoint's shape, SSE framing ([DONE], event separators, headers), the
# 400/401/404/413/501 cases with the OpenAI error body, API-key rules, flag errors, and SIGTERM
# exiting 0. JSON is checked with small node expressions (`j` is the parsed body).
set -uo pipefail
BIN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${FITSERVE_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}
MODEL=$ROOT/tests/data/stories260K.gguf
command -v curl >/dev/null || { echo "skipped: curl not installed"; exit 77; }
command -v node >/dev/null || { echo "skipped: node not installed"; exit 77; }
. "$HERE/lib.sh"


# req METHOD PATH [BODY] [extra curl args...] -> sets STATUS, BODY, HDRS
req() {
  local method=$1 path=$2 body=${3:-}; shift 3 2>/dev/null || shift $#
  local args=(-s -o "$TMP/body" -D "$TMP/hdrs" -w '%{http_code}' -X "$method")
  [ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  STATUS=$(curl "${args[@]}" "$@" "$BASE$path")
  BODY=$(cat "$TMP/body")
  HDRS=$(cat "$TMP/hdrs")
}

# jcheck LABEL EXPR — EXPR is JavaScript over `j` (the JSON body) and `s` (the status).
jcheck() {
  node -e '
    let j; try { j = JSON.parse(process.argv[1]); } catch { j = undefined; }
    const s = Number(process.argv[2]);
    if (!eval(process.argv[3])) { console.log("FAIL: " + process.argv[4] + "\n  expr: " + process.argv[3] +
      "\n  status " + s + ", body: " + process.argv[1].slice(0, 400)); process.exit(1); }' \
    "$BODY" "$STATUS" "$2" "$1" || FAILS=$((FAILS + 1))
}
# expect_error LABEL STATUS TYPE
expect_error() {
  jcheck "$1" "s === $2 && j && j.error && j.error.code === $2 && j.error.type === '$3' && typeof j.error.message === 'string'"
}

# ---------------- plain server ----------------
start_server plain -m "$MODEL" -np 2 -c 1024 -t 2 --max-body-mb 1
req GET /health
jcheck "health" 's === 200 && j.status === "ok"'
echo "$HDRS" | grep -qi '^content-type: application/json' || fail "health content-type"
req GET /v1/models
jcheck "models" 's === 200 && j.object === "list" && j.data.length === 1 && j.data[0].id === "stories260K" && j.data[0].owned_by === "llamacpp"'
req GET /props
jcheck "props" 's === 200 && j.total_slots === 2 && j.default_generation_settings.n_ctx === 512 && j.model_path.endsWith(".gguf")'
req GET /slots
jcheck "slots" 's === 200 && Array.isArray(j) && j.length === 2 && j.every(x => x.n_ctx === 512 && x.is_processing === false)'

CHAT='{"messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":10,"temperature":0}'
req POST /v1/chat/completions "$CHAT"
jcheck "chat" 's === 200 && j.object === "chat.completion" && j.id.startsWith("chatcmpl-") && j.choices[0].message.role === "assistant" && typeof j.choices[0].message.content === "string" && j.choices[0].finish_reason === "length" && j.usage.completion_tokens === 10 && j.usage.total_tokens === j.usage.prompt_tokens + 10 && typeof j.timings.predicted_per_second === "number"'
CONTENT=$(node -e 'process.stdout.write(JSON.parse(process.argv[1]).choices[0].message.content)' "$BODY")
req POST /chat/completions "$CHAT"
jcheck "chat alias path" 's === 200 && j.object === "chat.completion"'

# SSE: raw framing.
curl -sN -D "$TMP/sse_hdrs" -H 'Content-Type: application/json' \
  -d '{"messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":10,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}' \
  "$BASE/v1/chat/completions" >"$TMP/sse"
grep -qi '^content-type: text/event-stream' "$TMP/sse_hdrs" || fail "SSE content-type"
ends_with_done() { printf 'data: [DONE]\n\n' | cmp -s - <(tail -c 14 "$1"); }
ends_with_done "$TMP/sse" || fail "SSE does not end with data: [DONE]"
node -e '
  const raw = require("fs").readFileSync(process.argv[1], "utf8");
  const events = raw.split("\n\n").filter(Boolean);
  const bad = events.filter(e => !e.startsWith("data: ") && !e.startsWith(":"));
  if (bad.length) { console.log("FAIL: non-data SSE events", bad); process.exit(1); }
  const data = events.map(e => e.slice(6)).filter(d => d !== "[DONE]").map(d => JSON.parse(d));
  const first = data[0].choices[0].delta;
  if (first.role !== "assistant" || first.content !== null) { console.log("FAIL: first delta", first); process.exit(1); }
  let text = ""; let finish = null;
  for (const c of data) for (const ch of c.choices) { if (ch.delta.content) text += ch.delta.content; if (ch.finish_reason) finish = ch.finish_reason; }
  const last = data[data.length - 1];
  if (last.choices.length !== 0 || last.usage.completion_tokens !== 10) { console.log("FAIL: usage chunk", last); process.exit(1); }
  if (text !== process.argv[2]) { console.log("FAIL: streamed text differs", JSON.stringify(text), JSON.stringify(process.argv[2])); process.exit(1); }
  if (finish !== "length") { console.log("FAIL: finish", finish); process.exit(1); }
' "$TMP/sse" "$CONTENT" || FAILS=$((FAILS + 1))

req POST /v1/completions '{"prompt":"Once upon a time","max_tokens":8,"temperature":0}'
jcheck "completions" 's === 200 && j.object === "text_completion" && j.choices[0].text.length > 0 && j.usage.completion_tokens === 8'
curl -sN -H 'Content-Type: application/json' -d '{"prompt":"Once upon a time","max_tokens":8,"temperature":0,"stream":true}' \
  "$BASE/v1/completions" >"$TMP/csse"
ends_with_done "$TMP/csse" || fail "completions SSE does not end with [DONE]"
req POST /completion '{"prompt":"Once upon a time","n_predict":8,"temperature":0}'
jcheck "native completion" 's === 200 && j.stop === true && j.stop_type === "limit" && j.tokens_predicted === 8 && typeof j.timings.prompt_n === "number" && typeof j.has_new_line === "boolean" && j.generation_settings.n_predict === 8'
curl -sN -H 'Content-Type: application/json' -d '{"prompt":"Once upon a time","n_predict":8,"temperature":0,"stream":true}' \
  "$BASE/completion" >"$TMP/nsse"
grep -q '\[DONE\]' "$TMP/nsse" && fail "native stream must not send [DONE]"
grep -q '"stop":true' "$TMP/nsse" || fail "native stream has no final stop:true chunk"
req POST /tokenize '{"content":"Hello world","with_pieces":true}'
jcheck "tokenize" 's === 200 && j.tokens.length > 0 && j.tokens.every(t => Number.isInteger(t.id) && "piece" in t)'
req POST /tokenize '{"content":"Hello world"}'
IDS=$(node -e 'process.stdout.write(JSON.stringify(JSON.parse(process.argv[1]).tokens))' "$BODY")
req POST /detokenize "{\"tokens\":$IDS}"
jcheck "detokenize round trip" 's === 200 && j.content === "Hello world"'
req POST /apply-template "$CHAT"
jcheck "apply-template" 's === 200 && typeof j.prompt === "string" && j.prompt.includes("Tell me a story")'
req GET /metrics
[ "$STATUS" = 200 ] || fail "metrics status $STATUS"
for m in prompt_tokens_total tokens_predicted_total n_decode_total requests_processing prompt_tokens_seconds; do
  grep -q "^# TYPE llamacpp:$m " "$TMP/body" || fail "metric $m missing"
done
grep -q '^llamacpp:requests_processing 0$' "$TMP/body" || fail "requests_processing not 0 when idle"

# Invalid requests: 400 with the OpenAI error body; the server keeps serving.
req POST /v1/chat/completions '{"messages":[{"role":"user","content":"x"}'
expect_error "truncated JSON" 400 invalid_request_error
req POST /v1/chat/completions 'not json at all'
expect_error "bad JSON" 400 invalid_request_error
req POST /v1/chat/completions '{"max_tokens":3}'
expect_error "missing messages" 400 invalid_request_error
req POST /v1/chat/completions '{"messages":[]}'
expect_error "empty messages" 400 invalid_request_error
req POST /v1/chat/completions '{"messages":"hello"}'
expect_error "messages not an array" 400 invalid_request_error
req POST /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"max_tokens":-5}'
expect_error "negative max_tokens" 400 invalid_request_error
req POST /v1/chat/completions '{"messages":[{"role":"robot","content":"x"}]}'
expect_error "unknown role" 400 invalid_request_error
req POST /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"n":3}'
expect_error "n above slots" 400 invalid_request_error
req POST /v1/chat/completions '{"messages":[{"role":"user","content":"x"}],"temperature":"hot"}'
expect_error "wrong type" 400 invalid_request_error
req POST /v1/chat/completions '{"messages":[{"role":"user","content":42}]}'
expect_error "wrong content type" 400 invalid_request_error
DEEP=$(node -e 'process.stdout.write("{\"a\":" + "[".repeat(200) + "]".repeat(200) + "}")')
req POST /v1/chat/completions "$DEEP"
expect_error "JSON nested too deep" 400 invalid_request_error
LONG=$(node -e 'process.stdout.write(JSON.stringify({messages:[{role:"user",content:"Once upon a time ".repeat(200)}]}))')
req POST /v1/chat/completions "$LONG"
expect_error "prompt over the slot context" 400 exceed_context_size_error
jcheck "context error details" 'j.error.n_ctx === 512 && j.error.n_prompt_tokens > 512'
node -e 'process.stdout.write("{\"prompt\":\"" + "a".repeat(2 * 1024 * 1024) + "\"}")' >"$TMP/big.json"
STATUS=$(curl -s -o "$TMP/body" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "@$TMP/big.json" "$BASE/completion")
BODY=$(cat "$TMP/body")
expect_error "body over --max-body-mb" 413 invalid_request_error
req GET /no/such/route
expect_error "unknown route" 404 not_found_error
req POST /props '{}'
expect_error "POST /props" 501 not_supported_error
req POST /v1/chat/completions "$CHAT"
jcheck "still serving after bad input" "s === 200 && j.choices[0].message.content === $(node -e 'process.stdout.write(JSON.stringify(process.argv[1]))' "$CONTENT")"

# CORS: preflight and echoed origin.
curl -s -o /dev/null -D "$TMP/cors" -X OPTIONS -H 'Origin: http://example.test' \
  -H 'Access-Control-Request-Method: POST' "$BASE/v1/chat/completions"
grep -q '^HTTP/1.1 200' "$TMP/cors" || fail "OPTIONS preflight status"
grep -qi '^access-control-allow-origin: http://example.test' "$TMP/cors" || fail "preflight origin"
grep -qi '^access-control-allow-methods: .*POST' "$TMP/cors" || fail "preflight methods"
curl -s -o /dev/null -D "$TMP/cors2" -H 'Origin: http://example.test' "$BASE/health"
grep -qi '^access-control-allow-origin: http://example.test' "$TMP/cors2" || fail "GET echoes Origin"

# SIGTERM: exit 0.
kill -TERM "$PID_plain"
wait "$PID_plain"; rc=$?
[ "$rc" = 0 ] || fail "exit status after SIGTERM: $rc"

# ---------------- API key, --no-metrics, --no-slots ----------------
echo "sk-file-key" >"$TMP/keys"
start_server auth -m "$MODEL" --api-key sk-one --api-key-file "$TMP/keys" --no-metrics --no-slots --alias b-name,a-name
req GET /health
jcheck "health is public" 's === 200'
for p in /v1/models /props /metrics /slots; do
  req GET $p
  expect_error "GET $p without key" 401 authentication_error
done
for p in /v1/chat/completions /v1/completions /completion /tokenize /detokenize /apply-template; do
  req POST $p "$CHAT"
  expect_error "POST $p without key" 401 authentication_error
done
req GET /v1/models '' -H 'Authorization: Bearer sk-nope'
expect_error "wrong key" 401 authentication_error
req GET /v1/models '' -H 'Authorization: Bearer sk-one'
jcheck "Bearer key" 's === 200 && j.data[0].id === "a-name" && j.data[0].aliases.length === 2'
req GET /v1/models '' -H 'X-Api-Key: sk-file-key'
jcheck "X-Api-Key from --api-key-file" 's === 200'
req POST /v1/chat/completions "$CHAT" -H 'Authorization: Bearer sk-one'
jcheck "chat with key" 's === 200 && j.model === "a-name"'
req GET /metrics '' -H 'Authorization: Bearer sk-one'
expect_error "--no-metrics" 501 not_supported_error
req GET /slots '' -H 'Authorization: Bearer sk-one'
expect_error "--no-slots" 501 not_supported_error
kill -INT "$PID_auth"
wait "$PID_auth"; rc=$?
[ "$rc" = 0 ] || fail "exit status after SIGINT: $rc"

# ---------------- flag errors ----------------
out=$("$BIN" serve -m "$MODEL" --ctx 512 2>&1); rc=$?
[ "$rc" != 0 ] || fail "unknown flag accepted"
echo "$out" | grep -q -- "--ctx-size" || fail "unknown flag: no close match listed: $out"
out=$("$BIN" serve 2>&1); rc=$?
[ "$rc" != 0 ] && echo "$out" | grep -q "no model" || fail "missing -m: $out"
"$BIN" serve --help | grep -q -- "--api-key-file" || fail "--help lacks --api-key-file"

if [ "$FAILS" -gt 0 ]; then echo "curl_test: $FAILS failure(s)"; exit 1; fi
echo "curl_test: ok"
