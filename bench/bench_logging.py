"""6. Logging: lines/s through observability.log_streams (one loguru sink dispatching by
`logger.bind(symbol=...)` to bot.log and <symbol>.log), with 1 and 500 threads each logging bound
to its own symbol. Flat means lines/s at 500 threads close to lines/s at 1 thread.

`--symbols 1,500` adds the single-thread view: one thread logging round-robin through 1 and 500
symbol-bound loggers (one sink per symbol would make the 500 case slower; the dispatching sink
should keep it flat). This replaced a test that could only print the same numbers.

`--console 500` adds the bot's default (`logging.console = true`) with stderr not a terminal (a
service's journal, a pipe): the console copy of every line, here to /dev/null.

Every row gives CPU microseconds per line next to the rate, and the header the load average:
the machine's 2 cores are shared, so a rate alone can say more about the neighbours than us.

    python bench/bench_logging.py [--runs 5] [--lines 40000] [--threads 1,500] [--symbols 1,500]
                                  [--console 500]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time

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
    try:
        per = max(lines // n_threads, 1)
        syms = symbols(n_threads)
        barrier = threading.Barrier(n_threads + 1)

        def worker(s: str) -> None:
            log = logger.bind(symbol=s)
            barrier.wait()
            for i in range(per):
                log.info("TrailingStopMoved {} best={} trigger={}", i, "101.25", "100.95")

        threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in syms]
        for t in threads:
            t.start()
        with CpuMeter() as cpu:
            barrier.wait()
            t0 = time.perf_counter()
            for t in threads:
                t.join()
            streams.flush()  # the lines still pending count: written, not just queued
            wall = time.perf_counter() - t0
        return {"rate": per * n_threads / wall, "cpu_per_wall": cpu.ratio, "lines": per * n_threads,
                "cpu_us": cpu.cpu / (per * n_threads) * 1e6}
    finally:
        streams.close()


def run_symbols(logs_dir, n_symbols: int, lines: int) -> dict:
    """One thread, `n_symbols` bound loggers used round-robin: the cost of many symbols alone,
    without thread switching."""
    streams = setup_logging(logs_dir, level="INFO", console=False)
    try:
        bound = [logger.bind(symbol=s) for s in symbols(n_symbols)]
        with CpuMeter() as cpu:
            t0 = time.perf_counter()
            for i in range(lines):
                bound[i % n_symbols].info("tick {} price {}", i, 1.25)
            streams.flush()
            wall = time.perf_counter() - t0
        return {"rate": lines / wall, "cpu_per_wall": cpu.ratio, "lines": lines,
                "cpu_us": cpu.cpu / lines * 1e6}
    finally:
        streams.close()


def symbols_table(res: dict[int, list[dict]]) -> str:
    sizes = sorted(res)
    base = pct([x["rate"] for x in res[sizes[0]]], 50)
    rows = []
    for n in sizes:
        rates = [x["rate"] for x in res[n]]
        rows.append([f"1 thread, {n} symbol(s)", len(rates), fmt(pct(rates, 50), "/s"),
                     fmt(min(rates), "/s"), fmt(pct(rates, 50) / base, "x"),
                     f"{pct([x['cpu_per_wall'] for x in res[n]], 50):.2f}", cpu_us(res[n])])
    return table("Logging lines/s, one thread, symbols round-robin",
                 ["config", "runs", "median", "worst run", f"vs {sizes[0]} symbol", "cpu/wall",
                  "cpu us/line"], rows)


def rate_row(label: str, runs: list[dict], base: float) -> list:
    rates = [x["rate"] for x in runs]
    return [label, len(rates), fmt(pct(rates, 50), "/s"), fmt(min(rates), "/s"),
            fmt(pct(rates, 50) / base, "x"), f"{pct([x['cpu_per_wall'] for x in runs], 50):.2f}",
            cpu_us(runs)]


def cpu_us(runs: list[dict]) -> str:
    values = [x["cpu_us"] for x in runs if "cpu_us" in x]
    return f"{pct(values, 50):.1f}" if values else "-"


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
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--lines", type=int, default=40000)
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
                 "cpu us/line"], rows))
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
           "load_after": os.getloadavg(),
           "references": {f"{k}-{n}": [x["rate"] for x in v] for (k, n), v in refs.items()}}
    write_json("logging", out)
    return out


if __name__ == "__main__":
    main()
