#!/usr/bin/env bash
# Runs every bench scenario, direct (load_client -> mock_upstream) and through
# flowrun (load_client -> flowrun -> mock_upstream) side by side, then prints
# the table and writes bench/results/latest.json.
#
#   bench/run.sh [BUILD_DIR]        (make bench does the builds first)
#
# Environment knobs (defaults in brackets):
#   BENCH_B_DURATION [15]  seconds per side for scenario b (each C)
#   BENCH_C_DURATION [10]  seconds per side for scenario c
#   BENCH_A_COUNT [2000]   sequential streams per side for scenario a
#   BENCH_REPEAT [1]       run every scenario this many times (spread in the table)
#   BENCH_B_CONCURRENCY ["100 1000 5000"]
#   BENCH_F_DURATION [30]  seconds per side for scenario f (C=8000, 20 tokens x 250 ms)
#   BENCH_G_DURATION [15]  seconds for scenario g (C=5000 on the mock provider)
#   BENCH_H_RUNS [20000]   runs of each flow per inner repeat for scenario h
#   BENCH_H_REPEATS [7]    inner repeats for scenario h (each alternates the two flows)
#   BENCH_V_DURATION [10]  seconds per side for scenario v (each of its 3 rounds)
#   BENCH_SCENARIOS ["a c e b f g h v"]  which scenarios run (e.g. "f" for scenario f alone)
#   BENCH_KEEP_LOGS [0]    1: keep flowrun/mock logs in bench/results/logs-<stamp>/
#   BENCH_PROFILE [0]      1: also record `perf` (cpu-clock) on flowrun during scenario c
#   BENCH_FLOWRUN [BUILD_DIR/flowrun]  the flowrun binary to measure (e.g. an older build, side by side)
#   BENCH_FLOWS [bench/flows]          the directory it serves (an older binary may refuse newer flows)
# Scenario e (slow clients: /healthz latency while 2000 connections drip header
# bytes) runs on the default server after c; it has no direct side.
# Scenarios f and g each get a flowrun with default serve flags (no --threads,
# no --max-streams); g (flowrun's own `mock` provider) has no direct side.
# Scenario h is in process (build/flowrun_runner_bench): burst20 and
# control20 (20 control steps around the model call) run on one event loop
# against the mock provider; it needs no server.
# Scenario v: C=1000 paced streams (50 tokens x 20 ms) direct, through the
# native endpoint and through /v1/chat/completions (the OpenAI facade), in 3
# interleaved rounds on one flowrun.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
TOOLS=$BUILD/bench
FLOWRUN=${BENCH_FLOWRUN:-$BUILD/flowrun}
FLOWS_DIR=${BENCH_FLOWS:-$BENCH_DIR/flows}
RESULTS=$BENCH_DIR/results
B_DURATION=${BENCH_B_DURATION:-15}
C_DURATION=${BENCH_C_DURATION:-10}
A_COUNT=${BENCH_A_COUNT:-2000}
REPEAT=${BENCH_REPEAT:-1}
B_CONCURRENCY=${BENCH_B_CONCURRENCY:-100 1000 5000}
F_DURATION=${BENCH_F_DURATION:-30}
G_DURATION=${BENCH_G_DURATION:-15}
PROFILE=${BENCH_PROFILE:-0}
H_RUNS=${BENCH_H_RUNS:-20000}
H_REPEATS=${BENCH_H_REPEATS:-7}
V_DURATION=${BENCH_V_DURATION:-10}
SCENARIOS=" ${BENCH_SCENARIOS:-a c e b f g h v} "
wants() { [[ $SCENARIOS == *" $1 "* ]]; }
RUNNER_BENCH=$BUILD/flowrun_runner_bench

# Scenarios over HTTP need the servers and clients; h alone needs neither.
SERVED=0
for s in a b c e f g v; do if wants $s; then SERVED=1; fi; done
TOOLS_NEEDED=("$TOOLS/bench_report")
if [[ $SERVED == 1 ]]; then
  TOOLS_NEEDED+=("$TOOLS/mock_upstream" "$TOOLS/load_client" "$TOOLS/slow_clients" "$FLOWRUN")
fi
if wants h; then TOOLS_NEEDED+=("$RUNNER_BENCH"); fi
for tool in "${TOOLS_NEEDED[@]}"; do
  [[ -x $tool ]] || { echo "bench: missing $tool (run 'make bench')" >&2; exit 2; }
done

