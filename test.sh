#!/usr/bin/env bash
# ./test.sh — installs dependencies, builds, and runs every test:
#   1. Release build + CTest (unit, golden, CLI and live-server tests)
#   2. ASan+UBSan build + the same CTest suite (FITSERVE_SKIP_ASAN=1 skips)
#   3. libFuzzer targets (clang), the GGUF reader for 60 s, the others briefly (FITSERVE_SKIP_FUZZ=1 skips)
# Test data outside the repo is read from $FITSERVE_TESTDATA (default ../shared/testdata).
set -uo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)
JOBS=${JOBS:-$(nproc)}
export FITSERVE_TESTDATA=${FITSERVE_TESTDATA:-$ROOT/../shared/testdata}

./scripts/install-deps.sh || { echo "test.sh: dependency installation failed"; exit 1; }

total_pass=0; total_fail=0; status=0
run_ctest() {  # $1 = build dir, $2 = label
  local log; log=$(mktemp)
  (cd "$1" && ctest --output-on-failure -j"$JOBS" --timeout 900) 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local line; line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -1)
  local failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/')
  local all=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/')
  if [ -n "$line" ]; then
    total_pass=$((total_pass + all - failed)); total_fail=$((total_fail + failed))
  else
    total_fail=$((total_fail + 1))
  fi
  [ "$rc" -ne 0 ] && status=1
  echo "test.sh: $2: $line"
  rm -f "$log"
}

echo "== Release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
ninja -C build -j"$JOBS" || { echo "test.sh: Release build failed"; exit 1; }
run_ctest build release

if [ "${FITSERVE_SKIP_ASAN:-0}" != 1 ]; then
  echo "== ASan+UBSan build"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DFITSERVE_SANITIZE=ON -DFITSERVE_BENCH=OFF \
        -DCMAKE_CXX_FLAGS="-O1" >/dev/null || exit 1
  ninja -C build-asan -j"$JOBS" || { echo "test.sh: ASan build failed"; exit 1; }
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export FITSERVE_UNDER_ASAN=1
  run_ctest build-asan asan
  unset FITSERVE_UNDER_ASAN
fi

if [ "${FITSERVE_SKIP_FUZZ:-0}" != 1 ]; then
  echo "== libFuzzer targets"
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFITSERVE_FUZZ=ON >/dev/null || exit 1
  ninja -C build-fuzz -j"$JOBS" || { echo "test.sh: fuzz build failed"; exit 1; }
  for fz in build-fuzz/*_fuzz; do
    [ -x "$fz" ] || continue
    name=$(basename "$fz")
    secs=${FUZZ_SECONDS:-20}
    [ "$name" = reader_fuzz ] && secs=${FUZZ_SECONDS_GGUF:-60}
    corpus_src=tests/fuzz/corpus_${name%_fuzz}
    corpus=$(mktemp -d)
    [ -d "$corpus_src" ] && cp -r "$corpus_src"/. "$corpus"/
    [ "$name" = reader_fuzz ] && cp tests/fuzz/corpus_gguf/* "$corpus"/ 2>/dev/null
    echo "-- $name for ${secs}s"
    if "$fz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 "$corpus" >"build-fuzz/$name.log" 2>&1; then
      total_pass=$((total_pass + 1)); echo "fuzz $name: ok ($(grep -c '' build-fuzz/$name.log) log lines)"
    else
      total_fail=$((total_fail + 1)); status=1; echo "fuzz $name: FAILED"; tail -40 "build-fuzz/$name.log"
    fi
    rm -rf "$corpus"
  done
fi

echo "test.sh: $total_pass passed, $total_fail failed"
exit $status
