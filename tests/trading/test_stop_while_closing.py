"""A position whose close keeps failing stays protected on the exchange: a stop removed (or
filled in part) while the bot retries the close, or while the symbol is quarantined after the
close escalated, is placed again (incident 2: "the exchange stop is kept so the position stays
protected if the emergency close fails too")."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from tests.trading.conftest import make_rules
from trading.commands import PlaceOrder
from trading.decide import SymbolCore
from trading.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFailed,
    OrderFilled,
    PriceTicked,
    SignalRaised,
    TimerFired,
)
from trading.model import OrderPurpose, Phase, Side, SymbolState
from trading.stop_rules import stop_due


class Run:
    def __init__(self, core: SymbolCore) -> None:
        self.core, self.now = core, 1000.0
        self.state = SymbolState(symbol=core.rules.symbol)
        self.placed: list = []

    def send(self, event, dt: float = 0.5):
        self.now += dt
        d = self.core.decide(self.state, event, self.now)
        self.state = d.state
        self.placed += [c.order for c in d.commands if isinstance(c, PlaceOrder)]
        return d

    def last(self, purpose: OrderPurpose):
        return [o for o in self.placed if o.purpose is purpose][-1]


def _open_long(run: Run) -> None:
    run.send(PriceTicked(price=D("100")))
    run.send(SignalRaised(side=Side.LONG))
    entry = run.last(OrderPurpose.ENTRY)
    run.send(OrderFilled(client_order_id=entry.client_order_id, exchange_id="e1",
                         filled=entry.amount, average=D("100"), fee=D("0.05")))
    stop = run.last(OrderPurpose.STOP)
    run.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="s1"))
    assert run.state.phase is Phase.OPEN and run.state.active_stop() is not None


def _stops(run: Run) -> list:
    return [o for o in run.placed if o.purpose is OrderPurpose.STOP]


def test_a_stop_removed_while_the_close_is_retried_is_placed_again():
    run = Run(SymbolCore(make_rules()))
    _open_long(run)
    run.send(SignalRaised(side=None, reason="exit"))
    close = run.last(OrderPurpose.CLOSE)
    run.send(OrderFailed(client_order_id=close.client_order_id, error="venue busy",
                         never_reached=False))
    assert run.state.phase is Phase.CLOSING and run.state.next_close_at is not None
    (stop,) = _stops(run)
    run.send(OrderCanceled(client_order_id=stop.client_order_id))  # the venue removed it
    for _ in range(4):
        run.send(TimerFired(), dt=0.5)
    again = _stops(run)[1:]
    assert again, "the close is still being retried and the position has no stop"
    assert again[0].stop_price == D("99.0") and again[0].amount == stop.amount


def test_a_stop_removed_after_the_close_escalated_is_placed_again():
    run = Run(SymbolCore(make_rules()))
    _open_long(run)
    run.send(SignalRaised(side=None, reason="exit"))
    for _ in range(3):  # max_close_attempts = 3
        close = run.last(OrderPurpose.CLOSE)
        run.send(OrderFailed(client_order_id=close.client_order_id, error="venue busy",
                             never_reached=False))
        run.send(TimerFired(), dt=10.0)
    assert run.state.quarantined and run.state.phase is Phase.CLOSING
    (stop,) = _stops(run)
    run.send(OrderCanceled(client_order_id=stop.client_order_id))
    run.send(TimerFired(), dt=3.0)
    assert len(_stops(run)) == 2, "quarantined, the emergency close failing, and no stop"


def test_no_stop_is_placed_while_closing_when_the_price_is_through_its_level():
    run = Run(SymbolCore(make_rules()))
    _open_long(run)
    run.send(SignalRaised(side=None, reason="exit"))
    close = run.last(OrderPurpose.CLOSE)
    run.send(OrderFailed(client_order_id=close.client_order_id, error="venue busy",
                         never_reached=False))
    (stop,) = _stops(run)
    run.send(PriceTicked(price=D("98.5")))  # below the 99.0 level: the close retry protects
    run.send(OrderCanceled(client_order_id=stop.client_order_id))  # (the stop filled part)
    for _ in range(4):
        run.send(TimerFired(), dt=0.5)
    assert _stops(run) == [stop]
    assert run.state.phase is Phase.CLOSING and run.state.needs_stop
    # nothing to place, so nothing urgent: the actor does not set a reconciliation (which is
    # what resolves the close) aside for it (actors/symbol_actor.py `_urgent`)
    assert not stop_due(run.state, run.now + 60, run.core.rules)
    run.send(PriceTicked(price=D("99.5")))  # back above the level while the close is retried
    assert len(_stops(run)) == 2 and _stops(run)[1].stop_price == D("99.0")


def test_the_quiet_band_of_a_closing_position_without_a_stop_ends_when_its_retry_is_due():
    core = SymbolCore(make_rules())
    run = Run(core)
    _open_long(run)
    run.send(SignalRaised(side=None, reason="exit"))
    close = run.last(OrderPurpose.CLOSE)
    run.send(OrderFailed(client_order_id=close.client_order_id, error="venue busy",
                         never_reached=False))
    (stop,) = _stops(run)
    run.send(PriceTicked(price=D("98.5")))
    run.send(OrderCanceled(client_order_id=stop.client_order_id))  # looked at again later
    state = run.state
    assert state.needs_stop and not state.live_orders(OrderPurpose.STOP)
    band = core.quiet_band(state)
    assert band is not None and band.until == min(state.next_stop_at, state.next_close_at)
    quarantined = core.quiet_band(replace(state, quarantined=True, next_close_at=None))
    assert quarantined is not None and quarantined.until == state.next_stop_at
