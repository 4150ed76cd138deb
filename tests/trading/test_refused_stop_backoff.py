"""A stop the venue refuses for a lasting reason (too far, below the minimum size, reduce-only
on a position it no longer lists) was re-sent every stop_retry_s (2 s) for ever: 1,800 refused
orders an hour per symbol, eating the order rate budget other symbols need (found by review).
The first retries stay fast, then the wait doubles up to stop_retry_max_s; the periodic
reconciliation does not undo the wait; a stop that rests starts the count again."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from tests.trading.test_rejected_stop import _opened
from trading.commands import PlaceOrder
from trading.decide import SymbolCore
from trading.events import (
    ExchangePosition,
    OrderAccepted,
    OrderFailed,
    Reconciled,
    TimerFired,
)
from trading.model import OrderPurpose, Side

REFUSAL = "InvalidOrder: ReduceOnly Order is rejected"


def _stops(decision) -> list:
    return [c.order for c in decision.commands
            if isinstance(c, PlaceOrder) and c.order.purpose is OrderPurpose.STOP]


def _run(core: SymbolCore, state, stop, start: float, seconds: int, refuse: bool = True):
    """Drive the core one TimerFired a second (a reconciliation every 30 s) for `seconds`,
    refusing every stop it sends. Returns (state, the times stops were sent)."""
    sent: list[float] = []
    pending = [stop]
    position = ExchangePosition(side=Side.LONG, contracts=stop.amount, entry_price=D("100"))
    for tick in range(seconds):
        now = start + tick
        for order in pending:
            ev = (OrderFailed(client_order_id=order.client_order_id, error=REFUSAL)
                  if refuse else OrderAccepted(client_order_id=order.client_order_id,
                                               exchange_id=f"x{tick}"))
            state = core.decide(state, ev, now).state
        pending = []
        event = (Reconciled(position=position, price=D("100")) if tick % 30 == 29
                 else TimerFired())
        d = core.decide(state, event, now + 0.5)
        state, pending = d.state, _stops(d)
        sent += [now + 0.5] * len(pending)
    return state, sent


def test_a_stop_refused_for_a_lasting_reason_backs_off_to_a_cap():
    core = SymbolCore(make_rules())
    state, stop = _opened(core)
    state, sent = _run(core, state, stop, 1003.0, 3600)
    assert len(sent) < 80, f"{len(sent)} refused stops in an hour"
    assert sent[0] - 1003.0 <= 3.0, "the first retry stays fast (a transient refusal)"
    assert sent[2] - sent[1] <= 3.0, "the first retries stay fast"
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    assert max(gaps) <= 61.0, "never waits longer than the cap"
    assert state.needs_stop, "it keeps retrying: the position still needs its stop"


def test_a_stop_that_rests_starts_the_backoff_again():
    core = SymbolCore(make_rules())
    state, stop = _opened(core)
    state, sent = _run(core, state, stop, 1003.0, 600)
    assert state.stop_refusals > 3
    # the next try rests
    d = core.decide(state, TimerFired(), 1003.0 + 600 + 61)
    (again,) = _stops(d)
    state = core.decide(d.state, OrderAccepted(client_order_id=again.client_order_id,
                                               exchange_id="s9"), 1665.0).state
    assert state.stop_refusals == 0 and not state.needs_stop
