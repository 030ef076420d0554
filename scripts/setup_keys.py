#!/usr/bin/env python3
"""Generates the authorization server's signing key, like scripts/setup_keys.sh.

Writes KEYS_DIR/signing_key.pem (PKCS#8 PEM, mode 0600). Uses the `cryptography` package when
it is installed and falls back to the `openssl` command otherwise.

Usage: python3 scripts/setup_keys.py [KEYS_DIR] [ES256|RS256|EdDSA]
"""
import os
import subprocess
import sys


def generate_pem(alg: str) -> bytes:
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
    except ImportError:
        args = {
            "ES256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            "RS256": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            "EdDSA": ["-algorithm", "ed25519"],
        }[alg]
        return subprocess.run(["openssl", "genpkey", *args], check=True, capture_output=True).stdout
    key = {
        "ES256": lambda: ec.generate_private_key(ec.SECP256R1()),
        "RS256": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "EdDSA": ed25519.Ed25519PrivateKey.generate,
    }[alg]()
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def main() -> int:
    keys_dir = sys.argv[1] if len(sys.argv) > 1 else "keys"
    alg = sys.argv[2] if len(sys.argv) > 2 else "ES256"
    if alg not in ("ES256", "RS256", "EdDSA"):
        print(f"unknown algorithm {alg} (ES256, RS256, EdDSA)", file=sys.stderr)
        return 2
    os.makedirs(os.path.join(keys_dir, "retired"), exist_ok=True)
    out = os.path.join(keys_dir, "signing_key.pem")
    if os.path.exists(out):
        print(f"{out} exists; rotate with the server's `keys rotate` subcommand", file=sys.stderr)
        return 1
    pem = generate_pem(alg)
    tmp = out + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.replace(tmp, out)
    print(f"wrote {out} ({alg})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
