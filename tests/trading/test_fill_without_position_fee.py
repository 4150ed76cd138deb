"""An exit order that fills while no position is open in our books (the closed position's stop
whose cancel had not landed, filled by a venue that held more than our books did) was only
journaled (`FillWithoutPosition`): the fee the exchange charged for it never reached the ledger,
so the ledger no longer equalled the exchange's fills and the net P&L was high by that fee. It is
booked now, as the grid books its `FillWithoutLeg`: its quantity, price and whole fee, with no
P&L (the entry price of what it closed is not ours to know), under the position its order
belonged to. A fee that turns that closed position into a loss starts the cooldown as of the
close, and the protections, which recount a closed position from the ledger, count it a loss.
Pure one-way core, driven through `decide`; the protections' real ledger totals."""

from __future__ import annotations

from decimal import Decimal as D

from protections.ledger_feed import LedgerTotals
from tests.trading.test_partial_fills import Core
from trading.commands import PlaceOrder
from trading.events import OrderAccepted, OrderFilled, SignalRaised
from trading.model import OrderPurpose, Phase, Side


def _row(fill_id: int, entry, at: float) -> dict:
    return {"id": fill_id, "position_id": entry.position_id, "realized_pnl": entry.realized_pnl,
            "fee": entry.fee, "created_at": at}


def test_a_fill_without_position_books_its_fee_and_the_close_becomes_a_loss():
    c = Core()
    entry = c.entry()
    opened = c.send(OrderFilled(client_order_id=entry.client_order_id, exchange_id="x1",
                                filled=D(1), average=D(100), fee=D("0.02"), complete=True))
    (stop,) = c.placed(OrderPurpose.STOP)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="x2"))
    c.send(SignalRaised(side=None, reason="strategy_exit"))
    (close,) = c.placed(OrderPurpose.CLOSE)
    closed = c.send(OrderFilled(client_order_id=close.client_order_id, exchange_id="x3",
                                filled=D(1), average=D("100.04"), fee=D(0), complete=True))
    assert c.state.phase is Phase.FLAT and c.state.position is None
    assert c.state.cooldown_until <= c.now  # net +0.02: no loss, no cooldown
    position_id = closed.ledger[0].position_id

    stray = c.send(OrderFilled(client_order_id=stop.client_order_id, exchange_id="x2",
                               filled=D(1), average=D(99), fee=D("0.05"), complete=True))
    assert "FillWithoutPosition" in c.journal()
    (booked,) = stray.ledger
    assert (booked.client_order_id, booked.position_id, booked.side) == (
        stop.client_order_id, position_id, "sell")
    assert (booked.amount, booked.price, booked.fee, booked.realized_pnl) == (
        D(1), D(99), D("0.05"), D(0))
    assert c.state.cooldown_until > c.now  # the fee made the close a loss
    c.send(SignalRaised(side=Side.LONG, signal_id="s2"))
    assert not any(isinstance(x, PlaceOrder) for x in c.last.commands)

    # the same report again books nothing more
    again = c.send(OrderFilled(client_order_id=stop.client_order_id, exchange_id="x2",
                               filled=D(1), average=D(99), fee=D("0.05"), complete=True))
    assert not again.ledger

    totals = LedgerTotals()
    fills = [*opened.ledger, *closed.ledger]
    totals.apply([_row(i + 1, f, 1000.0) for i, f in enumerate(fills)],
                 [{"position_id": position_id, "status": "closed", "closed_at": 1001.0,
                   "close_reason": "strategy_exit", "symbol": "BTC/USDT:USDT"}], 1002.0)
    assert (totals.wins, totals.losses) == (1, 0)
    totals.apply([_row(3, booked, 1002.0)], [], 1003.0)
    assert (totals.wins, totals.losses) == (0, 1)
    assert totals.fees == D("0.07") and totals.net == D("0.04") - D("0.07")
