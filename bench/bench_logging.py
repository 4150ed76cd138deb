"""6. Logging: lines/s through observability.log_streams (one loguru sink dispatching by
`logger.bind(symbol=...)` to bot.log and <symbol>.log), with 1 and 500 threads each logging bound
to its own symbol. Flat means lines/s at 500 threads close to lines/s at 1 thread.

`--symbols 1,500` adds the single-thread view: one thread logging round-robin through 1 and 500
symbol-bound loggers (one sink per symbol would make the 500 case slower; the dispatching sink
should keep it flat). This replaced a test that could only print the same numbers.

`--console 500` adds the bot's default (`logging.console = true`) with stderr not a terminal (a
service's journal, a pipe): the console copy of every line, here to /dev/null.

Every row gives CPU microseconds and context switches per line next to the rate, and the
header the load average: the machine's 2 cores are shared, so a rate alone can say more about
the neighbours than us. Rates count what a user gets: after each run the lines are read back
from bot.log and every symbol's file, and a line counts only if it is in both.

    python bench/bench_logging.py [--runs 3] [--lines 200000] [--threads 1,500] [--symbols 1,500]
                                  [--console 500]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import threading
import time
from pathlib import Path

from common import (  # common puts the repository on sys.path: import it first
    CpuMeter,
    TempDir,
    fmt,
    header,
    pct,
    symbols,
    table,
    write_json,
)
from loguru import logger

from observability.log_streams import setup_logging


def run(logs_dir, n_threads: int, lines: int, console: bool = False) -> dict:
    if console:  # stderr that is not a terminal, as under a service manager
        with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
            return _run(logs_dir, n_threads, lines, console)
    return _run(logs_dir, n_threads, lines, console)


def _run(logs_dir, n_threads: int, lines: int, console: bool) -> dict:
    streams = setup_logging(logs_dir, level="INFO", console=console)
    per = max(lines // n_threads, 1)
    syms = symbols(n_threads)
    try:
        barrier = threading.Barrier(n_threads + 1)

        def worker(s: str) -> None:
            log = logger.bind(symbol=s)
            barrier.wait()
            for i in range(per):
                log.info("TrailingStopMoved {} best={} trigger={}", i, "101.25", "100.95")

        threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in syms]
        for t in threads:
            t.start()
        switches = Switches()
        with CpuMeter() as cpu:
            barrier.wait()
            t0 = time.perf_counter()
            for t in threads:
                t.join()
            streams.flush()  # the lines still pending count: written, not just queued
            wall = time.perf_counter() - t0
        switches.stop()
    finally:
        streams.close()
    return measured(read_back(streams, {s: per for s in syms}), wall, cpu, switches)


class Switches:
    """Context switches of this process (voluntary + involuntary) over a section."""

    def __init__(self) -> None:
        self.n0 = self._now()
        self.count = 0

    @staticmethod
    def _now() -> int:
        use = resource.getrusage(resource.RUSAGE_SELF)
        return use.ru_nvcsw + use.ru_nivcsw

    def stop(self) -> None:
        self.count = self._now() - self.n0


def read_back(streams, expected: dict[str, int]) -> dict:
    """What a user gets: the lines found in bot.log (and its rotations) and in each symbol's
    file after the run; ``lines`` counts a line only if it is in both."""
    def count(path: Path) -> int:
        files = sorted(path.parent.glob(path.name + "*"))
        return sum(f.read_bytes().count(b"| TrailingStopMoved ") for f in files)

    in_main = count(streams.main_path)
    in_own = {s: count(streams.path_for(s)) for s in expected}
    short = sum(1 for s, n in expected.items() if in_own[s] < n)
    return {"logged": sum(expected.values()), "in_main": in_main,
            "lines": min(in_main, sum(min(in_own[s], n) for s, n in expected.items())),
            "short_files": short}


def measured(found: dict, wall: float, cpu: CpuMeter, switches: Switches) -> dict:
    lines = found["lines"]
    return found | {"rate": lines / wall, "wall_s": wall, "cpu_per_wall": cpu.ratio,
                    "cpu_s": cpu.cpu, "cpu_us": cpu.cpu / max(lines, 1) * 1e6,
                    "switches_per_line": switches.count / max(lines, 1)}


def run_symbols(logs_dir, n_symbols: int, lines: int) -> dict:
    """One thread, `n_symbols` bound loggers used round-robin: the cost of many symbols alone,
    without thread switching."""
    streams = setup_logging(logs_dir, level="INFO", console=False)
    syms = symbols(n_symbols)
    try:
        bound = [logger.bind(symbol=s) for s in syms]
        switches = Switches()
        with CpuMeter() as cpu:
            t0 = time.perf_counter()
            for i in range(lines):
                bound[i % n_symbols].info("TrailingStopMoved {} best={} trigger={}", i, "101.25",
                                          "100.95")
            streams.flush()
            wall = time.perf_counter() - t0
        switches.stop()
    finally:
        streams.close()
    expected = {s: lines // n_symbols + (1 if k < lines % n_symbols else 0)
                for k, s in enumerate(syms)}
    return measured(read_back(streams, expected), wall, cpu, switches)


def symbols_table(res: dict[int, list[dict]]) -> str:
    sizes = sorted(res)
    base = pct([x["rate"] for x in res[sizes[0]]], 50)
    rows = []
    for n in sizes:
        rates = [x["rate"] for x in res[n]]
        rows.append([f"1 thread, {n} symbol(s)", len(rates), fmt(pct(rates, 50), "/s"),
                     fmt(min(rates), "/s"), fmt(pct(rates, 50) / base, "x"),
                     f"{pct([x['cpu_per_wall'] for x in res[n]], 50):.2f}", cpu_us(res[n]),
                     per_line(res[n], "switches_per_line"), missing(res[n])])
    return table("Logging lines/s, one thread, symbols round-robin",
                 ["config", "runs", "median", "worst run", f"vs {sizes[0]} symbol", "cpu/wall",
                  "cpu us/line", "switches/line", "not in files"], rows)


def rate_row(label: str, runs: list[dict], base: float) -> list:
    rates = [x["rate"] for x in runs]
    return [label, len(rates), fmt(pct(rates, 50), "/s"), fmt(min(rates), "/s"),
            fmt(pct(rates, 50) / base, "x"), f"{pct([x['cpu_per_wall'] for x in runs], 50):.2f}",
            cpu_us(runs), per_line(runs, "switches_per_line"), missing(runs)]


def cpu_us(runs: list[dict]) -> str:
    return per_line(runs, "cpu_us", "{:.1f}")


def per_line(runs: list[dict], key: str, spec: str = "{:.2f}") -> str:
    values = [x[key] for x in runs if key in x]
    return spec.format(pct(values, 50)) if values else "-"


def missing(runs: list[dict]) -> str:
    """Lines logged but not found in bot.log and their symbol's file, over all runs."""
    if not runs or "logged" not in runs[0]:
        return "-"  # a reference row: no files
    return str(sum(x["logged"] - x["lines"] for x in runs))


