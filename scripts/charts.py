#!/usr/bin/env python3
"""SVG bar charts from scripts/ladder.sh's results (issue 16 D), written by hand: no plotting
library needed. Usage: python3 scripts/charts.py RESULTS_DIR IMG_DIR

Reads RESULTS_DIR/callgrind.tsv and RESULTS_DIR/wall.tsv (either may be absent) and writes:
  IMG_DIR/ladder-instructions.svg  instructions per tools/call per ladder step (callgrind)
  IMG_DIR/ladder-wall.svg          µs per tools/call on one core per ladder step (median)
  IMG_DIR/vs-bare.svg              the real server against bare hyper: req/s and ratio
"""

import csv
import os
import statistics
import sys
from html import escape

STEPS = ["bare", "stack", "auth", "envelope", "dispatch", "checks", "real"]
LABELS = {
    "bare": "bare hyper, fixed reply",
    "stack": "+ axum/tower stack",
    "auth": "+ auth layer (warm cache)",
    "envelope": "+ JSON-RPC envelope parse",
    "dispatch": "+ jsonrpsee dispatch",
    "checks": "+ session / header checks",
    "real": "real server binary",
}
COLOURS = {"stateless": "#3b6ea8", "legacy": "#d9822b", "bare": "#7a7a7a"}


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


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
        x += 110
    out.append(f'<text x="{width - right}" y="38" text-anchor="end" fill="#555">{escape(unit)}</text>')
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
        med = {}
        for s in STEPS:
            for m in ("stateless", "legacy"):
                xs = [float(r["req_s"]) for r in wall if r["step"] == s and r["mode"] == m and r["req_s"]]
                if xs:
                    med[(s, m)] = statistics.median(xs)
        groups = [
            (LABELS[s], {m: (1e6 / med[(s, m)]) if (s, m) in med else None for m in ("stateless", "legacy")})
            for s in STEPS
            if any((s, m) in med for m in ("stateless", "legacy"))
        ]
        hbar_chart(
            os.path.join(img, "ladder-wall.svg"),
            "Cost ladder: µs per tools/call on one core (median req/s, 64 connections)",
            "µs / request",
            groups,
            ["stateless", "legacy"],
            lambda v: f"{v:.1f} µs",
        )
        if ("bare", "stateless") in med and ("real", "stateless") in med:
            bare = med[("bare", "stateless")]
            groups = [("bare hyper", {"bare": 1.0})]
            for m in ("stateless", "legacy"):
                if ("real", m) in med:
                    groups.append((f"tools/call, {m}", {m: med[("real", m)] / bare}))
            hbar_chart(
                os.path.join(img, "vs-bare.svg"),
                f"tools/call against bare hyper, same run (bare = {bare:,.0f} req/s)",
                "ratio to bare",
                groups,
                ["bare", "stateless", "legacy"],
                lambda v: f"{v:.2f}",
                target=0.75,
            )


if __name__ == "__main__":
    main()
