"""The paper exchange's clock stepping back (an NTP correction of the wall clock) must not move
a symbol's processed time back. Defect (found by review): an order placed or canceled after
the step committed the earlier time as the book's last processed time, so the next call walked
price points again that were already behind it, and a stop placed after them triggered on a
price from before it existed (filled at that stale price)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from exchange.paper import PaperExchange
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices


def test_a_stop_placed_after_a_clock_step_back_ignores_points_already_behind(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    prices = ScriptedPrices({BTC: D("60000")})
    t0 = clock.ms
    prices.add(BTC, t0 + 1000, "58000")  # a dip, already behind when the stop is placed
    prices.add(BTC, t0 + 2000, "59000")
    ex = PaperExchange(store_path=tmp_path / "paper.db", symbols=[BTC], price_source=prices,
                       clock=clock, slippage_bps=D(0))
    try:
        ex.create_order(BTC, "market", "buy", D("0.1"))
        clock.advance(3)
        assert ex.fetch_tickers([BTC])[BTC].last == D("59000")
        clock.advance(-2.5)  # the wall clock steps back
        stop = ex.create_order(BTC, "market", "sell", D("0.1"),
                               params={"stopLossPrice": D("58500")})
        clock.advance(3.5)
        order = ex.fetch_order(stop.id, BTC)
        assert order.status.value == "open", f"stop filled at {order.average}"
        assert [p.contracts for p in ex.fetch_positions([BTC])] == [D("0.1")]
    finally:
        ex.close()
