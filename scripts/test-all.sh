#!/usr/bin/env bash
# The README's test command: installs missing system packages (scripts/install-test-deps.sh),
# then runs every Rust test in the workspace (unit tests and the one end-to-end binary, in
# parallel under cargo-nextest), the doc tests, and the Python interop suite that drives the
# official MCP SDK client against the real binaries; the end-to-end suite also runs once at
# RUST_LOG=trace with its logs scanned for secrets. Ends with one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
# Binaries first: process-level tests and the interop suite run them.
cargo build --workspace --bins
cargo nextest run --workspace --no-fail-fast 2>&1 | tee "$logs/nextest"
# The end-to-end suite again with every log line at TRACE written to files, then scanned for
# anything that looks like a secret (tokens, codes, verifiers, client secrets; RS-19).
mkdir -p "$logs/trace"
RUST_LOG=trace E2E_LOG_DIR="$logs/trace" cargo nextest run -p tests --no-fail-fast --status-level fail \
  2>&1 | tail -n 3
python3 scripts/scan-logs.py "$logs/trace"
cargo test --workspace --doc 2>&1 | tee "$logs/doc"
bash tests/interop/run.sh 2>&1 | tee "$logs/interop"
rust=$(sed -n 's/.* tests run: \([0-9]*\) passed.*/\1/p' "$logs/nextest" | tail -n1)
doc=$(awk '/^test result: ok\./ {s += $4} END {print s + 0}' "$logs/doc")
py=$(sed -n 's/^\([0-9]*\) passed.*/\1/p' "$logs/interop" | tail -n1)
echo "nextest ${rust:-0}, doc tests ${doc:-0}, Python interop ${py:-0}"
echo "total: $(( ${rust:-0} + ${doc:-0} + ${py:-0} )) passed, 0 failed"
