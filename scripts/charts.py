#!/usr/bin/env python3
"""SVG bar charts from scripts/ladder.sh's and scripts/bench.sh's results (issue 16 D), written
by hand: no plotting library needed. Usage: python3 scripts/charts.py RESULTS_DIR IMG_DIR

Reads whichever of these RESULTS_DIR holds and writes:
  callgrind.tsv   -> IMG_DIR/ladder-instructions.svg  instructions per tools/call per ladder step
  wall.tsv        -> IMG_DIR/ladder-wall.svg          server CPU µs per tools/call per ladder step
                                                      (median; from results without CPU columns:
                                                      1e6 / median req/s, as before)
                     IMG_DIR/vs-bare.svg              the real server against bare hyper: rate
                                                      ratio and CPU cost ratio, target 0.75
  token-limit.tsv -> IMG_DIR/token-vs-limit.svg       token endpoint against the sign-only limit
                                                      server, target 0.9
  client.tsv      -> IMG_DIR/client-vs-plain.svg      BearerAuth against plain reqwest, target 0.95
Ratios are medians of per-round ratios (each against the reference of the same round); the
cost ratio is the reference's CPU µs per request divided by this one's.
"""

import os
import statistics
import sys
from html import escape

# The TSV readers and the ladder's step names are bench/summary.py's (one definition).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench"))
from summary import STEPS, num, read_tsv  # noqa: E402
LABELS = {
    "bare": "bare hyper, fixed reply",
    "stack": "+ axum/tower stack",
    "auth": "+ auth layer (warm cache)",
    "envelope": "+ JSON-RPC envelope parse",
    "dispatch": "+ jsonrpsee dispatch",
    "checks": "+ session / header checks",
    "real": "real server binary",
}
COLOURS = {
    "stateless": "#3b6ea8",
    "legacy": "#d9822b",
    "bare": "#7a7a7a",
    "reference": "#7a7a7a",
    "rate ratio": "#3b6ea8",
    "CPU cost ratio": "#2e8b57",
}


def median_ratio(rows, key, ref, this, value, invert=False):
    """Median over rounds of this/ref (ref/this with invert), rows grouped by rows[key]."""
    by = {}
    for r in rows:
        by.setdefault(r["round"], {})[r[key]] = num(r.get(value))
    xs = []
    for vals in by.values():
        a, b = vals.get(ref), vals.get(this)
        if a and b:
            xs.append(a / b if invert else b / a)
    return statistics.median(xs) if xs else None


def ratio_chart(path, title, ref_label, label, rows, key, ref, this, target):
    """Reference = 1.0 against this one's median rate ratio and CPU cost ratio."""
    vals = {
        "rate ratio": median_ratio(rows, key, ref, this, "req_s"),
        "CPU cost ratio": median_ratio(rows, key, ref, this, "cpu_us_per_req", invert=True),
    }
    if vals["rate ratio"] is None:
        return
    hbar_chart(
        path,
        title,
        "ratio to the reference (median of rounds)",
        [(ref_label, {"reference": 1.0}), (label, vals)],
        ["reference", "rate ratio", "CPU cost ratio"],
        lambda v: f"{v:.2f}",
        target=target,
    )


def hbar_chart(path, title, unit, groups, series, fmt, target=None):
    """groups: [(label, {series: value})]; one bar per series per group, horizontal."""
    bar_h, gap, left, right, top = 14, 10, 210, 90, 48
    width = 760
    n_series = len(series)
    height = top + len(groups) * (n_series * bar_h + gap) + 40
    vmax = max([v for _, vals in groups for v in vals.values() if v is not None] + [target or 0])
    vmax = vmax * 1.05 if vmax > 0 else 1
    scale = (width - left - right) / vmax
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">'
        f"{escape(title)}</text>",
    ]
    # legend
    x = left
    for s in series:
        out.append(f'<rect x="{x}" y="28" width="12" height="12" fill="{COLOURS.get(s, "#555")}"/>')
        out.append(f'<text x="{x + 16}" y="38">{escape(s)}</text>')
        x += 20 + 7 * len(s)
    y = top
    for label, vals in groups:
        gh = n_series * bar_h
        out.append(
            f'<text x="{left - 6}" y="{y + gh / 2 + 4}" text-anchor="end">{escape(label)}</text>'
        )
        for i, s in enumerate(series):
            v = vals.get(s)
            if v is None:
                continue
            w = max(v * scale, 1)
            by = y + i * bar_h
            out.append(
                f'<rect x="{left}" y="{by}" width="{w:.1f}" height="{bar_h - 2}" '
                f'fill="{COLOURS.get(s, "#555")}"/>'
            )
            out.append(f'<text x="{left + w + 4:.1f}" y="{by + bar_h - 4}">{escape(fmt(v))}</text>')
        y += gh + gap
    out.append(f'<line x1="{left}" y1="{top - 4}" x2="{left}" y2="{y}" stroke="black"/>')
    out.append(f'<text x="{left}" y="{y + 14}" fill="#555">{escape(unit)}</text>')
    if target is not None:
        tx = left + target * scale
        out.append(
            f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{y}" stroke="#c0392b" '
            f'stroke-dasharray="4 3"/>'
        )
        out.append(
            f'<text x="{tx:.1f}" y="{y + 14}" text-anchor="middle" fill="#c0392b">'
            f"target {target:g}</text>"
        )
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print(f"wrote {path}")


