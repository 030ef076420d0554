#!/usr/bin/env bash
# The cost ladder of an MCP tools/call (issue 16 A), one command: bash scripts/ladder.sh
#
# Seven servers, each adding one layer to the one before, measured in the same run:
#   bare      bare hyper, fixed JSON-RPC reply (auth-server/examples/bare_hyper.rs)
#   stack     our stack (Origin/Host guard with CORS, the MCP POST beside the router, timeout), fixed reply
#   auth      + the JWT auth layer, verified-token cache warm
#   envelope  + body read and the JSON-RPC envelope parse (params peek, era decision)
#   dispatch  + admission (scope check) and dispatch into the jsonrpsee RpcModule
#   checks    + session lookup (legacy) / _meta and Mcp-* header validation (stateless):
#             the whole service, in the ladder example
#   real      the real http-mcp-mock-server binary
# (stack..checks: mcp-server/examples/ladder.rs with MCP_LADDER_STEP, feature `ladder`.)
# Each request is a tools/call "echo", stateless 2026-07-28 and legacy (2025-11-25 session).
#
# MODE=wall: servers on core 0 (one runtime worker), wrk on core 1, CONNS connections,
#   REPEAT rounds of every step in turn; per step the median req/s and the server's own CPU
#   time per request (scripts/bench/cpu.sh: its threads' schedstat before and after each wrk
#   run, divided by the requests), its core utilisation and wrk's. When wrk saturates its
#   core before a cheap server does (bare hyper on a 2-core VM), req/s ratios understate the
#   gap; the cost ratio (bare's CPU µs per request / this step's) does not. Table:
#   $OUT/ladder.md.
# MODE=callgrind: each server in turn under callgrind, counting only while wrk runs
#   (4 connections, CG_DURATION) after a warm-up: instructions per request, repeatable on a
#   busy machine (user-space instructions only; kernel time is not counted).
# MODE=both (default): callgrind, then wall clock.
# HALF_CORE=1 (wall): a busy loop shares core 0 with the server under test, so each server
#   gets about half a core and is saturated in it (wrk no longer the bottleneck); the
#   ratios are then capacity ratios. p99 is not meaningful in this mode (CFS time slices).
# Results: $OUT/wall.tsv (step mode round req_s p99 requests cpu_us_per_req server_util
# wrk_util), $OUT/callgrind.tsv (and the callgrind.out files for
# callgrind_annotate), then scripts/charts.py writes the SVG charts into $IMG.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE="${MODE:-both}"
DURATION="${DURATION:-5s}"
CG_DURATION="${CG_DURATION:-6s}"
REPEAT="${REPEAT:-3}"
CONNS="${CONNS:-64}"
OUT="${OUT:-target/ladder}"
IMG="${IMG:-docs/img}"
STEPS="${STEPS:-bare stack auth envelope dispatch checks real}"
command -v wrk >/dev/null || { echo "wrk is required: apt-get install wrk" >&2; exit 2; }
command -v taskset >/dev/null || { echo "taskset (util-linux) is required" >&2; exit 2; }
if [ "$MODE" != wall ]; then
  command -v valgrind >/dev/null || { echo "valgrind is required for MODE=$MODE" >&2; exit 2; }
fi
cargo build --release -q -p auth-server -p mcp-server --bins --example bare_hyper --example mint_tokens
cargo build --release -q -p mcp-server --features ladder --example ladder
BIN=target/release
mkdir -p "$OUT"
tmp="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
# shellcheck source=scripts/bench/cpu.sh
. scripts/bench/cpu.sh
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_listening NAME: waits (bounded) for "listening on" in $tmp/NAME.out
wait_listening() {
  for _ in $(seq 1 300); do
    grep -q "listening on" "$tmp/$1.out" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "$1 did not start" >&2; cat "$tmp/$1.err" >&2; exit 1
}
# cmd STEP PORT RESOURCE -> the command line of that step's server
cmd() {
  case "$1" in
    bare) echo "$BIN/examples/bare_hyper 127.0.0.1:$2" ;;
    real) echo "$BIN/http-mcp-mock-server --bind 127.0.0.1:$2 --auth-server $issuer --resource $3" ;;
    *) echo "$BIN/examples/ladder 127.0.0.1:$2 $issuer $3" ;;
  esac
}
step_env() { case "$1" in stack|auth|envelope|dispatch) echo "MCP_LADDER_STEP=$1" ;; *) echo "MCP_LADDER_STEP=checks" ;; esac; }
# session URL TOKEN -> a session id (initialize + notifications/initialized)
session() {
  local sid
  sid="$(curl -s -D - -o /dev/null -X POST "$1" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"ladder","version":"1"}}}' \
    | tr -d '\r' | awk 'tolower($1)=="mcp-session-id:" {print $2}')"
  curl -s -o /dev/null -X POST "$1" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-11-25' -H "Mcp-Session-Id: $sid" \
    -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  echo "$sid"
}
# sid_for STEP URL TOKEN: a real session where the step looks sessions up, else any id (the
# earlier steps only use the header to pick the era).
sid_for() { case "$1" in checks|real) session "$2" "$3" ;; *) echo ladder ;; esac; }

keys="$tmp/keys"
"$BIN/http-oauth2-mock-server" keys generate --keys-dir "$keys" >/dev/null
declare -A port res
as_args=()
for s in $STEPS; do
  port[$s]="$(free_port)"; res[$s]="http://127.0.0.1:${port[$s]}/mcp"
  as_args+=(--resource "${res[$s]}")
done
AUTH_SERVER__RATE_LIMITS__TOKEN_PER_MINUTE=0 taskset -c 1 "$BIN/http-oauth2-mock-server" --bind 127.0.0.1:0 \
  --keys-dir "$keys" "${as_args[@]}" >"$tmp/as.out" 2>"$tmp/as.err" &
