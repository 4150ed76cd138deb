"""The stream feed's mode decisions on injected stream health (no sockets): a reconnect too
quick to be seen as "down" still gets its REST gap fill, and REST looks back from before the
streams' last message."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from loguru import logger

from actors.market_feed import MarketFeed
from actors.stream_feed import OVERLAP_MS, StreamFeed
from exchange.ccxt.streams import StreamHealth
from exchange.records import VenueFill, VenueOrder, VenueOrderStatus, VenueTicker

NOW = 1_800_000_000.0


class FakeStreams:
    def __init__(self) -> None:
        self.h = StreamHealth(connected=True, last_message_age_s=0.1, reconnects=0,
                              last_error="")
        self.reconnect_calls = 0

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def reconnect(self) -> None:
        self.reconnect_calls += 1

    def health(self) -> StreamHealth:
        return self.h


def _fill(i: int, ts_ms: int) -> VenueFill:
    return VenueFill(id=f"t{i}", order_id=f"o{i}", client_order_id=f"main-x-{i}",
                     symbol="BTC/USDT:USDT", side="buy", price=Decimal("1"), amount=Decimal("1"),
                     timestamp=ts_ms)


class NoTickers:
    """The REST side's exchange: a ticker call answers nothing (prices are not tested here)."""

    def fetch_tickers(self, symbols: list[str]) -> dict:
        return {}


class Rig:
    def __init__(self) -> None:
        self.venue_fills: list[VenueFill] = []
        self.asked_since: list[int] = []
        self.delivered: list[tuple[str, object]] = []

        def fetch(since: int) -> list[VenueFill]:
            self.asked_since.append(since)
            return [f for f in self.venue_fills if (f.timestamp or 0) >= since]

        self.rest = MarketFeed(exchange=NoTickers(),  # type: ignore[arg-type]
                               symbols=["BTC/USDT:USDT"],
                               deliver=self.deliver, interval_s=1, own_prefix="main-x-",
                               logger=logger, clock=lambda: NOW, fetch_fills=fetch)
        self.streams = FakeStreams()
        self.mono = 100.0
        self.feed = StreamFeed(rest=self.rest, stale_s=2.0, logger=logger, clock=lambda: NOW,
                               monotonic=lambda: self.mono).attach(self.streams)

    def deliver(self, symbol: str, message: object) -> bool:
        self.delivered.append((symbol, message))
        return True

    def cids(self) -> list[str]:
        return [c for _, m in self.delivered for c in getattr(m, "client_order_ids", ())]


def test_a_reconnect_never_seen_as_down_still_fills_the_gap_once():
    rig = Rig()
    rig.feed.check_once()
    assert rig.feed.mode == "stream"
    rig.feed.on_fills([_fill(1, int(NOW * 1000) - 1000)])  # seen on the stream
    rig.venue_fills = [_fill(1, int(NOW * 1000) - 1000), _fill(2, int(NOW * 1000) - 500)]
    rig.streams.h = replace(rig.streams.h, reconnects=1)  # socket replaced between two looks
    rig.feed.check_once()
    assert rig.feed.mode == "stream"
    assert rig.asked_since[-1] == int(NOW * 1000) - 1000 - OVERLAP_MS
    assert rig.cids() == ["main-x-1", "main-x-2"]  # the missed fill once, the seen one not again
    rig.feed.check_once()  # nothing new: no second gap fill
    assert len(rig.asked_since) == 2


def test_a_silent_connection_goes_to_rest_and_is_made_to_resubscribe():
    rig = Rig()
    rig.feed.check_once()
    rig.streams.h = replace(rig.streams.h, last_message_age_s=5.0)
    rig.feed.check_once()
    assert rig.feed.mode == "rest" and rig.streams.reconnect_calls == 0  # within stale_s of start
    rig.mono += 2.0
    rig.feed.check_once()
    assert rig.streams.reconnect_calls == 1
    rig.mono += 1.0
    rig.feed.check_once()
    assert rig.streams.reconnect_calls == 1  # at most once per stale_s
    rig.streams.h = replace(rig.streams.h, connected=False)
    rig.mono += 5.0
    rig.feed.check_once()
    assert rig.streams.reconnect_calls == 1  # disconnected: ccxt's own retry reconnects

def test_rest_looks_back_from_before_the_streams_last_message():
    rig = Rig()
    rig.feed.check_once()
    rig.streams.h = replace(rig.streams.h, connected=False)
    rig.feed.check_once()
    assert rig.feed.mode == "rest"
    assert rig.rest.since_ms == int(NOW * 1000) - OVERLAP_MS


