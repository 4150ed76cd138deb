"""4. Restart and recovery.

Crash -> restored actor serving: a strategy wrapper raises inside the Tick handler (a tell
handler exception: pykka calls on_failure, the supervisor restarts the actor from storage through
restore + reconcile). Measured per crash: the supervisor's own figure (`Child.restart_durations`:
failure report -> "started" report) and crash -> the new incarnation answering a Ping. Once with
the configured backoff (config.toml: backoff_initial_s = 0.5) and once with the backoff set to 0.
Every symbol holds an open, protected position, so restore and reconcile have real work.

Cold start: 500 symbols with open positions in the database and on the paper exchange; a fresh
bot on the same files: supervisor.start() -> every actor running and reconciled.

    python bench/bench_restart.py [--runs 5] [--symbols 500] [--crashes 20]
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal

from common import (  # noqa: I001 - common puts the repository on sys.path
    BenchBot, TempDir, fmt, header, pct, summary, symbols, table, wait_for, write_json,
)
from actors.messages import Ping, Tick
from supervision.child import ChildState

CRASH = Decimal(-1)


class InjectedCrash(BaseException):
    """The bench's crash. A strategy's ordinary exception no longer fails its actor (it switches
    the strategy off: actors/strategy_guard.py), so from then on this bench waited 30 s per
    crash for a restart that never came and printed nothing. A BaseException passes the guard
    and the actor shell turns it into the actor's own handler failure (actors/symbol_actor.py
    `contained`), as tests/support/crashing.py does for the supervision tests."""


class CrashOnMarker:
    """A strategy that fails its actor inside the tick handler when the tick's volume is the
    marker."""

    name = "crash-on-marker"
    crashed_at: dict[str, float] = {}

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def on_price(self, price, volume, now, position):  # noqa: ANN001, ANN201
        if volume == CRASH:
            CrashOnMarker.crashed_at[self.symbol] = time.perf_counter()
            raise InjectedCrash("injected crash in the tick handler")
        return None


def crash_series(bot: BenchBot, syms: list[str], count: int, offset: int) -> dict:
    sup_d, serve_d = [], []
    for i in range(count):
        s = syms[(offset + i) % len(syms)]
        child = bot.sup.children[s]
        before = child.started_at  # restart_durations is bounded: its length stops growing
        old_ref = child.ref
        bot.sup.tell(s, Tick(price=Decimal(bot.view(s).position["entry_price"]), volume=CRASH))
        ok = wait_for(lambda: child.started_at != before and child.state is ChildState.RUNNING
                      and child.ref is not old_ref, 30, poll=0.0005, what=f"restart of {s}")
        if not ok:
            continue
        child.ref.ask(Ping(), timeout=10)
        served = time.perf_counter()
        sup_d.append(child.restart_durations[-1])
        serve_d.append(served - CrashOnMarker.crashed_at[s])
    return {"supervisor": sup_d, "serving": serve_d}


def main() -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--crashes", type=int, default=20, help="crashes per run with backoff 0")
    ap.add_argument("--backoff-crashes", type=int, default=8, help="crashes in total with the configured backoff")
    args = ap.parse_args()
    header("bench_restart", f"{args.symbols} symbols with open positions")
    syms = symbols(args.symbols)
    rows = []
    out: dict = {"config": vars(args)}

    # -- crash -> restart, backoff 0 (runs x crashes) and configured backoff --------------------
    tmp = TempDir("restart")
    results = {}
    for label, backoff in (("backoff 0", 0.0), ("backoff 0.5 s (configured)", 0.5)):
        sub = tmp.sub(label.split()[1])
        bot = BenchBot(sub, syms, strategy_for=CrashOnMarker, backoff_initial_s=backoff, max_restarts=1000)
        try:
            bot.start()
            bot.open_all()
            runs = []
            if backoff == 0.0:
                for r in range(args.runs):
                    runs.append(crash_series(bot, syms, args.crashes, r * args.crashes))
            else:
                runs.append(crash_series(bot, syms, args.backoff_crashes, 0))
            results[label] = runs
        finally:
            bot.stop()
    for label, runs in results.items():
        for key, name in (("supervisor", "failure -> started (supervisor)"), ("serving", "crash -> serving Ping")):
            vals = [x for r in runs for x in r[key]]
            s = summary(vals)
            run_p99 = [pct(r[key], 99) for r in runs]
            rows.append([f"{label}: {name}", s["n"], fmt(s["median"], "ms"), fmt(s["p99"], "ms"), fmt(s["max"], "ms"),
                         fmt(pct(run_p99, 50), "ms") if len(runs) > 1 else "-"])
            out.setdefault("restart", {}).setdefault(label, {})[key] = s | {"run_p99": run_p99}

    # -- cold start of N symbols with open positions --------------------------------------------
    cold_dir = tmp.sub("cold")
    bot = BenchBot(cold_dir, syms)
    try:
        first = bot.start()
        bot.open_all()
    finally:
        bot.stop()
    cold = []
    for _ in range(args.runs):
        bot = BenchBot(cold_dir, syms)
        try:
            cold.append(bot.start())
            assert all(bot.view(s).phase == "open" for s in syms), "positions not restored"
        finally:
            bot.stop()
    tmp.cleanup()
    s = summary(cold)
    rows.append([f"cold start {args.symbols} symbols (open positions, reconciled)", s["n"], fmt(s["median"], "s"),
                 fmt(s["p99"], "s"), fmt(s["max"], "s"), "-"])
    rows.append([f"first start {args.symbols} symbols (empty database)", 1, fmt(first, "s"), "-", "-", "-"])
    out["cold_start"] = s | {"first_empty_s": first}
    print(table("Restart and recovery", ["measurement", "n", "median", "p99", "max", "median of run p99"], rows))
    zero = out["restart"]["backoff 0"]["supervisor"]
    print(f"  target restart p99 < 20 ms (backoff 0): {'MET' if zero['p99'] < 0.02 else 'MISSED'} "
          f"(p99 {fmt(zero['p99'], 'ms')})")
    print(f"  target cold start {args.symbols} < 2 s: {'MET' if s['p99'] < 2 else 'MISSED'} "
          f"(median {fmt(s['median'], 's')}, p99 {fmt(s['p99'], 's')})")
    write_json("restart", out)
    return out


if __name__ == "__main__":
    main()
