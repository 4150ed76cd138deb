"""7. Memory: RSS with N symbols, actors started, reconciled and idle, measured in a fresh
subprocess per size (VmRSS from /proc/self/status). Also the RSS right after the imports and
after building the parts (before any actor starts), so the per-actor cost shows.

    python bench/bench_memory.py [--sizes 500,2000] [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys


from common import fmt, header, pct, table, write_json  # noqa: F401

CHILD = r"""
import sys, time, json, threading
sys.path.insert(0, {bench!r})
from common import BenchBot, TempDir, rss_mb, symbols
n = {n}
r0 = rss_mb()
tmp = TempDir("mem")
bot = BenchBot(tmp.path, symbols(n))
r1 = rss_mb()
t = bot.start(timeout=300)
time.sleep(2.0)  # idle: a couple of heartbeats
r2 = rss_mb()
print(json.dumps({{"n": n, "imports_mb": r0, "built_mb": r1, "running_mb": r2, "start_s": t,
                   "threads": threading.active_count()}}))
sys.stdout.flush()
bot.stop(); tmp.cleanup()
"""


def measure(n: int) -> dict:
    bench = os.path.dirname(os.path.abspath(__file__))
    out = subprocess.run([sys.executable, "-c", CHILD.format(bench=bench, n=n)], capture_output=True, text=True,
                         timeout=600)
    for line in out.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"memory child failed: {out.stderr[-2000:]}")


def main() -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="500,2000")
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    header("bench_memory")
    sizes = [int(x) for x in args.sizes.split(",")]
    res = {n: [measure(n) for _ in range(args.runs)] for n in sizes}
    rows = []
    for n in sizes:
        rs = res[n]
        run = pct([x["running_mb"] for x in rs], 50)
        built = pct([x["built_mb"] for x in rs], 50)
        rows.append([f"{n} symbols", len(rs), fmt(pct([x["imports_mb"] for x in rs], 50), "MB"), fmt(built, "MB"),
                     fmt(run, "MB"), f"{(run - built) * 1024 / n:.0f} KB", rs[0]["threads"]])
    print(table("RSS, actors started and idle (fresh process per size)",
                ["config", "runs", "after imports", "parts built", "actors running", "per actor", "threads"], rows))
    if 500 in res:
        r500 = pct([x["running_mb"] for x in res[500]], 50)
        print(f"  target < 200 MB at 500: {'MET' if r500 < 200 else 'MISSED'} ({r500:.1f} MB)")
    write_json("memory", {"sizes": res})
    return res


if __name__ == "__main__":
    main()
