"""The stream feed's bookkeeping across gaps, with the real StreamFeed and MarketFeed and fakes
given through their constructors (a venue port, the streams' health, the clocks), driving the
production `check_once` / `on_fills` / `on_orders` / `poll_fills` paths:

- trade and order ids are per symbol (Binance numbers them per symbol): the same number on
  two symbols is two fills, two orders;
- a gap fill never starts days back (Bybit answers a start older than 7 days with the 7 days
  after it, and the outage's fills would be outside), and empty REST answers move the start on;
- a gap fill that fails is retried at a growing pace, logged at most once a minute, and the
  silent symbols' REST prices still go out meanwhile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from actors.market_feed import SINCE_LAG_MS, MarketFeed
from actors.messages import OrderActivity, Tick, Timer
from actors.stream_feed import GAP_LOOKBACK_MS, GAP_RECHECK_S, GAP_RETRY_MAX_S, StreamFeed
from exchange.records import VenueFill, VenueOrder, VenueOrderStatus, VenueTicker
from observability.poll_outage import REMINDER_S

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
DAY_MS = 86_400_000


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def _add(self, text: str, *args: object) -> None:
        self.lines.append(text.format(*args))

    warning = info = debug = error = _add


@dataclass
class Health:
    connected: bool = True
    last_message_age_s: float | None = 0.1
    reconnects: int = 0


class Streams:
    def __init__(self) -> None:
        self.now = Health()

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def reconnect(self) -> None: ...

    def health(self) -> Health:
        return self.now


class Venue:
    """The REST side: the fills answer (or a failure) and the tickers asked for."""

    def __init__(self) -> None:
        self.fills: list[VenueFill] = []
        self.fail: Exception | None = None
        self.asked_since: list[int] = []
        self.tickers_asked: list[list[str]] = []

    def fetch_fills(self, since_ms: int) -> list[VenueFill]:
        self.asked_since.append(since_ms)
        if self.fail is not None:
            raise self.fail
        return list(self.fills)

    def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, VenueTicker]:
        wanted = list(symbols or [BTC, ETH])
        self.tickers_asked.append(wanted)
        return {s: VenueTicker(symbol=s, last=Decimal(100)) for s in wanted}


def fill(symbol: str, trade_id: str, cid: str, ts: int = 1) -> VenueFill:
    return VenueFill(id=trade_id, order_id="8389765", client_order_id=cid, symbol=symbol,
                     side="buy", price=Decimal(1), amount=Decimal(1), timestamp=ts)


def rig(now_s: float = 1_700_000_000.0, silent_s: float | None = None) -> tuple[
        StreamFeed, Venue, list[tuple[str, Any]], Clock, Clock, Lines]:
    venue, got, wall, mono, log = Venue(), [], Clock(now_s), Clock(1000.0), Lines()
    rest = MarketFeed(exchange=venue, symbols=[BTC, ETH],  # type: ignore[arg-type]
                      deliver=lambda s, m: got.append((s, m)) or True, interval_s=1.0,
                      own_prefix="p-", logger=log, clock=wall, fetch_fills=venue.fetch_fills)
    feed = StreamFeed(rest=rest, stale_s=10.0, logger=log, silent_s=silent_s, clock=wall,
                      monotonic=mono).attach(Streams())
    return feed, venue, got, wall, mono, log


def test_the_same_trade_number_on_two_symbols_is_two_fills_and_each_is_delivered_once():
    feed, venue, got, *_ = rig()
    feed.on_fills([fill(BTC, "700123456", "p-btc")])
    feed.on_fills([fill(ETH, "700123456", "p-eth")])  # Binance: its own counter per symbol
    assert [(s, m.client_order_ids) for s, m in got] == [(BTC, ("p-btc",)), (ETH, ("p-eth",))]
    assert feed.dropped_duplicates == 0
    venue.fills = [fill(BTC, "700123456", "p-btc"), fill(ETH, "700123456", "p-eth")]
    feed.rest.poll_fills()  # the REST gap fill sees both again: neither is delivered twice
    assert len(got) == 2


def test_the_same_order_number_on_two_symbols_is_two_orders():
    feed, _, got, *_ = rig()

    def canceled(symbol: str, cid: str) -> VenueOrder:
        return VenueOrder(id="4011", client_order_id=cid, symbol=symbol, side="sell",
                          type="market", status=VenueOrderStatus.CANCELED,
                          amount=Decimal(1), filled=Decimal(0))

    feed.on_orders([canceled(BTC, "p-stop-btc")])
    feed.on_orders([canceled(ETH, "p-stop-eth")])  # a removed stop: re-placed at once
    assert [(s, type(m)) for s, m in got] == [(BTC, OrderActivity), (BTC, Timer),
                                              (ETH, OrderActivity), (ETH, Timer)]


def test_an_algo_stop_and_an_order_with_the_same_number_are_two_orders():
    """Binance numbers algo (stop) orders apart from plain orders: the stop's algoId can be a
    number a plain order of the same symbol also has. Keyed by symbol and id alone, the stop's
    cancel after the order's looked like a repeat and was dropped: the stop gone unseen."""
    feed, _, got, *_ = rig()

    def canceled(cid: str, trigger: Decimal | None) -> VenueOrder:
        return VenueOrder(id="2148719", client_order_id=cid, symbol=BTC, side="sell",
                          type="market", status=VenueOrderStatus.CANCELED,
                          amount=Decimal(1), filled=Decimal(0), trigger_price=trigger)

    feed.on_orders([canceled("p-entry", None)])  # a plain order, orderId 2148719
    feed.on_orders([canceled("p-stop", Decimal(49000))])  # the stop, algoId 2148719
    assert [m.client_order_ids for _, m in got if isinstance(m, OrderActivity)] == [
        ("p-entry",), ("p-stop",)]
    assert feed.dropped_duplicates == 0
    feed.on_orders([canceled("p-stop", Decimal(49000))])  # its repeat is still one
    assert feed.dropped_duplicates == 1


