"""The funding feed (actors/funding_feed.py) with real hedge-grid actors (pykka, SQLite, the
paper exchange in hedge mode): each payment booked on the leg the venue names, once, across an
overlapping read and a restarted feed; payments handed in order per symbol; a payment on a
symbol no actor trades logged once, never silently dropped. The paper exchange has no funding,
so the feed reads a venue's payments from a stub port given to its constructor."""

from __future__ import annotations

import sqlite3
import threading
from decimal import Decimal as D
from pathlib import Path

from loguru import logger

from actors.funding_feed import FundingFeed, FundingPaid
from exchange.errors import NotSupported
from exchange.records import PositionSide, VenueFunding
from tests.actors.test_grid_actor import BTC, GridBot
from tests.exchange.paper.paper_support import ETH
from tests.support.waiting import wait_until

SOL = "SOL/USDT:USDT"


class VenuePayments:
    """A port that lists funding payments (what the ccxt gateway answers on a live venue)."""

    def __init__(self, payments: list[VenueFunding]) -> None:
        self.payments = payments
        self.asked: list[int | None] = []

    def fetch_funding_history(self, symbol=None, since=None, limit=None):  # noqa: ANN001, ANN201
        self.asked.append(since)
        return [p for p in self.payments if since is None or p.timestamp >= since]


def pay(record: str, fee: str, at_s: float, side: PositionSide | None, symbol: str = BTC):
    return VenueFunding(id=record, symbol=symbol, fee=D(fee), timestamp=int(at_s * 1000),
                        position_side=side)


def _funding_rows(bot: GridBot) -> list[tuple[str, str, str]]:
    with sqlite3.connect(bot.tmp / "bot.sqlite") as c:
        return c.execute("SELECT client_order_id, position_id, fee FROM fills "
                         "WHERE client_order_id LIKE 'funding-%' ORDER BY id").fetchall()


def test_grid_legs_get_their_funding_once(tmp_path: Path):
    bot = GridBot(tmp_path).start()
    try:
        bot.move("100")
        s = bot.state()
        assert s.long.is_open and s.short.is_open
        now = bot.clock()
        venue = VenuePayments([pay("a", "0.01", now + 1, PositionSide.LONG),
                               pay("b", "-0.01", now + 1, PositionSide.SHORT)])
        lines: list[str] = []
        sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
        try:
            feed = FundingFeed(exchange=venue, symbols=[BTC], deliver=bot.sup.tell,  # type: ignore[arg-type]
                               logger=logger, interval_s=0, clock=bot.clock)
            assert feed.poll_once() == 2
            venue.payments.append(pay("c", "0.5", now + 2, None, symbol=SOL))
            assert feed.poll_once() == 0  # overlap: a and b again, nothing handed twice
            feed.poll_once()
            assert sum("funding c on SOL/USDT:USDT" in line for line in lines) == 1
            bot.settle()
            again = FundingFeed(exchange=venue, symbols=[BTC], deliver=bot.sup.tell,  # type: ignore[arg-type]
                                logger=logger, interval_s=0, clock=bot.clock)
            assert again.poll_once() == 2  # a restarted feed hands them again ...
            bot.settle()
        finally:
            logger.remove(sink)
        # ... and the actor books each once, on the leg that paid it
        assert _funding_rows(bot) == [("funding-a", s.long.position_id, "0.01"),
                                      ("funding-b", s.short.position_id, "-0.01")]
        s = bot.state()
        assert (s.long.fees, s.short.fees) != (D(0), D(0))
        wait_until(lambda: bot.views[BTC].state.long.fees == s.long.fees, message="published")
    finally:
        bot.stop()


