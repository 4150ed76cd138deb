"""Run every benchmark, each in its own fresh interpreter (so one's threads, actors and memory do
not disturb the next), print their tables as they go, then one summary table from the JSON they
write to bench/results/.

    python bench/run_all.py [--only wave,reaction,...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import RESULTS, fmt, table  # noqa: E402

BENCHES = ["wave", "reaction", "throughput", "restart", "storage", "logging", "memory"]


def load(name: str) -> dict:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def summary_rows() -> list[list[str]]:
    rows = []
    w = load("wave")
    if w:
        m = w["sizes"].get("500") or {}
        if m:
            rows.append(["1 wave N=500 -> protected", "< 1 s", f"median {fmt(m['ours']['median'], 'ms')}, "
                         f"p99 {fmt(m['ours']['p99'], 'ms')}", verdict(m["ours"]["p99"] < 1)])
            rows.append(["1 wave N=500 vs global-lock", ">= 50x", f"{m['speedup']:.0f}x ({m['baseline']})",
                         verdict(m["speedup"] >= 50)])
        m1 = w["sizes"].get("100")
        if m1:
            rows.append(["1 wave N=100 -> protected", "-", f"median {fmt(m1['ours']['median'], 'ms')}, "
                         f"{m1['speedup']:.0f}x locked", "-"])
    r = load("reaction")
    if r:
        p = r["pooled"]
        rows.append(["2 reaction tick -> close (500 x 20/s)", "p99 < 2 ms",
                     f"median {fmt(p['median'], 'ms')}, p99 {fmt(p['p99'], 'ms')}, max {fmt(p['max'], 'ms')}",
                     verdict(p["p99"] < 0.002)])
    t = load("throughput")
    if t:
        for n, v in t["sizes"].items():
            rows.append([f"3 throughput {n} symbols / raw pykka", ">= 50 %", f"{v['ratio_of_medians'] * 100:.1f} % (ticks decided: "
                         f"{v.get('decided_share', 1) * 100:.1f} % of delivered)",
                         verdict(v["ratio_of_medians"] >= 0.5)])
    rs = load("restart")
    if rs:
        z = rs["restart"]["backoff 0"]["supervisor"]
        rows.append(["4 restart (backoff 0) failure -> started", "p99 < 20 ms",
                     f"median {fmt(z['median'], 'ms')}, p99 {fmt(z['p99'], 'ms')}", verdict(z["p99"] < 0.02)])
        c = rs["restart"]["backoff 0.5 s (configured)"]["supervisor"]
        rows.append(["4 restart (configured backoff 0.5 s)", "-",
                     f"median {fmt(c['median'], 'ms')}, p99 {fmt(c['p99'], 'ms')}", "-"])
        cs = rs["cold_start"]
        rows.append(["4 cold start 500 symbols", "< 2 s", f"median {fmt(cs['median'], 's')}, p99 {fmt(cs['p99'], 's')}",
                     verdict(cs["p99"] < 2)])
    s = load("storage")
    if s:
        o, rw = s["ours"], s["raw"]
        rows.append(["5 storage 500 threads, FULL", "0 locked", f"ours {fmt(sorted(o['rates'])[len(o['rates']) // 2], '/s')} "
                     f"p99 {fmt(o['latency']['p99'], 'ms')}, raw {fmt(sorted(rw['rates'])[len(rw['rates']) // 2], '/s')} "
                     f"p99 {fmt(rw['latency']['p99'], 'ms')}; locked ours {o['locked']} raw {rw['locked']}",
                     verdict(o["locked"] == 0)])
    lg = load("logging")
    if lg:
        rates = lg["rates"]
        keys = list(rates)
        med = {k: sorted(v)[len(v) // 2] for k, v in rates.items()}
        top, base = med[keys[-1]], med[keys[0]]
        rows.append([f"6 logging {keys[-1]} threads", ">= 50k/s, flat",
                     f"{top:,.0f}/s ({top / base:.2f}x of {keys[0]} thread: {base:,.0f}/s)",
                     verdict(top >= 50_000 and top / base >= 0.8)])
    me = load("memory")
    if me:
        for n, v in me["sizes"].items():
            mb = sorted(x["running_mb"] for x in v)[len(v) // 2]
            rows.append([f"7 RSS {n} symbols idle", "< 200 MB" if n == "500" else "-", fmt(mb, "MB"),
                         verdict(mb < 200) if n == "500" else "-"])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=",".join(BENCHES))
    args = ap.parse_args()
    chosen = [b for b in args.only.split(",") if b]
    started = time.perf_counter()
    times = {}
    for name in chosen:
        (RESULTS / f"{name}.json").unlink(missing_ok=True)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, str(HERE / f"bench_{name}.py")])
        times[name] = time.perf_counter() - t0
        if proc.returncode != 0:
            print(f"!! bench_{name}.py exited with {proc.returncode}", flush=True)
    print()
    print(table(f"Summary (total {time.perf_counter() - started:.0f} s: "
                + ", ".join(f"{k} {v:.0f}s" for k, v in times.items()) + ")",
                ["benchmark", "target", "measured", "verdict"], summary_rows()))


if __name__ == "__main__":
    main()
