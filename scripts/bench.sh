#!/usr/bin/env bash
# Load benchmark (issue 6), one command: bash scripts/bench.sh
#
# Server under test pinned to core 0 with one runtime worker; wrk pinned to core 1. Every wrk
# run is bounded by DURATION. Prints Markdown tables for docs/PERFORMANCE.md: req/s, p50,
# p99, RSS, the ratio to the reference measured in the same run, and (issue 16 C) the
# server's CPU time per request, its core utilisation and wrk's, and the cost ratio (the
# reference's CPU µs per request / this server's: valid even when wrk is the bottleneck).
#
# ONLY: one section or several (comma- or space-separated): startup mcp ab dpop token
# token-dpop token-redis token-limit client ladder; `all` (default) = startup mcp dpop token
# token-limit client; `c-targets` = everything issue 16 C needs (ladder in MODE=wall, mcp at
# 64 connections, token-limit, client, startup), then $OUT/summary.md and the SVG charts.
# Machine-readable results go to OUT (default target/bench) as TSV files; charts to IMG
# (default docs/img).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
ONLY="${ONLY:-all}"
CONNS="${CONNS:-64}"
REPEAT="${REPEAT:-3}"
STARTUP_RUNS="${STARTUP_RUNS:-10}"
OUT="${OUT:-target/bench}"
IMG="${IMG:-docs/img}"
sections=" ${ONLY//,/ } "
sections="${sections/ all / startup mcp dpop token token-limit client }"
if [[ "$sections" == *" c-targets "* ]]; then
  sections="${sections/ c-targets / ladder mcp token-limit client startup c-targets }"
  # Issue 16 C's figures are at 64 connections; the ladder in wall-clock mode.
  CONNS_LIST="${CONNS_LIST:-$CONNS}"
  export MODE="${MODE:-wall}"
fi
CONNS_LIST="${CONNS_LIST:-1 16 64 256}"
# want SECTION: whether this run includes SECTION.
want() { [[ "$sections" == *" $1 "* ]]; }
command -v wrk >/dev/null || { echo "wrk is required: apt-get install wrk" >&2; exit 2; }
command -v taskset >/dev/null || { echo "taskset (util-linux) is required" >&2; exit 2; }
cargo build --release -q -p auth-server -p mcp-server --bins --example bare_hyper --example mint_tokens --example dpop_proofs --example sign_only
if want dpop; then
  cargo build --release -q -p tests --example dpop_bench_inputs
fi
if want client; then
  cargo build --release -q -p http-oauth2-client --example client_load
fi
BIN=target/release
mkdir -p "$OUT"
tmp="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
# shellcheck source=scripts/bench/cpu.sh
. scripts/bench/cpu.sh

# start NAME CMD... : starts a server on core 0, waits for "listening on", sets ADDR and PID.
start() {
  local name="$1"; shift
  TOKIO_WORKER_THREADS=1 taskset -c 0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
  PID=$!
  pids+=("$PID")
  for _ in $(seq 1 200); do
    if grep -q "listening on" "$tmp/$name.out" 2>/dev/null; then
      ADDR="$(sed -n 's/^listening on https\{0,1\}:\/\///p' "$tmp/$name.out" | head -n1)"
      return 0
    fi
    sleep 0.05
  done
  echo "$name did not start" >&2; cat "$tmp/$name.err" >&2; exit 1
}
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
# load URL SCRIPT CONNS [PID] -> "req/s p50 p99 cpu_us server_util wrk_util requests"
# (PID: the server's, for its CPU µs per request and core utilisation; without it those two
# fields are "-"; see scripts/bench/cpu.sh).
load() {
  local out
  out="$(measured_wrk "${4:-}" -t1 -c"$3" -d"$DURATION" --latency -s "$2" "$1")"
  if echo "$out" | grep -q "Non-2xx\|error"; then echo "$out" >&2; fi
  local rps p50 p99 n cpu util wutil
  rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
  p50="$(echo "$out" | awk '$1=="50%" {print $2}')"
  p99="$(echo "$out" | awk '$1=="99%" {print $2}')"
  read -r _ n cpu util wutil <<<"$(echo "$out" | tail -n 1)"
  echo "$rps $p50 $p99 $cpu $util $wutil $n"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# seed_refresh_tokens ADDR: prints a refresh-token pool, two authorizations per connection
# (wrk builds a few requests before the first response comes back).
seed_refresh_tokens() {
  for _ in $(seq 1 $((CONNS * 2))); do
    python3 - "$1" <<'PY'
import base64, hashlib, json, os, sys, urllib.parse, urllib.request
addr = sys.argv[1]
v = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
c = base64.urlsafe_b64encode(hashlib.sha256(v.encode()).digest()).rstrip(b"=").decode()
q = urllib.parse.urlencode({"response_type": "code", "client_id": "mcp-cli", "redirect_uri": "http://127.0.0.1:1/callback", "code_challenge": c, "code_challenge_method": "S256", "scope": "mcp"})
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k): return None
opener = urllib.request.build_opener(NoRedirect)
try:
    opener.open(f"http://{addr}/authorize?{q}")
except urllib.error.HTTPError as e:
    loc = e.headers["location"]
code = urllib.parse.parse_qs(urllib.parse.urlparse(loc).query)["code"][0]
body = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code, "code_verifier": v, "client_id": "mcp-cli", "redirect_uri": "http://127.0.0.1:1/callback"}).encode()
t = json.load(urllib.request.urlopen(urllib.request.Request(f"http://{addr}/token", data=body)))
print(t["refresh_token"])
PY
  done
}

echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024)" MiB"}' /proc/meminfo), load before: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/machine.txt"

keys="$tmp/keys"
"$BIN/http-oauth2-mock-server" keys generate --keys-dir "$keys" >/dev/null

# ONLY=startup: start-up to "listening on" and idle RSS of both binaries (issue 16 C: < 50 ms,
# < 10 MB), each on core 0 with one runtime worker as in every other section; the
# authorization server with existing keys, the MCP server pointed at a running one.
# scripts/bench/startup.py times each of STARTUP_RUNS starts from spawn to the line on its
# stdout (no polling) and reads VmRSS after a second of idling; best and median reported.
if want startup; then
AUTH_SERVER__RATE_LIMITS__TOKEN_PER_MINUTE=0 start as-startup "$BIN/http-oauth2-mock-server" --bind 127.0.0.1:0 --keys-dir "$keys"
startup_issuer="http://$ADDR"; startup_as=$PID
echo
echo "## Start-up to 'listening on' and idle RSS (existing keys; core 0, one worker), $STARTUP_RUNS runs each"
echo
echo "| binary | start-up best | median | idle RSS (max of runs) | targets |"
echo "|---|---|---|---|---|"
printf 'binary\truns\tbest_ms\tmedian_ms\tidle_rss_kb\n' > "$OUT/startup.tsv"
for bin in http-oauth2-mock-server http-mcp-mock-server; do
  if [ "$bin" = http-oauth2-mock-server ]; then
    args=(--bind 127.0.0.1:0 --keys-dir "$keys")
  else
    args=(--bind 127.0.0.1:0 --auth-server "$startup_issuer")
  fi
  read -r best med rss < <(TOKIO_WORKER_THREADS=1 python3 scripts/bench/startup.py "$STARTUP_RUNS" \
    taskset -c 0 "$BIN/$bin" "${args[@]}")
  printf '%s\t%s\t%s\t%s\t%s\n' "$bin" "$STARTUP_RUNS" "$best" "$med" "$rss" >> "$OUT/startup.tsv"
  echo "| $bin | $best ms | $med ms | $(awk -v k="$rss" 'BEGIN { printf "%.1f MiB", k / 1024 }') | < 50 ms, < 10 MiB |"
done
kill "$startup_as"; wait "$startup_as" 2>/dev/null || true
fi

if want mcp; then
# --- the stack: the MCP server, the same server with its verified-token cache off (the
# per-request-verify rate, issue 6/16 "no collapse below the verify rate"), bare hyper ---
mcp_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
nc_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
resource="http://127.0.0.1:$mcp_port/mcp"
nc_resource="http://127.0.0.1:$nc_port/mcp"
AUTH_SERVER__RATE_LIMITS__TOKEN_PER_MINUTE=0 start as "$BIN/http-oauth2-mock-server" --bind 127.0.0.1:0 --keys-dir "$keys" --resource "$resource" --resource "$nc_resource"
issuer="http://$ADDR"; as_pid=$PID
start mcp "$BIN/http-mcp-mock-server" --bind "127.0.0.1:$mcp_port" --auth-server "$issuer" --resource "$resource"
mcp_pid=$PID
MCP_SERVER__TOKEN_CACHE__MAX_CAPACITY=0 start mcp-nocache "$BIN/http-mcp-mock-server" --bind "127.0.0.1:$nc_port" --auth-server "$issuer" --resource "$nc_resource"
nc_pid=$PID
start bare "$BIN/examples/bare_hyper" 127.0.0.1:0
bare="http://$ADDR"; bare_pid=$PID
sleep 0.5
echo
echo "## Idle RSS"
echo "- http-oauth2-mock-server: $(rss_kb "$as_pid") kB; http-mcp-mock-server: $(rss_kb "$mcp_pid") kB; bare hyper: $(rss_kb "$bare_pid") kB"

"$BIN/examples/mint_tokens" "$keys" "$issuer" "$resource" 1 > "$tmp/t1"
"$BIN/examples/mint_tokens" "$keys" "$issuer" "$resource" 1000 > "$tmp/t1k"
"$BIN/examples/mint_tokens" "$keys" "$issuer" "$resource" 100000 > "$tmp/t100k"
"$BIN/examples/mint_tokens" "$keys" "$issuer" "$nc_resource" 100000 > "$tmp/n100k"

