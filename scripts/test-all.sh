#!/usr/bin/env bash
# The README's test command: every Rust test in the workspace (one integration-test binary plus
# unit tests, run in parallel by cargo-nextest), the doc tests, and the Python interop suite
# against the official MCP SDK client when tests/interop exists.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo nextest run --workspace --no-fail-fast
cargo test --workspace --doc
if [ -f tests/interop/run.sh ]; then
  bash tests/interop/run.sh
fi