def test_the_feed_hands_each_symbols_payments_in_order_and_reads_on_from_the_newest():
    delivered: list[tuple[str, FundingPaid]] = []
    venue = VenuePayments([pay("2", "0.2", 999_000.0, None), pay("1", "0.1", 998_000.0, None),
                           pay("3", "0.3", 998_500.0, None, symbol=ETH)])
    clock = [1_000_000.0]
    feed = FundingFeed(exchange=venue, symbols=[BTC, ETH],  # type: ignore[arg-type]
                       deliver=lambda s, m: delivered.append((s, m)) or True, logger=logger,
                       interval_s=0, clock=lambda: clock[0], lookback_s=3600)
    assert venue.asked == [] and feed.since_ms == (1_000_000 - 3600) * 1000
    assert feed.poll_once() == 3
    btc = next(m for s, m in delivered if s == BTC)
    assert [p.record_id for p in btc.payments] == ["1", "2"]  # oldest first
    assert [(p.fee, p.at) for p in btc.payments] == [(D("0.1"), 998_000.0), (D("0.2"), 999_000.0)]
    assert feed.since_ms == 999_000_000  # the newest payment read (older than now - LAG_MS)
    clock[0] += 7200
    assert feed.poll_once() == 0 and len(delivered) == 2  # nothing new, nothing twice
    assert feed.since_ms == int((clock[0] - 900) * 1000)  # now - LAG_MS: the window moves on


def test_the_reads_start_is_kept_in_the_database_and_a_first_start_reads_from_now(tmp_path):
    # the first start of a database reads from then on (funding paid before the bot ran, on
    # positions it never held, is not its to book); a restart reads from where the last read
    # before it started (what was handed over may not have been committed when it was killed)
    from actors.funding_feed import MetaCursor
    from storage.repository import Repository

    repo = Repository(tmp_path / "bot.sqlite")
    try:
        venue = VenuePayments([pay("before", "0.1", 998_000.0, None)])
        clock = [1_000_000.0]
        delivered: list[str] = []

        def feed() -> FundingFeed:
            return FundingFeed(exchange=venue, symbols=[BTC],  # type: ignore[arg-type]
                               deliver=lambda s, m: delivered.extend(
                                   p.record_id for p in m.payments) or True,
                               logger=logger, interval_s=0, clock=lambda: clock[0],
                               cursor=MetaCursor(repo))

        first = feed()
        assert first.since_ms == 1_000_000_000 and first.poll_once() == 0
        venue.payments.append(pay("after", "0.2", 1_000_100.0, None))
        clock[0] = 1_000_200.0
        assert first.poll_once() == 1 and delivered == ["after"]
        restarted = feed()  # nothing in memory: the database says where to start
        assert restarted.since_ms == 1_000_000_000
        assert restarted.poll_once() == 1 and delivered == ["after", "after"]
        repo.set_meta("funding_since_ms", "garbage")  # unreadable: from now on, as at first
        clock[0] = 1_000_300.0
        said: list[str] = []
        sink = logger.add(lambda m: said.append(m.record["message"]), level="WARNING")
        try:
            assert feed().since_ms == 1_000_300_000
        finally:
            logger.remove(sink)
        # said, naming the key and the value: the downtime's payments are not booked
        assert [line for line in said if "funding_since_ms" in line and "garbage" in line]
    finally:
        repo.close()


class NoFundingReads:
    """A live venue whose funding payments the gateway does not read (ccxt's shapes differ per
    venue; exchange/ccxt/venue_records.py answers NotSupported for all but Bybit and Binance)."""

    def __init__(self) -> None:
        self.reads = 0
        self.thread: threading.Thread | None = None  # the feed's own thread (it reads)

    def fetch_funding_history(self, symbol=None, since=None, limit=None):  # noqa: ANN001, ANN201
        self.reads += 1
        self.thread = threading.current_thread()
        raise NotSupported("okx: funding payments are read on Bybit and Binance")


def test_a_venue_without_funding_reads_is_said_once_and_the_feed_stops():
    """It warned 'funding read failed' every interval for as long as the bot ran."""
    lines: list[str] = []
    sink = logger.add(lines.append, format="{message}", level="WARNING")
    venue = NoFundingReads()
    feed = FundingFeed(exchange=venue, symbols=[BTC],  # type: ignore[arg-type]
                       deliver=lambda s, m: True, logger=logger, interval_s=0.01)
    try:
        feed.start()
        # this feed's thread ends (not every "funding-feed" thread of the process: another
        # test's may still run)
        wait_until(lambda: venue.thread is not None and not venue.thread.is_alive(),
                   timeout=10, message="the feed's thread ends")
        assert venue.thread is not None and venue.thread.name == "funding-feed"
    finally:
        feed.stop()
        logger.remove(sink)
    assert venue.reads == 1
    assert [line for line in lines if "funding" in line] == [
        "funding payments are not read on this venue (okx: funding payments are read on Bybit "
        "and Binance): they are not booked in the ledger\n"]
