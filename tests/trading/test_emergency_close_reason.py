"""A position (or grid leg) the supervisor's emergency close closed is booked as
"emergency_close", not "closed_on_exchange" (defect: every live emergency close after an
escalation was booked as found closed on the exchange, which the stop-loss guard counts as a
stop-out, so a losing emergency close paused the symbol as a stop did, and the ledger, journal
and report never said the emergency close closed it)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.scenario import Scenario
from tests.trading.test_grid_core import Book
from tests.trading.test_grid_evidence import short_only_listed
from trading.client_ids import is_emergency
from trading.decide import SymbolCore
from trading.events import ExchangeOrder, ExternalFill, PriceTicked, Reconciled, SignalRaised
from trading.model import Side
from trading.stop_outs import STOPPED_OUT

EMERGENCY_CID = "acct-ab12-BTC-zl0a1b2cx"
"""runtime/emergency.py `_send`'s form: `<prefix><code>-z<side><6 hex digits>x`."""


def _closed_by(core: SymbolCore, cid: str | None) -> str:
    sc = Scenario(core)
    sc.send(PriceTicked(price=D("100")))
    sc.send(SignalRaised(side=Side.LONG))
    stop = sc.state.active_stop()
    d = sc.send(Reconciled(
        position=None,
        orders={stop.client_order_id: ExchangeOrder(
            client_order_id=stop.client_order_id, exchange_id="s", status="open",
            filled=D("0"), average=None, fee=D("0"))},
        external_fills=(ExternalFill(client_order_id=cid, side="sell", amount=D("1"),
                                     price=D("99.5"), fee=D("0.1")),),
        price=D("99.5")))
    (closed,) = [j for j in d.journal if j.type == "PositionClosed"]
    return str(closed.data["reason"])


def test_the_emergency_id_form_is_recognised():
    assert is_emergency(EMERGENCY_CID)
    assert not is_emergency("acct-ab12-BTC-12x") and not is_emergency(None)
    assert not is_emergency("trade-123")


def test_a_position_the_emergency_close_closed_is_booked_as_such(core):
    reason = _closed_by(core, EMERGENCY_CID)
    assert reason == "emergency_close" and reason not in STOPPED_OUT


def test_a_position_closed_by_hand_stays_closed_on_exchange(core):
    assert _closed_by(core, "trade-77") == "closed_on_exchange"


def test_a_grid_leg_the_emergency_close_closed_is_booked_as_such():
    b = Book()
    b.open_both()
    b.send(short_only_listed(b))
    fill = ExternalFill(client_order_id=EMERGENCY_CID, side="sell", amount=D(1), price=D(99),
                        fee=D("0.05"), position_side=Side.LONG)
    d = b.send(short_only_listed(b, (fill,)))
    (closed,) = [j for j in d.journal if j.type == "LegClosed"]
    assert closed.data["reason"] == "emergency_close"
