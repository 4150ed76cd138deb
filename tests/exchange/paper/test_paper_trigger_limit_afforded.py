"""A trigger limit order whose margin is not free when it fires is rejected, as a trigger
market order is (tests/exchange/paper/test_paper_orders.py): neither filled nor left resting on
margin the account does not have. Mutation audit of exchange/paper/engine.py
(`Matcher.trigger`'s affordability check of a limit)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.exchange.paper.paper_support import BTC


def _dip(ex, price: str) -> None:  # type: ignore[no-untyped-def]
    ex.create_order(BTC, "market", "buy", D("0.05"))  # 600 USDT of margin: ~398 free at 60000
    ex.create_order(BTC, "limit", "buy", D("0.03"), D(price),  # ~343 USDT of margin and fee
                    {"triggerPrice": D("57000"), "triggerDirection": "below",
                     "clientOrderId": "dip"})


def test_a_fired_trigger_limit_that_would_rest_without_margin_is_rejected(
        make_exchange, market) -> None:  # type: ignore[no-untyped-def]
    ex = make_exchange(starting_balance=D("1000"))  # leverage 5
    _dip(ex, "56900")  # below the ask when it fires: it would rest
    market.move(BTC, "57000")  # the long lost 150 USDT on the way: ~248 free
    assert ex.fetch_order(None, BTC, {"clientOrderId": "dip"}).status == "rejected"
    assert ex.fetch_open_orders(BTC) == []
    assert ex.fetch_balance().funds("USDT").free >= 0


def test_a_fired_trigger_limit_that_would_cross_without_margin_is_rejected(
        make_exchange, market) -> None:  # type: ignore[no-untyped-def]
    ex = make_exchange(starting_balance=D("1000"))
    _dip(ex, "57500")  # above the ask when it fires: it would fill at once
    market.move(BTC, "57000")
    assert ex.fetch_order(None, BTC, {"clientOrderId": "dip"}).status == "rejected"
    assert [p.contracts for p in ex.fetch_positions([BTC])] == [D("0.05")]
    assert ex.fetch_balance().funds("USDT").free >= 0