echo
echo "## MCP tools/call (stateless 2026-07-28, valid ES256 token, server on one core)"
echo
echo "| case | conns | req/s | p50 | p99 | ratio to bare | server CPU µs/req | cost ratio to bare | server core | wrk core | RSS after |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf 'case\tconns\tround\treq_s\tp50\tp99\tcpu_us_per_req\tserver_util\twrk_util\trss_kb\n' > "$OUT/mcp.tsv"
# tsv_mcp CASE CONNS ROUND "req/s p50 p99 cpu util wutil n" PID: one row of mcp.tsv
tsv_mcp() {
  local rps p50 p99 cpu util w
  read -r rps p50 p99 cpu util w _ <<<"$4"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$rps" "$p50" "$p99" "$cpu" "$util" "$w" "$(rss_kb "$5")" >> "$OUT/mcp.tsv"
}
# Warm-up (not reported): the first seconds after start-up run slower (page faults, caches,
# the first JWKS fetch), so each server gets a short run before anything is measured.
TOKENS_FILE="$tmp/t1" load "$bare/" scripts/bench/mcp_call.lua 64 >/dev/null
TOKENS_FILE="$tmp/t1" load "$resource" scripts/bench/mcp_call.lua 64 >/dev/null
TOKENS_FILE="$tmp/n100k" DURATION=1s load "$nc_resource" scripts/bench/mcp_call.lua 64 >/dev/null
# Each connection count: REPEAT alternating bare/MCP pairs; the row shows the pair with the
# median ratio, and the ratios of every pair, so run-to-run noise is visible.
for c in $CONNS_LIST; do
  rows=()
  for round in $(seq 1 "$REPEAT"); do
    b="$(TOKENS_FILE="$tmp/t1" load "$bare/" scripts/bench/mcp_call.lua "$c" "$bare_pid")"
    tsv_mcp bare "$c" "$round" "$b" "$bare_pid"
    m="$(TOKENS_FILE="$tmp/t1" load "$resource" scripts/bench/mcp_call.lua "$c" "$mcp_pid")"
    tsv_mcp mcp-1-token "$c" "$round" "$m" "$mcp_pid"
    read -r brps _ _ bcpu _ <<<"$b"
    read -r rps _ _ cpu _ <<<"$m"
    rows+=("$(ratio "$rps" "$brps") $(cost_ratio "$bcpu" "$cpu") $b $m")
  done
  all="$(printf '%s\n' "${rows[@]}" | awk '{print $1}' | paste -sd, -)"
  allc="$(printf '%s\n' "${rows[@]}" | awk '{print $2}' | paste -sd, -)"
  read -r r cr brps bp50 bp99 bcpu butil bw _ rps p50 p99 cpu util w _ < <(printf '%s\n' "${rows[@]}" | sort -n | sed -n "$(( (REPEAT + 1) / 2 ))p")
  echo "| bare hyper reference | $c | $brps | $bp50 | $bp99 | 1.00 | $bcpu | 1.00 | $butil | $bw | $(rss_kb "$bare_pid") kB |"
  echo "| MCP, 1 token (cache warm) | $c | $rps | $p50 | $p99 | $r (runs: $all) | $cpu | $cr (runs: $allc) | $util | $w | $(rss_kb "$mcp_pid") kB |"
done
read -r rps p50 p99 cpu util w _ < <(TOKENS_FILE="$tmp/t1k" load "$resource" scripts/bench/mcp_call.lua "$CONNS" "$mcp_pid")
tsv_mcp mcp-1k-tokens "$CONNS" 1 "$rps $p50 $p99 $cpu $util $w" "$mcp_pid"
echo "| MCP, 1000 distinct tokens | $CONNS | $rps | $p50 | $p99 | - | $cpu | - | $util | $w | $(rss_kb "$mcp_pid") kB |"
# 100,000 distinct tokens cycled round-robin: against the cache (10,000 entries by default,
# never hits) and against the same server with the cache off (every request verifies the
# signature), REPEAT alternating rounds; issue 16 C: the first no worse than the second.
rows=()
for round in $(seq 1 "$REPEAT"); do
  on="$(TOKENS_FILE="$tmp/t100k" load "$resource" scripts/bench/mcp_call.lua "$CONNS" "$mcp_pid")"
  tsv_mcp mcp-100k-tokens "$CONNS" "$round" "$on" "$mcp_pid"
  off="$(TOKENS_FILE="$tmp/n100k" load "$nc_resource" scripts/bench/mcp_call.lua "$CONNS" "$nc_pid")"
  tsv_mcp mcp-100k-tokens-cache-off "$CONNS" "$round" "$off" "$nc_pid"
  read -r orps _ _ ocpu _ <<<"$on"
  read -r frps _ _ fcpu _ <<<"$off"
  rows+=("$(ratio "$orps" "$frps") $(cost_ratio "$fcpu" "$ocpu") $on $off")
