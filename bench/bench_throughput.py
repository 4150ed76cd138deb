"""3. Tick throughput through the full path, against raw pykka in the same run.

Full path: one feeder thread -> MarketFeed.deliver_tick (the production feed's delivery: the
symbol's latest-price slot, plus a TickReady wake through Supervisor.tell when none is pending)
-> SymbolActor takes the latest price -> quiet-band check or decide -> commit when the state
changed (here: every 10th tick of a symbol is a new high that moves its active trailing
stop, the others leave the state unchanged) -> published view. The exchange stop is never moved
(large trailing_step_pct), so no exchange call is in the path. Raw: a trivial ThreadingActor that
counts messages, same number of actors, same Tick objects, same feeder. Throughput = ticks
delivered / (first tick .. every actor answered a Ping sent after the last tick). Ticks are
conflated, so the table also shows how many of the delivered ticks were decided (taken from a
slot) and checks that every actor ended on its symbol's last price.

    python bench/bench_throughput.py [--runs 5] [--sizes 1,100,500] [--messages 6000]
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal

from common import (  # noqa: I001 - common puts the repository on sys.path
    BenchBot, CpuMeter, TempDir, fmt, header, pct, symbols, table, write_json,
)
import pykka

from actors.messages import Ping, Tick


class Counter(pykka.ThreadingActor):
    use_daemon_thread = True

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def on_receive(self, message):  # noqa: ANN001, ANN201
        if isinstance(message, Ping):
            return self.n
        self.n += 1
        return None


def plan(bot: BenchBot, syms: list[str], per_symbol: int) -> list[tuple[str, Tick]]:
    """Interleaved ticks (round robin over symbols); every 10th tick of a symbol is a new high."""
    seqs = {}
    for s in syms:
        v = bot.view(s)
        tick = bot._rules[s].price_tick
        best = (Decimal(v.trailing["activation_price"]) * Decimal("1.001")).quantize(tick)
        if v.trailing["state"] == "active" and v.position:
            best = max(best, Decimal(v.position["mark_price"] or best))
        out = []
        for i in range(per_symbol):
            if i % 10 == 0:
                best = (best * Decimal("1.0003")).quantize(tick)
                out.append(Tick(price=best))
            else:
                out.append(Tick(price=(best * Decimal("0.9995")).quantize(tick)))
        seqs[s] = out
    return [(s, seqs[s][i]) for i in range(per_symbol) for s in syms]


def run_full(bot: BenchBot, syms: list[str], per_symbol: int) -> dict:
    msgs = plan(bot, syms, per_symbol)
    commits0 = bot.repo.writer.units
    taken0 = bot.prices.counts()["taken"]
    deliver = bot.feed.deliver_tick
    with CpuMeter() as cpu:
        t0 = time.perf_counter()
        for s, m in msgs:
            deliver(s, m)
        bot.drain(syms, timeout=300)
        wall = time.perf_counter() - t0
    # every actor decided its last price, or that price waits in its slot as a quiet one (it
    # changes nothing but the mark price; the next wake or Timer takes it)
    final_ok = all(bot.view(s).position["mark_price"] == str(seq[-1].price) or bot.prices.get(s).waiting_quiet()
                   for s, seq in last_ticks(msgs).items())
    return {"rate": len(msgs) / wall, "wall": wall, "cpu_per_wall": cpu.ratio,
            "commits": bot.repo.writer.units - commits0, "messages": len(msgs),
            "decided": bot.prices.counts()["taken"] - taken0, "final_price_seen": final_ok}


def last_ticks(msgs: list[tuple[str, Tick]]) -> dict[str, list[Tick]]:
    out: dict[str, list[Tick]] = {}
    for s, m in msgs:
        out.setdefault(s, []).append(m)
    return out


def run_raw(refs: list[pykka.ActorRef], per_symbol: int) -> dict:
    tick = Tick(price=Decimal("100.1"))
    with CpuMeter() as cpu:
        t0 = time.perf_counter()
        for _ in range(per_symbol):
            for r in refs:
                r.tell(tick)
        futs = [r.ask(Ping(), block=False) for r in refs]
        for f in futs:
            f.get(timeout=300)
        wall = time.perf_counter() - t0
    n = per_symbol * len(refs)
    return {"rate": n / wall, "wall": wall, "cpu_per_wall": cpu.ratio, "messages": n}


def main() -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="1,100,500")
    ap.add_argument("--messages", type=int, default=6000, help="ticks per run (all symbols together)")
    args = ap.parse_args()
    header("bench_throughput", f"{args.messages} ticks per run")
    sizes = [int(x) for x in args.sizes.split(",")]
    rows = []
    out: dict = {"config": vars(args), "sizes": {}}
    for n in sizes:
        per_symbol = max(args.messages // n, 1)
        syms = symbols(n)
        tmp = TempDir("thr")
        bot = BenchBot(tmp.path, syms, risk={"trailing_step_pct": Decimal("50")})
        try:
            bot.start()
            bot.open_all()
            full = []
            for _ in range(args.runs):
                full.append(run_full(bot, syms, per_symbol))
        finally:
            bot.stop()
            tmp.cleanup()
        refs = [Counter.start() for _ in range(n)]
        try:
            raw = [run_raw(refs, per_symbol) for _ in range(args.runs)]
        finally:
            for r in refs:
                r.stop(block=False)
        fr = [r["rate"] for r in full]
        rr = [r["rate"] for r in raw]
        ratio = pct(fr, 50) / pct(rr, 50)
        commits = pct([r["commits"] / r["messages"] for r in full], 50)
        decided = pct([r["decided"] / r["messages"] for r in full], 50)
        decided_rate = pct([r["decided"] / r["wall"] for r in full], 50)
        final_ok = all(r["final_price_seen"] for r in full)
        rows.append([f"{n} symbols", args.runs, fmt(pct(fr, 50), "/s"), fmt(pct(fr, 1), "/s"),
                     fmt(pct(rr, 50), "/s"), fmt(pct(rr, 1), "/s"), fmt(ratio, "%"),
                     f"{decided * 100:.1f} %", fmt(decided_rate, "/s"), "yes" if final_ok else "NO",
                     f"{commits * 100:.1f} %", f"{pct([r['cpu_per_wall'] for r in full], 50):.2f}",
                     f"{pct([r['cpu_per_wall'] for r in raw], 50):.2f}",
                     f"{pct([r['wall'] for r in full], 50) / full[0]['messages'] * 1e6:.0f} us"])
        out["sizes"][n] = {"full_rates": fr, "raw_rates": rr, "ratio_of_medians": ratio,
                           "commit_share": commits, "decided_share": decided, "decided_rate": decided_rate,
                           "final_price_seen": final_ok, "full": full, "raw": raw}
        print(f"  {n} symbols: full {fmt(pct(fr, 50), '/s')}  raw {fmt(pct(rr, 50), '/s')}  ratio {ratio * 100:.1f} %",
              flush=True)
    print(table("Tick throughput: full path vs raw pykka tell (same run)",
                ["config", "runs", "full median", "full p1 (slow)", "raw median", "raw p1 (slow)", "full/raw",
                 "decided/tick", "decided/s", "last price decided or quiet", "commits/tick", "cpu/wall full", "cpu/wall raw", "wall per tick"], rows))
    worst = min(v["ratio_of_medians"] for v in out["sizes"].values())
    print(f"  target full >= 50 % of raw: {'MET' if worst >= 0.5 else 'MISSED'} (worst {worst * 100:.1f} %)")
    write_json("throughput", out)
    return out


if __name__ == "__main__":
    main()