mkdir -p "$RESULTS"
WORK=$(mktemp -d /tmp/flowrun-bench.XXXXXX)
RUNS=$WORK/runs.jsonl
: >"$RUNS"
# Scenario e (slow clients) has no direct side: its lines go to their own file.
SLOW_RESULTS=$RESULTS/slow_clients.jsonl
: >"$SLOW_RESULTS"
PIDS=()
START_TS=$(date +%s)
# Snapshot the binary: other builds may replace build/flowrun during the run.
if [[ -x $FLOWRUN ]]; then
  cp "$FLOWRUN" "$WORK/flowrun"
  FLOWRUN_VERSION=$(sha1sum "$FLOWRUN" | cut -c1-12)
else
  FLOWRUN_VERSION=none
fi
FLOWRUN=$WORK/flowrun
if wants h; then
  cp "$RUNNER_BENCH" "$WORK/flowrun_runner_bench"
  RUNNER_BENCH=$WORK/flowrun_runner_bench
fi

cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ ${BENCH_KEEP_LOGS:-0} == 1 ]]; then
    local keep
    keep=$RESULTS/logs-$(date +%Y%m%d-%H%M%S)
    mkdir -p "$keep" && cp "$WORK"/*.log "$WORK"/*.out "$keep"/ 2>/dev/null || true
    echo "bench: logs kept in $keep" >&2
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

log() { printf '[bench %3ss] %s\n' "$(($(date +%s) - START_TS))" "$*" >&2; }

forget_pid() {
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

# wait_listening PID FILE SECONDS: prints the port once FILE has "listening on".
wait_listening() {
  local pid=$1 file=$2 limit=$3 i
  local port
  for ((i = 0; i < limit * 10; i++)); do
    port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9][0-9]*\).*/\1/p' "$file" 2>/dev/null | head -1)
    if [[ -n $port ]]; then
      echo "$port"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
}

proc_field() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null || echo -1; }

record() { echo "$1" >>"$RUNS"; }

# --- mock upstream (one for the whole run; the model name picks N x D) -----
MOCK_PID=""
MOCK_PORT=""
MOCK_URL=""
if [[ $SERVED == 1 ]]; then
  "$TOOLS/mock_upstream" --port 0 >"$WORK/mock.out" 2>"$WORK/mock.log" &
  MOCK_PID=$!
  PIDS+=("$MOCK_PID")
  MOCK_PORT=$(wait_listening "$MOCK_PID" "$WORK/mock.out" 10) || { echo "bench: mock_upstream did not start" >&2; exit 1; }
  MOCK_URL=http://127.0.0.1:$MOCK_PORT/v1/chat/completions
  log "mock_upstream pid $MOCK_PID on port $MOCK_PORT"
fi

# --- flowrun ---------------------------------------------------------------
FLOWRUN_PID=""
FLOWRUN_PORT=""
FLOWRUN_ERROR=""
# start_flowrun NAME [serve options...]; sets FLOWRUN_PID/PORT or FLOWRUN_ERROR.
start_flowrun() {
  local name=$1
  shift
  FLOWRUN_PID=""
  FLOWRUN_PORT=""
  FLOWRUN_ERROR=""
  rm -f "$WORK/flowrun-$name.out"
  OPENAI_BASE_URL=http://127.0.0.1:$MOCK_PORT/v1 OPENAI_API_KEY='' \
    "$FLOWRUN" serve "$FLOWS_DIR" --host 127.0.0.1 --port 0 --heartbeat 86400 --drain-timeout 1 "$@" \
    >"$WORK/flowrun-$name.out" 2>"$WORK/flowrun-$name.log" &
  local pid=$!
  PIDS+=("$pid")
  local port
  if port=$(wait_listening "$pid" "$WORK/flowrun-$name.out" 60); then
    FLOWRUN_PID=$pid
    FLOWRUN_PORT=$port
    sleep 1  # let start-up settle before the idle sample
    local rss threads
    rss=$(proc_field "$pid" VmRSS)
    threads=$(proc_field "$pid" Threads)
    record "{\"label\":\"idle:$name\",\"kind\":\"idle\",\"serve_args\":\"$*\",\"rss_kib\":${rss:--1},\"threads\":${threads:--1}}"
    log "flowrun ($name: $*) pid $pid on port $port; idle RSS ${rss} KiB, ${threads} threads"
    return 0
  fi
  local why
  why=$(tail -c 400 "$WORK/flowrun-$name.log" | tr '\n"\\' '   ')
  if kill -0 "$pid" 2>/dev/null; then why="not listening after 60 s; $why"; else why="exited; $why"; fi
  FLOWRUN_ERROR="flowrun serve $* failed to start: $why"
  log "$FLOWRUN_ERROR"
  stop_pid "$pid"
  return 1
}

