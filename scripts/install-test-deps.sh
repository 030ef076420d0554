#!/usr/bin/env bash
# Installs the system packages the test suite needs, when missing (Debian; run as root):
# Chromium and ChromeDriver for the consent-page browser tests, OpenSSL headers for josekit,
# Python's venv for the interop suite, redis-server for the shared-store tests, `script` for a
# pseudo-terminal, Node.js and npm for the third-party authorization server
# (node-oidc-provider, pinned in tests/oidc/package-lock.json, installed with `npm ci`).
# cargo-nextest is installed from crates.io if absent.
set -euo pipefail
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
pkg-config --exists openssl 2>/dev/null || need+=(libssl-dev pkg-config)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)  # issue 14: the Redis store tests
command -v script >/dev/null 2>&1 || need+=(bsdutils)  # a pseudo-terminal for the CLI elicitation test
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${need[*]} (run: sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v cargo-nextest >/dev/null 2>&1 || cargo install cargo-nextest --locked
# node-oidc-provider for the e2e tests of issue 13 (tests/src/oidc.rs): exact versions from the
# lock file. Without it those tests skip loudly, or fail when CI is set.
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -f "$here/tests/oidc/node_modules/oidc-provider/package.json" ]; then
  (cd "$here/tests/oidc" && npm ci --no-audit --no-fund --loglevel=error)
fi
