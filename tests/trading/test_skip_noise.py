"""Issue 16 item 17: a strategy entry skipped for a reason that persists (a cooldown, an open
position) is journaled when the reason changes, not on every price; external signals, which
each need their own answer, are always journaled."""

from __future__ import annotations

from decimal import Decimal as D

from trading.commands import PlaceOrder
from trading.decide import SymbolCore
from trading.events import OrderFilled, PriceTicked, SignalRaised
from trading.model import Side, SymbolState

from tests.trading.conftest import make_rules


def _skips(decision) -> list[str]:
    return [j.data["reason"] for j in decision.journal if j.type == "SignalSkipped"]


def test_a_persisting_skip_reason_is_journaled_once_and_again_when_it_changes():
    core = SymbolCore(make_rules(cooldown_after_loss_s=1000.0))  # set at 1000.0 by a loss
    state = SymbolState(symbol=core.rules.symbol, cooldown_until=2000.0)
    now, recorded = 1000.0, []
    state = core.decide(state, PriceTicked(price=D("100")), now).state
    for _ in range(50):  # the strategy asks on every price during the cooldown
        now += 1
        d = core.decide(state, SignalRaised(side=Side.LONG), now)
        state, recorded = d.state, recorded + _skips(d)
    assert len(recorded) == 1 and recorded[0].startswith("cooldown")
    # the cooldown ends: the entry goes through; while it is open the reason is a new one
    d = core.decide(state, SignalRaised(side=Side.LONG), 2001.0)
    (entry,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    state = core.decide(d.state, OrderFilled(client_order_id=entry.client_order_id, exchange_id="e",
                                             filled=entry.amount, average=D("100"), fee=D(0)), 2002.0).state
    later = []
    for i in range(20):
        d = core.decide(state, SignalRaised(side=Side.SHORT), 2003.0 + i)
        state, later = d.state, later + _skips(d)
    assert later == ["already open"]


def test_external_signals_are_journaled_every_time():
    core = SymbolCore(make_rules(cooldown_after_loss_s=1000.0))  # set at 1000.0 by a loss
    state = SymbolState(symbol=core.rules.symbol, cooldown_until=2000.0)
    state = core.decide(state, PriceTicked(price=D("100")), 1000.0).state
    n = 0
    for i in range(5):
        d = core.decide(state, SignalRaised(side=Side.LONG, signal_id=f"s{i}"), 1001.0 + i)
        state, n = d.state, n + len(_skips(d))
    assert n == 5
