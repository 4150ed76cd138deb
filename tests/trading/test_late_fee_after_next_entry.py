"""A close's fee told late, after the next position opened, belongs to the closed position
(trading/lifecycle.py `book_late_fee`: the open position's fees only when the fee's order is of
that position). Mutation audit (helper y): with every late fee added to whatever position is
open, no test failed; the closed position's net then stayed a gain (no cooldown after what the
fee made a loss) and the next position carried a fee it never paid, so its own close's net and
cooldown came out wrong.

Rules of tests/trading/conftest.py (cooldown 120 s). Position A: long 1 @ 100, entry fee 0.02,
closed by the strategy at 100.04 with its fee unknown: net 0.04 - 0.02 = 0.02. Position B
enters at once: long 1 @ 100, fee 0.05. A's close fee 0.05 is told then: A's net 0.02 - 0.05
= -0.03 (a loss as of A's close: cooldown until A's close + 120); B's fees stay 0.05.
"""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_cooldown_late_fee import _closed_with_fee_unknown
from tests.trading.test_partial_fills import Core
from trading.events import ExchangeOrder, FeesLooked, OrderFilled, PriceTicked, SignalRaised
from trading.model import OrderPurpose, Phase, Side


def test_a_late_close_fee_goes_to_the_closed_position_not_the_next_one():
    c = Core()
    close = _closed_with_fee_unknown(c)
    closed_at = c.now
    a = c.state.closed
    assert a is not None and a.net == D("0.02")
    c.send(PriceTicked(price=D(100)))
    c.send(SignalRaised(side=Side.LONG))
    (entry,) = c.placed(OrderPurpose.ENTRY)
    c.send(OrderFilled(client_order_id=entry.client_order_id, exchange_id="x4", filled=D(1),
                       average=D(100), fee=D("0.05"), complete=True))
    b = c.state.position
    assert c.state.phase is Phase.OPEN and b is not None and b.position_id != a.position_id
    assert b.fees == D("0.05")
    told = ExchangeOrder(client_order_id=close.client_order_id, exchange_id="x3",
                         status="closed", filled=D(1), average=D("100.04"), fee=D("0.05"))
    d = c.send(FeesLooked(orders={close.client_order_id: told}))
    assert [(e.position_id, e.fee) for e in d.ledger] == [(a.position_id, D("0.05"))]
    assert c.state.position is not None and c.state.position.fees == D("0.05")
    assert c.state.closed is not None and c.state.closed.net == D("-0.03")
    assert c.state.cooldown_until == closed_at + 120