stop_flowrun() {
  [[ -n $FLOWRUN_PID ]] || return 0
  if ! kill -0 "$FLOWRUN_PID" 2>/dev/null; then log "flowrun pid $FLOWRUN_PID had died"; fi
  stop_pid "$FLOWRUN_PID"
  FLOWRUN_PID=""
}

# load LABEL URL FORMAT BODY [load_client options...]
load() {
  local label=$1 url=$2 format=$3 body=$4
  shift 4
  local pids=(--pid "mock=$MOCK_PID")
  [[ -n $FLOWRUN_PID && $label == *:flowrun* ]] && pids+=(--pid "flowrun=$FLOWRUN_PID")
  # In the background + wait, so a signal reaches the trap at once.
  "$TOOLS/load_client" --url "$url" --format "$format" --body "$body" --label "$label" "${pids[@]}" "$@" \
    >"$WORK/load.out" 2>>"$WORK/load.log" &
  local pid=$! status=0
  PIDS+=("$pid")
  wait "$pid" || status=$?
  forget_pid "$pid"
  if [[ $status == 0 && -s $WORK/load.out ]]; then
    record "$(cat "$WORK/load.out")"
    tail -1 "$WORK/load.log" | sed 's/^/    /' >&2
  else
    record "{\"label\":\"$label\",\"failed\":\"load_client exited with status $status\"}"
  fi
}

warm() {
  "$TOOLS/load_client" --url "$1" --format "$2" --body "$3" -c 1 --count 200 --max-time 20 >/dev/null 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait "$pid" || true
  forget_pid "$pid"
}

failed() { record "{\"label\":\"$1\",\"failed\":\"$2\"}"; }

# Scenario f: streams last ~4.75 s; starts are spread over 5 s and the
# first 6 s are warm-up (half the run when it is shorter than 12 s).
F_CONCURRENCY=8000
F_RAMP=5
F_WARMUP=$((F_DURATION >= 12 ? 6 : F_DURATION / 2))
# Scenario g: what flowrun's mock provider answers to FLOW_BODY (src/llm/mock_client.cpp),
# word by word; load_client checks every stream's whole text against it.
G_CONCURRENCY=5000
G_TEXT='You said: "hi". This is flowrun'"'"'s mock model; set OPENAI_API_KEY or OPENAI_BASE_URL to use a real one.'

DIRECT_BODY() { printf '{"model":"bench-%s","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"hi"}],"stream":true,"temperature":0.7}' "$1"; }
FLOW_BODY='{"message":"hi"}'
V1_BODY='{"model":"bench-paced50","stream":true,"messages":[{"role":"user","content":"hi"}]}'

