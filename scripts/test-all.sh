#!/usr/bin/env bash
# The README's test command: installs missing system packages (scripts/install-test-deps.sh),
# then runs every Rust test in the workspace (unit tests and the one end-to-end binary, in
# parallel under cargo-nextest), the doc tests, and the Python interop suite that drives the
# official MCP SDK client against the real binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
# Binaries first: process-level tests and the interop suite run them.
cargo build --workspace --bins
cargo nextest run --workspace --no-fail-fast
cargo test --workspace --doc
bash tests/interop/run.sh
