"""An exchange outage is said once by the REST feed, not at every poll (found by review: every
failed poll logged a warning, two lines a second per account at the default 0.5 s interval,
for as long as the venue was down). The feed's own round (`poll_round`, what its thread runs)
against the paper exchange behind a FaultyExchange that refuses the ticker read on demand."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from actors.market_feed import POLL_FAILING_REMINDER_S, MarketFeed
from actors.stream_feed import StreamFeed
from exchange.ccxt.stream_types import StreamHealth
from exchange.paper.exchange import PaperExchange
from exchange.paper.prices import GeneratorPriceSource
from tests.support.faulty_exchange import FaultyExchange
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


class Refused(Exception):
    pass


class TimedOut(Exception):
    pass


class Lines:
    """The feeds' logger: what they said, by level."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def warning(self, text: str, *args: object) -> None:
        self.lines.append(("WARNING", text.format(*args)))

    def info(self, text: str, *args: object) -> None:
        self.lines.append(("INFO", text.format(*args)))

    def bind(self, **_: Any) -> Lines:
        return self

    error = debug = warning

    def about(self, word: str) -> list[tuple[str, str]]:
        return [(level, text) for level, text in list(self.lines) if word in text]


class RefusedTickers:
    """The paper exchange for `symbols` behind a FaultyExchange whose ticker read raises
    `failure` while one is set (counted in `refused`)."""

    def __init__(self, tmp_path: Path, symbols: list[str],
                 failure: Exception | None = None) -> None:
        self.paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=symbols,
                                   price_source=GeneratorPriceSource(
                                       seed=3, step_ms=1000, speed=1.0,
                                       epoch_ms=int(time.time() * 1000) - 10_000),
                                   starting_balance=Decimal(1000))
        self.exchange = FaultyExchange(self.paper)
        self.exchange.before["fetch_tickers"] = self._refuse
        self.failure, self.refused = failure, 0

    def _refuse(self, name: str, args: Any, kwargs: Any) -> None:
        if self.failure is not None:
            self.refused += 1
            raise self.failure


def test_an_outage_is_one_line_a_reminder_and_one_line_when_it_ends(tmp_path: Path) -> None:
    venue = RefusedTickers(tmp_path, [BTC])
    now = [time.time()]
    log = Lines()
    feed = MarketFeed(exchange=venue.exchange, symbols=[BTC],  # type: ignore[arg-type]
                      deliver=lambda s, m: True, interval_s=0.5, own_prefix="main-x-",
                      logger=log, clock=lambda: now[0], pace_quiet=False)
    try:
        feed.poll_round()
        assert log.lines == []
        venue.failure = Refused("503 Service Unavailable")
        for _ in range(20):  # ten seconds of polls at the default interval
            feed.poll_round()
            now[0] += 0.5
        warned = [text for level, text in log.lines if level == "WARNING"]
        assert len(warned) == 1 and "503 Service Unavailable" in warned[0], log.lines
        venue.failure = TimedOut("read timed out")  # another kind of failure: said at once
        feed.poll_round()
        assert "read timed out" in log.lines[-1][1] and len(log.lines) == 2
        now[0] += POLL_FAILING_REMINDER_S
        feed.poll_round()  # a reminder while it lasts
        assert log.lines[-1][0] == "WARNING" and "still failing (22 in a row" in log.lines[-1][1]
        venue.failure = None
        feed.poll_round()
        assert log.lines[-1] == ("INFO", "market feed polls answer again (22 failed over "
                                         f"{10 + POLL_FAILING_REMINDER_S:.0f} s)")
        assert len(log.lines) == 4
        venue.failure = Refused("503 Service Unavailable")  # a new outage is said again
        feed.poll_round()
        assert len(log.lines) == 5 and "503" in log.lines[-1][1]
    finally:
        venue.paper.close()


class StreamsDown:
    """The venue's streams, down for good (the stream feed polls REST meanwhile)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def reconnect(self) -> None: ...

    def health(self) -> StreamHealth:
        return StreamHealth(connected=False, last_message_age_s=None, reconnects=0,
                            last_error="tickers: NetworkError: connection refused")


def test_an_outage_while_the_streams_are_down_is_said_once_too(tmp_path: Path) -> None:
    """The sibling on the streams' path: while the streams are down their feed polls REST
    itself (`check_once`), and every failed poll rose to its thread's catch-all, a WARNING
    'stream feed: REST poll failed' at every poll interval for as long as the venue was down
    (both the streams and REST: a venue outage). The real stream feed thread over the REST
    feed, against the paper exchange behind a FaultyExchange."""
    venue = RefusedTickers(tmp_path, [BTC], Refused("503 Service Unavailable"))
    log = Lines()
    rest = MarketFeed(exchange=venue.exchange, symbols=[BTC],  # type: ignore[arg-type]
                      deliver=lambda s, m: True, interval_s=0.02, own_prefix="main-x-",
                      logger=log, pace_quiet=False)
    feed = StreamFeed(rest=rest, stale_s=2.0, logger=log).attach(StreamsDown())
    feed.start()
    try:
        wait_until(lambda: venue.refused >= 20, message="20 refused polls")
        warned = [text for level, text in list(log.lines) if level == "WARNING"]
        assert len(warned) == 1 and "503 Service Unavailable" in warned[0], warned
        venue.failure = None
        wait_until(lambda: any(level == "INFO" for level, _ in list(log.lines)),
                   message="the line saying the polls answer again")
    finally:
        feed.stop()
        venue.paper.close()
