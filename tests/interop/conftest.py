"""Starts the real binaries (authorization server, MCP server) as processes on loopback.

Ports: the authorization server binds 127.0.0.1:0; the MCP server's port is picked by binding
127.0.0.1:0 and releasing it, because the authorization server must know the MCP resource URL
(RFC 8707) before the MCP server starts.
"""
import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass

import pytest


def _default_bin_dir() -> str:
    """`<target dir>/debug`, with the target dir as cargo resolves it (CARGO_TARGET_DIR,
    build.target-dir, or target/ in the workspace)."""
    workspace = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    out = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=workspace, check=True, capture_output=True, text=True,
    ).stdout
    return os.path.join(json.loads(out)["target_directory"], "debug")


BIN_DIR = os.environ.get("INTEROP_BIN_DIR") or _default_bin_dir()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args, env=None):
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **(env or {})},
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stdout.readline()
        if line.startswith("listening on "):
            return proc, line.strip().removeprefix("listening on ")
        if proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError(f"{args[0]} did not start")


@dataclass
class Stack:
    issuer: str
    mcp_url: str
    procs: list

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()


def start_stack(tmp_path, as_env=None) -> Stack:
    mcp_port = _free_port()
    mcp_url = f"http://127.0.0.1:{mcp_port}/mcp"
    as_proc, issuer = _start(
        [os.path.join(BIN_DIR, "http-oauth2-mock-server"), "--bind", "127.0.0.1:0",
         "--ephemeral-keys", "--resource", mcp_url],
        env=as_env,
    )
    try:
        mcp_proc, _ = _start(
            [os.path.join(BIN_DIR, "http-mcp-mock-server"), "--bind", f"127.0.0.1:{mcp_port}",
             "--auth-server", issuer, "--resource", mcp_url]
        )
    except Exception:
        as_proc.kill()
        raise
    return Stack(issuer=issuer, mcp_url=mcp_url, procs=[as_proc, mcp_proc])


@pytest.fixture
def stack(tmp_path):
    s = start_stack(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def short_lived_stack(tmp_path):
    """Access tokens live 2 seconds, so the SDK must refresh."""
    s = start_stack(tmp_path, as_env={"AUTH_SERVER__ACCESS_TOKEN_TTL_SECS": "2"})
    yield s
    s.stop()