done
all="$(printf '%s\n' "${rows[@]}" | awk '{print $1}' | paste -sd, -)"
allc="$(printf '%s\n' "${rows[@]}" | awk '{print $2}' | paste -sd, -)"
read -r r cr rps p50 p99 cpu util w _ frps fp50 fp99 fcpu futil fw _ < <(printf '%s\n' "${rows[@]}" | sort -n | sed -n "$(( (REPEAT + 1) / 2 ))p")
echo "| MCP, 100k distinct tokens, token cache off (per-request verify) | $CONNS | $frps | $fp50 | $fp99 | - | $fcpu | - | $futil | $fw | $(rss_kb "$nc_pid") kB |"
echo "| MCP, 100k distinct tokens (cache on, never hits) | $CONNS | $rps | $p50 | $p99 | $r of cache-off (runs: $all) | $cpu | $cr of cache-off (runs: $allc) | $util | $w | $(rss_kb "$mcp_pid") kB |"

kill "$as_pid" "$mcp_pid" "$nc_pid" "$bare_pid" 2>/dev/null || true
fi

# ONLY=ab BASELINE_BIN=DIR: the MCP server of this checkout against another build of it (e.g.
# the last release, built with the same profile into DIR), both on core 0 in turn, with the
# bare hyper reference, for the stateless and the session-era tools/call at $CONNS connections.
# REPEAT rounds of bare / this / baseline, alternating; every ratio is printed.
if want ab; then
[ -x "${BASELINE_BIN:-}/http-mcp-mock-server" ] || { echo "ONLY=ab needs BASELINE_BIN=DIR with http-mcp-mock-server" >&2; exit 2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_new="$(free_port)"; port_old="$(free_port)"
res_new="http://127.0.0.1:$port_new/mcp"; res_old="http://127.0.0.1:$port_old/mcp"
AUTH_SERVER__RATE_LIMITS__TOKEN_PER_MINUTE=0 start as "$BIN/http-oauth2-mock-server" --bind 127.0.0.1:0 --keys-dir "$keys" --resource "$res_new" --resource "$res_old"
issuer="http://$ADDR"
start bare "$BIN/examples/bare_hyper" 127.0.0.1:0
bare="http://$ADDR"; bare_pid=$PID
"$BIN/examples/mint_tokens" "$keys" "$issuer" "$res_new" 1 > "$tmp/tn"
"$BIN/examples/mint_tokens" "$keys" "$issuer" "$res_old" 1 > "$tmp/to"
# session URL TOKEN -> a session id (initialize + notifications/initialized)
session() {
  local sid
  sid="$(curl -s -D - -o /dev/null -X POST "$1" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}' \
    | tr -d '\r' | awk 'tolower($1)=="mcp-session-id:" {print $2}')"
  curl -s -o /dev/null -X POST "$1" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-11-25' -H "Mcp-Session-Id: $sid" \
    -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  echo "$sid"
}
echo
echo "## A/B: this checkout vs $BASELINE_BIN, tools/call at $CONNS connections, server on one core"
echo
echo "| round | bare req/s | stateless new | stateless old | session new | session old | new/bare stateless | old/bare stateless | new/old stateless | new/old session |"
echo "|---|---|---|---|---|---|---|---|---|---|"
start mcp-new "$BIN/http-mcp-mock-server" --bind "127.0.0.1:$port_new" --auth-server "$issuer" --resource "$res_new"
new_pid=$PID
start mcp-old "$BASELINE_BIN/http-mcp-mock-server" --bind "127.0.0.1:$port_old" --auth-server "$issuer" --resource "$res_old"
old_pid=$PID
sid_new="$(session "$res_new" "$(cat "$tmp/tn")")"; sid_old="$(session "$res_old" "$(cat "$tmp/to")")"
[ -n "$sid_new" ] && [ -n "$sid_old" ] || { echo "no session id" >&2; exit 1; }
for u in "$bare/" "$res_new" "$res_old"; do TOKENS_FILE="$tmp/tn" load "$u" scripts/bench/mcp_call.lua 64 >/dev/null 2>&1 || true; done
TOKENS_FILE="$tmp/to" load "$res_old" scripts/bench/mcp_call.lua 64 >/dev/null
printf 'round\tserver\tmode\treq_s\tp99\tcpu_us_per_req\tserver_util\twrk_util\n' > "$OUT/ab.tsv"
cpu_rows=()
for round in $(seq 1 "$REPEAT"); do
  read -r b _ b99 bc bu bw _ < <(TOKENS_FILE="$tmp/tn" load "$bare/" scripts/bench/mcp_call.lua "$CONNS" "$bare_pid")
  read -r sn _ sn99 snc snu snw _ < <(TOKENS_FILE="$tmp/tn" load "$res_new" scripts/bench/mcp_call.lua "$CONNS" "$new_pid")
  read -r so _ so99 soc sou sow _ < <(TOKENS_FILE="$tmp/to" load "$res_old" scripts/bench/mcp_call.lua "$CONNS" "$old_pid")
  read -r qn _ qn99 qnc qnu qnw _ < <(SESSION_ID="$sid_new" TOKENS_FILE="$tmp/tn" load "$res_new" scripts/bench/mcp_call.lua "$CONNS" "$new_pid")
  read -r qo _ qo99 qoc qou qow _ < <(SESSION_ID="$sid_old" TOKENS_FILE="$tmp/to" load "$res_old" scripts/bench/mcp_call.lua "$CONNS" "$old_pid")
  printf '%s\tbare\t-\t%s\t%s\t%s\t%s\t%s\n%s\tnew\tstateless\t%s\t%s\t%s\t%s\t%s\n%s\told\tstateless\t%s\t%s\t%s\t%s\t%s\n%s\tnew\tsession\t%s\t%s\t%s\t%s\t%s\n%s\told\tsession\t%s\t%s\t%s\t%s\t%s\n' \
    "$round" "$b" "$b99" "$bc" "$bu" "$bw" "$round" "$sn" "$sn99" "$snc" "$snu" "$snw" "$round" "$so" "$so99" "$soc" "$sou" "$sow" \
    "$round" "$qn" "$qn99" "$qnc" "$qnu" "$qnw" "$round" "$qo" "$qo99" "$qoc" "$qou" "$qow" >> "$OUT/ab.tsv"
  echo "| $round | $b | $sn | $so | $qn | $qo | $(ratio "$sn" "$b") | $(ratio "$so" "$b") | $(ratio "$sn" "$so") | $(ratio "$qn" "$qo") |"
  cpu_rows+=("| $round | $bc | $snc | $soc | $qnc | $qoc | $(cost_ratio "$bc" "$snc") | $(cost_ratio "$bc" "$soc") | $(cost_ratio "$soc" "$snc") | $(cost_ratio "$qoc" "$qnc") | $bu / $snu / $sou / $qnu / $qou | $bw / $snw / $sow / $qnw / $qow |")
done
echo
echo "Server CPU µs per request, same runs (cost ratio = the reference's µs / this one's: 1.00 is as cheap; new/old above 1.00 = new is cheaper):"
echo
echo "| round | bare | stateless new | stateless old | session new | session old | new/bare stateless (cost) | old/bare stateless (cost) | new/old stateless (cost) | new/old session (cost) | server core (bare / sn / so / qn / qo) | wrk core |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${cpu_rows[@]}"
kill "$new_pid" "$old_pid" 2>/dev/null || true
fi

# ONLY=dpop (also in all): DPoP-bound tools/call against bearer tools/call on the same server
# (DPoP enabled, so bearer requests take the DPoP-aware code path too), REPEAT alternating
# rounds at $CONNS connections. Each DPoP round sends $PROOFS proofs made just before it by
# tests/examples/dpop_bench_inputs (one per request, never repeated: the replay cache is
# exercised, not bypassed); the server verifies each (signature, htm/htu, ath, iat, cnf.jkt,
# jti insert). Issue 15 target: DPoP >= 0.5 of the bearer rate.
if want dpop; then
PROOFS="${PROOFS:-200000}"
dpop_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
dres="http://127.0.0.1:$dpop_port/mcp"
AUTH_SERVER__RATE_LIMITS__TOKEN_PER_MINUTE=0 start as-dpop "$BIN/http-oauth2-mock-server" --bind 127.0.0.1:0 --keys-dir "$keys" --resource "$dres"
dissuer="http://$ADDR"; das_pid=$PID
MCP_SERVER__DPOP__ENABLED=true start mcp-dpop "$BIN/http-mcp-mock-server" --bind "127.0.0.1:$dpop_port" --auth-server "$dissuer" --resource "$dres"
dmcp_pid=$PID
"$BIN/examples/mint_tokens" "$keys" "$dissuer" "$dres" 1 > "$tmp/dt1"
mkdir -p "$tmp/dpop"
# dpop_round ALG CONNS -> load's fields, with fresh proofs
dpop_round() {
  "$BIN/examples/dpop_bench_inputs" "$keys" "$dissuer" "$dres" "$PROOFS" "$tmp/dpop" "$1"
  TOKEN_FILE="$tmp/dpop/token" PROOFS_FILE="$tmp/dpop/proofs" load "$dres" scripts/bench/dpop_call.lua "$2" "$dmcp_pid"
}
echo
echo "## DPoP tools/call vs bearer tools/call (stateless 2026-07-28, server on one core, DPoP enabled)"
echo
echo "| round | conns | bearer req/s | bearer p50 / p99 | DPoP ES256 req/s | DPoP p50 / p99 | DPoP EdDSA req/s | ES256/bearer | EdDSA/bearer | server CPU µs/req (bearer / ES256 / EdDSA) | cost ratio ES256 / EdDSA | server core | wrk core |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
printf 'round\tcase\treq_s\tp50\tp99\tcpu_us_per_req\tserver_util\twrk_util\n' > "$OUT/dpop.tsv"
TOKENS_FILE="$tmp/dt1" load "$dres" scripts/bench/mcp_call.lua 64 >/dev/null
dpop_round ES256 64 >/dev/null
# Where a DPoP request's extra time goes: the verifier vs the bare signature check (core 0).
MEASURE=1 taskset -c 0 "$BIN/examples/dpop_bench_inputs" "$keys" "$dissuer" "$dres" 10 "$tmp/dpop" ES256 2>&1 | sed 's/^/- /'
for round in $(seq 1 "$REPEAT"); do
  read -r brps bp50 bp99 bc bu bw _ < <(TOKENS_FILE="$tmp/dt1" load "$dres" scripts/bench/mcp_call.lua "$CONNS" "$dmcp_pid")
  read -r erps ep50 ep99 ec eu ew _ < <(dpop_round ES256 "$CONNS")
  read -r drps dp50 dp99 dc du dw _ < <(dpop_round EdDSA "$CONNS")
  printf '%s\tbearer\t%s\t%s\t%s\t%s\t%s\t%s\n%s\tdpop-es256\t%s\t%s\t%s\t%s\t%s\t%s\n%s\tdpop-eddsa\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$round" "$brps" "$bp50" "$bp99" "$bc" "$bu" "$bw" "$round" "$erps" "$ep50" "$ep99" "$ec" "$eu" "$ew" \
    "$round" "$drps" "$dp50" "$dp99" "$dc" "$du" "$dw" >> "$OUT/dpop.tsv"
  echo "| $round | $CONNS | $brps | $bp50 / $bp99 | $erps | $ep50 / $ep99 | $drps | $(ratio "$erps" "$brps") | $(ratio "$drps" "$brps") | $bc / $ec / $dc | $(cost_ratio "$bc" "$ec") / $(cost_ratio "$bc" "$dc") | $bu / $eu / $du | $bw / $ew / $dw |"
done
echo "- RSS after: $(rss_kb "$dmcp_pid") kB (replay cache holding up to 100,000 jtis)"
kill "$das_pid" "$dmcp_pid" 2>/dev/null || true
fi

if want token; then
echo
echo "## Token endpoint (one core), $CONNS connections"
echo
echo "| grant | alg | req/s | p50 | p99 |"
echo "|---|---|---|---|---|"
for alg in ES256 EdDSA RS256; do
  AUTH_SERVER__RATE_LIMITS__TOKEN_PER_MINUTE=0 start "as-$alg" "$BIN/http-oauth2-mock-server" --bind 127.0.0.1:0 --ephemeral-keys --algorithm "$alg"
  url="http://$ADDR/token"
  read -r rps p50 p99 _ < <(load "$url" scripts/bench/client_credentials.lua "$CONNS")
  echo "| client_credentials | $alg | $rps | $p50 | $p99 |"
  seed_refresh_tokens "$ADDR" > "$tmp/rts"
  read -r rps p50 p99 _ < <(TOKENS_FILE="$tmp/rts" load "$url" scripts/bench/refresh.lua "$CONNS")
  echo "| refresh_token (rotating) | $alg | $rps | $p50 | $p99 |"
  kill "$PID"; wait "$PID" 2>/dev/null || true
done
fi
# ONLY=token-dpop: the token endpoint with DPoP proofs against without, same server, same run,
# alternating (issue 15 D). Proofs are pre-signed (examples/dpop_proofs, one key, unique jti)
# so wrk only sends them; the server verifies each and records its jti. PROOFS per round.
if want token-dpop; then
PROOFS="${PROOFS:-300000}"
echo
echo "## Token endpoint with DPoP vs bearer (one core, client_credentials), $CONNS connections"
echo
echo "| round | alg | bearer req/s | p99 | DPoP req/s | p99 | DPoP / bearer |"
echo "|---|---|---|---|---|---|---|"
for round in $(seq 1 "$REPEAT"); do
  for alg in ES256 EdDSA; do
    AUTH_SERVER__RATE_LIMITS__TOKEN_PER_MINUTE=0 start "as-dpop-$round-$alg" "$BIN/http-oauth2-mock-server" --bind 127.0.0.1:0 --ephemeral-keys
    url="http://$ADDR/token"
    "$BIN/examples/dpop_proofs" "$url" "$PROOFS" "$alg" > "$tmp/proofs"
    read -r b _ b99 _ < <(load "$url" scripts/bench/client_credentials.lua "$CONNS")
    read -r d _ d99 _ < <(PROOFS_FILE="$tmp/proofs" load "$url" scripts/bench/dpop_client_credentials.lua "$CONNS")
    echo "| $round | $alg | $b | $b99 | $d | $d99 | $(ratio "$d" "$b") |"
    kill "$PID"; wait "$PID" 2>/dev/null || true
  done
done
fi
# ONLY=token-redis: the token endpoint on the Redis store against the memory store, in the same
# run, alternating (issue 14 D). redis-server (AOF on, fsync every second: the DEPLOYMENT.md
# settings) runs on core 1 next to wrk; the authorization server alone on core 0.
if want token-redis; then
command -v redis-server >/dev/null || { echo "redis-server is required: apt-get install redis-server" >&2; exit 2; }
rport="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
mkdir -p "$tmp/redis"
taskset -c 1 redis-server --port "$rport" --bind 127.0.0.1 --dir "$tmp/redis" --save "" \
  --appendonly yes --appendfsync everysec >"$tmp/redis.out" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $rport)).close()" 2>/dev/null && break
  sleep 0.05
