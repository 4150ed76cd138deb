"""A replaced incarnation whose read of an exchange fact its fence refused decides nothing.

Found by review: right before each event is decided, the shell reads what only the exchange
knows (`with_exchange_facts`): the last price after a refused stop, the P&L the exchange
booked for a grid fill. Both reads took the fence's refusal (`Fenced`: the supervisor replaced
this incarnation) for an unreadable fact and went on: the replaced actor decided the event on
a stale price (a close or a new stop committed, then refused by the fence) or booked a fill
with a P&L of its own instead of the exchange's. Every other exchange call of the shell lets
`Fenced` through. Real hooks, a venue whose reads are fenced."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from loguru import logger

from actors.exchange_facts import with_market_price
from actors.grid_snapshot import with_exchange_pnl
from exchange.fence import Fenced
from trading.events import OrderFailed, OrderFilled
from trading.grid.model import GridKind, GridOrder, GridState
from trading.model import Order, OrderPurpose, Side, SymbolState

SYM = "BTC/USDT:USDT"


class ReplacedVenue:
    id = "replaced"

    def _refused(self, *_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise Fenced(f"{SYM}: actor incarnation 1 was replaced; its exchange call is not sent")

    fetch_tickers = fetch_my_trades = _refused


def test_a_fenced_price_read_after_a_refused_stop_ends_the_replaced_incarnation():
    stop = Order(client_order_id="main-t1-BTC-5s", purpose=OrderPurpose.STOP, side="sell",
                 amount=D(1), price=D(90), reduce_only=True)
    state = SymbolState(symbol=SYM, orders=(stop,))
    with pytest.raises(Fenced):
        with_market_price(ReplacedVenue(), state, OrderFailed(client_order_id="main-t1-BTC-5s",
                                                               error="refused"), logger)


def test_a_fenced_pnl_read_of_a_grid_fill_ends_the_replaced_incarnation():
    tp = GridOrder(client_order_id="main-t1-BTC-6t", purpose=GridKind.TP, side="sell",
                   amount=D(1), price=D(105), reduce_only=True, leg=Side.LONG)
    state = GridState(symbol=SYM, orders=(tp,))
    fill = OrderFilled(client_order_id="main-t1-BTC-6t", exchange_id="x6", filled=D(1),
                       average=D(105), fee=D("0.01"))
    with pytest.raises(Fenced):
        with_exchange_pnl(ReplacedVenue(), state, fill, logger)
