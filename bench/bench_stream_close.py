"""Stream price -> close order at the port, 500 symbols.

The whole trading side of the bot in one process (BenchBot: paper exchange with latency_s=0,
repository, supervisor, one SymbolActor per symbol with an open, protected position). Prices
come the way a live bot gets them: a Bybit v5 WebSocket emulator on 127.0.0.1 in its own
process (`tickers.<SYM>` topics, every symbol re-pushed every `--push` seconds as background
load) -> the real ccxt.pro bybit class -> VenueStreams (its own loop thread) -> StreamFeed ->
the price slots -> the actor.

Each round, each measured symbol (re)opens, then first gets a price that arms its trailing stop
(the bench waits until every actor took it), then, spread at `--cross-rate` per second, a price
back at its entry that crosses the trailing trigger: the actor must close by itself
(trailing_step_pct is large, so the exchange stop is never moved and sits below). The venue
process paces the crossings itself (a pause of the bot's process, e.g. a full collection,
cannot hold back the sends and so hide itself). Measured, per crossing, until the close order
reaches the exchange port (a wrapper stamps create_order of reduce-only non-stop orders):
  venue send -> close      from just before the emulator sends the crossing message
  send -> written          until the emulator wrote the message to the socket (its own queue)
  written -> arrival       until the bot's stream feed received the parsed ticker
  stream arrival -> close  from there to the port
plus the interpreter's collections in the bot's process during the crossings (gc.callbacks).

    python bench/bench_stream_close.py [--symbols 500] [--crossing 200] [--rounds 5]
                                       [--push 0.5]
"""

from __future__ import annotations

import argparse
import gc
import os
import threading
import time
from decimal import Decimal
from typing import Any

from bench_reaction import commit_floor
from common import (  # noqa: I001 - common puts the repository on sys.path
    BenchBot,
    CloseStamper,
    TempDir,
    fmt,
    header,
    summary,
    symbols,
    table,
    wait_for,
    write_json,
)
from loguru import logger
from stream_venue import Venue, native

from actors.stream_feed import StreamFeed
from config.sections import ExchangeSettings
from exchange.ccxt.factory import pro_exchange_factory
from exchange.ccxt.streams import VenueStreams
from runtime.interpreter import (
    apply_switch_interval,
    freeze_startup_objects,
    switch_interval_ms,
)
from tests.exchange.ccxt.emu_book import Book


class ArrivalStamps:
    """The stream feed as the streams' sink, stamping when each symbol's ticker arrived."""

    def __init__(self, inner: StreamFeed) -> None:
        self.inner = inner
        self.arrivals: dict[str, list[tuple[float, Decimal]]] = {}
        self._lock = threading.Lock()

    def on_tickers(self, tickers: list[Any]) -> None:
        t = time.perf_counter()
        with self._lock:
            for tk in tickers:
                self.arrivals.setdefault(tk.symbol, []).append((t, tk.last))
        self.inner.on_tickers(tickers)

    def on_fills(self, fills: list[Any]) -> None:
        self.inner.on_fills(fills)

    def on_orders(self, orders: list[Any]) -> None:
        self.inner.on_orders(orders)

    def on_connection(self, connected: bool) -> None:
        self.inner.on_connection(connected)

    def first_arrival(self, symbol: str, price: Decimal, after: float) -> float | None:
        with self._lock:
            for t, px in self.arrivals.get(symbol, []):
                if t >= after and px == price:
                    return t
        return None


class NoClient:
    """What ccxt's ticker handler resolves its watchers through (nothing waits here)."""

    def resolve(self, result: Any, message_hash: Any = None) -> None:
        pass


