"""A fill that flips a position opens the rest at the fill price, and the close books from that
entry (found by a mutation audit: a flip keeping the old side's entry passed every paper and
backtest test)."""

from __future__ import annotations

from decimal import Decimal as D

from exchange.paper import PaperExchange
from tests.exchange.paper.paper_support import BTC, Market


def test_a_flip_opens_the_rest_at_the_fill_price_and_books_the_old_side_once(
    ex: PaperExchange, market: Market
) -> None:
    ex.create_order(BTC, "market", "buy", D("0.01"))  # long 0.01 at 60006.0
    market.move(BTC, "61000")
    flip = ex.create_order(BTC, "market", "sell", D("0.03"))  # at 61000 - 1 bps: 60993.9
    assert flip.average == D("60993.9")
    assert ex.fetch_my_trades(BTC)[-1].realized_pnl == (D("60993.9") - D("60006.0")) * D("0.01")
    [position] = ex.fetch_positions([BTC])
    assert (position.side, position.contracts) == ("short", D("0.02"))
    assert position.entry_price == D("60993.9")
    market.move(BTC, "60000")
    ex.create_order(BTC, "market", "buy", D("0.02"), params={"reduceOnly": True})  # 60006.0
    assert ex.fetch_my_trades(BTC)[-1].realized_pnl == (D("60993.9") - D("60006.0")) * D("0.02")
    assert ex.fetch_positions() == []
