"""An external exit signal the actor cannot act on (no open position: flat, the entry still in
flight, or the position being closed already) is journaled as `SignalSkipped` with the reason,
as the README promises of every signal answered 202 and not acted on. It used to leave no
trace: the sender was told "accepted" and the journal showed only that it was handled."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from trading.commands import PlaceOrder
from trading.decide import SymbolCore
from trading.events import OrderFailed, PriceTicked, SignalRaised
from trading.model import Phase, Side, SymbolState


def _skips(decision) -> list:
    return [(j.side, j.reason, j.signal_id) for j in decision.journal
            if j.type == "SignalSkipped"]


def test_an_exit_while_flat_is_journaled_as_skipped():
    core = SymbolCore(make_rules())
    d = core.decide(SymbolState(symbol=core.rules.symbol), PriceTicked(price=D("100")), 1000.0)
    d = core.decide(d.state, SignalRaised(side=None, reason="signal:http", signal_id="s1"), 1001.0)
    assert _skips(d) == [(None, "no open position to exit", "s1")]
    assert d.commands == ()


def test_an_exit_while_the_entry_is_in_flight_is_journaled_as_skipped():
    core = SymbolCore(make_rules())
    d = core.decide(SymbolState(symbol=core.rules.symbol), PriceTicked(price=D("100")), 1000.0)
    d = core.decide(d.state, SignalRaised(side=Side.LONG), 1001.0)
    assert d.state.phase is Phase.ENTERING  # its send timed out: the outcome is unknown
    d = core.decide(d.state, SignalRaised(side=None, reason="signal:http", signal_id="s2"), 1002.0)
    (skip,) = _skips(d)
    assert skip[2] == "s2" and "entry is still in flight" in skip[1]
    (entry,) = [o for o in d.state.orders]
    d = core.decide(d.state, OrderFailed(client_order_id=entry.client_order_id, error="x",
                                         never_reached=True), 1003.0)
    assert d.state.phase is Phase.FLAT


def test_a_strategy_exit_while_flat_stays_quiet():
    core = SymbolCore(make_rules())
    d = core.decide(SymbolState(symbol=core.rules.symbol), SignalRaised(side=None), 1000.0)
    assert d.journal == () and not any(isinstance(c, PlaceOrder) for c in d.commands)