def test_a_fill_the_venue_lists_after_the_gap_fill_read_is_delivered_by_its_second_read():
    """The gap fill read the venue's trades once, right at the reconnect; a fill made just
    before it that the venue listed a moment later (Binance's userTrades lag the fills) was in
    no stream message and in no read: a grid level's fill waited for the periodic reconcile
    (300 s while the streams are up). The gap is read once more GAP_RECHECK_S later."""
    feed, venue, got, wall, mono, _ = rig()
    feed.check_once()  # the start-up gap fill: nothing yet
    assert feed.mode == "stream"
    filled_ms = int(wall.t * 1000) - 500  # filled before the read, listed after it
    venue.fills = [fill(BTC, "9", "p-BTC-3l", ts=filled_ms)]
    wall.t += GAP_RECHECK_S
    mono.t += GAP_RECHECK_S
    feed.check_once()
    assert [(s, m.client_order_ids) for s, m in got if isinstance(m, OrderActivity)] == [
        (BTC, ("p-BTC-3l",))]
    asked = len(venue.asked_since)
    for _ in range(3):
        mono.t += GAP_RECHECK_S
        feed.check_once()
    assert len(venue.asked_since) == asked  # once a gap, not at every look


def test_a_gap_fill_after_a_week_without_fills_starts_an_hour_back_not_a_week():
    feed, venue, _, wall, _, _ = rig()
    feed.on_fills([fill(BTC, "1", "p-a", ts=int(wall.t * 1000))])
    feed.check_once()  # healthy: the start-up gap fill, stream mode
    assert feed.mode == "stream"
    wall.t += 8 * 86_400  # eight quiet days on the stream
    feed.check_once()
    feed.streams.now = Health(reconnects=1)  # type: ignore[union-attr]
    feed.check_once()  # resubscribed: the gap's fills from REST
    healthy_ms = int(wall.t * 1000)
    start = venue.asked_since[-1]
    assert healthy_ms - GAP_LOOKBACK_MS - 30_000 <= start <= healthy_ms - 10_000, \
        (healthy_ms - start) / DAY_MS