def handling_cost(base_url: str, natives: list[str], rounds: int) -> dict[str, float]:
    """CPU time of this thread (thread_time: other threads and processes do not count) to handle one
    ticker message, the venue's own shape (the emulator's), into a sink that only collects:
    ccxt's handler (parse_ticker + safe_ticker, then our conversion, as the streams did before)
    against raw_tickers.py (what the streams do now). Same exchange instance, same markets."""
    import asyncio

    from exchange.ccxt.raw_tickers import RawTickers
    from exchange.ccxt.stream_types import LiveTickers
    from tests.exchange.ccxt.ws_emu_bybit import BybitWs

    ex = pro_exchange_factory("bybit", None, api_url=base_url)()
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(ex.load_markets())
    finally:
        loop.run_until_complete(ex.close())
        loop.close()
    book = Book({n: Decimal("1.2345") for n in natives}, now_ms=int(time.time() * 1000))
    messages = [m for _, m in BybitWs(book, "k", "s").ticker_push()]
    wanted = [ex.markets_by_id[n][0]["symbol"] for n in natives]
    got: list[Any] = []
    from exchange.ccxt import convert

    ex.tickers = LiveTickers({}, lambda sym, raw: got.append(convert.ticker(raw)))
    client = NoClient()
    c0 = time.thread_time()
    for _ in range(rounds):
        for m in messages:
            ex.handle_message(client, m)
    ccxt_s = (time.thread_time() - c0) / (rounds * len(messages))
    n_ccxt = len(got)
    got.clear()
    RawTickers(ex, wanted, got.extend, lambda: None, logger).install()
    c0 = time.thread_time()
    for _ in range(rounds):
        for m in messages:
            ex.handle_message(client, m)
    raw_s = (time.thread_time() - c0) / (rounds * len(messages))
    assert n_ccxt == len(got) == rounds * len(messages), (n_ccxt, len(got))
    return {"ccxt_us": ccxt_s * 1e6, "raw_us": raw_s * 1e6, "messages": len(got)}


class GcPauses:
    """The interpreter's collections in the bot's process while the crossings run (each one
    holds the interpreter lock: every thread of the bot waits), per generation."""

    def __init__(self) -> None:
        self.seen: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seen[info["generation"]].append(time.perf_counter() - self._started)

    def stop(self) -> dict[int, dict[str, float]]:
        gc.callbacks.remove(self._on_gc)
        return {g: {"n": len(v), "max_ms": max(v, default=0.0) * 1000,
                    "total_ms": sum(v) * 1000} for g, v in self.seen.items()}


def last_price(bot: BenchBot, symbol: str) -> Decimal | None:
    published = bot.views.get(symbol)
    return None if published is None else published.state.last_price


class Rig:
    """The bot, its streams and the venue, for one run of several rounds of crossings."""

    def __init__(self, args: argparse.Namespace, tmp: TempDir) -> None:
        self.syms = syms = symbols(args.symbols)
        box: dict[str, CloseStamper] = {}

        def wrap(paper: Any) -> CloseStamper:
            box["w"] = CloseStamper(paper)
            return box["w"]

        self.venue = Venue([native(s) for s in syms], args.push)
        self.bot = BenchBot(tmp.path, syms, latency_s=0.0, wrap=wrap,
                            risk={"trailing_step_pct": Decimal("50")}, logging=False,
                            synchronous=args.synchronous, heartbeat_interval_s=args.heartbeat_s)
        self.stamper = box["w"]
        self.bot.feed.quiet_wake_s = args.quiet_wake_s
        if args.pace_quiet == "off":  # quiet wakes sent at once, in bursts (before session 22)
            self.bot.feed.pacer = None
        elif self.bot.feed.pacer is not None and args.quiet_wake_s:
            self.bot.feed.pacer.spread_s = args.quiet_wake_s / 2
        self.feed = StreamFeed(rest=self.bot.feed, stale_s=10.0, logger=logger,
                               silent_s=ExchangeSettings().stream_symbol_silent_s)
        self.sink = ArrivalStamps(self.feed)
        build = pro_exchange_factory("bybit", None, api_url=self.venue.base_url,
                                     ws_url=self.venue.ws_url)
        self.streams = VenueStreams(build=build, symbols=syms, sink=self.sink, logger=logger,
                                    private=False)
        self.feed.attach(self.streams)
        self.stream_cpu = [0.0, 0]
        """The stream thread's CPU seconds and the ticker messages it handled, summed over the
        crossings (everything that thread does per message: socket, ccxt.pro, our reader, the
        delivery into the slots and the wakes)."""
        self.pauses: list[dict[int, dict[str, float]]] = []
        self.not_reopened = 0
        """Crossers whose position could not be reopened for a round (left out of it)."""

    def on_stream_prices(self, prices: dict[str, Decimal], what: str) -> None:
        self.venue.set(prices)
        wait_for(lambda: all(last_price(self.bot, s) == p for s, p in prices.items()), 60,
                 what=what)

    def one_round(self, crossers: list[str], rate: float, stages: dict[str, list[float]]) -> int:
        """Open the crossers' positions (if flat), arm their trailing stops from the stream,
        cross them all; adds each crossing's stages, returns how many had no close."""
        bot = self.bot
        if not wait_for(lambda: all(bot.protected(s) or bot.flat(s) for s in crossers), 60):
            raise RuntimeError("the previous round's positions did not close")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # a signal can be dropped while a close settles
            for s in crossers:
                if bot.flat(s):
                    bot.signal(s)
            if wait_for(lambda: all(bot.protected(s) for s in crossers), 3):
                break
        self.not_reopened += sum(not bot.protected(s) for s in crossers)
        crossers = [s for s in crossers if bot.protected(s)]
        entry = {s: Decimal(bot.view(s).position["entry_price"]) for s in crossers}
        self.on_stream_prices(entry, "every crossing actor on its entry price")
        activation = {}
        for s in crossers:
            armed = Decimal(bot.view(s).trailing["activation_price"]) * Decimal("1.001")
            activation[s] = armed.quantize(bot._rules[s].price_tick)
        self.on_stream_prices(activation, "trailing stops armed from the stream")
        closes = self.stamper.closes
        before = {s: len(closes.get(s, [])) for s in crossers}
        pauses = GcPauses()
        cpu0, taken0 = self._stream_cpu(), self._taken()
        self.venue.cross({s: entry[s] for s in crossers}, rate)
        wait_for(lambda: all(len(closes.get(s, [])) > before[s] for s in crossers), 60,
                 what="every crossing closed")
        self.stream_cpu[0] += self._stream_cpu() - cpu0
        self.stream_cpu[1] += self._taken() - taken0
        self.pauses.append(pauses.stop())
        stamps, written = self.venue.ask("stamps")
        missing = 0
        for s in crossers:
            sent, wrote = stamps[native(s)], written[native(s)]
            closed = [c for c in closes.get(s, [])[before[s]:] if c >= sent]
            arrived = self.sink.first_arrival(s, entry[s], sent)
            if not closed or arrived is None:
                missing += 1
                continue
            for key, value in (("from_send", closed[0] - sent), ("to_write", wrote - sent),
                               ("to_arrival", arrived - wrote),
                               ("from_arrival", closed[0] - arrived)):
                stages[key].append(value)
        return missing

    def _stream_cpu(self) -> float:
        thread = self.streams._thread
        if thread is None or thread.ident is None:
            return 0.0
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))

    def _taken(self) -> int:
        raw = self.streams.raw_tickers
        return 0 if raw is None else raw.taken

    def gc_seen(self) -> dict[int, dict[str, float]]:
        return {g: {"n": sum(p[g]["n"] for p in self.pauses),
                    "max_ms": max(p[g]["max_ms"] for p in self.pauses),
                    "total_ms": sum(p[g]["total_ms"] for p in self.pauses)} for g in (0, 1, 2)}


