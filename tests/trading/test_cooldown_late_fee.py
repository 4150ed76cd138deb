"""A close whose fee the venue tells only later (every Binance close: its create answer carries no
fee, trading/late_fees.py) is a losing close once that fee makes its net negative, and the
symbol cools down as after any losing close (README: "After a losing close the symbol cools
down"). Before the fix the cooldown was decided at the close with the exit fee missing: a
close whose gross profit covered the entry fee but not both fees opened the next position at
once. Pure one-way core, driven through `decide`."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_partial_fills import Core
from trading.commands import PlaceOrder
from trading.events import ExchangeOrder, FeesLooked, OrderAccepted, OrderFilled, SignalRaised
from trading.model import OrderPurpose, Phase, Side


def _closed_with_fee_unknown(c: Core):
    entry = c.entry()
    c.send(OrderFilled(client_order_id=entry.client_order_id, exchange_id="x1", filled=D(1),
                       average=D(100), fee=D("0.02"), complete=True))
    (stop,) = c.placed(OrderPurpose.STOP)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="x2"))
    c.send(SignalRaised(side=None, reason="strategy_exit"))
    (close,) = c.placed(OrderPurpose.CLOSE)
    d = c.send(OrderFilled(client_order_id=close.client_order_id, exchange_id="x3", filled=D(1),
                           average=D("100.04"), fee=D(0), complete=True, fee_known=False))
    (closed,) = [j for j in d.journal if j.type == "PositionClosed"]
    assert D(closed.data["net_pnl"]) == D("0.02")  # 0.04 gross - 0.02 entry fee: no loss yet
    assert c.state.phase is Phase.FLAT
    return close


def _entry_sent(c: Core) -> bool:
    c.send(SignalRaised(side=Side.LONG, signal_id="s1"))
    return any(isinstance(x, PlaceOrder) for x in c.last.commands)


def test_an_exit_fee_told_late_that_makes_the_close_a_loss_starts_the_cooldown():
    c = Core()
    close = _closed_with_fee_unknown(c)
    told = ExchangeOrder(client_order_id=close.client_order_id, exchange_id="x3",
                         status="closed", filled=D(1), average=D("100.04"), fee=D("0.05"))
    d = c.send(FeesLooked(orders={close.client_order_id: told}), at=c.now + 6)
    assert [e.fee for e in d.ledger] == [D("0.05")]
    assert c.state.cooldown_until > c.now
    assert not _entry_sent(c)
    assert "cooldown" in c.last.journal[-1].data["reason"]

