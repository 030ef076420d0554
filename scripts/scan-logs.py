#!/usr/bin/env python3
"""Scans the log files of an e2e run (E2E_LOG_DIR, RUST_LOG=trace) for anything that looks
like a secret: JWTs (access tokens), the built-in development client secrets, HTTP Basic
credentials, bearer tokens, and OAuth parameters that carry codes, verifiers or tokens.
Issue 11 item 17. Exit 1 with the offending lines (truncated) when something is found."""
import pathlib
import re
import sys

PATTERNS = {
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "dev client secret": re.compile(r"dev-(service|mcp-server)-secret"),
    "Basic credentials": re.compile(r"Basic [A-Za-z0-9+/]{12,}={0,2}"),
    "Bearer token": re.compile(r"Bearer [A-Za-z0-9._~+/-]{16,}"),
    "OAuth secret parameter": re.compile(
        r"\b(code_verifier|client_secret|refresh_token|access_token|code)[\"']?\s*[=:]\s*[\"']?[A-Za-z0-9._~-]{16,}"
    ),
}


def main() -> int:
    folder = pathlib.Path(sys.argv[1])
    files = sorted(folder.glob("*.log"))
    lines = 0
    found = []
    for f in files:
        for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            lines += 1
            for name, pat in PATTERNS.items():
                if pat.search(line):
                    found.append(f"{f.name}:{n}: {name}: {line[:300]}")
    print(f"scan-logs: {len(files)} files, {lines} lines, {len(found)} findings")
    for x in found[:50]:
        print(x)
    if not files or lines == 0:
        print("scan-logs: nothing was logged; is E2E_LOG_DIR wired?", file=sys.stderr)
        return 1
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