done
echo
echo "## Token endpoint on Redis vs memory (server on one core, ES256), $CONNS connections"
echo
echo "| round | store | client_credentials req/s | p99 | refresh rotation req/s | p99 |"
echo "|---|---|---|---|---|---|"
for round in $(seq 1 "$REPEAT"); do
  for store in memory "redis://127.0.0.1:$rport/0"; do
    AUTH_SERVER__RATE_LIMITS__TOKEN_PER_MINUTE=0 start "as-$round" "$BIN/http-oauth2-mock-server" \
      --bind 127.0.0.1:0 --keys-dir "$keys" --store "$store" --store-prefix "bench$round:"
    url="http://$ADDR/token"
    read -r cc _ cc99 _ < <(load "$url" scripts/bench/client_credentials.lua "$CONNS")
    seed_refresh_tokens "$ADDR" > "$tmp/rts"
    read -r rr _ rr99 _ < <(TOKENS_FILE="$tmp/rts" load "$url" scripts/bench/refresh.lua "$CONNS")
    echo "| $round | ${store%%:*} | $cc | $cc99 | $rr | $rr99 |"
    kill "$PID"; wait "$PID" 2>/dev/null || true
  done
done
echo
echo "redis-server memory after the run: $(python3 - "$rport" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"INFO memory\r\n")
data = s.recv(65536).decode(errors="replace")
print(next((l.split(":")[1].strip() for l in data.splitlines() if l.startswith("used_memory_human")), "?"))
PY
), keys: $(python3 - "$rport" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"DBSIZE\r\n")
print(s.recv(64).decode().strip().lstrip(":"))
PY
)"
fi
# ONLY=token-limit (also in all): the token endpoint against its limit server (issue 16 C: at
# least 0.9 of it). auth-server/examples/sign_only.rs answers every POST with a token response
# carrying a freshly signed ES256 access token (the AS's key file, loaded once; the AS's
# signing code and claims) and does nothing else. Both serve on core 0 with one worker, from
# the same key; REPEAT rounds alternate limit / AS at $CONNS connections with the same wrk
# script (client_credentials for mcp-service, HTTP Basic: the AS checks it, the limit ignores
# it). Ratio per round and median; the same for CPU µs per request. A third server, the same
# AS with RUST_LOG=warn (no `token issued` audit line), splits the gap into the audit logging
# and the rest (HTTP stack, form, client authentication, policy): the ladder of this target.
if want token-limit; then
AUTH_SERVER__RATE_LIMITS__TOKEN_PER_MINUTE=0 start as-limit "$BIN/http-oauth2-mock-server" --bind 127.0.0.1:0 --keys-dir "$keys"
tl_as="http://$ADDR/token"; tl_as_pid=$PID
RUST_LOG=warn AUTH_SERVER__RATE_LIMITS__TOKEN_PER_MINUTE=0 start as-nolog "$BIN/http-oauth2-mock-server" --bind 127.0.0.1:0 --keys-dir "$keys"
tl_nolog="http://$ADDR/token"; tl_nolog_pid=$PID
start sign-only "$BIN/examples/sign_only" "$keys" 127.0.0.1:0
tl_limit="http://$ADDR/token"; tl_limit_pid=$PID
# The two answers must be alike (same shape, about the same size).
tl_body() { curl -s -X POST "$1" -u mcp-service:dev-service-secret -d 'grant_type=client_credentials&scope=mcp'; }
tl_as_body="$(tl_body "$tl_as")"; tl_limit_body="$(tl_body "$tl_limit")"
case "$tl_as_body$tl_limit_body" in
  *'"access_token"'*'"access_token"'*) ;;
  *) echo "token-limit: no token response from one of the servers" >&2; exit 1 ;;
