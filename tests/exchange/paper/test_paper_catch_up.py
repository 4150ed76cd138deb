"""Catching a symbol up to now: resting orders see every point, a chunk of time at a time;
with none resting only the last point is read (the same price, none of the rest built)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from exchange.paper import GeneratorPriceSource, PaperExchange
from exchange.paper.exchange import CATCH_UP_CHUNK_MS
from exchange.paper.prices import PriceSource
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices

SOL = "SOL/USDT:USDT"
HOUR_MS = 3_600_000


class RecordingPrices:
    """A price source passing another's answers on, recording how many points each held."""

    def __init__(self, inner: PriceSource) -> None:
        self.inner = inner
        self.answers: list[int] = []
        if hasattr(inner, "last_point"):
            self.last_point = self._last_point

    def initial_price(self, symbol: str) -> D:
        return self.inner.initial_price(symbol)

    def path(self, symbol: str, from_ms: int, to_ms: int) -> list[tuple[int, D]]:
        points = self.inner.path(symbol, from_ms, to_ms)
        self.answers.append(len(points))
        return points

    def _last_point(self, symbol: str, from_ms: int, to_ms: int) -> tuple[int, D] | None:
        point = self.inner.last_point(symbol, from_ms, to_ms)  # type: ignore[attr-defined]
        self.answers.append(point is not None)
        return point


def test_a_symbol_with_no_orders_reads_only_the_last_point(tmp_path: Path) -> None:
    clock = FakeClock()
    epoch = clock.ms - 6 * HOUR_MS  # a new symbol catches up from the store's epoch
    prices = RecordingPrices(GeneratorPriceSource(seed=1, step_ms=1000, epoch_ms=epoch))
    ex = PaperExchange(store_path=tmp_path / "p.db", symbols=[SOL], price_source=prices,
                       clock=clock)
    try:
        last = ex.fetch_tickers([SOL])[SOL].last
        assert prices.answers == [1]  # one point, not 21,600
        whole = GeneratorPriceSource(seed=1, step_ms=1000, epoch_ms=epoch).path(SOL, 0, clock.ms)
        assert last == ex.price_to_precision(SOL, whole[-1][1])
    finally:
        ex.close()


def test_resting_orders_see_every_point_read_a_chunk_at_a_time(tmp_path: Path) -> None:
    clock = FakeClock()
    scripted = ScriptedPrices({BTC: D("60000")})
    prices = RecordingPrices(scripted)
    ex = PaperExchange(store_path=tmp_path / "p.db", symbols=[BTC], price_source=prices,
                       clock=clock)
    try:
        ex.create_order(BTC, "market", "buy", D("0.01"))
        stop = ex.create_order(BTC, "market", "sell", D("0.01"), None,
                               {"stopLossPrice": D("59000")})
        start = clock.ms
        for i in range(1, 1440):  # two hours of points 5 s apart, one dip below the stop
            scripted.add(BTC, start + i * 5000, "58900" if i == 1000 else "60000")
        scripted.add(BTC, start + 1440 * 5000, "60500")
        clock.advance(7200)
        prices.answers.clear()
        assert ex.fetch_order(stop.id, BTC).status == "closed"
        [_, trade] = ex.fetch_my_trades(BTC)
        assert (trade.timestamp, trade.price) == (start + 5_000_000, D("58894.1"))
        assert ex.fetch_tickers([BTC])[BTC].last == D("60500")
        assert max(prices.answers) <= CATCH_UP_CHUNK_MS // 5000  # never the whole gap
    finally:
        ex.close()
