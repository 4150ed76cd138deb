"""(c) of issue 12: seconds a position is unprotected after its stop disappears on the exchange.

A real SymbolActor (pykka thread, SQLite) holds a protected long through the real ccxt gateway
against the Bybit and Binance USDⓈ-M emulators on 127.0.0.1 (tests/exchange/ccxt/emu_*.py:
HTTP, signed requests, the venues' answer formats). The stop watch (actors/stop_watch.py) runs as
the account runs it, at `supervision.stop_check_interval_s`. Each round cancels the resting stop
inside the emulator (as an operator or the venue would) at a random phase of the watch's cycle
and measures, on the monotonic clock, until a new stop rests on the exchange. Target: < 2 s.

Two rows per venue:
- REST watch: the streams are down (or off), so the watch's 1 s look is what finds the removal;
- streams up (live mode's default): the real ccxt.pro streams against the venue's WebSocket
  emulator (same book) in front of the REST feed, as runtime/account.py wires them; the order
  stream reports the cancel, and the watch slows to `supervision.stop_check_streamed_interval_s`
  (60 s), so the stream is what finds it.

Without either the removal is found at the next periodic reconciliation: up to
`supervision.reconcile_interval_s` (30 s by default; 29 s in the issue's run). That case is not
re-measured here (one round would take up to 30 s).

    python bench/bench_unprotected.py [--rounds 12] [--interval 1.0] [--venues bybit binanceusdm]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from pathlib import Path

from common import fmt, header, pct, summary, table, write_json  # noqa: I001 - puts ROOT on path
from loguru import logger

from actors.market_feed import MarketFeed
from actors.messages import Timer
from actors.stop_watch import StopWatch
from actors.stream_feed import StreamFeed
from config.sections import ExchangeSettings, SupervisionSettings
from exchange.ccxt.factory import pro_exchange_factory
from exchange.ccxt.secrets import Credentials
from exchange.ccxt.streams import VenueStreams
from runtime.exchanges import fills_poller
from tests.actors.live_emulator import BTC, Live, live_long
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET
from tests.exchange.ccxt.ws_emu_binance import start_binance_ws
from tests.exchange.ccxt.ws_emu_bybit import start_bybit_ws

TARGET_S = 2.0


def _stop_ids(bot: Live) -> list[str]:
    return [o.oid for o in bot.stops()]


def _round(bot: Live, rng: random.Random, interval: float) -> float:
    deadline = time.monotonic() + 60
    while not bot.view().protected:  # the bot knows its stop rests (acknowledged)
        if time.monotonic() > deadline:
            raise RuntimeError("the stop was never acknowledged")
        time.sleep(0.002)
    time.sleep(rng.uniform(0, interval))  # a random phase of the watch's cycle
    with bot.book.lock:
        (stop,) = bot.stops()
        bot.book.cancel(stop)
        removed = time.monotonic()
    deadline = removed + 60
    while time.monotonic() < deadline:
        ids = _stop_ids(bot)
        if ids and ids != [stop.oid]:
            return time.monotonic() - removed
        time.sleep(0.002)
    raise RuntimeError("no new stop within 60 s")


class Heartbeat:
    """A `Timer` every supervision.heartbeat_interval_s (1 s by default), as the supervisor
    sends one to every running actor: the actor's time-driven duties (a stop retry) run on it."""

    def __init__(self, bot: Live, interval_s: float = 1.0) -> None:
        self.bot, self.interval_s = bot, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.bot.ref.tell(Timer())


class Streams:
    """The venue's streams in front of the REST feed, delivering to the live actor."""

    def __init__(self, bot: Live, venue: str) -> None:
        self.ws = (start_bybit_ws(bot.book, API_KEY, API_SECRET) if venue == "bybit"
                   else start_binance_ws(bot.book, bot.emu.venue))
        cid = bot.stops()[0].cid  # "main-<tag>-BTC-2s": the actor's own prefix
        rest = MarketFeed(exchange=bot.gateway, symbols=[BTC], deliver=bot.deliver,
                          interval_s=5.0, own_prefix=cid[:cid.index("BTC")], logger=logger,
                          fetch_fills=fills_poller(bot.gateway, [BTC]))
        self.feed = StreamFeed(rest=rest, stale_s=10.0, logger=logger, views=bot.views,
                               silent_s=ExchangeSettings().stream_symbol_silent_s)
        build = pro_exchange_factory(venue, Credentials(API_KEY, API_SECRET, source="bench"),
                                     api_url=bot.emu.base_url, ws_url=self.ws.url,
                                     timeout_ms=5000, meter=bot.gateway.meter)
        self.feed.attach(VenueStreams(build=build, symbols=[BTC], sink=self.feed,
                                      logger=logger, markets=bot.gateway.markets))

    def start(self) -> None:
        self.feed.start()
        deadline = time.monotonic() + 60
        while self.feed.mode != "stream":  # condition wait with a deadline
            if time.monotonic() > deadline:
                raise RuntimeError("streams did not come up")
            time.sleep(0.05)

    def up(self) -> bool:
        return self.feed.mode == "stream"

    def stop(self) -> None:
        self.feed.stop()
        self.ws.stop()


def run_venue(venue: str, rounds: int, interval: float, seed: int, streams: bool) -> dict:
    logger.remove()  # the actor's log lines would swamp the table
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp, live_long(Path(tmp), venue) as bot:
        feed = Streams(bot, venue) if streams else None
        watch = StopWatch(exchange=bot.gateway, views=bot.views, deliver=bot.deliver,
                          interval_s=interval, logger=logger,
                          streamed_interval_s=SupervisionSettings().stop_check_streamed_interval_s,
                          streams_ok=feed.up if feed is not None else lambda: False)
        heartbeat = Heartbeat(bot)  # the supervisor's Timer, as in the account
        parts: list = [p for p in (feed, watch, heartbeat) if p is not None]
        for part in parts:
            part.start()
        try:
            gaps = [_round(bot, rng, interval) for _ in range(rounds)]
            mode = feed.feed.mode if feed is not None else "rest"
        finally:
            for part in reversed(parts):
                part.stop()
        protected = bot.view().protected and bot.position() > 0
    return {"venue": venue, "streams": streams, "mode": mode, "rounds": rounds,
            "interval_s": interval, "gaps_s": gaps, "summary": summary(gaps),
            "p99_s": pct(gaps, 99), "max_s": max(gaps), "watch_calls": watch.checks,
            "still_protected": protected}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--interval", type=float, default=1.0,
                    help="supervision.stop_check_interval_s (default: the shipped 1.0)")
    ap.add_argument("--venues", nargs="+", default=["bybit", "binanceusdm"])
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    header("bench_unprotected", f"stop removed on the exchange -> new stop resting; "
           f"watch every {args.interval} s, {args.rounds} rounds per venue")
    results = [run_venue(v, args.rounds, args.interval, args.seed, streams)
               for v in args.venues for streams in (False, True)]
    rows = [[r["venue"], "streams up" if r["streams"] else "REST watch", r["mode"],
             fmt(r["summary"]["median"], "s"), fmt(r["p99_s"], "s"),
             fmt(r["max_s"], "s"), r["watch_calls"], "yes" if r["still_protected"] else "NO",
             "met" if r["max_s"] < TARGET_S else "MISSED"] for r in results]
    print(table("seconds unprotected after the stop disappears (target < 2 s)",
                ["venue", "row", "mode at end", "median", "p99", "max", "watch calls",
                 "protected at end",
                 "target"], rows))
    path = write_json("bench_unprotected", {"target_s": TARGET_S, "results": results})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
