#!/usr/bin/env bash
# tests/server/spec_test.sh <fitserve> — `serve -md` as a live process on the tiny dense F16 pair
# (shared/testdata/models/gemma4-dense{,-assistant}-F16.gguf, given a synthetic vocabulary by
# gguf_add_vocab.py; prompts as token ids): with -np 3 and three concurrent requests the
# completions equal those of a server without the drafter (greedy, a stop string, a seeded
# sample), responses carry timings.draft_n / draft_n_accepted, /metrics spec_decode_* add up to
# them, /slots says speculative; a text model as drafter and a bad --spec-type exit 1.
set -uo pipefail
BIN=$1
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=${FITSERVE_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}
DATA=${FITSERVE_TESTDATA:-$ROOT/../shared/testdata}/models
command -v curl >/dev/null || { echo "skipped: curl not installed"; exit 77; }
command -v python3 >/dev/null || { echo "skipped: python3 not installed"; exit 77; }
for f in gemma4-dense-F16 gemma4-dense-assistant-F16; do
  [ -f "$DATA/$f.gguf" ] || { echo "skipped: $DATA/$f.gguf not found"; exit 77; }
done
. "$HERE/lib.sh"

python3 "$HERE/gguf_add_vocab.py" "$DATA/gemma4-dense-F16.gguf" "$TMP/target.gguf" || exit 1
python3 "$HERE/gguf_add_vocab.py" "$DATA/gemma4-dense-assistant-F16.gguf" "$TMP/assistant.gguf" || exit 1


BODIES=(
  '{"prompt":[2,158,97,19,228,246,124,237,154,107,83,43],"n_predict":32,"temperature":0,"ignore_eos":true,"return_tokens":true}'
  '{"prompt":[2,11,200,31,77,5,190],"n_predict":32,"temperature":0,"ignore_eos":true,"return_tokens":true,"stop":["[107][215]"]}'
  '{"prompt":[2,42,42,180,66,129,250,9,14],"n_predict":32,"temperature":0.9,"seed":42,"ignore_eos":true,"return_tokens":true}'
)
# run_all NAME: the three requests at once -> $TMP/NAME.{0,1,2}.json
run_all() {
  local name=$1 i pids=()
  for i in 0 1 2; do
    curl -s -m 120 -H 'Content-Type: application/json' --data-binary "${BODIES[$i]}" "$BASE/completion" >"$TMP/$name.$i.json" &
    pids+=($!)
  done
  wait "${pids[@]}"  # not the servers
}

start_server plain -m "$TMP/target.gguf" -t 2 -np 3 -c 768
run_all plain
curl -s "$BASE/metrics" >"$TMP/plain.metrics"

start_server spec -m "$TMP/target.gguf" -t 2 -md "$TMP/assistant.gguf" --spec-type draft-mtp --draft-max 4 -np 3 -c 768
grep -q "speculative decoding (draft-mtp)" "$TMP/spec.log" || fail "no startup line about speculative decoding"
run_all spec
curl -s "$BASE/metrics" >"$TMP/spec.metrics"
curl -s "$BASE/slots" >"$TMP/spec.slots"

python3 - "$TMP" <<'PY' || FAILS=$((FAILS + 1))
import json, re, sys
tmp = sys.argv[1]
bad = 0
def check(ok, what):
    global bad
    if not ok:
        print("FAIL:", what)
        bad += 1
def metric(name, kind):
    m = re.search(r"\nllamacpp:" + name + r" ([0-9.e+-]+)\n", open(f"{tmp}/{kind}.metrics").read())
    return float(m.group(1)) if m else -1
drafted = accepted = 0
for i in range(3):
    p = json.load(open(f"{tmp}/plain.{i}.json"))
    s = json.load(open(f"{tmp}/spec.{i}.json"))
    check(p.get("tokens") == s.get("tokens") and p.get("content") == s.get("content"),
          f"request {i}: {s.get('tokens')} != {p.get('tokens')}")
    check(p.get("stop_type") == s.get("stop_type"), f"request {i}: stop_type {s.get('stop_type')} vs {p.get('stop_type')}")
    check("draft_n" not in p["timings"], f"request {i}: draft_n without a drafter")
    t = s["timings"]
    check(t.get("draft_n", 0) > 0 and 0 <= t.get("draft_n_accepted", -1) <= t["draft_n"], f"request {i}: timings {t}")
    drafted += t.get("draft_n", 0)
    accepted += t.get("draft_n_accepted", 0)
check(metric("spec_decode_num_draft_tokens_total", "spec") == drafted, "metrics: draft tokens != sum of draft_n")
check(metric("spec_decode_num_accepted_tokens_total", "spec") == accepted, "metrics: accepted != sum of draft_n_accepted")
check(metric("spec_decode_num_drafts_total", "spec") > 0, "metrics: no drafts")
check(metric("spec_decode_num_draft_tokens_total", "plain") == 0, "metrics: drafts without a drafter")
slots = json.load(open(f"{tmp}/spec.slots"))
check(len(slots) == 3 and all(s["speculative"] for s in slots), "slots: not speculative")
print(f"drafted {drafted}, accepted {accepted}; stop types", [json.load(open(f"{tmp}/spec.{i}.json")).get("stop_type") for i in range(3)])
sys.exit(1 if bad else 0)
PY

# Refusals at startup: exit 1 with a clear message.
"$BIN" serve --port 0 -m "$TMP/target.gguf" -md "$TMP/target.gguf" >"$TMP/wrong.log" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "cannot be used as a drafter" "$TMP/wrong.log" || fail "text model as drafter: rc $rc, $(cat "$TMP/wrong.log")"
"$BIN" serve --port 0 -m "$TMP/target.gguf" -md "$TMP/assistant.gguf" --spec-type ngram-simple >"$TMP/type.log" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -q "only draft-mtp" "$TMP/type.log" || fail "--spec-type ngram-simple: rc $rc, $(cat "$TMP/type.log")"

[ $FAILS -eq 0 ] && echo "spec_test: ok" || echo "spec_test: $FAILS failure(s)"
exit $((FAILS > 0))
