#!/usr/bin/env python3
"""Start-up time and idle RSS of a server (issue 16 C: < 50 ms, < 10 MB), for scripts/bench.sh.

Usage: startup.py RUNS CMD [ARGS...]

Starts CMD RUNS times. Each time: the clock starts just before the spawn and stops when the
server's stdout shows "listening on" (read from a pipe: no polling interval in the figure;
bounded by a 10 s timeout); then the server idles for a second (no request) and its VmRSS is
read from /proc; then it gets SIGTERM. Prints one line: "BEST_MS MEDIAN_MS MAX_IDLE_RSS_KB".
Exits 1 if a start fails or times out.
"""

import os
import selectors
import signal
import statistics
import subprocess
import sys
import time

TIMEOUT_S = 10.0
IDLE_S = 1.0


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def one(cmd):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        buf = b""
        deadline = t0 + TIMEOUT_S
        while b"listening on" not in buf:
            left = deadline - time.perf_counter()
            if left <= 0 or not sel.select(left):
                raise RuntimeError(f"{cmd[0]}: no 'listening on' within {TIMEOUT_S} s")
            chunk = os.read(p.stdout.fileno(), 4096)
            if not chunk:
                raise RuntimeError(f"{cmd[0]}: exited before listening (status {p.wait()})")
            buf += chunk
        ms = (time.perf_counter() - t0) * 1000
        time.sleep(IDLE_S)
        # taskset and env exec the server: p.pid is the server itself.
        return ms, rss_kb(p.pid)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    runs = int(sys.argv[1])
    cmd = sys.argv[2:]
    times, rss = [], []
    try:
        for _ in range(max(runs, 1)):
            ms, kb = one(cmd)
            times.append(ms)
            rss.append(kb)
    except (RuntimeError, OSError) as e:
        print(e, file=sys.stderr)
        sys.exit(1)
    print(f"{min(times):.1f} {statistics.median(times):.1f} {max(rss)}")


if __name__ == "__main__":
    main()
