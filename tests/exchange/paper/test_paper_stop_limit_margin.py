"""A trigger limit order that fires but does not cross rests and reserves its margin, as a plain
resting limit does (found by a mutation audit: with that reservation left out, every paper and
backtest test passed, and the free balance counted the margin twice)."""

from __future__ import annotations

from decimal import Decimal as D

from exchange.paper import PaperExchange
from tests.exchange.paper.paper_support import ETH, Market


def test_a_fired_trigger_limit_that_rests_reserves_its_margin(
    ex: PaperExchange, market: Market
) -> None:
    order = ex.create_order(ETH, "limit", "buy", D("1"), D("3090"),
                            params={"triggerPrice": D("3100"), "triggerDirection": "above"})
    assert ex.fetch_balance().funds("USDT").used == 0  # waiting for its trigger: nothing held
    market.move(ETH, "3100")  # fires; the ask (3100.31) is above its 3090: it rests
    assert ex.fetch_order(order.id, ETH).status == "open"
    assert ex.fetch_positions() == []
    balance = ex.fetch_balance()
    assert balance.funds("USDT").used == D("618")  # 1 x 3090 / leverage 5
    assert balance.free("USDT") == D("10000") - D("618")
    market.move(ETH, "3080")  # fills as maker at its price: the reservation becomes margin
    assert ex.fetch_order(order.id, ETH).status == "closed"
    assert ex.fetch_balance().funds("USDT").used == D("618")
