"""An exchange outage is said once by the REST feed, not at every poll (found by review: every
failed poll logged a warning, two lines a second per account at the default 0.5 s interval,
for as long as the venue was down). The feed's own round (`poll_round`, what its thread runs)
against the paper exchange behind a FaultyExchange that refuses the ticker read on demand."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

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
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def warning(self, text: str, *args: object) -> None:
        self.lines.append(("WARNING", text.format(*args)))

    def info(self, text: str, *args: object) -> None:
        self.lines.append(("INFO", text.format(*args)))

    error = debug = warning


def test_an_outage_is_one_line_a_reminder_and_one_line_when_it_ends(tmp_path: Path) -> None:
    paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC],
                          price_source=GeneratorPriceSource(
                              seed=3, step_ms=1000, speed=1.0,
                              epoch_ms=int(time.time() * 1000) - 10_000),
                          starting_balance=Decimal(1000))
    faulty = FaultyExchange(paper)
    failure: list[Exception | None] = [None]

    def refuse(name, args, kwargs):  # noqa: ANN001, ANN202
        if failure[0] is not None:
            raise failure[0]

    faulty.before["fetch_tickers"] = refuse
    now = [time.time()]
    log = Lines()
    feed = MarketFeed(exchange=faulty, symbols=[BTC],  # type: ignore[arg-type]
                      deliver=lambda s, m: True, interval_s=0.5, own_prefix="main-x-",
                      logger=log, clock=lambda: now[0], pace_quiet=False)
    try:
        feed.poll_round()
        assert log.lines == []
        failure[0] = Refused("503 Service Unavailable")
        for _ in range(20):  # ten seconds of polls at the default interval
            feed.poll_round()
            now[0] += 0.5
        warned = [text for level, text in log.lines if level == "WARNING"]
        assert len(warned) == 1 and "503 Service Unavailable" in warned[0], log.lines
        failure[0] = TimedOut("read timed out")  # another kind of failure: said at once
        feed.poll_round()
        assert "read timed out" in log.lines[-1][1] and len(log.lines) == 2
        now[0] += POLL_FAILING_REMINDER_S
        feed.poll_round()  # a reminder while it lasts
        assert log.lines[-1][0] == "WARNING" and "still failing (22 in a row" in log.lines[-1][1]
        failure[0] = None
        feed.poll_round()
        assert log.lines[-1] == ("INFO", "market feed polls answer again (22 failed over "
                                         f"{10 + POLL_FAILING_REMINDER_S:.0f} s)")
        assert len(log.lines) == 4
        failure[0] = Refused("503 Service Unavailable")  # a new outage is said again
        feed.poll_round()
        assert len(log.lines) == 5 and "503" in log.lines[-1][1]
    finally:
        paper.close()


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
    paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC],
                          price_source=GeneratorPriceSource(
                              seed=3, step_ms=1000, speed=1.0,
                              epoch_ms=int(time.time() * 1000) - 10_000),
                          starting_balance=Decimal(1000))
    faulty = FaultyExchange(paper)
    refused = [0]
    failing = [True]

    def refuse(name, args, kwargs):  # noqa: ANN001, ANN202
        if failing[0]:
            refused[0] += 1
            raise Refused("503 Service Unavailable")

    faulty.before["fetch_tickers"] = refuse
    log = Lines()
    rest = MarketFeed(exchange=faulty, symbols=[BTC],  # type: ignore[arg-type]
                      deliver=lambda s, m: True, interval_s=0.02, own_prefix="main-x-",
                      logger=log, pace_quiet=False)
    feed = StreamFeed(rest=rest, stale_s=2.0, logger=log).attach(StreamsDown())
    feed.start()
    try:
        wait_until(lambda: refused[0] >= 20, message="20 refused polls")
        warned = [text for level, text in list(log.lines) if level == "WARNING"]
        assert len(warned) == 1 and "503 Service Unavailable" in warned[0], warned
        failing[0] = False
        wait_until(lambda: any(level == "INFO" for level, _ in list(log.lines)),
                   message="the line saying the polls answer again")
    finally:
        feed.stop()
        paper.close()
