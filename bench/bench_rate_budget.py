"""Issue 12 bench (a): REST cost at steady state with 500 symbols, against each venue's documented
limit (target <= 5 %), counted by the emulators as the venue counts it (Binance request weight
by the documented per-endpoint weights, Bybit requests: tests/exchange/ccxt/emu_limits.py).

Two rows per venue:
  streams up (the default)  the bot as runtime/account.py builds it: BenchBot's real supervisor
      with config.toml's [supervision] defaults (heartbeat 1 s; reconcile every 30 s, but while
      the private streams are up only the symbols holding something, every 300 s) with one
      real SymbolActor per symbol trading through the REAL CcxtGateway (real ccxt classes,
      HTTP on 127.0.0.1), the real VenueStreams (ccxt.pro against the WebSocket emulator:
      tickers every 1 s, orders, fills, positions; Binance's listenKey over REST) in front of
      the real REST MarketFeed, the real StopWatch (60 s per stop while the order stream is
      up), the real ExchangeSweep (all symbols every 300 s) and the entry gate's balance read
      (actors/balance_watch.py, every reconcile interval). `--positions` (default 20 =
      risk.max_open_positions) symbols hold a protected long. Every REST request in the window
      is counted (reconciliation, sweep, stop watch, streams' own REST, fee reads), with the
      six costliest endpoints printed. The window defaults to one whole cycle of the slowest
      periodic work (300 s), so each periodic call is counted as often as it happens. The
      gateway's budget runs on a clock that never waits, so the row shows what the bot ASKS
      for; past the budget, real time would stretch it.
  streams down, now / before  the same whole account after the row above, its streams
      refused (REST prices and fills, the stop watch at 1 s, reconciliation): one window as
      the bot runs now (symbols holding something every reconcile interval, the flat ones by
      the all-symbol sweep) and one as before (every symbol every reconcile interval), in the
      same run (`--down-window-s`, default two reconcile intervals each, each after 65 s of
      settling: the first minute after the streams drop polls the trades of every position
      seen for the first time).
  streams down (REST only)  the REST MarketFeed alone at its budget-fitting interval, no
      positions: what prices and fills cost while the streams are down.
Startup (markets load, each actor's first reconciliation, the entries) is excluded; the window
is measured and extrapolated to a minute (said in the output).

    python bench/bench_rate_budget.py [--window-s 300] [--positions 20] [--venue bybit]
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pykka  # noqa: E402
from common import BenchBot, TempDir, wait_for  # noqa: E402
from loguru import logger  # noqa: E402

from actors.balance_watch import BalanceWatch  # noqa: E402
from actors.entry_gate import AccountGate  # noqa: E402
from actors.exchange_sweep import ExchangeSweep  # noqa: E402
from actors.market_feed import MarketFeed  # noqa: E402
from actors.stop_watch import StopWatch  # noqa: E402
from actors.stream_feed import StreamFeed  # noqa: E402
from config.sections import ExchangeSettings, SupervisionSettings  # noqa: E402
from exchange.budget_venues import BudgetRegistry, fitting_poll_interval  # noqa: E402
from exchange.ccxt.factory import pro_exchange_factory  # noqa: E402
from exchange.ccxt.gateway import CcxtGateway  # noqa: E402
from exchange.ccxt.secrets import Credentials  # noqa: E402
from exchange.ccxt.streams import VenueStreams  # noqa: E402
from runtime.exchanges import fills_poller  # noqa: E402
from runtime.stream_wiring import pace_by_reports  # noqa: E402
from tests.exchange.ccxt import emu_binance, emu_bybit  # noqa: E402
from tests.exchange.ccxt.ccxt_fixtures import (  # noqa: E402
    API_KEY,
    API_SECRET,
    FakeTime,
    factory_for,
)
from tests.exchange.ccxt.emu_book import Book  # noqa: E402
from tests.exchange.ccxt.emu_limits import (  # noqa: E402
    BINANCE_NO_SYMBOL,
    BinanceWeightLimiter,
    BybitLimiter,
    binance_weight,
)
from tests.exchange.ccxt.emu_server import EmulatorServer  # noqa: E402
from tests.exchange.ccxt.ws_emu_binance import start_binance_ws  # noqa: E402
from tests.exchange.ccxt.ws_emu_bybit import start_bybit_ws  # noqa: E402

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
                         markets_cache=None, timeout_ms=5000,
                         volume_every_s=None)  # as the bot builds it with the default
        gw.load_markets()  # strategy.min_volume = 0 (runtime/exchanges.py): no 24 h ticker
        feed = MarketFeed(exchange=gw, symbols=symbols, deliver=lambda s, m: True,
                          interval_s=interval_s, own_prefix="bench-", logger=logger,
                          fetch_fills=fills_poller(gw, symbols))
        used, first = _used(limiter), len(emu.requests)
        started = time.monotonic()
        feed.start()
        time.sleep(window_s)  # a measurement window, not a wait for a condition
        feed.stop()
        elapsed = time.monotonic() - started
        spent = _used(limiter) - used
        # per poll times polls per minute: a short window holds a whole number of polls, so
        # spent / elapsed would over- or under-count the last one
        return {"polls": feed.polls, "elapsed_s": elapsed,
                "per_min": spent / max(feed.polls, 1) * 60 / interval_s,
                "refused": limiter.refused,
                "top": _top(venue_id, emu.requests[first:], elapsed)}
    finally:
        emu.stop()


def _used(limiter: BybitLimiter | BinanceWeightLimiter) -> float:
    return (limiter.requests if isinstance(limiter, BybitLimiter) else limiter.weight_total)


CREDS = Credentials(API_KEY, API_SECRET, source="bench")
SV = SupervisionSettings()  # config.toml's [supervision] defaults
LIMITS = {"bybit": ("requests", 600 * 12), "binanceusdm": ("weight", 2400)}


class CountingWeight(BinanceWeightLimiter):
    """Counts weight as Binance does but neither refuses nor reports it: the bot's budget would
    otherwise stop asking once the header says the minute is spent (its wait is not measured
    here, its demand is)."""

    def admit(self, method: str, path: str,
              params: dict[str, Any]) -> tuple[Any, dict[str, str]]:
        super().admit(method, path, params)
        return None, {}


def _counting_venue(venue_id: str, book: Book) -> tuple[Any, Any, Any]:
    """HTTP emulator (counting as the venue counts, never refusing: the row shows demand), its
    WebSocket emulator (tickers for every symbol each second, as the venues push them)."""
    if venue_id == "bybit":
        limiter: Any = BybitLimiter(ip_limit=10**9, uid_limits={})
        emu = EmulatorServer(Bybit500(book), limiter=limiter).start()
        ws = start_bybit_ws(book, API_KEY, API_SECRET, ticker_interval_s=1.0)
    else:
        limiter = CountingWeight(limit=10**9)
        venue = Binance500(book)
        emu = EmulatorServer(venue, limiter=limiter).start()
        ws = start_binance_ws(book, venue, ticker_interval_s=1.0)
    return limiter, emu, ws


def _weight(venue_id: str, r: Any) -> float:
    return 1.0 if venue_id == "bybit" else float(binance_weight(r.method, r.path, r.params))


def _endpoint(venue_id: str, r: Any) -> str:
    every = (venue_id == "binanceusdm" and not r.params.get("symbol")
             and r.path in BINANCE_NO_SYMBOL)
    return f"{r.method} {r.path}{' (all)' if every else ''}"


def measure_streams(venue_id: str, window_s: float, positions: int,
                    down_window_s: float = 0.0, timeline: str | None = None) -> dict[str, Any]:
    book = Book({f"{b}USDT": Decimal("100") for b in BASES}, now_ms=int(time.time() * 1000))
    limiter, emu, ws = _counting_venue(venue_id, book)
    symbols = [f"{b}/USDT:USDT" for b in BASES]
    never_waits = FakeTime(time.monotonic())
    tmp = TempDir(f"budget-{venue_id}")
    gw = CcxtGateway(factory_for(venue_id, emu), symbols=symbols, credentials=CREDS,
                     markets_cache=None, timeout_ms=5000, budgets=BudgetRegistry(),
                     monotonic=never_waits.clock, sleep=never_waits.sleep,
                     volume_every_s=None)  # the default min_volume = 0: no 24 h ticker
    gw.load_markets()
    bot = BenchBot(tmp.path, symbols, wrap=lambda paper: gw,
                   reconcile_interval_s=SV.reconcile_interval_s, logging=False)
    bot.sup.schedule.streamed_interval_s = max(SV.streamed_reconcile_interval_s,
                                               SV.reconcile_interval_s)
    parts: list[Any] = []
    try:
        rest = MarketFeed(exchange=gw, symbols=symbols, deliver=bot.sup.tell,
                          interval_s=fitting_poll_interval(venue_id, 0.5, 0.5),
                          own_prefix=f"main-{bot.repo.id_tag}-", logger=logger,
                          fetch_fills=fills_poller(gw, symbols), prices=bot.prices)
        feed = StreamFeed(rest=rest, stale_s=10.0, logger=logger, views=bot.views,
                          silent_s=ExchangeSettings().stream_symbol_silent_s)  # the default
        build = pro_exchange_factory(venue_id, CREDS, api_url=emu.base_url, ws_url=ws.url,
                                     timeout_ms=5000, meter=gw.meter)
        feed.attach(VenueStreams(build=build, symbols=symbols, sink=feed, logger=logger,
                                 markets=gw.markets))
        watch = StopWatch(exchange=gw, views=bot.views, deliver=bot.sup.tell,
                          interval_s=SV.stop_check_interval_s, logger=logger,
                          streamed_interval_s=SV.stop_check_streamed_interval_s)
        # wired before the start, as runtime/account.py does: while the private streams are up
        # the watch slows down and flat symbols get no periodic reconcile; live, flat symbols
        # are left to the sweep from the start on (set after it, each flat symbol was also
        # reconciled every 30 s during the start)
        up = pace_by_reports(feed, watch, bot.sup.schedule)  # runtime/account.py's own
        bot.sup.schedule.flat_by_sweep = True  # live: flat symbols by the sweep, streams or not
        sweep = ExchangeSweep(exchange=gw, symbols=symbols, views=bot.views,
                              deliver=bot.sup.tell, logger=logger,
                              interval_s=SV.sweep_interval_s, streams_ok=up,
                              down_interval_s=SV.reconcile_interval_s)
        # the entry gate's balance read (actors/balance_watch.py), as the account starts it
        balance = BalanceWatch(exchange=gw, gate=AccountGate(max_open_positions=None),
                               symbols=symbols, interval_s=SV.reconcile_interval_s,
                               logger=logger)
        _progress(f"{venue_id}: starting {N} actors (each reconciles once)")
        bot.start(timeout=900)
        feed.start()
        parts.append(feed)
        _progress(f"{venue_id}: actors up; streams starting")
        if not wait_for(lambda: feed.mode == "stream", 120, what="streams up"):
            raise SystemExit(f"{venue_id}: streams did not come up")
        for part in (watch, sweep, balance):
            part.start()
            parts.append(part)
        _progress(f"{venue_id}: streams up; opening {positions} positions")
        for symbol in symbols[:positions]:
            bot.signal(symbol)
        wait_for(lambda: _stops(book) >= positions, 300, what=f"{positions} protected longs")
        time.sleep(35)  # the entries' own lookups and first reconcile settle (startup)
        _progress(f"{venue_id}: measuring {window_s:g} s")
        first, used = len(emu.requests), _used(limiter)
        started, polls = time.monotonic(), rest.polls
        time.sleep(window_s)  # a measurement window, not a wait for a condition
        elapsed = time.monotonic() - started
        spent = _used(limiter) - used
        window = emu.requests[first:]
        if timeline:
            with open(f"{timeline}.{venue_id}", "w") as out:
                for r in window:
                    print(f"{r.at - started:8.2f} {r.method} {r.path} "
                          f"{r.params.get('symbol', '')} {r.params.get('orderId', '')}"
                          f"{r.params.get('algoId', '')}", file=out)
        result = {"per_min": spent * 60 / elapsed, "elapsed_s": elapsed, "mode": feed.mode,
                  "rest_polls": rest.polls - polls, "stops": _stops(book),
                  "positions": sum(1 for s in symbols if book.position(_native(s))[0] != 0),
                  "checks": watch.checks, "sweeps": sweep.sweeps,
                  "skipped": bot.sup.schedule.skipped, "listen_keys": len(
                      [r for r in window if r.path.endswith("listenKey")]),
                  "top": _top(venue_id, window, elapsed)}
        if down_window_s > 0:
            result["down"] = _streams_down(venue_id, bot, ws, feed, rest, sweep, emu, limiter,
                                           down_window_s)
        return result
    finally:
        for part in reversed(parts):
            part.stop()
        bot.sup.stop()
        pykka.ActorRegistry.stop_all()
        bot.repo.close()
        gw.close()
        ws.stop()
        emu.stop()


SETTLE_S = 65.0
"""Seconds after a change of mode before a streams-down window is measured."""


def _streams_down(venue_id: str, bot: Any, ws: Any, feed: Any, rest: Any, sweep: Any, emu: Any,
                  limiter: Any, window_s: float) -> list[dict[str, Any]]:
    """The same account with its streams refused: REST prices and fills, the stop watch at
    1 s, and the reconciliation, measured twice in the same run: as the bot runs now (holders
    every reconcile interval, flat symbols by the sweep) and as before (every symbol every
    reconcile interval, no sweep while down)."""
    ws.refuse(True)
    ws.drop_all()
    if not wait_for(lambda: feed.mode == "rest", 120, what="REST takes over"):
        raise SystemExit(f"{venue_id}: the streams did not go down")
    rows = []
    for label, by_sweep in (("streams down, now", True), ("streams down, before", False)):
        bot.sup.schedule.flat_by_sweep = by_sweep
        sweep.down_interval_s = SV.reconcile_interval_s if by_sweep else None
        # the first look at each held position counts as a change (its fills may be unread),
        # and a changed symbol's trades are polled for a minute (exchange/ccxt/own_fills.py):
        # let that pass, the row is the steady state while the streams stay down
        _progress(f"{venue_id}: {label}: settling {SETTLE_S:g} s")
        time.sleep(SETTLE_S)  # a settling period, not a wait for a condition
        _progress(f"{venue_id}: {label}: measuring {window_s:g} s")
        first, used = len(emu.requests), _used(limiter)
        started, polls, sweeps = time.monotonic(), rest.polls, sweep.sweeps
        time.sleep(window_s)  # a measurement window, not a wait for a condition
        elapsed = time.monotonic() - started
        rows.append({"label": label, "per_min": (_used(limiter) - used) * 60 / elapsed,
                     "rest_polls": rest.polls - polls, "sweeps": sweep.sweeps - sweeps,
                     "mode": feed.mode,
                     "top": _top(venue_id, emu.requests[first:], elapsed)})
    return rows


def _top(venue_id: str, requests: list[Any], elapsed: float) -> list[tuple[str, float]]:
    """The six costliest endpoints, per minute."""
    by: dict[str, float] = {}
    for r in requests:
        key = _endpoint(venue_id, r)
        by[key] = by.get(key, 0.0) + _weight(venue_id, r)
    top = sorted(by.items(), key=lambda kv: -kv[1])[:6]
    return [(k, v * 60 / elapsed) for k, v in top]


def _progress(what: str) -> None:
    print(f"  [{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def _native(symbol: str) -> str:
    return symbol.split("/")[0] + "USDT"


def _stops(book: Book) -> int:
    with book.lock:
        return sum(1 for o in book.orders.values()
                   if o.trigger is not None and o.status == "untriggered")


def main() -> None:
    ap = argparse.ArgumentParser()
    # one whole cycle of the slowest periodic work (open-symbol reconcile, sweep: 300 s)
    ap.add_argument("--window-s", type=float, default=max(SV.streamed_reconcile_interval_s,
                                                          SV.sweep_interval_s))
    ap.add_argument("--rest-window-s", type=float, default=20.0)
    ap.add_argument("--down-window-s", type=float, default=2 * SV.reconcile_interval_s,
                    help="each streams-down window of the whole account (0: none)")
    ap.add_argument("--positions", type=int, default=20)
    ap.add_argument("--venue", choices=sorted(LIMITS), action="append")
    ap.add_argument("--timeline", metavar="FILE",
                    help="write each REST request of the streams-up window (seconds into "
                         "the window, method, path, symbol, order id) to FILE.<venue>")
    args = ap.parse_args()
    logger.remove()
    venues = args.venue or ["bybit", "binanceusdm"]
    print(f"REST cost at steady state, {N} symbols; streams-up rows measured over "
          f"{args.window_s:g} s, REST-only rows over {args.rest_window_s:g} s, both "
          "extrapolated to one minute")
    print(f"{'venue':<12} {'row':<28} {'unit':>8} {'used/min':>9} {'limit/min':>9} "
          f"{'% limit':>8} {'target':>7}")
    for venue_id in venues:
        unit, limit = LIMITS[venue_id]
        r = measure_streams(venue_id, args.window_s, args.positions, args.down_window_s,
                            args.timeline)
        label = f"streams up, {r['positions']} positions"
        print(f"{venue_id:<12} {label:<28} {unit:>8} {r['per_min']:>9.1f} {limit:>9} "
              f"{100 * r['per_min'] / limit:>7.2f}% {'<= 5%':>7}")
        print(f"{'':<12}   mode {r['mode']}, resting stops {r['stops']}, stop checks "
              f"{r['checks']}, REST feed polls {r['rest_polls']}, listenKey calls "
              f"{r['listen_keys']} (keepalive: 1 per 20 min), sweeps {r['sweeps']}, "
              f"periodic reconciles skipped (flat, streams up) {r['skipped']}")
        for endpoint, per_min in r["top"]:
            print(f"{'':<12}   {endpoint:<44} {per_min:>8.1f} {unit}/min")
        for d in r.get("down", []):
            label = f"{d['label']}, {r['positions']} pos."
            print(f"{venue_id:<12} {label:<28} {unit:>8} {d['per_min']:>9.1f} {limit:>9} "
                  f"{100 * d['per_min'] / limit:>7.2f}% {'':>7}")
            print(f"{'':<12}   mode {d['mode']}, REST feed polls {d['rest_polls']}, sweeps "
                  f"{d['sweeps']}")
            for endpoint, per_min in d["top"]:
                print(f"{'':<12}   {endpoint:<44} {per_min:>8.1f} {unit}/min")
        interval = fitting_poll_interval(venue_id, 0.5, 0.5)
        q = measure(venue_id, interval, args.rest_window_s)
        label = f"streams down: REST feed {interval:g} s"
        print(f"{venue_id:<12} {label:<28} {unit:>8} {q['per_min']:>9.1f} {limit:>9} "
              f"{100 * q['per_min'] / limit:>7.2f}% {'<= 5%':>7}")
        for endpoint, per_min in q["top"]:
            print(f"{'':<12}   {endpoint:<44} {per_min:>8.1f} {unit}/min")
    print("streams down: prices and fills only, no position open; while the streams are down "
          "the reconciliation and stop-watch cost of the streams-up row comes on top")


if __name__ == "__main__":
    main()
