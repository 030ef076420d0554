#!/usr/bin/env python3
"""Tables from scripts/bench.sh and scripts/ladder.sh results (issue 16 C).

  summary.py --ladder OUT   the wall-clock ladder (OUT/wall.tsv) as a Markdown table: per
                            step and mode, median req/s, rate ratio to bare, median server
                            CPU µs per request, cost ratio to bare, core utilisations, p99;
                            printed and written to OUT/ladder.md
  summary.py OUT            issue 16 C's targets from every TSV found in OUT (wall.tsv,
                            mcp.tsv, token-limit.tsv, client.tsv, startup.tsv): measured,
                            reference in the same run, ratio, target, met; printed and
                            written to OUT/summary.md and OUT/summary.tsv

Ratios are medians of per-round ratios (each round's figure against the reference measured in
the same round). The cost ratio is the reference's CPU µs per request divided by this one's
(1.00: as cheap as the reference); unlike the rate ratio it stays valid when wrk, not the
server, is the bottleneck.
"""

import csv
import os
import statistics
import sys

STEPS = ["bare", "stack", "auth", "envelope", "dispatch", "checks", "real"]
MODES = ["stateless", "legacy"]


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def num(x):
    """A float from a TSV cell ("-", "" or "n/a": None)."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def ms(latency):
    """wrk's latency ("694.00us", "1.38ms", "2.10s") in ms."""
    if not latency:
        return None
    for suffix, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if latency.endswith(suffix):
            v = num(latency[: -len(suffix)])
            return None if v is None else v * f
    return None


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def f2(x, fmt="{:.2f}"):
    return "-" if x is None else fmt.format(x)


def per_round_ratios(rows, key, ref, this, value, invert=False):
    """{round: this/ref} (or ref/this with invert) for rows grouped by `key` == ref/this."""
    by = {}
    for r in rows:
        by.setdefault(r["round"], {})[r[key]] = num(r[value])
    out = []
    for rnd in sorted(by, key=lambda x: int(x)):
        a, b = by[rnd].get(ref), by[rnd].get(this)
        if a and b:
            out.append(a / b if invert else b / a)
    return out


# --- the ladder ---


def ladder_stats(wall):
    """{(step, mode): dict} with medians and per-round ratios against bare."""
    stats = {}
    for s in STEPS:
        for m in MODES:
            rows = [r for r in wall if r["step"] == s and r["mode"] == m]
            if not rows:
                continue
            rate_r, cost_r = [], []
            for r in rows:
                b = next(
                    (x for x in wall if x["step"] == "bare" and x["mode"] == m and x["round"] == r["round"]),
                    None,
                )
                if b is None:
                    continue
                if num(b["req_s"]) and num(r["req_s"]):
                    rate_r.append(num(r["req_s"]) / num(b["req_s"]))
                if num(b.get("cpu_us_per_req")) and num(r.get("cpu_us_per_req")):
                    cost_r.append(num(b["cpu_us_per_req"]) / num(r["cpu_us_per_req"]))
            stats[(s, m)] = {
                "req_s": med(num(r["req_s"]) for r in rows),
                "rounds": [num(r["req_s"]) for r in rows],
                "cpu": med(num(r.get("cpu_us_per_req")) for r in rows),
                "util": med(num(r.get("server_util")) for r in rows),
                "wrk": med(num(r.get("wrk_util")) for r in rows),
                "p99": med(ms(r["p99"]) for r in rows),
                "rate_ratio": med(rate_r),
                "cost_ratio": med(cost_r),
                "rate_ratios": rate_r,
                "cost_ratios": cost_r,
            }
    return stats


def ladder_table(out):
    wall = read_tsv(os.path.join(out, "wall.tsv"))
    if not wall:
        print(f"no {out}/wall.tsv", file=sys.stderr)
        return None
    st = ladder_stats(wall)
    lines = [
        "| step | mode | req/s (median; rounds) | rate ratio to bare | server CPU µs/req | step adds | "
        "cost ratio to bare | server core | wrk core | p99 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in MODES:
        prev = None
        for s in STEPS:
            x = st.get((s, m))
            if x is None:
                continue
            adds = "-" if prev is None or x["cpu"] is None else f"{x['cpu'] - prev:+.2f}"
            rounds = ", ".join(f"{v:,.0f}" for v in x["rounds"] if v is not None)
            lines.append(
                f"| {s} | {m} | {f2(x['req_s'], '{:,.0f}')} ({rounds}) | {f2(x['rate_ratio'])} | "
                f"{f2(x['cpu'])} | {adds} | {f2(x['cost_ratio'])} | {f2(x['util'])} | {f2(x['wrk'])} | "
                f"{f2(x['p99'], '{:.2f} ms')} |"
            )
            prev = x["cpu"]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "ladder.md"), "w") as f:
        f.write(text)
    print(text)
    return st