def test_empty_rest_answers_move_the_start_on_so_it_never_falls_days_behind():
    feed, venue, _, wall, _, _ = rig()
    feed.rest.poll_once()
    wall.t += 8 * 86_400  # REST only (streams down), nothing traded for eight days
    feed.rest.poll_once()
    feed.rest.poll_once()
    assert venue.asked_since[-1] >= int(wall.t * 1000) - SINCE_LAG_MS
    quiet_since = venue.asked_since[-1]
    wall.t += 600  # ten minutes later a page of trades comes back (the rest may follow it)
    venue.fills = [fill(BTC, str(i), "p-x", ts=quiet_since + 1_000 * (i + 1)) for i in range(50)]
    feed.rest.poll_once()
    feed.rest.poll_once()
    newest = quiet_since + 50_000
    # not now - 60 s: the page's tail is kept (within SINCE_LAG_MS of its newest trade)
    assert venue.asked_since[-1] == max(quiet_since, newest - SINCE_LAG_MS) == quiet_since


def test_a_trade_the_venue_lists_late_with_an_older_time_is_still_read():
    """The next poll started 5 s before the newest trade read: a trade the venue listed later
    than a newer one (Binance's userTrades lag its fills; one symbol's trades come after
    another's) with a time more than 5 s older was never asked for again (reconciliation
    found its fill 30 s later). The window now starts SINCE_LAG_MS before the newest trade."""
    feed, venue, got, wall, _, _ = rig()
    now_ms = int(wall.t * 1000)
    listed = [fill(ETH, "1", "p-ETH-1e", ts=now_ms - 1_000)]
    feed.rest.fetch_fills = lambda since: [  # the venue answers trades from `since` on
        f for f in listed if (f.timestamp or 0) >= since]
    feed.rest.poll_once()
    wall.t += 1.0
    listed.append(fill(BTC, "7", "p-BTC-1e", ts=now_ms - 20_000))  # listed late
    feed.rest.poll_once()
    assert [(s, m.client_order_ids) for s, m in got if isinstance(m, OrderActivity)] == [
        (ETH, ("p-ETH-1e",)), (BTC, ("p-BTC-1e",))]
    feed.rest.poll_once()  # read again in the overlap: delivered once
    assert len([m for _, m in got if isinstance(m, OrderActivity)]) == 2


def test_a_source_that_lists_known_trades_again_does_not_hold_the_start_back():
    """A fills source that does not skip what it answered before (the paper exchange's
    fetch_my_trades, any port without poll_updates) lists the last trade at every poll: the
    answer was never empty, so the start stayed before that trade for good, re-reading it
    (and all of its minute) at every poll, for days. An answer with nothing new moves the
    start on as an empty one does."""
    feed, venue, got, wall, _, _ = rig()
    traded_ms = int(wall.t * 1000) - 1_000
    venue.fills = [fill(BTC, "1", "p-BTC-1e", ts=traded_ms)]
    feed.rest.poll_once()
    wall.t += 3_600  # an hour later, nothing traded since
    feed.rest.poll_once()
    feed.rest.poll_once()
    assert venue.asked_since[-1] >= int(wall.t * 1000) - SINCE_LAG_MS - 1_000
    assert len([m for _, m in got if isinstance(m, OrderActivity)]) == 1


