"""A short closed on the exchange while the bot looked away (by hand, a liquidation) is booked
with a short's P&L sign (trading/unbooked_fills.py `_book_exits`: times the side's sign).
Mutation audit (helper y): with the sign dropped, no test failed (every closed-elsewhere test
closes a long): a short's loss was booked as a gain of the same size, so the cooldown after a
loss, the daily loss limit and the stop-loss guard all missed it.

Short 1 @ 100 (entry fee 1 * 100 * 0.0005 = 0.05, tests/trading/scenario.py), protected. The
exchange lists no position; its trades show a buy by hand of 1 @ 103, fee 0.1: gross
(103 - 100) * 1 * -1 = -3, fees 0.15, net -3.15, a loss: cooldown 120 s from the close.
"""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.scenario import Scenario
from tests.trading.test_evidence_before_closing import empty_list
from trading.events import ExternalFill, PriceTicked, SignalRaised
from trading.model import Phase, Side


def test_a_short_closed_by_hand_above_its_entry_is_booked_as_a_loss(core):
    sc = Scenario(core)
    sc.send(PriceTicked(price=D("100")))
    sc.send(SignalRaised(side=Side.SHORT))
    assert sc.state.phase is Phase.OPEN and sc.state.active_stop() is not None
    sc.send(empty_list(sc))  # first a contradiction, then the evidence
    fills = (ExternalFill(client_order_id=None, side="buy", amount=D("1"), price=D("103"),
                          fee=D("0.1")),)
    d = sc.send(empty_list(sc, fills))
    (closed,) = [j for j in d.journal if j.type == "PositionClosed"]
    assert closed.data["reason"] == "closed_on_exchange"
    assert (D(closed.data["realized_pnl"]), D(closed.data["fees"]), D(closed.data["net_pnl"])) \
        == (D(-3), D("0.15"), D("-3.15"))
    (booked,) = d.ledger
    assert (booked.side, booked.amount, booked.realized_pnl) == ("buy", D(1), D(-3))
    assert sc.state.phase is Phase.FLAT and sc.state.cooldown_until == sc.now + 120
