"""Orders acted on at one price point act in the order the price reaches them, not oldest first.

Found by a long paper chaos run of the hedge grid (seed 23, 150 kills): a long leg's stop
(sell, trigger 3550.73, sized 0.15 to cover the leg and its resting level) and the level (buy
limit at 3570.85, placed after the stop) were both crossed by one price point at 3549.95. The
stop acted first (the older order): it closed the 0.09 leg, then the level filled and opened a
new 0.06 long that no stop covered until the bot placed one 162 ms later, and booked a stop-out
plus a fresh position where a venue fills the level on the way down and the stop then closes
both (0.15). The price passes the level's 3570.85 before it reaches the stop's 3550.73."""

from __future__ import annotations

from decimal import Decimal as D

from exchange.paper import PaperExchange
from tests.exchange.paper.paper_support import BTC

LONG = {"positionIdx": 1}


def test_a_level_crossed_before_the_stop_fills_first_and_the_stop_closes_both(
        make_exchange, market) -> None:
    hx: PaperExchange = make_exchange(hedge_mode=True)
    hx.create_order(BTC, "market", "buy", D("0.01"), params={**LONG, "clientOrderId": "leg"})
    # the stop first (older), sized for the leg and the level, then the level between them
    hx.create_order(BTC, "market", "sell", D("0.03"), params={
        **LONG, "clientOrderId": "stop", "reduceOnly": True, "stopLossPrice": D("59000")})
    hx.create_order(BTC, "limit", "buy", D("0.02"), D("59500"),
                    {**LONG, "clientOrderId": "level"})
    market.move(BTC, "58900")  # one point past both: 59500 is reached first on the way down
    trades = hx.fetch_my_trades(BTC)
    assert [(t.client_order_id, t.amount) for t in trades] == [
        ("leg", D("0.01")), ("level", D("0.02")), ("stop", D("0.03"))]
    assert hx.fetch_positions([BTC]) == []  # flat: nothing left without its stop


def test_on_the_way_up_the_lower_order_acts_first(make_exchange, market) -> None:
    """The mirror: a short leg's level (sell limit) below its stop (buy), one point past both."""
    hx: PaperExchange = make_exchange(hedge_mode=True)
    short = {"positionIdx": 2}
    hx.create_order(BTC, "market", "sell", D("0.01"), params={**short, "clientOrderId": "leg"})
    hx.create_order(BTC, "market", "buy", D("0.03"), params={
        **short, "clientOrderId": "stop", "reduceOnly": True, "stopLossPrice": D("61000")})
    hx.create_order(BTC, "limit", "sell", D("0.02"), D("60500"),
                    {**short, "clientOrderId": "level"})
    market.move(BTC, "61100")
    trades = hx.fetch_my_trades(BTC)
    assert [t.client_order_id for t in trades] == ["leg", "level", "stop"]
    assert hx.fetch_positions([BTC]) == []