def reference(kind: str, n_threads: int, lines: int) -> dict:
    """Same threads and calls without our sink: loguru with a sink that does nothing
    ("noop"), or plain Python work of similar size instead of logging ("python"). Shows what
    the interpreter alone does with 500 threads (the GIL), apart from any file I/O."""
    handler = None
    if kind == "noop":
        handler = logger.add(lambda m: None, format="{message}", level="INFO")
    try:
        per = max(lines // n_threads, 1)
        barrier = threading.Barrier(n_threads + 1)

        def worker(s: str) -> None:
            log = logger.bind(symbol=s)
            barrier.wait()
            for i in range(per):
                if handler is not None:
                    log.info("TrailingStopMoved {} best={} trigger={}", i, "101.25", "100.95")
                else:
                    text = "TrailingStopMoved {} best={} trigger={}".format(i, "101.25", "100.95")
                    "|".join([s, text] * 8)

        threads = [threading.Thread(target=worker, args=(s,), daemon=True)
                   for s in symbols(n_threads)]
        for t in threads:
            t.start()
        with CpuMeter() as cpu:
            barrier.wait()
            t0 = time.perf_counter()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
        return {"rate": per * n_threads / wall, "cpu_per_wall": cpu.ratio,
                "cpu_us": cpu.cpu / (per * n_threads) * 1e6}
    finally:
        if handler is not None:
            logger.remove(handler)


def main() -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--lines", type=int, default=200_000,
                    help="per run (500 threads: 400 lines each, the steady state rather than "
                         "the threads' start and exit)")
    ap.add_argument("--threads", default="1,500")
    ap.add_argument("--symbols", default="1,500",
                    help="single-thread runs over this many symbols ('' to skip)")
    ap.add_argument("--console", default="500",
                    help="thread counts also run with the console copy to /dev/null ('' to skip)")
    args = ap.parse_args()
    header("bench_logging", f"{args.lines} lines per run; load average "
           f"{os.getloadavg()[0]:.2f} (a shared machine)")
    con_sizes = [int(x) for x in args.console.split(",") if x]
    con_res: dict = {n: [] for n in con_sizes}
    sizes = [int(x) for x in args.threads.split(",")]
    sym_sizes = [int(x) for x in args.symbols.split(",") if x]
    tmp = TempDir("logging")
    res: dict = {n: [] for n in sizes}
    sym_res: dict = {n: [] for n in sym_sizes}
    try:
        for r in range(args.runs):  # interleaved
            for n in sizes:
                res[n].append(run(tmp.sub(f"r{r}-{n}"), n, args.lines))
            for n in sym_sizes:
                sym_res[n].append(run_symbols(tmp.sub(f"r{r}-s{n}"), n, args.lines))
            for n in con_sizes:
                con_res[n].append(run(tmp.sub(f"r{r}-c{n}"), n, args.lines, console=True))
    finally:
        tmp.cleanup()
    refs: dict = {}
    logger.remove()
    for kind in ("noop", "python"):
        for n in sizes:
            refs[(kind, n)] = [reference(kind, n, args.lines)
                               for _ in range(max(args.runs // 2, 1))]
    base = pct([x["rate"] for x in res[sizes[0]]], 50)
    rows = [rate_row(f"{n} thread(s)", res[n], base) for n in sizes]
    rows += [rate_row(f"{n} thread(s), console copy to /dev/null", con_res[n], base)
             for n in con_sizes]
    for kind, label in (("noop", "reference: loguru, sink does nothing"),
                        ("python", "reference: plain Python work/s")):
        kb = pct([x["rate"] for x in refs[(kind, sizes[0])]], 50)
        rows += [rate_row(f"{label}, {n} thread(s)", refs[(kind, n)], kb) for n in sizes]
    print(table("Logging lines/s (bot.log + per-symbol file per line)",
                ["config", "runs", "median", "worst run", f"vs {sizes[0]} thread", "cpu/wall",
                 "cpu us/line", "switches/line", "not in files"], rows))
    print("  lines/s and us/line count the lines read back from bot.log and each symbol's file "
          "after the run ('not in files': logged, not found)")
    print(f"  load average after: {os.getloadavg()[0]:.2f}", file=sys.stdout)
    top = pct([x["rate"] for x in res[sizes[-1]]], 50)
    print(f"  target >= 50k lines/s at {sizes[-1]} threads and flat: "
          f"{'MET' if top >= 50_000 and top / base >= 0.8 else 'MISSED'} "
          f"({top:,.0f}/s, {top / base:.2f}x of {sizes[0]})")
    if sym_sizes:
        print(symbols_table(sym_res))
    out = {"config": vars(args), "rates": {n: [x["rate"] for x in res[n]] for n in sizes},
           "single_thread_symbols": {n: [x["rate"] for x in sym_res[n]] for n in sym_sizes},
           "console": {n: [x["rate"] for x in con_res[n]] for n in con_sizes},
           "cpu_us_per_line": {n: [x["cpu_us"] for x in res[n]] for n in sizes},
           "not_in_files": {n: [x["logged"] - x["lines"] for x in res[n]] for n in sizes},
           "load_after": os.getloadavg(),
           "references": {f"{k}-{n}": [x["rate"] for x in v] for (k, n), v in refs.items()}}
    write_json("logging", out)
    return out


if __name__ == "__main__":
    main()