def main():
    results, img = sys.argv[1], sys.argv[2]
    os.makedirs(img, exist_ok=True)
    cg = read_tsv(os.path.join(results, "callgrind.tsv"))
    if cg:
        vals = {(r["step"], r["mode"]): int(r["per_request"]) for r in cg}
        groups = [
            (LABELS[s], {m: vals.get((s, m)) for m in ("stateless", "legacy")})
            for s in STEPS
            if any((s, m) in vals for m in ("stateless", "legacy"))
        ]
        hbar_chart(
            os.path.join(img, "ladder-instructions.svg"),
            "Cost ladder: instructions per tools/call (callgrind, server)",
            "instructions / request",
            groups,
            ["stateless", "legacy"],
            lambda v: f"{v:,}",
        )
    wall = read_tsv(os.path.join(results, "wall.tsv"))
    if wall:
        has_cpu = any(num(r.get("cpu_us_per_req")) for r in wall)
        med, cpu = {}, {}
        for s in STEPS:
            for m in ("stateless", "legacy"):
                rows = [r for r in wall if r["step"] == s and r["mode"] == m]
                xs = [num(r["req_s"]) for r in rows if num(r["req_s"])]
                if xs:
                    med[(s, m)] = statistics.median(xs)
                cs = [num(r.get("cpu_us_per_req")) for r in rows if num(r.get("cpu_us_per_req"))]
                if cs:
                    cpu[(s, m)] = statistics.median(cs)
        if has_cpu:
            per_req = cpu
            title = "Cost ladder: server CPU µs per tools/call (median of rounds, one core, 64 connections)"
        else:
            per_req = {k: 1e6 / v for k, v in med.items()}
            title = "Cost ladder: µs per tools/call on one core (median req/s, 64 connections)"
        groups = [
            (LABELS[s], {m: per_req.get((s, m)) for m in ("stateless", "legacy")})
            for s in STEPS
            if any((s, m) in per_req for m in ("stateless", "legacy"))
        ]
        hbar_chart(
            os.path.join(img, "ladder-wall.svg"),
            title,
            "µs / request",
            groups,
            ["stateless", "legacy"],
            lambda v: f"{v:.1f} µs",
        )
        if ("bare", "stateless") in med and ("real", "stateless") in med:
            bare = med[("bare", "stateless")]
            groups = [("bare hyper", {"reference": 1.0})]
            for m in ("stateless", "legacy"):
                rows = [r for r in wall if r["mode"] == m and r["step"] in ("bare", "real")]
                rate = median_ratio(rows, "step", "bare", "real", "req_s")
                if rate is None:
                    continue
                vals = {"rate ratio": rate}
                if has_cpu:
                    vals["CPU cost ratio"] = median_ratio(rows, "step", "bare", "real", "cpu_us_per_req", invert=True)
                groups.append((f"tools/call, {m}", vals))
            bare_cpu = f", {cpu[('bare', 'stateless')]:.1f} µs CPU" if ("bare", "stateless") in cpu else ""
            hbar_chart(
                os.path.join(img, "vs-bare.svg"),
                f"tools/call against bare hyper, same run (bare = {bare:,.0f} req/s{bare_cpu})",
                "ratio to bare (median of rounds)",
                groups,
                ["reference", "rate ratio", "CPU cost ratio"] if has_cpu else ["reference", "rate ratio"],
                lambda v: f"{v:.2f}",
                target=0.75,
            )
    tl = read_tsv(os.path.join(results, "token-limit.tsv"))
    if tl:
        lim = statistics.median([num(r["req_s"]) for r in tl if r["server"] == "limit" and num(r["req_s"])] or [0])
        ratio_chart(
            os.path.join(img, "token-vs-limit.svg"),
            f"Token endpoint (client_credentials, ES256) against the sign-only limit ({lim:,.0f} req/s)",
            "sign-only limit server",
            "authorization server",
            tl,
            "server",
            "limit",
            "as",
            0.9,
        )
    cl = read_tsv(os.path.join(results, "client.tsv"))
    if cl:
        plain = statistics.median([num(r["req_s"]) for r in cl if r["client"] == "plain" and num(r["req_s"])] or [0])
        ratio_chart(
            os.path.join(img, "client-vs-plain.svg"),
            f"Client: reqwest + BearerAuth against plain reqwest ({plain:,.0f} req/s, one core)",
            "plain reqwest::Client",
            "+ BearerAuth, fresh token",
            cl,
            "client",
            "plain",
            "bearer",
            0.95,
        )


if __name__ == "__main__":
    main()
