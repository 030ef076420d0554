#!/usr/bin/env bash
# Generates the authorization server's signing key: the same file the server would generate on
# first start (PKCS#8 PEM, mode 0600, in keys/signing_key.pem). Usage:
#   scripts/setup_keys.sh [KEYS_DIR] [ES256|RS256|EdDSA]
set -euo pipefail
dir="${1:-keys}"
alg="${2:-ES256}"
mkdir -p "$dir/retired"
umask 077
out="$dir/signing_key.pem"
if [ -e "$out" ]; then
  echo "$out exists; rotate with: cargo run --bin http-oauth2-mock-server -- keys rotate --keys-dir $dir" >&2
  exit 1
fi
case "$alg" in
  ES256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$out.tmp" ;;
  RS256) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$out.tmp" ;;
  EdDSA) openssl genpkey -algorithm ed25519 -out "$out.tmp" ;;
  *) echo "unknown algorithm $alg (ES256, RS256, EdDSA)" >&2; exit 2 ;;
esac
chmod 600 "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out ($alg)"
