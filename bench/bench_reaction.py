"""2. Reaction latency.

500 symbols with open, protected positions (paper exchange, latency_s=0 so only our path is
measured) receive 20 ticks/s each from a feeder thread (10,000 ticks/s in all) through the
supervisor's `tell`, like the market feed. Some ticks first activate a symbol's trailing stop and,
on the next round, cross its trigger. Measured: from the crossing tick's send time (`Tick.sent_at`)
to the close order reaching the exchange port (a wrapper stamps `create_order` of reduce-only
non-stop orders).

The risk rules use a large trailing_step_pct so the exchange stop is never moved: the trailing
trigger then sits above the exchange stop and the bot must close by itself when it is crossed
(the case the reaction time matters for).

    python bench/bench_reaction.py [--runs 5] [--symbols 500] [--rate 20] [--seconds 4]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import time
from decimal import Decimal

from common import (  # noqa: I001 - common puts the repository on sys.path
    BenchBot, CloseStamper, CpuMeter, TempDir, fmt, header, pct, summary, symbols, table, wait_for, write_json,
)
from actors.messages import Tick


def feed_run(bot: BenchBot, stamper: CloseStamper, syms: list[str], rate: float, seconds: float,
             crossing: int, rng: random.Random) -> dict:
    rounds = int(rate * seconds)
    period = 1.0 / rate
    entry: dict[str, Decimal] = {}
    activation: dict[str, Decimal] = {}
    noise: dict[str, list[Decimal]] = {}
    for s in syms:
        v = bot.view(s)
        e = Decimal(v.position["entry_price"])
        tick = bot._rules[s].price_tick
        entry[s] = e
        activation[s] = (Decimal(v.trailing["activation_price"]) * Decimal("1.001")).quantize(tick)
        noise[s] = [(e * (1 + Decimal(rng.uniform(-0.001, 0.001)))).quantize(tick) for _ in range(16)]
    crossers = rng.sample(syms, min(crossing, len(syms)))
    schedule: dict[int, list[str]] = {}
    for i, s in enumerate(crossers):  # cross at rounds 3 .. rounds-5, spread evenly
        r = 3 + (i * max(rounds - 8, 1)) // len(crossers)
        schedule.setdefault(r, []).append(s)
    activate_at = {r - 1: v for r, v in schedule.items()}
    cross_sent: dict[str, float] = {}
    before = {s: len(stamper.closes.get(s, [])) for s in syms}
    lag: list[float] = []
    sent = 0
    dropped = 0
    deliver = bot.feed.deliver_tick
    with CpuMeter() as cpu:
        t0 = time.perf_counter()
        for r in range(rounds):
            due = t0 + r * period
            now = time.perf_counter()
            if now < due:
                time.sleep(due - now)
            lag.append(max(time.perf_counter() - due, 0.0))
            act = set(activate_at.get(r, ()))
            crs = set(schedule.get(r, ()))
            for s in syms:
                if s in crs:
                    price = entry[s]
                elif s in act:
                    price = activation[s]
                else:
                    price = noise[s][r % 16]
                t = time.perf_counter()
                if not deliver(s, Tick(price=price, sent_at=t)):
                    dropped += 1
                if s in crs:
                    cross_sent[s] = t
                sent += 1
        feed_wall = time.perf_counter() - t0
        bot.drain(timeout=120)
    latencies = []
    missing = 0
    for s, t in cross_sent.items():
        closes = stamper.closes.get(s, [])[before[s]:]
        after = [c for c in closes if c >= t]
        if after:
            latencies.append(after[0] - t)
        else:
            missing += 1
    return {"latencies": latencies, "missing": missing, "ticks": sent, "dropped": dropped,
            "feed_wall_s": feed_wall, "tick_rate": sent / feed_wall, "cpu_per_wall": cpu.ratio,
            "feeder_lag_p99_s": pct(lag, 99), "feeder_lag_max_s": max(lag)}


def commit_floor(path, synchronous: str, n: int = 300) -> dict:
    """The disk's share: one small WAL transaction committed with this synchronous mode, alone
    in an idle process (the close intent is committed like this before the order is sent)."""
    con = sqlite3.connect(str(path), isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(f"PRAGMA synchronous={synchronous.upper()}")
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    lat = []
    for i in range(n):
        t = time.perf_counter()
        con.execute("BEGIN")
        con.execute("INSERT INTO t (v) VALUES (?)", (f"close intent {i}",))
        con.execute("COMMIT")
        lat.append(time.perf_counter() - t)
    con.close()
    return summary(lat)


def main() -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--rate", type=float, default=20.0, help="ticks per second per symbol")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--crossing", type=int, default=200, help="symbols crossing their trigger per run")
    ap.add_argument("--synchronous", default="full", choices=["full", "normal"],
                    help="SQLite synchronous mode of the bot's database (the close intent is committed "
                         "before the order is sent)")
    args = ap.parse_args()
    header("bench_reaction", f"{args.symbols} symbols x {args.rate:g} ticks/s, latency_s=0, "
                             f"synchronous={args.synchronous}")
    tmp = TempDir("reaction")
    box: dict = {}

    def wrap(paper):
        box["w"] = CloseStamper(paper)
        return box["w"]

    floor = commit_floor(tmp.path / "floor.sqlite", args.synchronous)
    syms = symbols(args.symbols)
    bot = BenchBot(tmp.path, syms, latency_s=0.0, wrap=wrap, risk={"trailing_step_pct": Decimal("50")},
                   synchronous=args.synchronous)
    rng = random.Random(7)
    runs = []
    try:
        bot.start()
        for i in range(args.runs):
            flat = [s for s in syms if not bot.protected(s)]
            for s in flat:
                bot.signal(s)
            wait_for(lambda: all(bot.protected(s) for s in syms), 120, what="positions re-opened")
            r = feed_run(bot, box["w"], syms, args.rate, args.seconds, args.crossing, rng)
            s = summary(r["latencies"])
            print(f"  run {i + 1}: n={s['n']} median {fmt(s['median'], 'ms')} p99 {fmt(s['p99'], 'ms')} "
                  f"max {fmt(s['max'], 'ms')}  ticks/s {r['tick_rate']:,.0f}  cpu/wall {r['cpu_per_wall']:.2f}"
                  f"  feeder lag p99 {fmt(r['feeder_lag_p99_s'], 'ms')}  missing {r['missing']}", flush=True)
            runs.append(r)
    finally:
        bot.stop()
        tmp.cleanup()
    pooled = [x for r in runs for x in r["latencies"]]
    s = summary(pooled)
    run_p99 = [pct(r["latencies"], 99) for r in runs]
    run_med = [pct(r["latencies"], 50) for r in runs]
    rows = [
        ["tick -> close order (pooled)", s["n"], fmt(s["median"], "ms"), fmt(s["p99"], "ms"), fmt(s["max"], "ms")],
        ["per-run medians (median of runs)", len(runs), fmt(pct(run_med, 50), "ms"), fmt(pct(run_med, 99), "ms"),
         fmt(max(run_med), "ms")],
        ["per-run p99 (median of runs)", len(runs), fmt(pct(run_p99, 50), "ms"), fmt(pct(run_p99, 99), "ms"),
         fmt(max(run_p99), "ms")],
        ["achieved ticks/s (target %d)" % (args.symbols * args.rate), len(runs),
         fmt(pct([r["tick_rate"] for r in runs], 50), "/s"), "-", "-"],
        ["process cpu/wall while feeding", len(runs), f"{pct([r['cpu_per_wall'] for r in runs], 50):.2f}", "-",
         f"{max(r['cpu_per_wall'] for r in runs):.2f}"],
        [f"one WAL commit alone (synchronous={args.synchronous})", floor["n"], fmt(floor["median"], "ms"),
         fmt(floor["p99"], "ms"), fmt(floor["max"], "ms")],
        ["feeder schedule lag", len(runs), "-", fmt(pct([r['feeder_lag_p99_s'] for r in runs], 50), "ms"),
         fmt(max(r['feeder_lag_max_s'] for r in runs), "ms")],
    ]
    print(table(f"Reaction latency, {args.symbols} symbols x {args.rate:g} ticks/s", ["metric", "n", "median", "p99", "max"], rows))
    missing = sum(r["missing"] for r in runs)
    print(f"  crossings without a close: {missing}; ticks dropped (actor not running): {sum(r['dropped'] for r in runs)}")
    print(f"  target p99 < 2 ms: {'MET' if s['p99'] < 0.002 else 'MISSED'} (pooled p99 {fmt(s['p99'], 'ms')})")
    out = {"runs": [{k: v for k, v in r.items() if k != "latencies"} | {"summary": summary(r["latencies"])} for r in runs],
           "pooled": s, "commit_floor": floor, "config": vars(args)}
    write_json("reaction", out)
    return out


if __name__ == "__main__":
    main()