esac
echo
echo "## Token endpoint vs the sign-only limit server (client_credentials, ES256, one core), $CONNS connections"
echo
echo "- response bodies: AS ${#tl_as_body} bytes, limit ${#tl_limit_body} bytes"
echo
echo "| round | limit req/s | p99 | CPU µs/req | AS req/s | p99 | CPU µs/req | AS / limit | cost ratio | AS without audit line: req/s, CPU µs/req | server core (limit / AS) | wrk core (limit / AS) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
printf 'round\tserver\treq_s\tp50\tp99\tcpu_us_per_req\tserver_util\twrk_util\n' > "$OUT/token-limit.tsv"
DURATION=2s load "$tl_limit" scripts/bench/client_credentials.lua "$CONNS" >/dev/null
DURATION=2s load "$tl_as" scripts/bench/client_credentials.lua "$CONNS" >/dev/null
DURATION=2s load "$tl_nolog" scripts/bench/client_credentials.lua "$CONNS" >/dev/null
tl_r=(); tl_c=()
for round in $(seq 1 "$REPEAT"); do
  read -r l l50 l99 lc lu lw _ < <(load "$tl_limit" scripts/bench/client_credentials.lua "$CONNS" "$tl_limit_pid")
  read -r a a50 a99 ac au aw _ < <(load "$tl_as" scripts/bench/client_credentials.lua "$CONNS" "$tl_as_pid")
  read -r q q50 q99 qc qu qw _ < <(load "$tl_nolog" scripts/bench/client_credentials.lua "$CONNS" "$tl_nolog_pid")
  printf '%s\tlimit\t%s\t%s\t%s\t%s\t%s\t%s\n%s\tas\t%s\t%s\t%s\t%s\t%s\t%s\n%s\tas-nolog\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$round" "$l" "$l50" "$l99" "$lc" "$lu" "$lw" "$round" "$a" "$a50" "$a99" "$ac" "$au" "$aw" \
    "$round" "$q" "$q50" "$q99" "$qc" "$qu" "$qw" >> "$OUT/token-limit.tsv"
  tl_r+=("$(ratio "$a" "$l")"); tl_c+=("$(cost_ratio "$lc" "$ac")")
  echo "| $round | $l | $l99 | $lc | $a | $a99 | $ac | ${tl_r[-1]} | ${tl_c[-1]} | $q, $qc | $lu / $au | $lw / $aw |"
