#!/usr/bin/env bash
# Runs the end-to-end tests (`make e2e` calls this after scripts/install-e2e-deps.sh).
# Usage: tests/e2e/run.sh [BUILD_DIR] [TEST...]   (default: build, every *test.mjs here)
# Each test file runs under node's test runner with a hard time limit; the test files stop
# every process they start (also on failure or a signal). Prints one summary line per file
# and a final "e2e: N passed, N failed" over all their tests.
set -uo pipefail
cd "$(dirname "$0")/../.."

build=${1:-build}
shift || true
tests=("$@")
[[ ${#tests[@]} -gt 0 ]] || tests=(tests/e2e/playground.test.mjs tests/e2e/nginx_test.mjs tests/e2e/openai_sdk.test.mjs)
export FLOWRUN_BIN=$PWD/$build/flowrun
limit=${E2E_TIMEOUT:-180}  # seconds per test file

passed=0 failed=0 files_failed=0 summary=()
for test in "${tests[@]}"; do
  name=$(basename "$test" .mjs)
  name=${name%.test}
  name=${name%_test}
  echo "== e2e $name ($test)"
  log=$(mktemp)
  start=$(date +%s.%N)
  # timeout sends SIGTERM (the test stops its servers and browser), then SIGKILL 15 s later.
  timeout -k 15 "$limit" node --test-reporter=spec "$test" </dev/null 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  p=$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$log" | tail -1)
  rm -f "$log"
  p=${p:-0} f=${f:-0}
  if [[ $rc -eq 0 && $f -eq 0 && $p -gt 0 ]]; then
    result=PASS
  else
    result=FAIL
    files_failed=$((files_failed + 1))
    [[ $rc -eq 124 ]] && echo "e2e $name: killed after ${limit} s"
    [[ $f -gt 0 ]] || f=$((f + 1))  # a crash or time-out counts as a failure
  fi
  passed=$((passed + p)) failed=$((failed + f))
  summary+=("e2e $name: $result ($p passed, $f failed, ${secs} s)")
done

echo
printf '%s\n' "${summary[@]}"
echo "e2e: $passed passed, $failed failed"
[[ $files_failed -eq 0 ]]
