#!/usr/bin/env bash
# Instructions per tools/call request under callgrind (repeatable whatever else the machine
# does): this checkout's release MCP server against BASELINE_BIN/http-mcp-mock-server,
# stateless and session-era, one runtime worker each. Counting starts after a warm-up
# (callgrind_control), so start-up and the first JWKS fetch are excluded.
#   BASELINE_BIN=/path/to/old/release bash scripts/callgrind-ab.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${BASELINE_BIN:?set BASELINE_BIN to a folder with another build of http-mcp-mock-server}"
cargo build --release -q -p auth-server -p mcp-server --bins --example mint_tokens
R=target/release
W="$(mktemp -d)"
keys=$W/keys; $R/http-oauth2-mock-server keys generate --keys-dir $keys >/dev/null
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pn=$(free_port); po=$(free_port)
rn="http://127.0.0.1:$pn/mcp"; ro="http://127.0.0.1:$po/mcp"
AUTH_SERVER__RATE_LIMITS__TOKEN_PER_MINUTE=0 $R/http-oauth2-mock-server --bind 127.0.0.1:0 --keys-dir $keys --resource $rn --resource $ro > $W/as.out 2>/dev/null &
asp=$!
trap 'kill $asp 2>/dev/null || true; rm -rf "$W"' EXIT
for _ in $(seq 100); do grep -q "listening on" $W/as.out && break; sleep 0.1; done
iss="$(sed -n 's/^listening on //p' $W/as.out)"
$R/examples/mint_tokens $keys "$iss" "$rn" 1 > $W/tn; $R/examples/mint_tokens $keys "$iss" "$ro" 1 > $W/to
session() {
  sid="$(curl -s -D - -o /dev/null -X POST "$1" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"b","version":"1"}}}' | tr -d '\r' | awk 'tolower($1)=="mcp-session-id:" {print $2}')"
  curl -s -o /dev/null -X POST "$1" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2025-11-25' -H "Mcp-Session-Id: $sid" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  echo "$sid"
}
measure() { # name bin port res tokens
  local name=$1 bin=$2 port=$3 res=$4 tok=$5
  TOKIO_WORKER_THREADS=1 valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=$W/$name.%p.out \
    $bin --bind 127.0.0.1:$port --auth-server "$iss" --resource "$res" > $W/$name.srv 2>/dev/null &
  local vp=$!
  for _ in $(seq 300); do grep -q "listening on" $W/$name.srv && break; sleep 0.1; done
  local sid; sid=$(session "$res" "$(cat $tok)")
  # warm-up (token cache, JWKS)
  TOKENS_FILE=$tok wrk -t1 -c1 -d2s -s scripts/bench/mcp_call.lua "$res" >/dev/null
  SESSION_ID=$sid TOKENS_FILE=$tok wrk -t1 -c1 -d2s -s scripts/bench/mcp_call.lua "$res" >/dev/null
  local k=0
  for mode in stateless session; do
    k=$((k+1))
    callgrind_control -z $vp >/dev/null 2>&1; callgrind_control -i on $vp >/dev/null 2>&1
    if [ $mode = session ]; then export SESSION_ID=$sid; else unset SESSION_ID; fi
    local out; out=$(TOKENS_FILE=$tok wrk -t1 -c4 -d6s -s scripts/bench/mcp_call.lua "$res")
    callgrind_control -i off $vp >/dev/null 2>&1
    local n; n=$(echo "$out" | awk '/requests in/ {print $1}')
    callgrind_control -d $vp >/dev/null 2>&1; sleep 1
    local f=$W/$name.$vp.out.$k
    local ir; ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done {gsub(",", "", $1); print $1; done=1}')
    echo "$name $mode requests=$n Ir=$ir per_request=$(( ir / n ))"
  done
  unset SESSION_ID
  kill $vp; wait $vp 2>/dev/null || true
}
measure new $R/http-mcp-mock-server $pn $rn $W/tn
measure old "$BASELINE_BIN/http-mcp-mock-server" $po $ro $W/to
