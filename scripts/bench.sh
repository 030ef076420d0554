#!/usr/bin/env bash
# Load benchmark (issue 6), one command: bash scripts/bench.sh
#
# Server under test pinned to core 0 with one runtime worker; wrk pinned to core 1. Every wrk
# run is bounded by DURATION. Prints a Markdown table for docs/PERFORMANCE.md: req/s, p50,
# p99, RSS, and the ratio to the bare hyper reference measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
ONLY="${ONLY:-all}"
CONNS="${CONNS:-64}"
REPEAT="${REPEAT:-3}"
CONNS_LIST="${CONNS_LIST:-1 16 64 256}"
command -v wrk >/dev/null || { echo "wrk is required: apt-get install wrk" >&2; exit 2; }
command -v taskset >/dev/null || { echo "taskset (util-linux) is required" >&2; exit 2; }
cargo build --release -q -p auth-server -p mcp-server --bins --example bare_hyper --example mint_tokens --example dpop_proofs
if [ "$ONLY" = all ] || [ "$ONLY" = dpop ]; then
  cargo build --release -q -p tests --example dpop_bench_inputs
fi
BIN=target/release
tmp="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]:-}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

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
# load URL SCRIPT CONNS -> "req/s p50 p99"
load() {
  local out
  out="$(taskset -c 1 wrk -t1 -c"$3" -d"$DURATION" --latency -s "$2" "$1" 2>&1)"
  if echo "$out" | grep -q "Non-2xx\|error"; then echo "$out" >&2; fi
  local rps p50 p99
  rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
  p50="$(echo "$out" | awk '$1=="50%" {print $2}')"
  p99="$(echo "$out" | awk '$1=="99%" {print $2}')"
  echo "$rps $p50 $p99"
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

echo "# machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024)" MiB"}' /proc/meminfo), load before: $(cut -d' ' -f1-3 /proc/loadavg)"

keys="$tmp/keys"
"$BIN/http-oauth2-mock-server" keys generate --keys-dir "$keys" >/dev/null

if [ "$ONLY" = all ] || [ "$ONLY" = startup ]; then
echo
echo "## Start-up to 'listening on' (existing keys), hyperfine-free: 5 runs each"
for bin in http-oauth2-mock-server http-mcp-mock-server; do
  best=999999
  for _ in 1 2 3 4 5; do
    t0=$(date +%s%N)
    if [ "$bin" = http-oauth2-mock-server ]; then
      "$BIN/$bin" --bind 127.0.0.1:0 --keys-dir "$keys" >"$tmp/s.out" 2>/dev/null & p=$!
    else
      "$BIN/$bin" --bind 127.0.0.1:0 --auth-server http://127.0.0.1:9 >"$tmp/s.out" 2>/dev/null & p=$!
    fi
    until grep -q "listening on" "$tmp/s.out" 2>/dev/null; do sleep 0.001; done
    t1=$(date +%s%N); kill $p; wait $p 2>/dev/null || true
    ms=$(( (t1 - t0) / 1000000 )); [ "$ms" -lt "$best" ] && best=$ms
  done
  echo "- $bin: best of 5 = ${best} ms"
done
fi

if [ "$ONLY" = all ] || [ "$ONLY" = mcp ]; then
# --- the stack ---
mcp_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
resource="http://127.0.0.1:$mcp_port/mcp"
AUTH_SERVER__RATE_LIMITS__TOKEN_PER_MINUTE=0 start as "$BIN/http-oauth2-mock-server" --bind 127.0.0.1:0 --keys-dir "$keys" --resource "$resource"
issuer="http://$ADDR"; as_pid=$PID
start mcp "$BIN/http-mcp-mock-server" --bind "127.0.0.1:$mcp_port" --auth-server "$issuer" --resource "$resource"
mcp_pid=$PID
start bare "$BIN/examples/bare_hyper" 127.0.0.1:0
bare="http://$ADDR"; bare_pid=$PID
sleep 0.5
echo
echo "## Idle RSS"
echo "- http-oauth2-mock-server: $(rss_kb "$as_pid") kB; http-mcp-mock-server: $(rss_kb "$mcp_pid") kB; bare hyper: $(rss_kb "$bare_pid") kB"

"$BIN/examples/mint_tokens" "$keys" "$issuer" "$resource" 1 > "$tmp/t1"
"$BIN/examples/mint_tokens" "$keys" "$issuer" "$resource" 1000 > "$tmp/t1k"
"$BIN/examples/mint_tokens" "$keys" "$issuer" "$resource" 100000 > "$tmp/t100k"

echo
echo "## MCP tools/call (stateless 2026-07-28, valid ES256 token, server on one core)"
echo
echo "| case | conns | req/s | p50 | p99 | ratio to bare | RSS after |"
echo "|---|---|---|---|---|---|---|"
# Warm-up (not reported): the first seconds after start-up run slower (page faults, caches,
# the first JWKS fetch), so each server gets a short run before anything is measured.
TOKENS_FILE="$tmp/t1" load "$bare/" scripts/bench/mcp_call.lua 64 >/dev/null
TOKENS_FILE="$tmp/t1" load "$resource" scripts/bench/mcp_call.lua 64 >/dev/null
# Each connection count: REPEAT alternating bare/MCP pairs; the row shows the pair with the
# median ratio, and the ratios of every pair, so run-to-run noise is visible.
for c in $CONNS_LIST; do
  rows=()
  for _ in $(seq 1 "$REPEAT"); do
    read -r brps bp50 bp99 < <(TOKENS_FILE="$tmp/t1" load "$bare/" scripts/bench/mcp_call.lua "$c")
    read -r rps p50 p99 < <(TOKENS_FILE="$tmp/t1" load "$resource" scripts/bench/mcp_call.lua "$c")
    rows+=("$(ratio "$rps" "$brps") $brps $bp50 $bp99 $rps $p50 $p99")
  done
  all="$(printf '%s\n' "${rows[@]}" | awk '{print $1}' | paste -sd, -)"
  read -r r brps bp50 bp99 rps p50 p99 < <(printf '%s\n' "${rows[@]}" | sort -n | sed -n "$(( (REPEAT + 1) / 2 ))p")
  echo "| bare hyper reference | $c | $brps | $bp50 | $bp99 | 1.00 | $(rss_kb "$bare_pid") kB |"
  echo "| MCP, 1 token (cache warm) | $c | $rps | $p50 | $p99 | $r (runs: $all) | $(rss_kb "$mcp_pid") kB |"
done
for set in t1k t100k; do
  read -r rps p50 p99 < <(TOKENS_FILE="$tmp/$set" load "$resource" scripts/bench/mcp_call.lua "$CONNS")
  echo "| MCP, ${set#t} distinct tokens | $CONNS | $rps | $p50 | $p99 | - | $(rss_kb "$mcp_pid") kB |"
done

# The per-request-verify rate for comparison: the same server with its verified-token cache
# switched off, on the same 100,000 tokens (issue 6: "no collapse below the verify rate").
kill "$mcp_pid"; wait "$mcp_pid" 2>/dev/null || true
MCP_SERVER__TOKEN_CACHE__MAX_CAPACITY=0 start mcp-nocache "$BIN/http-mcp-mock-server" --bind "127.0.0.1:$mcp_port" --auth-server "$issuer" --resource "$resource"
mcp_pid=$PID
read -r rps p50 p99 < <(TOKENS_FILE="$tmp/t100k" load "$resource" scripts/bench/mcp_call.lua "$CONNS")
echo "| MCP, 100k distinct tokens, token cache off (per-request verify) | $CONNS | $rps | $p50 | $p99 | - | $(rss_kb "$mcp_pid") kB |"

kill "$as_pid" "$mcp_pid" "$bare_pid" 2>/dev/null || true
fi

# ONLY=ab BASELINE_BIN=DIR: the MCP server of this checkout against another build of it (e.g.
# the last release, built with the same profile into DIR), both on core 0 in turn, with the
# bare hyper reference, for the stateless and the session-era tools/call at $CONNS connections.
# REPEAT rounds of bare / this / baseline, alternating; every ratio is printed.
if [ "$ONLY" = ab ]; then
[ -x "${BASELINE_BIN:-}/http-mcp-mock-server" ] || { echo "ONLY=ab needs BASELINE_BIN=DIR with http-mcp-mock-server" >&2; exit 2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_new="$(free_port)"; port_old="$(free_port)"
res_new="http://127.0.0.1:$port_new/mcp"; res_old="http://127.0.0.1:$port_old/mcp"
AUTH_SERVER__RATE_LIMITS__TOKEN_PER_MINUTE=0 start as "$BIN/http-oauth2-mock-server" --bind 127.0.0.1:0 --keys-dir "$keys" --resource "$res_new" --resource "$res_old"
issuer="http://$ADDR"
start bare "$BIN/examples/bare_hyper" 127.0.0.1:0
bare="http://$ADDR"
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
for round in $(seq 1 "$REPEAT"); do
  read -r b _ _ < <(TOKENS_FILE="$tmp/tn" load "$bare/" scripts/bench/mcp_call.lua "$CONNS")
  read -r sn _ _ < <(TOKENS_FILE="$tmp/tn" load "$res_new" scripts/bench/mcp_call.lua "$CONNS")
  read -r so _ _ < <(TOKENS_FILE="$tmp/to" load "$res_old" scripts/bench/mcp_call.lua "$CONNS")
  read -r qn _ _ < <(SESSION_ID="$sid_new" TOKENS_FILE="$tmp/tn" load "$res_new" scripts/bench/mcp_call.lua "$CONNS")
  read -r qo _ _ < <(SESSION_ID="$sid_old" TOKENS_FILE="$tmp/to" load "$res_old" scripts/bench/mcp_call.lua "$CONNS")
  echo "| $round | $b | $sn | $so | $qn | $qo | $(ratio "$sn" "$b") | $(ratio "$so" "$b") | $(ratio "$sn" "$so") | $(ratio "$qn" "$qo") |"
done
kill "$new_pid" "$old_pid" 2>/dev/null || true
fi

# ONLY=dpop (also in all): DPoP-bound tools/call against bearer tools/call on the same server
# (DPoP enabled, so bearer requests take the DPoP-aware code path too), REPEAT alternating
# rounds at $CONNS connections. Each DPoP round sends $PROOFS proofs made just before it by
# tests/examples/dpop_bench_inputs (one per request, never repeated: the replay cache is
# exercised, not bypassed); the server verifies each (signature, htm/htu, ath, iat, cnf.jkt,
# jti insert). Issue 15 target: DPoP >= 0.5 of the bearer rate.
if [ "$ONLY" = all ] || [ "$ONLY" = dpop ]; then
PROOFS="${PROOFS:-200000}"
dpop_port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
dres="http://127.0.0.1:$dpop_port/mcp"
AUTH_SERVER__RATE_LIMITS__TOKEN_PER_MINUTE=0 start as-dpop "$BIN/http-oauth2-mock-server" --bind 127.0.0.1:0 --keys-dir "$keys" --resource "$dres"
dissuer="http://$ADDR"; das_pid=$PID
MCP_SERVER__DPOP__ENABLED=true start mcp-dpop "$BIN/http-mcp-mock-server" --bind "127.0.0.1:$dpop_port" --auth-server "$dissuer" --resource "$dres"
dmcp_pid=$PID
"$BIN/examples/mint_tokens" "$keys" "$dissuer" "$dres" 1 > "$tmp/dt1"
mkdir -p "$tmp/dpop"
# dpop_round ALG CONNS -> "req/s p50 p99" with fresh proofs
dpop_round() {
  "$BIN/examples/dpop_bench_inputs" "$keys" "$dissuer" "$dres" "$PROOFS" "$tmp/dpop" "$1"
  TOKEN_FILE="$tmp/dpop/token" PROOFS_FILE="$tmp/dpop/proofs" load "$dres" scripts/bench/dpop_call.lua "$2"
}
echo
echo "## DPoP tools/call vs bearer tools/call (stateless 2026-07-28, server on one core, DPoP enabled)"
echo
echo "| round | conns | bearer req/s | bearer p50 / p99 | DPoP ES256 req/s | DPoP p50 / p99 | DPoP EdDSA req/s | ES256/bearer | EdDSA/bearer |"
echo "|---|---|---|---|---|---|---|---|---|"
TOKENS_FILE="$tmp/dt1" load "$dres" scripts/bench/mcp_call.lua 64 >/dev/null
dpop_round ES256 64 >/dev/null
# Where a DPoP request's extra time goes: the verifier vs the bare signature check (core 0).
MEASURE=1 taskset -c 0 "$BIN/examples/dpop_bench_inputs" "$keys" "$dissuer" "$dres" 10 "$tmp/dpop" ES256 2>&1 | sed 's/^/- /'
for round in $(seq 1 "$REPEAT"); do
  read -r brps bp50 bp99 < <(TOKENS_FILE="$tmp/dt1" load "$dres" scripts/bench/mcp_call.lua "$CONNS")
  read -r erps ep50 ep99 < <(dpop_round ES256 "$CONNS")
  read -r drps _ _ < <(dpop_round EdDSA "$CONNS")
  echo "| $round | $CONNS | $brps | $bp50 / $bp99 | $erps | $ep50 / $ep99 | $drps | $(ratio "$erps" "$brps") | $(ratio "$drps" "$brps") |"
done
echo "- RSS after: $(rss_kb "$dmcp_pid") kB (replay cache holding up to 100,000 jtis)"
kill "$das_pid" "$dmcp_pid" 2>/dev/null || true
fi

if [ "$ONLY" = all ] || [ "$ONLY" = token ]; then
echo
echo "## Token endpoint (one core), $CONNS connections"
echo
echo "| grant | alg | req/s | p50 | p99 |"
echo "|---|---|---|---|---|"
for alg in ES256 EdDSA RS256; do
  AUTH_SERVER__RATE_LIMITS__TOKEN_PER_MINUTE=0 start "as-$alg" "$BIN/http-oauth2-mock-server" --bind 127.0.0.1:0 --ephemeral-keys --algorithm "$alg"
  url="http://$ADDR/token"
  read -r rps p50 p99 < <(load "$url" scripts/bench/client_credentials.lua "$CONNS")
  echo "| client_credentials | $alg | $rps | $p50 | $p99 |"
  seed_refresh_tokens "$ADDR" > "$tmp/rts"
  read -r rps p50 p99 < <(TOKENS_FILE="$tmp/rts" load "$url" scripts/bench/refresh.lua "$CONNS")
  echo "| refresh_token (rotating) | $alg | $rps | $p50 | $p99 |"
  kill "$PID"; wait "$PID" 2>/dev/null || true
done
fi
# ONLY=token-dpop: the token endpoint with DPoP proofs against without, same server, same run,
# alternating (issue 15 D). Proofs are pre-signed (examples/dpop_proofs, one key, unique jti)
# so wrk only sends them; the server verifies each and records its jti. PROOFS per round.
if [ "$ONLY" = token-dpop ]; then
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
    read -r b _ b99 < <(load "$url" scripts/bench/client_credentials.lua "$CONNS")
    read -r d _ d99 < <(PROOFS_FILE="$tmp/proofs" load "$url" scripts/bench/dpop_client_credentials.lua "$CONNS")
    echo "| $round | $alg | $b | $b99 | $d | $d99 | $(ratio "$d" "$b") |"
    kill "$PID"; wait "$PID" 2>/dev/null || true
  done
done
fi
# ONLY=token-redis: the token endpoint on the Redis store against the memory store, in the same
# run, alternating (issue 14 D). redis-server (AOF on, fsync every second: the DEPLOYMENT.md
# settings) runs on core 1 next to wrk; the authorization server alone on core 0.
if [ "$ONLY" = token-redis ]; then
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
    read -r cc _ cc99 < <(load "$url" scripts/bench/client_credentials.lua "$CONNS")
    seed_refresh_tokens "$ADDR" > "$tmp/rts"
    read -r rr _ rr99 < <(TOKENS_FILE="$tmp/rts" load "$url" scripts/bench/refresh.lua "$CONNS")
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
# ONLY=ladder: the cost ladder of a tools/call and its SVG charts (issue 16 A and D), in
# scripts/ladder.sh (MODE=wall|callgrind|both, OUT, IMG are passed through).
if [ "$ONLY" = ladder ]; then
DURATION="$DURATION" REPEAT="$REPEAT" CONNS="$CONNS" bash scripts/ladder.sh
fi
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
