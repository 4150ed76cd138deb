"""Worker processes: 1 worker vs 2 workers, 4 accounts x 125 symbols (paper), in one run.

1. Reaction (as bench_reaction.py: a crossing tick's send time to the close order reaching the
   exchange port), 20 ticks/s per symbol. Each account is what the bot builds for it: its own
   paper exchange, database, supervisor, 125 symbol actors and a feeder thread (the market
   feed's delivery path). With 1 worker one process runs all four accounts; with 2 workers two
   processes run two accounts each, fed at the same moment. Two stages from the actors' own
   hot-path hooks (the ones behind the Prometheus histograms): an actor taking a price -> the
   close order it causes, and each commit's wait on the database writer thread.
2. Logging (as bench_logging.py: bot.log + a per-symbol file per line), 500 threads: one process
   with 500 threads vs two processes with 250 each, each process its own files (as workers).
   Aggregate lines/s = the lines read back from the files / the slower process's wall time;
   CPU us per line summed over the processes (timed section: logging and the last flush).
3. Cold start of the real `bot.py run --workers N` (N=1 is today's one-process bot): from
   process start until every one of the 500 actors runs and is reconciled, read from the
   status snapshots each process writes every 0.1 s; CPU seconds of the whole process tree.

The machine's 2 cores may be shared: every section prints CPU seconds next to wall time.

    python bench/bench_workers.py [--runs 3] [--cold-runs 2] [--seconds 4] [--lines 200000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from common import (  # noqa: I001 - common puts the repository on sys.path
    ROOT,
    BenchBot,
    CloseStamper,
    TempDir,
    fmt,
    header,
    pct,
    summary,
    symbols,
    table,
    wait_for,
    write_json,
)
from workers_cold import cold_config, cold_start

HERE = Path(__file__).resolve().parent
CLK = os.sysconf("SC_CLK_TCK")


# -- child processes --------------------------------------------------------------------------
class Stages:
    """The actors' own hot-path measurements (the production `MetricsRelay` hooks the bot feeds
    Prometheus with): from an actor taking a price to the first order it causes, and each
    commit's wait (the writer thread's round trip). Appends only: list.append is atomic."""

    def __init__(self) -> None:
        self.taken_to_order: list[float] = []
        self.commits: list[float] = []

    def relay(self) -> Any:
        from actors.hot_path_metrics import MetricsRelay

        m = MetricsRelay()
        m.observe_tick_to_order = self.taken_to_order.append
        m.observe_commit = self.commits.append
        return m

    def clear(self) -> None:
        self.taken_to_order.clear()
        self.commits.clear()


def build_accounts(tmp: TempDir, args: argparse.Namespace,
                   stages: Stages) -> tuple[list[Any], list[Any]]:
    """This worker's accounts: each its own paper exchange, database, supervisor and actors."""
    import dataclasses

    bots, stampers = [], []
    for a in range(args.here):
        box: dict[str, Any] = {}

        def wrap(paper: Any, box: dict[str, Any] = box) -> Any:
            box["w"] = CloseStamper(paper)
            return box["w"]

        bots.append(BenchBot(tmp.sub(f"acct{a}"), symbols(args.symbols), latency_s=0.0, wrap=wrap,
                             risk={"trailing_step_pct": Decimal("50")}, logging=False,
                             synchronous=args.synchronous))
        bots[-1].deps = dataclasses.replace(bots[-1].deps, metrics=stages.relay())
        stampers.append(box["w"])
    return bots, stampers