def run(args: argparse.Namespace, tmp: TempDir) -> dict[str, Any]:
    rig = Rig(args, tmp)
    bot, feed = rig.bot, rig.feed
    try:
        handling = (handling_cost(rig.venue.base_url, [native(s) for s in rig.syms],
                                  args.cost_rounds) if args.cost_rounds > 0 else None)
        bot.start(gc_freeze=args.gc_freeze == "on")
        bot.open_all()
        entry = {s: Decimal(bot.view(s).position["entry_price"]) for s in rig.syms}
        rig.venue.set(entry)  # the background pushes now repeat each position's entry (quiet)
        feed.start()
        wait_for(lambda: feed.mode == "stream", 60, what="streams up")
        wait_for(lambda: all(last_price(bot, s) == entry[s] for s in rig.syms), 60,
                 what="every actor on its stream price")
        if args.gc_freeze == "on":  # as the bot's second freeze (runtime/interpreter.py)
            freeze_startup_objects()
        stages: dict[str, list[float]] = {k: [] for k in ("from_send", "to_write", "to_arrival",
                                                           "from_arrival")}
        missing = 0
        for _ in range(args.rounds):  # the same symbols, reopened: the others stay quiet
            missing += rig.one_round(rig.syms[: args.crossing], args.cross_rate, stages)
        return {**{k: summary(v) for k, v in stages.items()}, "gc": rig.gc_seen(),
                "missing": missing, "not_reopened": rig.not_reopened,
                "rest_polls_while_streaming": rig.venue.ask("rest_polls"),
                "mode": feed.mode, "handling": handling, "stream_cpu": list(rig.stream_cpu)}
    finally:
        feed.stop()
        bot.stop()
        rig.venue.stop()


