"""A position that grew past its resting stop (an entry's next part, a fill booked late) gets
a stop for all of it (`stop_rules.cover_stop`). When the venue refused that stop, or it was
lost on the way, nothing sent it again but the next reconciliation (30 s, 300 s while the
streams are up): the grown part had no stop meanwhile, and the coverage alert fired (found by
review, beside the lost-stop fix). It is retried on the stop's backoff, as a refused trailing
move is; a lost one at once; a lasting refusal backs off (no loop)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from trading.commands import PlaceOrder
from trading.decide import SymbolCore
from trading.events import (
    OrderAccepted,
    OrderFailed,
    OrderFilled,
    PriceTicked,
    SignalRaised,
    TimerFired,
)
from trading.model import OrderPurpose, Side, SymbolState


def _stops(decision) -> list:
    return [c.order for c in decision.commands
            if isinstance(c, PlaceOrder) and c.order.purpose is OrderPurpose.STOP]


def _grown(core: SymbolCore):
    """An entry filled half, its stop resting for the half; the rest fills: a stop for the
    whole position is sent. Returns (decision, the resting stop, the new one)."""
    d = core.decide(SymbolState(symbol=core.rules.symbol), PriceTicked(price=D(100)), 1000.0)
    d = core.decide(d.state, SignalRaised(side=Side.LONG), 1001.0)
    (entry,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    d = core.decide(d.state, OrderFilled(client_order_id=entry.client_order_id, exchange_id="e",
                                         filled=entry.amount / 2, average=D(100), fee=D(0),
                                         complete=False), 1002.0)
    (first,) = _stops(d)
    d = core.decide(d.state, OrderAccepted(client_order_id=first.client_order_id,
                                           exchange_id="s1"), 1002.1)
    d = core.decide(d.state, OrderFilled(client_order_id=entry.client_order_id, exchange_id="e",
                                         filled=entry.amount, average=D(100), fee=D(0)), 1003.0)
    (cover,) = _stops(d)
    assert cover.replaces == first.client_order_id and cover.amount == entry.amount
    return d, first, cover


def test_a_refused_cover_stop_is_sent_again_after_its_wait():
    core = SymbolCore(make_rules())
    d, first, cover = _grown(core)
    state = core.decide(d.state, OrderFailed(client_order_id=cover.client_order_id,
                                             error="InvalidOrder: refused"), 1003.1).state
    assert not state.protected()
    band = core.quiet_band(state)  # the actor skips `decide` for a price in it
    assert band is None or not band.contains(D(100), 1003.1 + 2.0), \
        "a price after the retry is due is not quiet"
    sent = []
    for t in range(10):
        d = core.decide(state, TimerFired(), 1004.0 + t)
        state = d.state
        sent += [(1004.0 + t, s) for s in _stops(d)]
    assert sent, "the grown part waited for the next reconciliation without a stop"
    at, again = sent[0]
    assert at >= 1003.1 + 2.0, "a refusal waits its retry"
    assert again.replaces == first.client_order_id and again.amount == cover.amount
    assert again.client_order_id != cover.client_order_id


def test_a_lost_cover_stop_is_sent_again_at_once_and_a_lasting_refusal_backs_off():
    core = SymbolCore(make_rules())
    d, first, cover = _grown(core)
    d = core.decide(d.state, OrderFailed(client_order_id=cover.client_order_id,
                                         error="RequestTimeout", lost=True), 1003.1)
    (again,) = _stops(d)
    assert again.replaces == first.client_order_id
    state, pending, sent = d.state, again, 1
    for t in range(600):
        now = 1004.0 + t
        if pending is not None:
            state = core.decide(state, OrderFailed(client_order_id=pending.client_order_id,
                                                   error="InvalidOrder: refused"), now).state
        d = core.decide(state, TimerFired(), now + 0.5)
        state, placed = d.state, _stops(d)
        pending = placed[0] if placed else None
        sent += len(placed)
    assert sent < 25, f"{sent} cover stops in 10 minutes"
    assert state.active_stop() is not None and state.active_stop().client_order_id == \
        first.client_order_id, "the first stop still rests meanwhile"