# --- issue 16 C ---


def costliest_step(st, mode):
    """The ladder step that adds the most server CPU per request in `mode`."""
    best, prev = None, None
    for s in STEPS:
        x = st.get((s, mode))
        if x is None or x["cpu"] is None:
            continue
        if prev is not None and s != "real":
            d = x["cpu"] - prev
            if best is None or d > best[1]:
                best = (s, d)
        prev = x["cpu"]
    return f"largest step: {best[0]} (+{best[1]:.2f} µs)" if best else ""


def summary(out):
    rows = []  # (target, measured, reference, ratio, cost ratio, target text, met, note)

    wall = read_tsv(os.path.join(out, "wall.tsv"))
    if wall:
        st = ladder_stats(wall)
        for m in MODES:
            real, bare = st.get(("real", m)), st.get(("bare", m))
            if not real or not bare:
                continue
            ok_rate = real["rate_ratio"] is not None and real["rate_ratio"] >= 0.75
            ok_cost = real["cost_ratio"] is not None and real["cost_ratio"] >= 0.75
            ok_p99 = real["p99"] is not None and real["p99"] < 1.5
            rows.append(
                (
                    f"tools/call {m}, {CONNS} conns: >= 0.75 of bare hyper",
                    f"{f2(real['req_s'], '{:,.0f}')} req/s, {f2(real['cpu'])} µs CPU/req",
                    f"bare {f2(bare['req_s'], '{:,.0f}')} req/s, {f2(bare['cpu'])} µs CPU/req",
                    f2(real["rate_ratio"]),
                    f2(real["cost_ratio"]),
                    ">= 0.75 (the cost ratio does not depend on wrk)",
                    f"rate: {'yes' if ok_rate else 'no'}, cost: {'yes' if ok_cost else 'no'}",
                    "" if ok_cost else costliest_step(st, m),
                )
            )
            rows.append(
                (
                    f"tools/call {m}, {CONNS} conns: p99",
                    f2(real["p99"], "{:.2f} ms"),
                    f"bare {f2(bare['p99'], '{:.2f} ms')}",
                    "-",
                    "-",
                    "< 1.5 ms",
                    "yes" if ok_p99 else "no",
                    "" if ok_p99 else f"server core {f2(real['util'])}; {costliest_step(st, m)}",
                )
            )

    mcp = read_tsv(os.path.join(out, "mcp.tsv"))
    on = [r for r in mcp if r["case"] == "mcp-100k-tokens"]
    off = [r for r in mcp if r["case"] == "mcp-100k-tokens-cache-off"]
    if on and off:
        both = on + off
        for r in both:
            r["k"] = "on" if r["case"] == "mcp-100k-tokens" else "off"
        rr = med(per_round_ratios(both, "k", "off", "on", "req_s"))
        cr = med(per_round_ratios(both, "k", "off", "on", "cpu_us_per_req", invert=True))
        rss_on = max(int(r["rss_kb"]) for r in on if r["rss_kb"].isdigit())
        rss_off = max(int(r["rss_kb"]) for r in off if r["rss_kb"].isdigit())
        rows.append(
            (
                "100,000 distinct tokens: no worse than per-request verify (cache off)",
                f"{f2(med(num(r['req_s']) for r in on), '{:,.0f}')} req/s, RSS {rss_on / 1024:.1f} MiB",
                f"cache off {f2(med(num(r['req_s']) for r in off), '{:,.0f}')} req/s, RSS {rss_off / 1024:.1f} MiB",
                f2(rr),
                f2(cr),
                ">= 1.00 (0.95 counted: noise)",
                "yes" if rr is not None and rr >= 0.95 else "no",
                "memory bounded by token_cache.max_capacity",
            )
        )

    tl = read_tsv(os.path.join(out, "token-limit.tsv"))
    if tl:
        rr = med(per_round_ratios(tl, "server", "limit", "as", "req_s"))
        cr = med(per_round_ratios(tl, "server", "limit", "as", "cpu_us_per_req", invert=True))
        a = med(num(r["req_s"]) for r in tl if r["server"] == "as")
        lim = med(num(r["req_s"]) for r in tl if r["server"] == "limit")
        cpu = {k: med(num(r["cpu_us_per_req"]) for r in tl if r["server"] == k) for k in ("limit", "as", "as-nolog")}
        split = ""
        if None not in cpu.values():
            split = (
                f"of the AS's +{cpu['as'] - cpu['limit']:.1f} µs CPU/req over the limit: audit line "
                f"{cpu['as'] - cpu['as-nolog']:.1f} µs, stack + form + client auth + policy "
                f"{cpu['as-nolog'] - cpu['limit']:.1f} µs"
            )
        rows.append(
            (
                "token endpoint, client_credentials ES256: >= 0.9 of the sign-only limit",
                f"{f2(a, '{:,.0f}')} req/s",
                f"sign-only {f2(lim, '{:,.0f}')} req/s",
                f2(rr),
                f2(cr),
                ">= 0.90",
                "yes" if rr is not None and rr >= 0.9 else "no",
                split,
            )
        )

    cl = read_tsv(os.path.join(out, "client.tsv"))
    if cl:
        rr = med(per_round_ratios(cl, "client", "plain", "bearer", "req_s"))
        cr = med(per_round_ratios(cl, "client", "plain", "bearer", "cpu_us_per_req", invert=True))
        b = [r for r in cl if r["client"] == "bearer"]
        p = [r for r in cl if r["client"] == "plain"]
        rows.append(
            (
                "client: BearerAuth (fresh token) >= 0.95 of plain reqwest",
                f"{f2(med(num(r['req_s']) for r in b), '{:,.0f}')} req/s, "
                f"{f2(med(num(r['cpu_us_per_req']) for r in b))} µs CPU/req",
                f"plain {f2(med(num(r['req_s']) for r in p), '{:,.0f}')} req/s, "
                f"{f2(med(num(r['cpu_us_per_req']) for r in p))} µs CPU/req",
                f2(rr),
                f2(cr),
                ">= 0.95",
                "yes" if rr is not None and rr >= 0.95 else "no",
                f"client core {f2(med(num(r['cpu_util']) for r in b))}"
                + (
                    "; reqwest_middleware floor (pass-through middleware + the same header): "
                    f"rate ratio {f2(med(per_round_ratios(cl, 'client', 'plain', 'mw-noop+header', 'req_s')))}, "
                    f"cost ratio {f2(med(per_round_ratios(cl, 'client', 'plain', 'mw-noop+header', 'cpu_us_per_req', invert=True)))}"
                    if any(r["client"] == "mw-noop+header" for r in cl)
                    else ""
                ),
            )
        )

    for r in read_tsv(os.path.join(out, "startup.tsv")):
        best, rss = num(r["best_ms"]), num(r["idle_rss_kb"])
        rows.append(
            (
                f"{r['binary']}: start-up to listening",
                f"best {f2(best, '{:.1f} ms')} (median {r['median_ms']} ms, {r['runs']} runs)",
                "-",
                "-",
                "-",
                "< 50 ms",
                "yes" if best is not None and best < 50 else "no",
                "",
            )
        )
        rows.append(
            (
                f"{r['binary']}: idle RSS",
                "-" if rss is None else f"{rss / 1024:.1f} MiB ({rss:.0f} kB)",
                "-",
                "-",
                "-",
                "< 10 MiB",
                "yes" if rss is not None and rss < 10 * 1024 else "no",
                "",
            )
        )

    head = ["target", "measured (median)", "reference, same run", "rate ratio", "cost ratio", "target", "met", "note"]
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    for name in ("machine.txt", "load.txt"):
        path = os.path.join(out, name)
        if os.path.exists(path):
            with open(path) as f:
                md.append("")
                md += [f"- {line.strip().lstrip('# ')}" for line in f if line.strip()]
    text = "\n".join(md) + "\n"
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "summary.tsv"), "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(head)
        w.writerows(rows)
    print()
    print("## Issue 16 C: targets")
    print()
    print(text)


CONNS = os.environ.get("CONNS", "64")

if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--ladder":
        ladder_table(sys.argv[2])
    elif len(sys.argv) == 2:
        summary(sys.argv[1])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