done
echo
echo "- median AS / limit: $(printf '%s\n' "${tl_r[@]}" | sort -n | sed -n "$(( (REPEAT + 1) / 2 ))p") (target >= 0.9); median cost ratio: $(printf '%s\n' "${tl_c[@]}" | sort -n | sed -n "$(( (REPEAT + 1) / 2 ))p")"
echo "- RSS after: AS $(rss_kb "$tl_as_pid") kB, limit $(rss_kb "$tl_limit_pid") kB"
kill "$tl_as_pid" "$tl_nolog_pid" "$tl_limit_pid" 2>/dev/null || true
fi

# ONLY=client (also in all): the client's overhead (issue 16 C: BearerAuth with a fresh token
# at least 0.95 of the same reqwest client without the middleware). client/examples/client_load.rs
# on core 1 (one current-thread runtime, $CONNS requests in flight) against bare hyper on core
# 0; REPEAT rounds, each running the plain client then the BearerAuth one for DURATION; the
# token is a real access token from mint_tokens (the size matters: it is copied into every
# request). PLAIN_HEADER=1 adds a third client: plain, with the same header pre-built.
# MW_NOOP=1 (the default here; MW_NOOP=0 to skip) adds the floor of any reqwest_middleware
# middleware: the same client with one pass-through middleware, without (`mw-noop`) and with
# (`mw-noop+header`) the same pre-built header, so bearer - mw-noop+header is BearerAuth's own.
if want client; then
export MW_NOOP="${MW_NOOP:-1}"
start client-bare "$BIN/examples/bare_hyper" 127.0.0.1:0
cl_url="http://$ADDR/mcp"; cl_bare_pid=$PID
"$BIN/examples/mint_tokens" "$keys" "http://127.0.0.1:9" "$cl_url" 1 > "$tmp/cl-token"
echo
echo "## Client: reqwest + BearerAuth (fresh token) vs the same reqwest client, client on core 1, bare hyper on core 0, $CONNS in flight"
echo
if ! TOKEN_FILE="$tmp/cl-token" taskset -c 1 "$BIN/examples/client_load" "$cl_url" "$CONNS" "$DURATION" "$REPEAT" \
  > "$OUT/client.tsv" 2> "$tmp/client.err"; then
  cat "$tmp/client.err" >&2; exit 1