def test_a_drop_back_within_the_grace_runs_no_rest_poll_only_the_gap_fill():
    """Found by a live soak review: the first check after a drop ran a whole REST poll (tickers,
    positions, a userTrades read per active Binance symbol, at polling priority) on the feed's
    one thread; under load it held it 6-10 s and was refused in the end, and only then did the
    feed see the streams back and read the gap. The first REST poll now waits REST_GRACE_S."""
    from actors.stream_feed import REST_GRACE_S

    rig = Rig()
    rig.feed.check_once()
    polls, gap_fills = rig.rest.polls, len(rig.asked_since)
    rig.streams.h = replace(rig.streams.h, connected=False)  # the socket dropped
    rig.feed.check_once()
    assert rig.feed.mode == "rest" and rig.rest.polls == polls  # no REST poll yet
    rig.mono += REST_GRACE_S / 2
    rig.streams.h = replace(rig.streams.h, connected=True, reconnects=1, last_message_age_s=0.1)
    rig.feed.check_once()  # back within the grace: the gap fill, then the streams again
    assert rig.feed.mode == "stream" and rig.rest.polls == polls
    assert len(rig.asked_since) == gap_fills + 1
    rig.streams.h = replace(rig.streams.h, connected=False)  # down again, this time for long
    rig.feed.check_once()
    rig.mono += REST_GRACE_S
    rig.feed.check_once()
    assert rig.feed.mode == "rest" and rig.rest.polls == polls + 1  # REST stands in after it


def test_a_reconnect_never_seen_as_down_counts_as_up_only_once_its_gap_is_read():
    """The streams count as up only after the gap fill (README, Streams): also when the
    reconnect was not seen as "down" (the feed's thread was in a REST call). Its mode stayed
    'stream' while the gap fill failed: the stop watch at its slow pace, the reconciliation of
    flat symbols skipped, the status reading 'stream', with an outage's fills unread."""
    rig = Rig()
    rig.feed.check_once()
    assert rig.feed.mode == "stream"
    failing = rig.rest.fetch_fills

    def refused(since: int) -> list[VenueFill]:
        rig.asked_since.append(since)
        raise ConnectionError("503 Service Unavailable")

    rig.rest.fetch_fills = refused
    rig.streams.h = replace(rig.streams.h, reconnects=1)  # socket replaced between two looks
    rig.feed.check_once()
    assert rig.feed.mode == "rest"
    rig.rest.fetch_fills = failing
    rig.mono += 60.0  # past the retry
    rig.feed.check_once()
    assert rig.feed.mode == "stream" and rig.feed.resumed == 2


def test_a_socket_replaced_during_a_long_gap_fill_is_read_from_before_the_gap_fill():
    """The last healthy look was stamped when the gap fill returned, not when the streams were
    seen up. A gap fill can take tens of seconds (each read may wait up to 30 s for budget);
    a socket replaced meanwhile had its gap read from that late stamp less 30 s, so a fill
    made on the venue while no socket was open early in that gap fill was never delivered."""
    now = [NOW]
    venue_fills: list[VenueFill] = []
    asked: list[int] = []
    streams = FakeStreams()
    delivered: list[object] = []

    def fetch(since: int) -> list[VenueFill]:
        asked.append(since)
        if len(asked) == 1:  # the first gap fill waits 40 s for budget...
            now[0] += 40.0
            # ...and 5 s into it the socket drops and is replaced: this fill went to no socket
            venue_fills.append(_fill(1, int((NOW + 5.0) * 1000)))
            streams.h = replace(streams.h, reconnects=1)
            return []
        return [f for f in venue_fills if (f.timestamp or 0) >= since]

    rest = MarketFeed(exchange=NoTickers(),  # type: ignore[arg-type]
                      symbols=["BTC/USDT:USDT"], deliver=lambda s, m: delivered.append(m) or True,
                      interval_s=1, own_prefix="main-x-", logger=logger,
                      clock=lambda: now[0], fetch_fills=fetch)
    feed = StreamFeed(rest=rest, stale_s=2.0, logger=logger, clock=lambda: now[0],
                      monotonic=lambda: 100.0).attach(streams)
    feed.check_once()  # up: the first gap fill (40 s), during which the socket was replaced
    feed.check_once()  # the replaced socket's gap
    assert feed.mode == "stream"
    assert asked[-1] <= int((NOW + 5.0) * 1000)
    assert [c for m in delivered for c in getattr(m, "client_order_ids", ())] == ["main-x-1"]


