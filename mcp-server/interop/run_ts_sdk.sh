#!/usr/bin/env bash
# Proves the official TypeScript MCP SDK client works against our two servers, OAuth included.
# Needs node >= 18 and network access to the npm registry the first time.
#   mcp-server/interop/run_ts_sdk.sh            # uses $TS_INTEROP_DIR (default /tmp/ts-interop)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dir="${TS_INTEROP_DIR:-/tmp/ts-interop}"
mkdir -p "$dir"
if [ ! -d "$dir/node_modules/@modelcontextprotocol/sdk" ]; then
  (cd "$dir" && npm init -y >/dev/null && npm install --no-audit --no-fund @modelcontextprotocol/sdk >/dev/null)
fi
cd "$root"
cargo build -q --bin http-oauth2-mock-server --bin http-mcp-mock-server
# Where cargo put them (CARGO_TARGET_DIR, .cargo/config.toml or target/).
bin="$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
mcp="http://127.0.0.1:$port/mcp"
as_out="$(mktemp)"; mcp_out="$(mktemp)"
"$bin/http-oauth2-mock-server" --bind 127.0.0.1:0 --ephemeral-keys --resource "$mcp" >"$as_out" 2>/dev/null &
as_pid=$!
trap 'kill $as_pid ${mcp_pid:-} 2>/dev/null || true; rm -f "$as_out" "$mcp_out"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$as_out" && break; sleep 0.1; done
issuer="$(sed -n 's/^listening on //p' "$as_out" | head -1)"
"$bin/http-mcp-mock-server" --bind "127.0.0.1:$port" --auth-server "$issuer" --resource "$mcp" >"$mcp_out" 2>/dev/null &
mcp_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$mcp_out" && break; sleep 0.1; done
(cd "$dir" && node "$here/ts_sdk_client.cjs" "$mcp")