for ((rep = 1; rep <= REPEAT; rep++)); do
  log "=== repeat $rep of $REPEAT ==="

  # Default serve options: idle RSS, scenario a (C=1) and c (C=50).
  if ! wants a && ! wants c && ! wants e; then
    :
  elif start_flowrun default; then
    if wants a; then
    log "scenario a: C=1, 20-token burst, $A_COUNT sequential streams"
    # Warm-up (not recorded): connections, curl handles, page faults.
    warm "$MOCK_URL" openai "$(DIRECT_BODY 20x0)"
    warm "http://127.0.0.1:$FLOWRUN_PORT/bench/burst20" flowrun "$FLOW_BODY"
    load "a:direct" "$MOCK_URL" openai "$(DIRECT_BODY 20x0)" -c 1 --count "$A_COUNT" --max-time 60 --expect-tokens 20
    load "a:flowrun" "http://127.0.0.1:$FLOWRUN_PORT/bench/burst20" flowrun "$FLOW_BODY" -c 1 --count "$A_COUNT" \
      --max-time 60 --expect-tokens 20
    fi

    if wants c; then
    log "scenario c: C=50, 200-token burst, ${C_DURATION}s per side"
    load "c:direct" "$MOCK_URL" openai "$(DIRECT_BODY 200x0)" -c 50 --duration "$C_DURATION" --warmup 2 \
      --expect-tokens 200
    if [[ $PROFILE == 1 ]] && command -v perf >/dev/null; then
      perf record -e cpu-clock -F 999 -g -p "$FLOWRUN_PID" -o "$RESULTS/perf-c.data" -- sleep "$((C_DURATION - 1))" \
        >/dev/null 2>"$WORK/perf.log" &
      PERF_PID=$!
      PIDS+=("$PERF_PID")
    fi
    load "c:flowrun" "http://127.0.0.1:$FLOWRUN_PORT/bench/burst200" flowrun "$FLOW_BODY" -c 50 \
      --duration "$C_DURATION" --warmup 2 --expect-tokens 200
    if [[ $PROFILE == 1 && -n ${PERF_PID:-} ]]; then
      wait "$PERF_PID" 2>/dev/null || true
      forget_pid "$PERF_PID"
      PERF_PID=""
    fi
    fi
    if wants e; then
    log "scenario e: GET /healthz while 2000 connections drip header bytes (one every 200 ms each)"
    if "$TOOLS/slow_clients" --port "$FLOWRUN_PORT" --connections 2000 --requests 200 --drip-ms 200 \
        --pid "$FLOWRUN_PID" >"$WORK/slow.out" 2>>"$WORK/load.log"; then
      cat "$WORK/slow.out" >>"$SLOW_RESULTS"
      sed 's/^/    /' "$WORK/slow.out" >&2
    else
      log "scenario e failed: $(cat "$WORK/slow.out")"
      echo '{"label":"e:flowrun","failed":true}' >>"$SLOW_RESULTS"
    fi
    fi
    stop_flowrun
  else
    if wants a; then failed "a:flowrun" "$FLOWRUN_ERROR"; fi
    if wants c; then failed "c:flowrun" "$FLOWRUN_ERROR"; fi
  fi

  # Scenario b: 50 tokens x 20 ms at each C; flowrun needs a thread per stream.
  for C in $B_CONCURRENCY; do
    wants b || break
    threads=$((C + C / 10 + 16))
    max_streams=$((C + C / 20 + 8))
    log "scenario b: C=$C, 50 tokens x 20 ms, ${B_DURATION}s per side (flowrun --threads $threads --max-streams $max_streams)"
    load "b$C:direct" "$MOCK_URL" openai "$(DIRECT_BODY 50x20)" -c "$C" --duration "$B_DURATION" --warmup 3 --ramp 1 \
      --expect-tokens 50
    if start_flowrun "b$C" --threads "$threads" --max-streams "$max_streams"; then
      load "b$C:flowrun" "http://127.0.0.1:$FLOWRUN_PORT/bench/paced50" flowrun "$FLOW_BODY" -c "$C" \
        --duration "$B_DURATION" --warmup 3 --ramp 1 --expect-tokens 50
      stop_flowrun
    else
      failed "b$C:flowrun" "$FLOWRUN_ERROR"
    fi
  done

  # Scenario f: 8000 long streams; flowrun with default serve flags. Refused
  # streams (503) are retried after their Retry-After and counted as errors.
  if wants f; then
    log "scenario f: C=$F_CONCURRENCY, 20 tokens x 250 ms, ${F_DURATION}s per side (flowrun with default serve flags)"
    load "f:direct" "$MOCK_URL" openai "$(DIRECT_BODY 20x250)" -c "$F_CONCURRENCY" --duration "$F_DURATION" \
      --warmup "$F_WARMUP" --ramp "$F_RAMP" --expect-tokens 20
    if start_flowrun f; then
      load "f:flowrun" "http://127.0.0.1:$FLOWRUN_PORT/bench/slow20" flowrun "$FLOW_BODY" -c "$F_CONCURRENCY" \
        --duration "$F_DURATION" --warmup "$F_WARMUP" --ramp "$F_RAMP" --expect-tokens 20
      stop_flowrun
    else
      failed "f:flowrun" "$FLOWRUN_ERROR"
    fi
  fi

  # Scenario g: 5000 streams on flowrun's own mock provider (10 ms per token);
  # there is no upstream, so no direct side.
  if wants g; then
    log "scenario g: C=$G_CONCURRENCY on the mock provider, 10 ms per token, ${G_DURATION}s (default serve flags)"
    if start_flowrun g; then
      load "g:flowrun" "http://127.0.0.1:$FLOWRUN_PORT/bench/mock10" flowrun "$FLOW_BODY" -c "$G_CONCURRENCY" \
        --duration "$G_DURATION" --warmup 3 --ramp 1 --expect-text "$G_TEXT"
      stop_flowrun
    else
      failed "g:flowrun" "$FLOWRUN_ERROR"
    fi
  fi

  # Scenario v: the OpenAI facade against the native endpoint, C=1000 paced,
  # direct / native / v1 in turn, 3 rounds, one flowrun for all of them.
  if wants v; then
    C=1000
    threads=$((C + C / 10 + 16))
    max_streams=$((C + C / 20 + 8))
    log "scenario v: C=$C, 50 tokens x 20 ms, ${V_DURATION}s per side, direct / native / v1 x 3 (flowrun --threads $threads --max-streams $max_streams)"
    if start_flowrun v --threads "$threads" --max-streams "$max_streams"; then
      for round in 1 2 3; do
        load "v:direct" "$MOCK_URL" openai "$(DIRECT_BODY 50x20)" -c "$C" --duration "$V_DURATION" --warmup 3 \
          --ramp 1 --expect-tokens 50
        load "v:flowrun" "http://127.0.0.1:$FLOWRUN_PORT/bench/paced50" flowrun "$FLOW_BODY" -c "$C" \
          --duration "$V_DURATION" --warmup 3 --ramp 1 --expect-tokens 50
        load "v:flowrun-v1" "http://127.0.0.1:$FLOWRUN_PORT/v1/chat/completions" openai "$V1_BODY" -c "$C" \
          --duration "$V_DURATION" --warmup 3 --ramp 1 --expect-tokens 50
      done
      stop_flowrun
    else
      failed "v:flowrun" "$FLOWRUN_ERROR"
      failed "v:flowrun-v1" "$FLOWRUN_ERROR"
    fi
  fi

  # Scenario h: in process, no server; CPU us per run of control20 vs burst20.
  if wants h; then
    log "scenario h: burst20 vs control20 in process, $H_REPEATS x $H_RUNS runs of each on the mock provider"
    "$RUNNER_BENCH" --base "$BENCH_DIR/flows/burst20.yaml" --flow "$BENCH_DIR/flows/control20.yaml" \
      --runs "$H_RUNS" --repeats "$H_REPEATS" --warmup 2000 >"$WORK/runner.out" 2>"$WORK/runner.log" &
    RUNNER_PID=$!
    PIDS+=("$RUNNER_PID")
    status=0
    wait "$RUNNER_PID" || status=$?
    forget_pid "$RUNNER_PID"
    if [[ $status == 0 && -s $WORK/runner.out ]]; then
      record "$(cat "$WORK/runner.out")"
      sed 's/^/    /' "$WORK/runner.log" >&2
    else
      failed "h:runner" "flowrun_runner_bench exited with status $status: $(tail -c 300 "$WORK/runner.log" | tr '\n"\\' '   ')"
    fi
  fi