def test_a_failing_gap_fill_backs_off_logs_once_a_minute_and_silent_symbols_keep_prices():
    feed, venue, got, wall, mono, log = rig(silent_s=60.0)
    venue.fail = ConnectionError("503 Service Unavailable")
    feed.on_unstreamed([ETH])  # the venue refused ETH's ticker topic
    for _ in range(300):  # 30 s of checks every 0.1 s
        feed.check_once()
        mono.t += 0.1
        wall.t += 0.1
    tries = len(venue.asked_since)
    assert 3 <= tries <= 8, tries  # 1, 2, 4, 8, 16 s apart: not 300 tries
    assert len([x for x in log.lines if "could not be read from REST" in x]) == 1
    assert feed.mode == "rest"  # the streams count as up only after the gap is read
    assert sum(1 for s, m in got if s == ETH) >= 20  # ETH's REST price, once a second
    start = venue.asked_since[0]
    assert set(venue.asked_since) == {start}  # every retry from the same start
    venue.fail = None
    mono.t += 30
    feed.check_once()
    assert feed.mode == "stream" and venue.asked_since[-1] == start


def test_fills_reach_the_actor_in_the_order_they_happened_on_both_paths():
    """A take-profit, the next level's add, then the old stop (tests/trading/test_fill_order.py):
    the actor looks the orders up in the order they are listed, so the list is in fill order,
    not sorted by id (which put '-21s' first and '-100t' before '-99a'). Bybit's REST list is
    newest first; the stream may batch several executions in one message."""
    feed, venue, got, *_ = rig()
    feed.on_fills([fill(ETH, "3", "p-ETH-21s", ts=3_000), fill(ETH, "1", "p-ETH-99t", ts=1_000),
                   fill(ETH, "2", "p-ETH-100a", ts=2_000)])
    assert [m.client_order_ids for _, m in got] == [("p-ETH-99t", "p-ETH-100a", "p-ETH-21s")]
    got.clear()
    venue.fills = [fill(BTC, "13", "p-BTC-21s", ts=3_000), fill(BTC, "12", "p-BTC-100a", ts=2_000),
                   fill(BTC, "11", "p-BTC-99t", ts=1_000)]  # newest first, as Bybit lists
    feed.rest.poll_fills()
    assert [m.client_order_ids for _, m in got] == [("p-BTC-99t", "p-BTC-100a", "p-BTC-21s")]


def test_a_first_connection_late_after_start_gives_each_symbol_silent_s_to_show_up():
    """The venue's streams come up 90 s after the feed was built (an outage at startup): no
    symbol is 'silent while the stream is up' at its first look; before, every symbol was
    (its clock ran from the feed's construction: a reconnect restarted it, the first
    connection, which counts no reconnect, did not), logged so and polled over REST."""
    feed, venue, _, wall, mono, log = rig(silent_s=60.0)
    feed.streams.now = Health(connected=False, last_message_age_s=None)  # type: ignore[union-attr]
    for _ in range(90):  # 90 s down: REST carries the prices
        feed.check_once()
        mono.t += 1.0
        wall.t += 1.0
    rest_calls = len(venue.tickers_asked)
    feed.streams.now = Health()  # type: ignore[union-attr] # up, reconnects still 0
    feed.check_once()
    assert feed.mode == "stream"
    assert feed.silent is not None and feed.silent.status()["silent"] == []
    assert not [x for x in log.lines if "no price for" in x]
    assert len(venue.tickers_asked) == rest_calls  # no REST price while the stream is up
    mono.t += 61.0  # and one the stream never carries is silent silent_s after the connection
    wall.t += 61.0
    feed.on_tickers([VenueTicker(symbol=BTC, last=Decimal(101))])
    feed.check_once()
    assert feed.silent.status()["silent"] == [ETH]


class RacingVenue(Venue):
    """A REST ticker answer during which the price stream delivers a newer price."""

    def __init__(self) -> None:
        super().__init__()
        self.meanwhile: Any = None

    def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, VenueTicker]:
        answer = super().fetch_tickers(symbols)  # the venue's price when it answered: 100
        if self.meanwhile is not None:
            self.meanwhile()
        return answer


