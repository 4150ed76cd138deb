"""A REST outage while the streams are up and many symbols are silent is said once, not at
every REST poll of those symbols (found by review). More than 40 silent symbols are asked in one
all-symbol call every 10 s; a refused call rose to the stream feed thread's catch-all, a WARNING
'stream feed: REST poll failed' every 10 s for as long as REST was down (a flood in a long
outage); dry-run's price source said it failed and answered again twice every 10 s. Now: one
line when the outage starts, a reminder every 5 minutes, one line with its length when REST
answers again (observability/poll_outage.py). The real stream feed thread over the REST feed,
the paper exchange behind a FaultyExchange refusing the ticker read, the feed's own monotonic
clock moved by hand; dry-run: the real StreamedTickerSource thread."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from actors.market_feed import MarketFeed
from actors.stream_feed import StreamFeed
from exchange.ccxt.silent_symbols import SINGLE_CALLS_UP_TO
from exchange.ccxt.stream_tickers import StreamedTickerSource
from exchange.ccxt.stream_types import StreamHealth
from exchange.records import VenueTicker
from observability.poll_outage import REMINDER_S
from tests.actors.test_feed_poll_outage import Lines, Refused, RefusedTickers
from tests.support.clock import ManualClock
from tests.support.waiting import wait_until

SYMBOLS = [f"S{i}/USDT:USDT" for i in range(SINGLE_CALLS_UP_TO + 5)]


class StreamsUp:
    """The venue's streams, up and flowing (the symbols' prices are not on them)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def reconnect(self) -> None: ...

    def health(self) -> StreamHealth:
        return StreamHealth(connected=True, last_message_age_s=0.0, reconnects=0, last_error="")


def test_a_rest_outage_with_many_silent_symbols_is_said_once_and_when_it_ends(tmp_path: Path):
    venue = RefusedTickers(tmp_path, SYMBOLS, Refused("503 Service Unavailable"))
    log, mono = Lines(), ManualClock(1000.0)
    rest = MarketFeed(exchange=venue.exchange, symbols=SYMBOLS,  # type: ignore[arg-type]
                      deliver=lambda s, m: True, interval_s=0.5, own_prefix="main-x-",
                      logger=log, pace_quiet=False)
    feed = StreamFeed(rest=rest, stale_s=10.0, logger=log, silent_s=60.0,
                      monotonic=mono).attach(StreamsUp())
    feed.start()
    try:
        wait_until(lambda: feed.mode == "stream", message="stream mode")
        mono.advance(61)  # every symbol silent: one all-symbol call every 10 s
        wait_until(lambda: venue.refused == 1, message="the first refused call")
        for n in range(2, 31):  # 290 s more of the REST outage
            mono.advance(10)
            wait_until(lambda n=n: venue.refused == n, message=f"refused call {n}")
        said = log.about("503")
        assert len(said) == 1 and said[0][0] == "WARNING", said
        mono.advance(REMINDER_S - 290)  # a reminder at the long interval, no more
        wait_until(lambda: venue.refused == 31, message="refused call 31")
        assert len(log.about("503")) == 2, log.about("503")
        assert "still failing (31 in a row over 300 s)" in log.about("503")[-1][1]
        venue.failure = None
        mono.advance(10)
        wait_until(lambda: log.about("answer again"), message="the outage's end said")
        assert log.about("answer again") == [
            ("INFO", "stream: silent symbols' REST price polls answer again (31 failed "
                     "over 310 s)")]
    finally:
        feed.stop()
        venue.paper.close()


class Fetcher:
    def __init__(self) -> None:
        self.refused = 0
        self.failing = True

    def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, VenueTicker]:
        if self.failing and symbols is not None and len(symbols) > SINGLE_CALLS_UP_TO:
            self.refused += 1
            raise Refused("503 Service Unavailable")
        return {s: VenueTicker(symbol=s, last=Decimal("1"), quote_volume=None, timestamp=None)
                for s in symbols or SYMBOLS}


class PublicStreams:
    """The public ticker stream, up, carrying one symbol that is not ours."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def reconnect(self) -> None: ...

    def health(self) -> StreamHealth:
        return StreamHealth(connected=True, last_message_age_s=0.0, reconnects=0, last_error="")


def test_dry_run_prices_say_a_rest_outage_of_silent_symbols_once():
    """Dry-run: the silent symbols' call failed inside the source's poll (its outage line) and
    the next poll, with no call due, 'answered again': two lines every silent_s / 6."""
    fetcher, log = Fetcher(), Lines()
    source = StreamedTickerSource(fetcher, SYMBOLS, interval_s=0.02, stale_s=10.0,
                                  streams_for=PublicStreams, silent_s=0.6, logger=log)
    # the stream has priced a symbol: REST asks only for the silent ones from now on
    source.on_tickers([VenueTicker(symbol=SYMBOLS[0], last=Decimal("1"), quote_volume=None,
                                   timestamp=None)])
    seen: list[str] = []  # the source's own poll outage lines go to loguru
    sink = logger.add(lambda m: seen.append(m.record["message"]), level="INFO")
    source.start()
    try:
        wait_until(lambda: fetcher.refused >= 10, message="10 refused calls")
        said = [m for m in seen + [t for _, t in log.lines]
                if "503" in m or "answer again" in m]
        assert len(said) == 1, said
        fetcher.failing = False
        wait_until(lambda: log.about("answer again"), message="the outage's end said")
        assert fetcher.refused >= 10
    finally:
        logger.remove(sink)
        source.stop()
