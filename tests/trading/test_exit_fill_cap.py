"""An exit fill larger than the position left in the books (trading/lifecycle.py `_exit_filled`)
is capped to it: the position closes once, booked with the P&L of the contracts it held, never
below zero contracts, and the fill's whole fee is booked. The venue filled more than our books
held (a reduce-only order is cut to the venue's position), so the books were short of a fill:
the excess is journaled (`FillExceedsPosition`, as the grid's `FillExceedsLeg`) instead of
vanishing without a trace."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from trading.commands import PlaceOrder
from trading.decide import SymbolCore
from trading.events import OrderAccepted, OrderFilled, PriceTicked, SignalRaised
from trading.model import Phase, Side, SymbolState


def _protected_long(core: SymbolCore):
    d = core.decide(SymbolState(symbol=core.rules.symbol), PriceTicked(price=D("100")), 1000.0)
    d = core.decide(d.state, SignalRaised(side=Side.LONG), 1001.0)
    (entry,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    d = core.decide(d.state, OrderFilled(client_order_id=entry.client_order_id, exchange_id="e",
                                         filled=D("1"), average=D("100"), fee=D("0.05")), 1002.0)
    (stop,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    d = core.decide(d.state, OrderAccepted(client_order_id=stop.client_order_id,
                                           exchange_id="s"), 1003.0)
    return d.state, stop


def test_a_stop_fill_larger_than_the_position_closes_it_once_with_the_capped_pnl():
    core = SymbolCore(make_rules())
    state, stop = _protected_long(core)
    d = core.decide(state, OrderFilled(client_order_id=stop.client_order_id, exchange_id="s",
                                       filled=D("1.5"), average=D("99"), fee=D("0.07"),
                                       complete=True), 1004.0)
    assert d.state.position is None and d.state.phase is Phase.FLAT
    (booked,) = d.ledger
    assert (booked.amount, booked.realized_pnl, booked.fee) == (D("1"), D("-1"), D("0.07"))
    (closed,) = [j for j in d.journal if j.type == "PositionClosed"]
    assert closed.net_pnl == D("-1") - D("0.05") - D("0.07") and closed.reason == "stop_loss"
    (excess,) = [j for j in d.journal if j.type == "FillExceedsPosition"]
    assert (excess.order, excess.amount, excess.contracts) == (stop.client_order_id, D("1.5"),
                                                               D("1"))
    # the same report again (a reconciliation after it) books nothing more
    again = core.decide(d.state, OrderFilled(client_order_id=stop.client_order_id,
                                             exchange_id="s", filled=D("1.5"), average=D("99"),
                                             fee=D("0.07"), complete=True), 1005.0)
    assert not again.ledger and not again.journal


def test_a_stop_fill_after_part_of_the_position_closed_takes_only_what_is_left():
    core = SymbolCore(make_rules())
    state, stop = _protected_long(core)
    d = core.decide(state, SignalRaised(side=None, reason="exit"), 1004.0)
    (close,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    d = core.decide(d.state, OrderFilled(client_order_id=close.client_order_id, exchange_id="c",
                                         filled=D("0.6"), average=D("101"), fee=D("0.03")),
                    1005.0)
    assert d.state.position is not None and d.state.position.contracts == D("0.4")
    d = core.decide(d.state, OrderFilled(client_order_id=stop.client_order_id, exchange_id="s",
                                         filled=D("1"), average=D("99"), fee=D("0.04"),
                                         complete=True), 1006.0)
    assert d.state.position is None and d.state.phase is Phase.FLAT
    (booked,) = d.ledger
    assert (booked.amount, booked.realized_pnl) == (D("0.4"), D("-0.4"))
    (closed,) = [j for j in d.journal if j.type == "PositionClosed"]
    assert closed.realized_pnl == D("0.6") - D("0.4")
    assert [j.type for j in d.journal].count("FillExceedsPosition") == 1


def test_an_exit_fill_no_larger_than_the_position_journals_no_excess():
    core = SymbolCore(make_rules())
    state, stop = _protected_long(core)
    d = core.decide(state, OrderFilled(client_order_id=stop.client_order_id, exchange_id="s",
                                       filled=D("1"), average=D("99"), fee=D("0.07"),
                                       complete=True), 1004.0)
    assert d.state.position is None
    assert "FillExceedsPosition" not in [j.type for j in d.journal]