def test_a_silence_that_ends_without_a_reconnect_still_gets_its_gap_read():
    """Mutation audit (helper z): with the down branch no longer opening the gap
    (stream_feed.check_once, `self._gap_open = True`), no test failed: every test's outage
    ended with a reconnect, which opens the gap too. A connection silent past stale_s that
    speaks again on the same sockets (before the feed made it resubscribe) then never had its
    silence's fills read from REST, and the feed stayed in 'rest' mode for good while nothing
    polled REST (the streams were up): the status said rest, and a fill of ours made during
    the silence reached no actor."""
    rig = Rig()
    rig.feed.check_once()
    assert rig.feed.mode == "stream"
    rig.streams.h = replace(rig.streams.h, last_message_age_s=5.0)  # silent past stale_s
    rig.feed.check_once()
    assert rig.feed.mode == "rest" and rig.streams.reconnect_calls == 0
    rig.venue_fills = [_fill(1, int(NOW * 1000) - 500)]  # made during the silence, unstreamed
    rig.streams.h = replace(rig.streams.h, last_message_age_s=0.1)  # speaks again, same socket
    rig.feed.check_once()
    assert rig.feed.mode == "stream"
    assert rig.cids() == ["main-x-1"]


@pytest.mark.parametrize("status", [VenueOrderStatus.CANCELED, VenueOrderStatus.EXPIRED,
                                    VenueOrderStatus.REJECTED])
def test_a_stop_the_order_stream_ends_without_a_fill_reaches_its_actor(status):
    """Mutation audit (helper z): with on_orders passing on CANCELED only (stream_feed.py,
    `order.status in _ENDED_WITHOUT_FILL`), no test failed: the emulators end a stop by
    cancelling it only. A stop the venue expired or rejected (no trade, so no fill message)
    then reached no actor: the position stood unprotected while our books called it
    protected, until the stop watch's next look (60 s while the streams are up)."""
    rig = Rig()
    rig.feed.check_once()
    stop = VenueOrder(id="s1", client_order_id="main-x-stop-1", symbol="BTC/USDT:USDT",
                      side="sell", type="market", status=status, amount=Decimal("1"))
    rig.feed.on_orders([stop])
    assert rig.cids() == ["main-x-stop-1"]  # the actor looks it up and protects again


def test_a_reconnect_never_seen_as_down_gives_each_symbol_silent_s_again():
    """Mutation audit (helper z): with the silent-symbol clock restarted only after a look that
    found the streams down (stream_feed.check_once, 'reconnected or not self._was_healthy'),
    no test failed. A socket replaced between two looks resubscribes every price topic; a
    quiet symbol whose last price was most of silent_s old then counted as silent before the
    new subscription had silent_s to carry it: a false 'no price while the stream is up'
    warning and REST ticker reads for it."""
    rig = Rig()
    feed = StreamFeed(rest=rig.rest, stale_s=2.0, logger=logger, clock=lambda: NOW,
                      monotonic=lambda: rig.mono, silent_s=10.0).attach(rig.streams)
    feed.check_once()
    feed.on_tickers([VenueTicker(symbol="BTC/USDT:USDT", last=Decimal("100"))])
    rig.mono += 9.0
    rig.streams.h = replace(rig.streams.h, reconnects=1)  # replaced between two looks
    feed.check_once()
    rig.mono += 5.0  # 14 s after the last price, 5 s after the new subscription
    assert feed.silent is not None and feed.silent.silent() == []
    rig.mono += 6.0  # silent_s after the new subscription with no price: silent
    assert feed.silent.silent() == ["BTC/USDT:USDT"]


def test_a_connection_back_after_a_long_outage_gets_stale_s_to_speak():
    """Mutation audit (helper z): with check_once no longer restarting the stale clock when a
    connection comes back (stream_feed.check_once, `self._last_reconnect = ...`), no test
    failed. The last message then still dates from before the outage, so the connection just
    opened counted as silent at once and was closed before its first message (the venue's
    snapshot follows the subscription a moment later): after every outage longer than
    stale_s the streams were made to resubscribe again and again, REST kept standing in, and
    each new dial counted against the venue's connection limits."""
    rig = Rig()
    rig.feed.check_once()
    rig.streams.h = replace(rig.streams.h, connected=False, last_message_age_s=0.5)
    rig.feed.check_once()
    rig.mono += 60.0  # a minute's outage, no message meanwhile
    rig.streams.h = replace(rig.streams.h, connected=True, reconnects=1,
                            last_message_age_s=60.5)  # back, its first message not yet in
    rig.feed.check_once()
    assert rig.streams.reconnect_calls == 0  # it has stale_s to speak
    rig.mono += 1.0
    rig.streams.h = replace(rig.streams.h, last_message_age_s=0.1)  # it speaks
    rig.feed.check_once()
    assert rig.feed.mode == "stream" and rig.streams.reconnect_calls == 0