pids+=("$!")
wait_listening as
issuer="http://$(sed -n 's/^listening on http:\/\///p' "$tmp/as.out" | head -n1)"
for s in $STEPS; do "$BIN/examples/mint_tokens" "$keys" "$issuer" "${res[$s]}" 1 > "$tmp/tok.$s"; done
echo "# ladder: $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/load.txt"

if [ "$MODE" != wall ]; then
  printf 'step\tmode\trequests\tinstructions\tper_request\n' > "$OUT/callgrind.tsv"
  for s in $STEPS; do
    # shellcheck disable=SC2046
    env TOKIO_WORKER_THREADS=1 $(step_env "$s") valgrind --tool=callgrind --instr-atstart=no \
      --callgrind-out-file="$OUT/callgrind.$s.%p.out" $(cmd "$s" "${port[$s]}" "${res[$s]}") \
      >"$tmp/cg-$s.out" 2>"$tmp/cg-$s.err" &
    vp=$!; pids+=("$vp")
    wait_listening "cg-$s"
    sid="$(sid_for "$s" "${res[$s]}" "$(cat "$tmp/tok.$s")")"
    TOKENS_FILE="$tmp/tok.$s" wrk -t1 -c1 -d2s -s scripts/bench/mcp_call.lua "${res[$s]}" >/dev/null
    SESSION_ID="$sid" TOKENS_FILE="$tmp/tok.$s" wrk -t1 -c1 -d2s -s scripts/bench/mcp_call.lua "${res[$s]}" >/dev/null
    k=0
    for mode in stateless legacy; do
      k=$((k + 1))
      callgrind_control -z "$vp" >/dev/null 2>&1; callgrind_control -i on "$vp" >/dev/null 2>&1
      if [ "$mode" = legacy ]; then sess="$sid"; else sess=""; fi
      out="$(SESSION_ID="$sess" TOKENS_FILE="$tmp/tok.$s" wrk -t1 -c4 -d"$CG_DURATION" -s scripts/bench/mcp_call.lua "${res[$s]}")"
      callgrind_control -i off "$vp" >/dev/null 2>&1
      if echo "$out" | grep -q "Non-2xx\|error"; then echo "$s $mode: not every answer was 200: $out" >&2; exit 1; fi
      n="$(echo "$out" | awk '/requests in/ {print $1}')"
      callgrind_control -d "$vp" >/dev/null 2>&1
      f="$OUT/callgrind.$s.$vp.out.$k"
      for _ in $(seq 1 100); do [ -s "$f" ] && break; sleep 0.1; done
      ir="$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done {gsub(",", "", $1); print $1; done=1}')"
      printf '%s\t%s\t%s\t%s\t%s\n' "$s" "$mode" "$n" "$ir" "$((ir / n))" | tee -a "$OUT/callgrind.tsv"
    done
    kill "$vp"; wait "$vp" 2>/dev/null || true
  done
fi

if [ "$MODE" != callgrind ]; then
  declare -A pid sid
  for s in $STEPS; do
    # shellcheck disable=SC2046
    env TOKIO_WORKER_THREADS=1 $(step_env "$s") taskset -c 0 $(cmd "$s" "${port[$s]}" "${res[$s]}") \
      >"$tmp/$s.out" 2>"$tmp/$s.err" &
    pid[$s]=$!; pids+=("$!")
    wait_listening "$s"
    sid[$s]="$(sid_for "$s" "${res[$s]}" "$(cat "$tmp/tok.$s")")"
  done
  # load URL TOKENS SESSION PID -> "req/s p99 requests cpu_us server_util wrk_util"
  load() {
    local out
    out="$(SESSION_ID="$3" TOKENS_FILE="$2" measured_wrk "$4" -t1 -c"$CONNS" -d"$DURATION" --latency -s scripts/bench/mcp_call.lua "$1")"
    if echo "$out" | grep -q "Non-2xx\|error"; then echo "$out" >&2; fi
    echo "$(echo "$out" | awk '/Requests\/sec/ {print $2}') $(echo "$out" | awk '$1=="99%" {print $2}') $(echo "$out" | tail -n 1 | cut -d' ' -f2-)"
  }
  for s in $STEPS; do  # warm-up, not reported
    DURATION=2s load "${res[$s]}" "$tmp/tok.$s" "" "" >/dev/null
  done
  if [ "${HALF_CORE:-0}" = 1 ]; then
    # A spinner shares core 0 with the server (same priority, CFS splits it about evenly), so
    # every server, bare hyper included, is saturated within its share and wrk on core 1 is
    # not the bottleneck: rates and CPU per request are then both capacity figures.
    taskset -c 0 sh -c 'while :; do :; done' & pids+=("$!")
  fi
  printf 'step\tmode\tround\treq_s\tp99\trequests\tcpu_us_per_req\tserver_util\twrk_util\n' > "$OUT/wall.tsv"
  for round in $(seq 1 "$REPEAT"); do
    for s in $STEPS; do
      for mode in stateless legacy; do
        if [ "$mode" = legacy ]; then sess="${sid[$s]}"; else sess=""; fi
        read -r rps p99 n cpu util wutil < <(load "${res[$s]}" "$tmp/tok.$s" "$sess" "${pid[$s]}")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$mode" "$round" "$rps" "$p99" "$n" "$cpu" "$util" "$wutil" | tee -a "$OUT/wall.tsv"
      done
    done
  done
  python3 scripts/bench/summary.py --ladder "$OUT"
fi
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt"
python3 scripts/charts.py "$OUT" "$IMG"