done

ELAPSED=$(($(date +%s) - START_TS))
MEM_KIB=$(awk '/MemTotal/ {print $2}' /proc/meminfo)
CPU_MODEL=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo | tr -d '"\\')
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
GIT_DIRTY=$(git -C "$ROOT" status --porcelain -- src 2>/dev/null | wc -l)
cat >"$WORK/meta.json" <<EOF
{"date":"$(date -u +%Y-%m-%dT%H:%M:%SZ)","nproc":$(nproc),"cpu_model":"$CPU_MODEL","mem_total_kib":$MEM_KIB,
 "kernel":"$(uname -r)","git_rev":"$GIT_REV","flowrun_sha1":"$FLOWRUN_VERSION","src_files_modified":$GIT_DIRTY,"run_seconds":$ELAPSED,
 "loadavg_at_end":"$(cut -d' ' -f1-3 /proc/loadavg)",
 "settings":{"a_count":$A_COUNT,"b_duration_s":$B_DURATION,"c_duration_s":$C_DURATION,"repeat":$REPEAT,
             "b_concurrency":"$B_CONCURRENCY","f_duration_s":$F_DURATION,"g_duration_s":$G_DURATION,
             "h_runs":$H_RUNS,"h_repeats":$H_REPEATS,"v_duration_s":$V_DURATION,
             "scenarios":"$(echo $SCENARIOS)"}}
EOF
"$TOOLS/bench_report" "$WORK/meta.json" "$RUNS" "$RESULTS/latest.json"
if [[ -s $SLOW_RESULTS ]]; then
  echo "scenario e: GET /healthz during a 2000-connection slowloris attack (target p99 < 50 ms, 0 failures):"
  sed 's/^/  /' "$SLOW_RESULTS"
fi
log "done in ${ELAPSED}s; results in bench/results/latest.json and bench/results/slow_clients.jsonl"