fi
echo "| round | client | req/s | client CPU µs/req | client core |"
echo "|---|---|---|---|---|"
awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %s | %s |\n", $1, $2, $5, $6, $7 }' "$OUT/client.tsv"
echo
sed 's/^/- /' "$tmp/client.err"
echo "- bare hyper RSS after: $(rss_kb "$cl_bare_pid") kB"
kill "$cl_bare_pid" 2>/dev/null || true
fi

# ONLY=ladder: the cost ladder of a tools/call and its SVG charts (issue 16 A and D), in
# scripts/ladder.sh (MODE=wall|callgrind|both, DURATION, REPEAT, CONNS, OUT, IMG passed
# through; under c-targets MODE defaults to wall).
if want ladder; then
DURATION="$DURATION" REPEAT="$REPEAT" CONNS="$CONNS" OUT="$OUT" IMG="$IMG" bash scripts/ladder.sh
fi
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"

# ONLY=c-targets: one table of issue 16 C's targets (measured, reference in the same run,
# ratio, target, met) as $OUT/summary.md and $OUT/summary.tsv, and the charts (ladder,
# vs-bare, token-vs-limit, client-vs-plain) in $IMG.
if want c-targets; then
CONNS="$CONNS" python3 scripts/bench/summary.py "$OUT"
python3 scripts/charts.py "$OUT" "$IMG"
fi
