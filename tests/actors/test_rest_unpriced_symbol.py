"""A symbol the REST ticker read leaves without a price is said, not skipped in silence.

The REST feed (streams off, or down) skipped a symbol whose ticker was missing from the answer
(a market being settled or delisted, a row the gateway could not read) or carried no last
price (the gateway makes a zero, negative or NaN price None), on every poll and without a
line: its actor went on deciding on its last price, its stop watched against a frozen mark,
and nothing but the status dump's growing `last_tick_age_s` told anyone. The stream feed
already says so of a symbol its stream stopped carrying (exchange/ccxt/silent_symbols.py).

Real MarketFeed and price slots; the venue port, logger and clock come through the
constructor.
"""

from __future__ import annotations

from decimal import Decimal

from actors.market_feed import UNPRICED_LINE_EVERY_S, MarketFeed
from actors.messages import TICK_READY
from actors.price_slots import PriceSlots
from exchange.records import VenueTicker

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Lines:
    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.infos: list[str] = []

    def warning(self, text: str, *args: object) -> None:
        self.warnings.append(text.format(*args))

    def info(self, text: str, *args: object) -> None:
        self.infos.append(text.format(*args))

    debug = error = info


class Venue:
    """The REST side: a ticker per symbol, `last` None where the venue gave no price, and no
    row at all for a symbol in `missing`."""

    def __init__(self) -> None:
        self.last: dict[str, Decimal | None] = {BTC: Decimal(100), ETH: Decimal(10),
                                                SOL: Decimal(1)}
        self.missing: set[str] = set()

    def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, VenueTicker]:
        return {s: VenueTicker(symbol=s, last=self.last[s]) for s in symbols or []
                if s not in self.missing}

    def fetch_fills(self, since_ms: int) -> list:
        return []


def rig() -> tuple[MarketFeed, Venue, Lines, Clock, list[tuple[str, object]]]:
    venue, log, clock, got = Venue(), Lines(), Clock(1_700_000_000.0), []
    feed = MarketFeed(exchange=venue, symbols=[BTC, ETH, SOL],  # type: ignore[arg-type]
                      deliver=lambda s, m: got.append((s, m)) or True, interval_s=1.0,
                      own_prefix="p-", logger=log, clock=clock, fetch_fills=venue.fetch_fills,
                      prices=PriceSlots([BTC, ETH, SOL]), pace_quiet=False)
    return feed, venue, log, clock, got


def test_a_symbol_without_a_rest_price_is_said_once_per_spell_and_when_it_is_back():
    feed, venue, log, clock, got = rig()
    venue.last[ETH] = None  # a garbled last price (the gateway makes it None)
    venue.missing.add(SOL)  # no row for it at all
    for _ in range(5):
        feed.poll_once()
        clock.t += 1.0
    assert [s for s, m in got if m is TICK_READY] == [BTC]  # (one wake, still pending)
    eth = [line for line in log.warnings if ETH in line]
    sol = [line for line in log.warnings if SOL in line]
    assert len(eth) == 1 and "no last price" in eth[0], log.warnings
    assert len(sol) == 1 and "not in the exchange's ticker answer" in sol[0], log.warnings
    assert not any(BTC in line for line in log.warnings)

    venue.last[ETH] = Decimal(11)
    feed.poll_once()
    assert [line for line in log.infos if ETH in line and "again" in line], log.infos
    assert not [line for line in log.infos if SOL in line]
    assert feed.prices is not None and feed.prices.get(ETH).waiting  # type: ignore[union-attr]


def test_a_symbol_that_keeps_coming_and_going_is_said_at_most_once_an_hour():
    feed, venue, log, clock, _ = rig()
    for _ in range(10):  # a flapping row: missing one poll, there the next
        venue.missing = {ETH}
        feed.poll_once()
        clock.t += 1.0
        venue.missing = set()
        feed.poll_once()
        clock.t += 1.0
    assert len([line for line in log.warnings if ETH in line]) == 1, log.warnings
    assert len([line for line in log.infos if ETH in line]) == 1, log.infos
    clock.t += UNPRICED_LINE_EVERY_S
    venue.missing = {ETH}
    feed.poll_once()
    assert len([line for line in log.warnings if ETH in line]) == 2, log.warnings
