"""Where the stream thread's CPU per ticker message goes, in parts, one run:

1. socket + ccxt.pro + our raw reader: the bench's Bybit venue process pushing every symbol's
   ticker every 0.5 s, the real ccxt.pro client and exchange/ccxt/raw_tickers.py, delivering
   into a sink that only counts (the stream thread's own CPU clock over a few seconds);
2. our delivery alone, no socket: the raw reader, the stream feed, the price slots (every price
   inside its actor's quiet band) and the quiet-wake pacer, into a queue standing for the
   mailboxes (this thread's CPU clock).

Compare their sum with bench_stream_close.py's "stream thread during the crossings": the same
thread inside the bot, with 500 actor threads, the database writer and the pacer running.

    python bench/stream_thread_cost.py [--symbols 500] [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import time
from decimal import Decimal
from typing import Any

import common  # noqa: F401 - puts the repository on sys.path
from loguru import logger
from stream_venue import Venue, native

from actors.market_feed import MarketFeed
from actors.price_slots import PriceSlots
from actors.stream_feed import StreamFeed
from actors.wake_pacer import WakePacer
from exchange.ccxt.factory import pro_exchange_factory
from exchange.ccxt.raw_tickers import RawTickers
from exchange.ccxt.streams import VenueStreams
from trading.quiet_band import QuietBand


class CountingSink:
    """The streams' sink that only counts the prices."""

    def __init__(self) -> None:
        self.prices = 0

    def on_tickers(self, tickers: list[Any]) -> None:
        self.prices += len(tickers)

    def on_fills(self, fills: list[Any]) -> None:
        pass

    def on_orders(self, orders: list[Any]) -> None:
        pass

    def on_connection(self, connected: bool) -> None:
        pass

    def on_unreadable(self, symbol: str, client_order_id: str) -> None:
        pass


def socket_path(symbols: list[str], seconds: float) -> tuple[float, int]:
    """CPU seconds of the stream thread and the ticker messages it handled."""
    venue = Venue([native(s) for s in symbols], 0.5)
    sink = CountingSink()
    build = pro_exchange_factory("bybit", None, api_url=venue.base_url, ws_url=venue.ws_url)
    streams = VenueStreams(build=build, symbols=symbols, sink=sink, logger=logger,
                           private=False)
    streams.start()
    try:
        deadline = time.monotonic() + 60
        while sink.prices < 2 * len(symbols):  # subscribed and two pushes through
            if time.monotonic() > deadline:
                raise RuntimeError("the stream did not deliver within 60 s")
            time.sleep(0.05)
        assert streams._thread.ident is not None and streams.raw_tickers is not None
        clock = time.pthread_getcpuclockid(streams._thread.ident)
        cpu0, taken0 = time.clock_gettime(clock), streams.raw_tickers.taken
        time.sleep(seconds)
        return (time.clock_gettime(clock) - cpu0, streams.raw_tickers.taken - taken0)
    finally:
        streams.stop()
        venue.stop()


class Markets:
    """What RawTickers reads of a ccxt.pro exchange: its id and markets."""

    id = "bybit"

    def __init__(self, symbols: list[str]) -> None:
        self.markets = {s: {"id": native(s)} for s in symbols}

    def handle_message(self, client: Any, message: Any) -> None:
        return None


def delivery_path(symbols: list[str], rounds: int) -> float:
    """CPU seconds per message of our own path: raw reader -> stream feed -> slots -> pacer."""
    slots = PriceSlots(symbols)
    for s in symbols:
        slots.get(s).publish_band(QuietBand(gt=Decimal("1"), lt=Decimal("2")))  # type: ignore[union-attr]
    mailbox: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()

    def deliver(symbol: str, message: Any) -> bool:
        mailbox.put((symbol, message))
        return True

    pacer = WakePacer(0.125, threaded=False)
    rest = MarketFeed(exchange=None, symbols=symbols, deliver=deliver,  # type: ignore[arg-type]
                      interval_s=1.0, own_prefix="bench", logger=logger, prices=slots,
                      quiet_wake_s=0.25, pace_quiet=pacer)
    feed = StreamFeed(rest=rest, stale_s=10.0, logger=logger, silent_s=30.0)
    reader = RawTickers(Markets(symbols), symbols, feed.on_tickers, lambda: None, logger)
    messages = [json.loads(json.dumps({
        "topic": f"tickers.{native(s)}", "type": "snapshot", "ts": 1,
        "data": {"symbol": native(s), "lastPrice": "1.2345", "turnover24h": "123456.7",
                 "markPrice": "1.2344", "indexPrice": "1.2343", "volume24h": "1000"}}))
        for s in symbols]
    cpu = 0.0
    for _ in range(rounds):
        c0 = time.thread_time()
        for m in messages:
            reader.take(m)
        pacer.flush()
        cpu += time.thread_time() - c0
        while not mailbox.empty():  # the actors take their prices (not measured)
            mailbox.get()
        for s in symbols:
            slot = slots.get(s)
            assert slot is not None
            slot.take_all()
            slot._woken_at = -1e9  # every round's prices wake again, as at every push
    return cpu / (rounds * len(symbols))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    logger.remove()
    symbols = [f"S{i:03d}/USDT:USDT" for i in range(args.symbols)]
    cpu, messages = socket_path(symbols, args.seconds)
    ours = delivery_path(symbols, args.rounds)
    print(f"=== stream_thread_cost ===  {args.symbols} symbols, push every 0.5 s")
    print(f"  socket + ccxt.pro + raw reader, counting sink: {cpu / messages * 1e6:.1f} us a "
          f"message ({messages:,} messages, {cpu:.2f} s CPU of the stream thread)")
    print(f"  our delivery (raw reader, stream feed, slots, pacer), no socket: "
          f"{ours * 1e6:.1f} us a message ({args.rounds} x {args.symbols} messages)")
    print(f"  sum {cpu / messages * 1e6 + ours * 1e6:.1f} us; machine load average (1 min) "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")


if __name__ == "__main__":
    main()
