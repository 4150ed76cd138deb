"""The start of a live account of 500 symbols (markets load -> every actor reconciled), each
actor's first reconciliation reading on its own ("before") or served from the account's one
read (actors/first_read.py, "after"): seconds and REST requests (Binance: weight) counted at
the emulator. The real rate budget (the gateway's own clock and sleep); one emulator in the
same process. Measures and prints only.

    python bench/bench_first_read.py [--venue bybit|binanceusdm] [--symbols 500]
                                     [--only before|after]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench_rate_budget import CREDS, Binance500, Bybit500  # noqa: E402
from common import BenchBot, TempDir  # noqa: E402
from loguru import logger  # noqa: E402

from actors.first_read import FirstRead  # noqa: E402
from exchange.budget_venues import BudgetRegistry  # noqa: E402
from exchange.ccxt.gateway import CcxtGateway  # noqa: E402
from tests.exchange.ccxt.ccxt_fixtures import factory_for  # noqa: E402
from tests.exchange.ccxt.emu_book import Book  # noqa: E402
from tests.exchange.ccxt.emu_limits import (  # noqa: E402
    BinanceWeightLimiter,
    BybitLimiter,
    binance_weight,
)
from tests.exchange.ccxt.emu_server import EmulatorServer  # noqa: E402


def start(venue_id: str, n: int, shared: bool) -> dict[str, float]:
    bases = [f"C{i:03d}" for i in range(n)]
    book = Book({f"{b}USDT": Decimal("100") for b in bases})
    # the venues' documented limits, stated in their headers as the venues state them
    limiter = BybitLimiter() if venue_id == "bybit" else BinanceWeightLimiter()
    emu = EmulatorServer((Bybit500 if venue_id == "bybit" else Binance500)(book),
                         limiter=limiter).start()
    symbols = [f"{b}/USDT:USDT" for b in bases]
    tmp = TempDir(f"first-read-{venue_id}")
    try:
        gw = CcxtGateway(factory_for(venue_id, emu), symbols=symbols, credentials=CREDS,
                         markets_cache=None, timeout_ms=10000, budgets=BudgetRegistry())
        t0 = time.perf_counter()
        gw.load_markets()
        bot = BenchBot(tmp.path, symbols, wrap=lambda paper: gw, logging=False)
        if shared:
            bot.deps = dataclasses.replace(bot.deps, first_read=FirstRead(
                exchange=gw, symbols=symbols, logger=logger))
        first = len(emu.requests)
        bot.start(timeout=900)
        took = time.perf_counter() - t0
        reads = emu.requests[first:]
        weight = sum(1.0 if venue_id == "bybit" else float(binance_weight(r.method, r.path,
                                                                          r.params))
                     for r in reads)
        bot.stop()
        gw.close()
        return {"seconds": took, "requests": len(reads), "weight": weight,
                "refused": float(getattr(limiter, "refused", 0))}
    finally:
        emu.stop()
        tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venue", choices=["bybit", "binanceusdm"], action="append")
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--only", choices=["before", "after"])
    args = parser.parse_args()
    for venue_id in args.venue or ["bybit", "binanceusdm"]:
        for shared in (False, True):
            if args.only and args.only != ("after" if shared else "before"):
                continue
            row = start(venue_id, args.symbols, shared)
            print(f"{venue_id:12} {'after ' if shared else 'before'} {args.symbols} symbols: "
                  f"{row['seconds']:.1f} s, {row['requests']} requests after the markets load"
                  f" (weight {row['weight']:.0f}, refused {row['refused']:.0f})", flush=True)


if __name__ == "__main__":
    main()