def reopen(bot: BenchBot, timeout: float = 120.0) -> None:
    """Open every flat position. A signal that reaches an actor still settling its close is
    refused (no entry while closing), so flat ones are signalled again until all are open."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for s in bot.symbols:
            if not bot.protected(s) and bot.flat(s):
                bot.signal(s)
        if wait_for(lambda: all(bot.protected(s) for s in bot.symbols), 3):
            return
    raise RuntimeError(f"positions not open after {timeout:g} s")


def child_reaction(args: argparse.Namespace) -> None:
    """One worker's accounts: READY when every position is protected, a JSON result per GO."""
    import random

    from bench_reaction import feed_run
    from loguru import logger

    from observability.log_streams import setup_logging

    if args.switch_interval_ms is not None:  # as runtime/runner.py does, before any thread
        from runtime.interpreter import apply_switch_interval

        apply_switch_interval(args.switch_interval_ms)
    tmp = TempDir(f"workers-r{args.index}")
    stages = Stages()
    bots, stampers = build_accounts(tmp, args, stages)
    streams = setup_logging(tmp.sub("logs"), level="INFO", console=False)  # one sink a process
    rng = random.Random(7 + args.index)
    try:
        for bot in bots:
            bot.start()
        while True:
            for bot in bots:  # (re)open every position, then wait for the parent's GO
                reopen(bot)
            print("READY", flush=True)
            if sys.stdin.readline().strip() != "GO":
                break
            results: list[dict[str, Any]] = [{} for _ in bots]
            stages.clear()
            c0, w0 = time.process_time(), time.perf_counter()

            def feed(i: int, results: list[dict[str, Any]] = results) -> None:
                results[i] = feed_run(bots[i], stampers[i], bots[i].symbols, args.rate,
                                      args.seconds, args.crossing, random.Random(rng.random()))

            threads = [threading.Thread(target=feed, args=(i,)) for i in range(len(bots))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            out = {"latencies": [x for r in results for x in r["latencies"]],
                   "missing": sum(r["missing"] for r in results),
                   "ticks": sum(r["ticks"] for r in results),
                   "cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - w0,
                   "taken_to_order": list(stages.taken_to_order),
                   "commits": list(stages.commits)}
            print("RESULT " + json.dumps(out), flush=True)
    finally:
        for bot in bots:
            bot.stop()
        streams.close()
        logger.remove()
        tmp.cleanup()


def child_logging(args: argparse.Namespace) -> None:
    from bench_logging import run

    tmp = TempDir(f"workers-l{args.index}")
    try:
        for n, line in enumerate(sys.stdin):
            if line.strip() != "GO":
                break
            c0 = time.process_time()
            r = run(tmp.sub(f"run{n}"), args.threads, args.lines)  # lines: read back from files
            r["process_cpu_s"] = time.process_time() - c0  # with thread start/stop, read-back
            print("RESULT " + json.dumps(r), flush=True)
    finally:
        tmp.cleanup()


# -- the parent: spawning, reaction and logging -----------------------------------------------
def spawn(role: str, index: int, extra: list[str]) -> subprocess.Popen[str]:
    cmd = [sys.executable, str(HERE / "bench_workers.py"), "--role", role, "--index", str(index)]
    return subprocess.Popen(cmd + extra, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)


def expect(proc: subprocess.Popen[str], prefix: str) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(prefix):
            return line[len(prefix):].strip()
    raise RuntimeError(f"benchmark child {proc.pid} ended before {prefix!r}")


def send(procs: list[subprocess.Popen[str]], text: str) -> None:
    for p in procs:
        assert p.stdin is not None
        p.stdin.write(text + "\n")
        p.stdin.flush()


def close(procs: list[subprocess.Popen[str]]) -> None:
    for p in procs:
        assert p.stdin is not None
        p.stdin.close()
    for p in procs:
        p.wait(timeout=120)


def reaction(workers: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    here = args.accounts // workers
    crossing = args.crossing // args.accounts  # per account, as in bench_reaction in all
    extra = ["--here", str(here), "--symbols", str(args.symbols), "--rate", str(args.rate),
             "--seconds", str(args.seconds), "--crossing", str(crossing),
             "--synchronous", args.synchronous]
    if args.switch_interval_ms is not None:
        extra += ["--switch-interval-ms", str(args.switch_interval_ms)]
    procs = [spawn("reaction", i, extra) for i in range(workers)]
    runs = []
    try:
        for _ in range(args.runs):
            for p in procs:
                expect(p, "READY")
            send(procs, "GO")
            parts = [json.loads(expect(p, "RESULT ")) for p in procs]
            runs.append({"latencies": [x for r in parts for x in r["latencies"]],
                         "taken_to_order": [x for r in parts for x in r["taken_to_order"]],
                         "commits": [x for r in parts for x in r["commits"]],
                         "missing": sum(r["missing"] for r in parts),
                         "ticks": sum(r["ticks"] for r in parts),
                         "cpu_s": sum(r["cpu_s"] for r in parts),
                         "wall_s": max(r["wall_s"] for r in parts)})
            s = summary(runs[-1]["latencies"])
            print(f"  {workers} worker(s) reaction run {len(runs)}: n={s['n']} median "
                  f"{fmt(s['median'], 'ms')} p99 {fmt(s['p99'], 'ms')} "
                  f"cpu {runs[-1]['cpu_s']:.1f} s / wall {runs[-1]['wall_s']:.1f} s  "
                  f"missing {runs[-1]['missing']}", flush=True)
            t, c = summary(runs[-1]["taken_to_order"]), summary(runs[-1]["commits"])
            print(f"    stages: actor took the price -> close order median "
                  f"{fmt(t['median'], 'ms')} p99 {fmt(t['p99'], 'ms')} (n={t['n']}); each "
                  f"commit's wait median {fmt(c['median'], 'ms')} p99 {fmt(c['p99'], 'ms')} "
                  f"(n={c['n']})", flush=True)
    finally:
        close(procs)
    return runs


def logging_rates(workers: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    extra = ["--threads", str(args.threads // workers), "--lines", str(args.lines // workers)]
    procs = [spawn("logging", i, extra) for i in range(workers)]
    runs = []
    try:
        for _ in range(args.runs):
            send(procs, "GO")
            parts = [json.loads(expect(p, "RESULT ")) for p in procs]
            wall, lines = max(r["wall_s"] for r in parts), sum(r["lines"] for r in parts)
            cpu = sum(r["cpu_s"] for r in parts)
            lost = sum(r["logged"] - r["lines"] for r in parts)
            switches = sum(r["switches_per_line"] * r["lines"] for r in parts)
            runs.append({"rate": lines / wall, "wall_s": wall, "cpu_s": cpu,
                         "cpu_us": cpu / lines * 1e6, "not_in_files": lost,
                         "switches_per_line": switches / lines, "load": os.getloadavg()[0]})
            print(f"  {workers} worker(s) logging run {len(runs)}: {lines / wall:,.0f} lines/s "
                  f"(lines read back from the files; {lost} logged not found), cpu {cpu:.2f} s / "
                  f"wall {wall:.2f} s ({cpu / lines * 1e6:.1f} us/line, "
                  f"{switches / lines:.2f} switches/line), load {runs[-1]['load']:.1f}",
                  flush=True)
    finally:
        close(procs)
    print(f"  {workers} worker(s) logging, median of {len(runs)}: "
          f"{pct([r['rate'] for r in runs], 50):,.0f} lines/s at "
          f"{pct([r['cpu_us'] for r in runs], 50):.1f} CPU us/line", flush=True)
    return runs


# -- report -------------------------------------------------------------------------------------
def main() -> dict[str, Any]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--role", default="parent", choices=["parent", "reaction", "logging"])
    ap.add_argument("--index", type=int, default=0)
    ap.add_argument("--here", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cold-runs", type=int, default=2)
    ap.add_argument("--accounts", type=int, default=4)
    ap.add_argument("--symbols", type=int, default=125, help="per account")
    ap.add_argument("--rate", type=float, default=20.0, help="ticks per second per symbol")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--crossing", type=int, default=400,
                    help="crossings per run in all (x --runs: at least 1,000 per worker count)")
    ap.add_argument("--synchronous", default="full", choices=["full", "normal"],
                    help="SQLite synchronous mode of each account's database (the close intent "
                         "is committed before the order is sent; full, the shipped default, "
                         "fsyncs that commit)")
    ap.add_argument("--switch-interval-ms", type=float, default=None,
                    help="each reaction worker's bot.switch_interval_ms (default: Python's 5 ms)")
    ap.add_argument("--sections", default="reaction,logging,cold",
                    help="which sections to run, comma-separated (reaction, logging, cold)")
    ap.add_argument("--threads", type=int, default=500, help="logging threads in all")
    ap.add_argument("--lines", type=int, default=200_000,
                    help="log lines per run in all (400 per thread: the steady state, not the "
                         "threads' start and exit)")
    args = ap.parse_args()
    if args.role == "reaction":
        child_reaction(args)
        return {}
    if args.role == "logging":
        child_logging(args)
        return {}
    return report(args)


def row(label: str, values: list[float], unit: str, cpu: list[float]) -> list[Any]:
    return [label, len(values), fmt(pct(values, 50), unit), fmt(pct(values, 99), unit),
            f"{pct(cpu, 50):.1f} s"]


def summarise(res: dict[int, dict[str, Any]], args: argparse.Namespace, total: int
              ) -> dict[str, Any]:
    """Print the table; the JSON record of each worker count."""
    rows, out = [], {"config": vars(args), "load_after": os.getloadavg()}
    for n in (1, 2):
        lat = [x for r in res[n]["reaction"] for x in r["latencies"]]
        rates = [r["rate"] for r in res[n]["logging"]]
        cold = [c["wall_s"] for c in res[n]["cold"]]
        rows += [
            row(f"{n} worker(s): tick -> close order (pooled)", lat, "ms",
                [r["cpu_s"] for r in res[n]["reaction"]]),
            row(f"{n} worker(s):   actor took price -> order",
                [x for r in res[n]["reaction"] for x in r["taken_to_order"]], "ms",
                [r["cpu_s"] for r in res[n]["reaction"]]),
            row(f"{n} worker(s):   each commit's wait",
                [x for r in res[n]["reaction"] for x in r["commits"]], "ms",
                [r["cpu_s"] for r in res[n]["reaction"]]),
            row(f"{n} worker(s): log lines/s, {args.threads} threads", rates, "/s",
                [r["cpu_s"] for r in res[n]["logging"]]),
            row(f"{n} worker(s): cold start {total} actors", cold, "s",
                [c["cpu_s"] for c in res[n]["cold"]]),
        ]
        out[f"workers_{n}"] = {
            "reaction": summary(lat) | {"missing": sum(r["missing"] for r in res[n]["reaction"])},
            "taken_to_order": summary([x for r in res[n]["reaction"]
                                       for x in r["taken_to_order"]]),
            "commits": summary([x for r in res[n]["reaction"] for x in r["commits"]]),
            "reaction_runs": [{k: v for k, v in r.items()
                               if k not in ("latencies", "taken_to_order", "commits")}
                              for r in res[n]["reaction"]],
            "logging": res[n]["logging"], "cold": res[n]["cold"]}
    print(table("Worker processes (median, p99 over runs; CPU seconds summed over processes)",
                ["metric", "n", "median", "p99", "cpu (median run)"], rows))
    return out


def report(args: argparse.Namespace) -> dict[str, Any]:
    total = args.accounts * args.symbols
    header("bench_workers", f"{args.accounts} accounts x {args.symbols} symbols, 1 vs 2 workers; "
                            f"load average now {os.getloadavg()[0]:.2f} (a shared machine)")
    tmp = TempDir("workers")
    res: dict[int, dict[str, Any]] = {}
    try:
        config = cold_config(tmp.path / "bot.toml", args)
        parts = set(args.sections.split(","))
        for n in (1, 2):
            res[n] = {"reaction": reaction(n, args) if "reaction" in parts else [],
                      "logging": logging_rates(n, args) if "logging" in parts else [],
                      "cold": []}
        # interleaved, each on a fresh data dir
        for r in range(args.cold_runs if "cold" in parts else 0):
            for n in (1, 2):
                res[n]["cold"].append(cold_start(n, config, tmp.sub(f"cold{r}-{n}"), total))
    finally:
        tmp.cleanup()
    out = summarise(res, args, total)
    w1, w2 = out["workers_1"], out["workers_2"]
    ratios = {
        "reaction_p99_1_over_2": w1["reaction"]["p99"] / w2["reaction"]["p99"],
        "log_rate_2_over_1": pct([r["rate"] for r in w2["logging"]], 50)
        / pct([r["rate"] for r in w1["logging"]], 50),
        "cold_1_over_2": pct([c["wall_s"] for c in w1["cold"]], 50)
        / pct([c["wall_s"] for c in w2["cold"]], 50),
    }
    out["ratios"] = ratios
    print("  ratios: reaction p99 1w/2w {reaction_p99_1_over_2:.2f}x, log lines/s 2w/1w "
          "{log_rate_2_over_1:.2f}x, cold start 1w/2w {cold_1_over_2:.2f}x".format(**ratios))
    p99, rate = w2["reaction"]["p99"], pct([r["rate"] for r in w2["logging"]], 50)

    def verdict(value: float, met: bool) -> str:
        return "not run" if math.isnan(value) else "MET" if met else "MISSED"

    print(f"  2 workers (synchronous={args.synchronous}): reaction p99 < 2 ms "
          f"{verdict(p99, p99 < 0.002)} ({fmt(p99, 'ms')}); logging >= 50k lines/s "
          f"{verdict(rate, rate >= 50_000)} "
          f"({rate:,.0f}/s); crossings without a close: {w1['reaction']['missing']} (1w), "
          f"{w2['reaction']['missing']} (2w)")
    write_json("workers", out)
    return out


if __name__ == "__main__":
    main()
