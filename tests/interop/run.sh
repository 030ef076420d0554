#!/usr/bin/env bash
# Interop suite: the official MCP Python SDK client against the real binaries.
# Creates tests/interop/.venv on first use, installs requirements.txt, runs pytest.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
cargo build -q --bin http-oauth2-mock-server --bin http-mcp-mock-server
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"
# Where cargo put the binaries: CARGO_TARGET_DIR, build.target-dir in a cargo config, or
# target/ (cargo metadata resolves all three).
target_dir="$(cargo metadata --format-version 1 --no-deps \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
export INTEROP_BIN_DIR="$target_dir/debug"
cd "$here"
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