@pytest.mark.parametrize("path", ["rest poll", "silent poll"])
def test_a_rest_price_is_not_delivered_after_a_newer_streamed_one(path):
    """While the streams count as down (a private socket) the public ticker stream may still
    carry prices, and REST polls them too; a streamed price that arrived while the REST call
    was on its way is newer than the REST answer, which reached the actor after it: its
    decisions went back in time (a trailing stop ratcheted by the newer price, then 'crossed'
    by the older one: a market close). Same for a silent symbol's REST price."""
    venue, got, wall, mono, log = RacingVenue(), [], Clock(1_700_000_000.0), Clock(1000.0), Lines()
    rest = MarketFeed(exchange=venue, symbols=[BTC, ETH],  # type: ignore[arg-type]
                      deliver=lambda s, m: got.append((s, m)) or True, interval_s=1.0,
                      own_prefix="p-", logger=log, clock=wall, fetch_fills=venue.fetch_fills)
    feed = StreamFeed(rest=rest, stale_s=10.0, logger=log, silent_s=60.0, clock=wall,
                      monotonic=mono).attach(Streams())
    venue.meanwhile = lambda: feed.on_tickers([VenueTicker(symbol=BTC, last=Decimal(101))])
    if path == "rest poll":
        feed.streams.now = Health(connected=False)  # type: ignore[union-attr]
    else:
        feed.on_unstreamed([BTC])  # BTC silent: its price over REST while the streams are up
    feed.check_once()
    assert venue.tickers_asked, "no REST price was asked"
    btc = [m.price for s, m in got if s == BTC and isinstance(m, Tick)]
    assert btc == [Decimal(101)]  # the streamed price only: the REST one is older
    if path == "rest poll":
        assert [m.price for s, m in got if s == ETH and isinstance(m, Tick)] == [Decimal(100)]


def test_a_symbol_the_stream_carries_only_without_a_price_goes_silent_and_gets_rest_prices():
    """A stream ticker without a last price (ccxt's parser path: `convert.ticker` makes a
    zero, negative or NaN price None) delivers nothing, but it stamped the symbol as carried:
    the symbol never went silent, got no REST price and no line, and its actor decided on a
    frozen price for as long as the venue sent it so."""
    feed, venue, got, wall, mono, log = rig(silent_s=60.0)
    feed.check_once()
    assert feed.mode == "stream"
    for _ in range(61):  # ETH comes every second, always without a price
        feed.on_tickers([VenueTicker(symbol=BTC, last=Decimal(101)),
                         VenueTicker(symbol=ETH, last=None)])
        mono.t += 1.0
        wall.t += 1.0
        feed.check_once()
    assert feed.silent is not None and feed.silent.status()["silent"] == [ETH]
    assert [x for x in log.lines if "no price for" in x and ETH in x]
    assert venue.tickers_asked and all(asked == [ETH] for asked in venue.tickers_asked)
    assert any(s == ETH and isinstance(m, Tick) for s, m in got)


def test_a_gap_fill_failing_for_an_hour_is_said_once_with_a_reminder_and_when_it_is_read():
    """A REST outage after the streams came back: the gap fill failed at every try and said
    so once a minute, 60 warnings in an hour for as long as REST was down, and nothing said
    when it was read at last. Now: once, a reminder every 5 minutes, and one line with the
    outage's length when the gap is read."""
    feed, venue, _, wall, mono, log = rig()
    venue.fail = ConnectionError("503 Service Unavailable")
    for _ in range(3600):  # an hour of checks, one a second
        feed.check_once()
        mono.t += 1.0
        wall.t += 1.0
    said = [x for x in log.lines if "503" in x]
    assert 1 <= len(said) <= 3600 / REMINDER_S + 1, said
    venue.fail = None
    mono.t += GAP_RETRY_MAX_S
    feed.check_once()
    assert feed.mode == "stream"
    read = [x for x in log.lines if "were read" in x]
    assert len(read) == 1 and re.fullmatch(
        r"stream feed: the fills missed while the streams were down were read from REST "
        r"after \d+ failed tries over 36\d\d s", read[0]), log.lines[-3:]
