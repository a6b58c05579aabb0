#!/usr/bin/env bash
# Runs every fuzz target for a fixed number of iterations over a fresh copy of
# its seed corpus (fuzz/corpus/<name>) inside the build directory, so new
# inputs never land in the source tree. Exits 1 if any target fails (crash,
# leak, UB, assertion); artifacts and logs stay in <build>/fuzz-out/.
# Usage: fuzz/run-fuzzers.sh [BUILD_DIR] [RUNS]
set -uo pipefail

build=${1:-build-fuzz}
runs=${2:-50000}
source_dir=$(cd "$(dirname "$0")" && pwd)
out="$build/fuzz-out"

# name:max_len — inputs bigger than a real flow, template, stream or body add nothing.
targets=(flow_loader:4096 template:512 expr:256 sse_line_parser:4096 input_schema:1024 chunk_scanner:1024 request_head:4096 http_body:2048)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for target in "${targets[@]}"; do
  name=${target%%:*}
  max_len=${target##*:}
  corpus="$out/corpus/$name"
  rm -rf "$corpus" && mkdir -p "$corpus" "$out/artifacts"
  cp "$source_dir/corpus/$name/"* "$corpus/"
  dict=()
  [[ -f "$source_dir/$name.dict" ]] && dict=(-dict="$source_dir/$name.dict")
  start=$SECONDS
  "$build/fuzz/${name}_fuzzer" -runs="$runs" -max_len="$max_len" -seed=1 -timeout=10 \
    -print_final_stats=1 "${dict[@]}" -artifact_prefix="$out/artifacts/$name-" "$corpus" \
    >"$out/$name.log" 2>&1
  status=$?
  stats=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$out/$name.log" | grep -Eo '[0-9]+$')
  if [[ $status -eq 0 ]]; then
    echo "fuzz: $name ok (${stats:-?} runs, $((SECONDS - start))s)"
  else
    echo "fuzz: $name FAILED (exit $status, $((SECONDS - start))s); log: $out/$name.log"
    # The error, flowrun's own stack frames and where the crashing input was saved.
    grep -E 'ERROR|SUMMARY|runtime error|fuzz check failed|what\(\)|Test unit written|/(src|fuzz)/[^ ]*\.(cpp|h):[0-9]' \
      "$out/$name.log" | head -30
    failed+=("$name")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: all targets passed"
