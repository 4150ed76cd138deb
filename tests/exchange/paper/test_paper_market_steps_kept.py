"""A market's steps are the instrument's, fixed when the paper store first lists it: a dry run
derives an unlisted symbol's steps from the live price, and a restart at a price across a power
of ten (ARB at 1.01, then 0.99) derived others (amount step 0.1, then 1). The position the
store kept (49.5) was then off the new step: its close and any new stop for it were refused
("not a multiple of 1"), a position the bot could neither close nor protect again."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from exchange.ccxt.tickers import LiveTickerSource
from exchange.paper import PaperExchange
from exchange.records import VenueTicker
from tests.exchange.paper.paper_support import FakeClock

ARB = "ARB/USDT:USDT"  # no known steps: derived from the price the books open at


class Venue:
    """The venue's public ticker, as the dry run's price source reads it."""

    def __init__(self, clock: FakeClock, last: str) -> None:
        self.clock = clock
        self.last = D(last)

    def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, VenueTicker]:
        return {ARB: VenueTicker(symbol=ARB, last=self.last, timestamp=self.clock.ms)}


def _dry_run(store: Path, clock: FakeClock, venue: Venue) -> PaperExchange:
    source = LiveTickerSource(venue, [ARB], clock_ms=lambda: clock.ms)  # polled by hand
    return PaperExchange(store_path=store, symbols=[ARB], price_source=source, clock=clock)


def test_a_restart_at_another_price_keeps_the_steps_the_position_was_opened_with(
    tmp_path: Path,
) -> None:
    clock, store = FakeClock(), tmp_path / "paper.db"
    venue = Venue(clock, "1.01")
    first = _dry_run(store, clock, venue)
    assert (first.market(ARB).amount_step, first.market(ARB).price_tick) == (D("0.1"), D("0.0001"))
    first.create_order(ARB, "market", "buy", D("49.5"))
    first.close()

    clock.advance(60)
    venue.last = D("0.99")
    second = _dry_run(store, clock, venue)
    try:
        market = second.market(ARB)
        assert (market.amount_step, market.price_tick) == (D("0.1"), D("0.0001"))
        stop = second.create_order(ARB, "market", "sell", D("49.5"), None,
                                   {"stopLossPrice": D("0.9"), "clientOrderId": "stop-2"})
        assert stop.status == "open"
        close = second.create_order(ARB, "market", "sell", D("49.5"), None, {"reduceOnly": True})
        assert close.filled == D("49.5") and second.fetch_positions() == []
    finally:
        second.close()


def test_a_flat_symbols_steps_follow_the_price_it_opens_at(tmp_path: Path) -> None:
    """Nothing of it to keep on its step: a store reused with other prices (a CSV file of
    another era) gets steps that fit them, not those of the first run."""
    clock, store = FakeClock(), tmp_path / "paper.db"
    venue = Venue(clock, "1.01")
    first = _dry_run(store, clock, venue)
    first.create_order(ARB, "market", "buy", D("49.5"))
    first.create_order(ARB, "market", "sell", D("49.5"), None, {"reduceOnly": True})
    first.close()

    venue.last = D("0.99")
    second = _dry_run(store, clock, venue)
    try:
        assert second.market(ARB).amount_step == D("1")
    finally:
        second.close()
