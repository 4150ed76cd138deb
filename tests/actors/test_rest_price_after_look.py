"""A streamed price that lands between a REST poll's look and its write into the slot is kept.

While the streams count as down (a private socket) the public ticker stream may still carry
prices, and REST polls them too; a REST price asked before a streamed one is older and is not
delivered after it (exchange/price_marks.py). The REST poll looked at the marks for every symbol
first and wrote the slots afterwards, one by one: a streamed price written in between (the
stream's thread runs whenever the interpreter switches, every 5 ms, and the look-to-write span
of a 500-symbol poll is milliseconds) was then overwritten by the older REST price, and the
actor decided on it: a trailing stop ratcheted by the newer price, then "crossed" by the older
one, is a market close. The look is now made under the slot's lock, at the write.

Real StreamFeed, MarketFeed and price slots; the stream thread's turn is played at the moment
the REST poll reaches the symbol's slot (a `PriceSlots` given to the feed's constructor).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from actors.market_feed import MarketFeed
from actors.price_slots import PriceSlot, PriceSlots
from actors.stream_feed import StreamFeed
from exchange.records import VenueTicker
from tests.actors.test_feed_gaps import BTC, ETH, Clock, Health, Lines, Streams, Venue


class StreamTurnAt(PriceSlots):
    """The slots; the first time the REST poll fetches `symbol`'s slot, the stream's thread
    takes its turn first (`turn`)."""

    def __init__(self, symbols: list[str], symbol: str) -> None:
        super().__init__(symbols)
        self.symbol = symbol
        self.turn: Callable[[], None] | None = None

    def get(self, symbol: str) -> PriceSlot | None:
        turn, self.turn = (self.turn, None) if symbol == self.symbol else (None, self.turn)
        if turn is not None:
            turn()
        return super().get(symbol)


@pytest.mark.parametrize("path", ["rest poll", "silent poll"])
def test_a_streamed_price_written_after_the_look_is_not_replaced_by_the_older_rest_price(path):
    venue, wall, mono, log = Venue(), Clock(1_700_000_000.0), Clock(1000.0), Lines()
    slots = StreamTurnAt([BTC, ETH], BTC)
    got: list[tuple[str, Any]] = []
    rest = MarketFeed(exchange=venue, symbols=[BTC, ETH],  # type: ignore[arg-type]
                      deliver=lambda s, m: got.append((s, m)) or True, interval_s=1.0,
                      own_prefix="p-", logger=log, clock=wall, fetch_fills=venue.fetch_fills,
                      prices=slots, pace_quiet=False)
    feed = StreamFeed(rest=rest, stale_s=10.0, logger=log, silent_s=60.0, clock=wall,
                      monotonic=mono).attach(Streams())
    if path == "rest poll":
        feed.streams.now = Health(connected=False)  # type: ignore[union-attr]
    else:
        feed.on_unstreamed([BTC])  # BTC silent: its price over REST while the streams are up
    # the REST answer (100) is in; the stream's 101 comes after it, before the slot write
    slots.turn = lambda: feed.on_tickers([VenueTicker(symbol=BTC, last=Decimal(101))])
    feed.check_once()
    assert venue.tickers_asked and slots.turn is None, "the REST poll did not run"
    btc = slots.get(BTC)
    assert btc is not None
    assert [t.price for t in btc.take_all(btc.generation)] == [Decimal(101)]
    if path == "rest poll":  # the other symbols' REST prices still go in
        eth = slots.get(ETH)
        assert eth is not None and [t.price for t in eth.take_all(eth.generation)] == [
            Decimal(100)]
