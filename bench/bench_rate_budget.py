"""Issue 12 bench (a): REST cost of the live feed at steady state with 500 symbols, against each
venue's documented limit (target <= 5 %).

Runs the REAL MarketFeed and the REAL CcxtGateway (real ccxt classes, real HTTP on 127.0.0.1)
against the emulators, widened to 500 listed markets, with the emulators counting what the
venue would count (tests/exchange/ccxt/emu_limits.py: Binance request weight by the documented
per-endpoint weights, Bybit requests). Startup (markets load) is excluded; a short window of
polling at each venue's default interval is measured and extrapolated to a minute (said in the
output). No position is open (steady state); the cost per active symbol is printed beside it.

    python bench/bench_rate_budget.py [--window-s 20]
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from loguru import logger  # noqa: E402

from actors.market_feed import MarketFeed  # noqa: E402
from exchange.ccxt.gateway import CcxtGateway  # noqa: E402
from exchange.ccxt.secrets import Credentials  # noqa: E402
from runtime.exchanges import fills_poller  # noqa: E402
from tests.exchange.ccxt import emu_binance, emu_bybit  # noqa: E402
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, factory_for  # noqa: E402
from tests.exchange.ccxt.emu_book import Book  # noqa: E402
from tests.exchange.ccxt.emu_limits import BinanceWeightLimiter, BybitLimiter  # noqa: E402
from tests.exchange.ccxt.emu_server import EmulatorServer  # noqa: E402

N = 500
BASES = [f"C{i:03d}" for i in range(N)]


class Bybit500(emu_bybit.BybitVenue):
    ROWS = [dict(copy.deepcopy(emu_bybit.INSTRUMENTS[0]), symbol=f"{b}USDT", baseCoin=b)
            for b in BASES]

    def h_v5_market_instruments_info(self, p):  # noqa: ANN001, ANN201
        rows = self.ROWS if p.get("category") == "linear" else []
        return self._ok({"category": p.get("category"), "list": rows, "nextPageCursor": ""})


class Binance500(emu_binance.BinanceVenue):
    INFO = {**emu_binance.EXCHANGE_INFO, "symbols": [
        emu_binance._symbol(f"{b}USDT", b, "0.10", "0.001", "0.001", 2, 3) for b in BASES]}

    def get_fapi_v1_exchangeInfo(self, p):  # noqa: N802, ANN001, ANN201
        return 200, self.INFO


def measure(venue_id: str, interval_s: float, window_s: float) -> dict[str, float]:
    book = Book({f"{b}USDT": Decimal("100") for b in BASES})
    if venue_id == "bybit":
        limiter: BybitLimiter | BinanceWeightLimiter = BybitLimiter()
        emu = EmulatorServer(Bybit500(book), limiter=limiter).start()
    else:
        limiter = BinanceWeightLimiter()
        emu = EmulatorServer(Binance500(book), limiter=limiter).start()
    symbols = [f"{b}/USDT:USDT" for b in BASES]
    try:
        gw = CcxtGateway(factory_for(venue_id, emu), symbols=symbols,
                         credentials=Credentials(API_KEY, API_SECRET, source="bench"),
                         markets_cache=None, timeout_ms=5000)
        gw.load_markets()
        feed = MarketFeed(exchange=gw, symbols=symbols, deliver=lambda s, m: True,
                          interval_s=interval_s, own_prefix="bench-", logger=logger,
                          fetch_fills=fills_poller(gw, symbols))
        used = _used(limiter)
        started = time.monotonic()
        feed.start()
        time.sleep(window_s)  # a measurement window, not a wait for a condition
        feed.stop()
        elapsed = time.monotonic() - started
        spent = _used(limiter) - used
        return {"polls": feed.polls, "elapsed_s": elapsed, "per_min": spent * 60 / elapsed,
                "refused": limiter.refused}
    finally:
        emu.stop()


def _used(limiter: BybitLimiter | BinanceWeightLimiter) -> float:
    return (limiter.requests if isinstance(limiter, BybitLimiter) else limiter.weight_total)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--window-s", type=float, default=20.0)
    args = ap.parse_args()
    logger.remove()
    cases = [("bybit", 0.5, "requests", 600 * 12), ("binanceusdm", 5.0, "weight", 2400)]
    print(f"REST feed cost at steady state, {N} symbols, measured over {args.window_s:g} s "
          "and extrapolated to one minute")
    print(f"{'venue':<12} {'poll s':>6} {'polls':>5} {'unit':>8} {'used/min':>9} "
          f"{'limit/min':>9} {'% limit':>8} {'target':>7} {'429s':>5}")
    for venue_id, interval, unit, limit in cases:
        r = measure(venue_id, interval, args.window_s)
        share = 100 * r["per_min"] / limit
        print(f"{venue_id:<12} {interval:>6g} {int(r['polls']):>5} {unit:>8} "
              f"{r['per_min']:>9.1f} {limit:>9} {share:>7.2f}% {'<= 5%':>7} "
              f"{int(r['refused']):>5}")
    print("each symbol with a position or a recent order adds one userTrades call per poll on "
          "binanceusdm (weight 5); bybit's executions call covers all symbols at once")


if __name__ == "__main__":
    main()