def main() -> dict[str, Any]:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--crossing", type=int, default=200, help="symbols crossed each round")
    ap.add_argument("--rounds", type=int, default=5,
                    help="rounds of crossings (positions reopened between): crossing x rounds "
                         "crossings in all")
    ap.add_argument("--cross-rate", type=float, default=100.0, help="crossings per second")
    ap.add_argument("--push", type=float, default=0.5,
                    help="seconds between background pushes of every symbol's ticker")
    ap.add_argument("--cost-rounds", type=int, default=4,
                    help="rounds of every symbol's ticker message for the handling cost "
                         "(0: skip that part)")
    ap.add_argument("--switch-interval-ms", type=float, default=None,
                    help="the bot's bot.switch_interval_ms (default: Python's 5 ms)")
    ap.add_argument("--synchronous", default="full", choices=["full", "normal"],
                    help="SQLite synchronous mode of the bot's database (the close intent is "
                         "committed before the order is sent)")
    ap.add_argument("--heartbeat-s", type=float, default=1.0,
                    help="supervision.heartbeat_interval_s (each beat: a Timer and a Ping to "
                         "every actor)")
    ap.add_argument("--quiet-wake-s", type=lambda v: None if v == "none" else float(v),
                    default=0.25, help="MarketFeed.quiet_wake_s: how often a price inside the "
                    "actor's quiet band wakes it ('none': never)")
    ap.add_argument("--gc-freeze", default="on", choices=["on", "off"],
                    help="freeze the objects alive once started out of the collector's walks, "
                         "as the bot does (runtime/interpreter.py GcFreezer)")
    ap.add_argument("--pace-quiet", default="on", choices=["on", "off"],
                    help="spread the quiet wakes over half the quiet-wake interval "
                         "(actors/wake_pacer.py) or send them at once")
    args = ap.parse_args()
    if args.switch_interval_ms is not None:  # as runtime/runner.py does, before any thread
        apply_switch_interval(args.switch_interval_ms)
    header("bench_stream_close", f"{args.symbols} symbols, Bybit WS emulator -> ccxt.pro -> "
                                 f"stream feed -> actor -> close at the port")
    tmp = TempDir("stream-close")
    try:
        floor = commit_floor(tmp.path / "floor.sqlite", args.synchronous)
        r = run(args, tmp)
    finally:
        tmp.cleanup()
    rows = []
    for name, key in (("venue send -> close order", "from_send"),
                      ("  venue send -> written to the socket (emulator)", "to_write"),
                      ("  written -> stream arrival (bot)", "to_arrival"),
                      ("  stream arrival -> close order", "from_arrival")):
        s = r[key]
        rows.append([name, s["n"], fmt(s["median"], "ms"), fmt(s["p99"], "ms"),
                     fmt(s["max"], "ms")])
    rows.append([f"one WAL commit alone (synchronous={args.synchronous})", floor["n"],
                 fmt(floor["median"], "ms"), fmt(floor["p99"], "ms"), fmt(floor["max"], "ms")])
    print(table(f"Stream price -> close, {args.symbols} symbols, {args.crossing} crossings at "
                f"{args.cross_rate:g}/s x {args.rounds} rounds, background push every "
                f"{args.push:g} s",
                ["metric", "n", "median", "p99", "max"], rows))
    print(f"  crossings without a close: {r['missing']}; positions not reopened for a round "
          f"(left out): {r['not_reopened']}; REST ticker calls: "
          f"{r['rest_polls_while_streaming']}; feed mode at the end: {r['mode']}")
    print("  collections in the bot's process during the crossings: " + "; ".join(
        f"gen {g}: {v['n']} (max {v['max_ms']:.1f} ms, total {v['total_ms']:.1f} ms)"
        for g, v in r["gc"].items()))
    cpu_s, taken = r["stream_cpu"]
    if taken:
        print(f"  stream thread during the crossings: {cpu_s:.2f} s CPU for {taken:,} ticker "
              f"messages, {cpu_s / taken * 1e6:.1f} us a message all-in")
    h = r["handling"]
    if h is not None:
        print(f"  one ticker message handled on the stream thread (CPU, {h['messages']} messages): "
              f"ccxt's parser {h['ccxt_us']:.0f} us, raw_tickers {h['raw_us']:.0f} us "
              f"({h['ccxt_us'] / h['raw_us']:.1f}x less)")
    p99 = r["from_send"]["p99"]
    print(f"  target p99 < 5 ms: {'MET' if p99 < 0.005 else 'MISSED'} "
          f"(venue send -> close p99 {fmt(p99, 'ms')})")
    print(f"  gc freeze: {args.gc_freeze}; quiet wakes paced: {args.pace_quiet}; "
          f"switch interval {switch_interval_ms():g} ms; "
          f"machine load average (1 min) at the "
          f"end: {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cpus")
    write_json("stream_close", {**r, "commit_floor": floor, "config": vars(args)})
    return r


if __name__ == "__main__":
    main()
