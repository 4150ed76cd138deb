"""A close the venue cut to a position smaller than the books' (a fill hidden from us, e.g. a
person's reduce-only order, closed the rest) ends filled short of its amount while the exchange
lists no position (`OrderFilled.position_gone`, read by the shell: actors/exchange_facts.py).
It closed the position: no failed attempt, no escalation (incident 2 counts failures, and a
close that closed the position is none). A close that ended short while the venue still lists
the rest stays a failed attempt. Pure one-way core; the actor and the Binance emulator:
tests/actors/test_one_way_binance_closers.py."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from trading.commands import Escalate, PlaceOrder
from trading.decide import SymbolCore
from trading.decision import Decision
from trading.events import OrderAccepted, OrderFilled, PriceTicked, SignalRaised
from trading.model import OrderPurpose, Phase, Side, SymbolState

NOW = 1000.0


def _closing(core: SymbolCore) -> tuple[Decision, D]:
    """A protected long of the books' size, its exit's close sent (the last attempt allowed)."""
    state = SymbolState(symbol=core.rules.symbol)
    state = core.decide(state, PriceTicked(price=D(100)), NOW).state
    d = core.decide(state, SignalRaised(side=Side.LONG), NOW)
    (entry,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    d = core.decide(d.state, OrderFilled(client_order_id=entry.client_order_id, exchange_id="e",
                                         filled=entry.amount, average=D(100), fee=D(0)), NOW)
    (stop,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    state = core.decide(d.state, OrderAccepted(client_order_id=stop.client_order_id,
                                               exchange_id="s"), NOW).state
    return core.decide(state, SignalRaised(side=None, reason="exit"), NOW), entry.amount


def _cut_fill(d: Decision, size: D, *, position_gone: bool, part: D = D("0.5")) -> Decision:
    (close,) = [c.order for c in d.commands
                if isinstance(c, PlaceOrder) and c.order.purpose is OrderPurpose.CLOSE]
    assert close.amount == size
    return SymbolCore(make_rules(max_close_attempts=1)).decide(
        d.state, OrderFilled(client_order_id=close.client_order_id, exchange_id="c",
                             filled=size * part, average=D(100), fee=D(0),
                             position_gone=position_gone), NOW)


def test_a_close_cut_to_the_venues_position_is_no_failed_attempt_at_the_last_attempt():
    core = SymbolCore(make_rules(max_close_attempts=1))
    d, size = _closing(core)
    assert d.state.close_attempts == 1
    d = _cut_fill(d, size, position_gone=True)
    assert not any(isinstance(c, Escalate) for c in d.commands)
    assert not d.state.quarantined and d.state.last_close_error is None
    assert [j.type for j in d.journal if j.type in ("CloseFailed", "Escalated")] == []
    assert any(j.type == "CloseRaced" for j in d.journal)
    # still tracked until the exchange's fills are booked (reconciliation); retried if not
    assert d.state.phase is Phase.CLOSING and d.state.position is not None
    assert d.state.next_close_at is not None and d.state.next_close_at > NOW


def test_a_close_short_while_the_venue_lists_the_rest_is_still_a_failed_attempt():
    core = SymbolCore(make_rules(max_close_attempts=1))
    d, size = _closing(core)
    d = _cut_fill(d, size, position_gone=False)
    assert any(isinstance(c, Escalate) for c in d.commands) and d.state.quarantined


def test_a_close_that_ended_unfilled_while_the_venue_lists_no_position_is_counted_raced():
    """Found by review: a close that filled nothing (the venue cancelled it, nothing to reduce)
    was read as cut and never escalated, so while the reconciliation that books the position
    closed kept failing, closes went out at every backoff for ever. It closed nothing: a race
    (CloseRaced), counted, escalating at the last attempt as a refused one does."""
    core = SymbolCore(make_rules(max_close_attempts=1))
    d, size = _closing(core)
    d = _cut_fill(d, size, position_gone=True, part=D(0))
    assert any(j.type == "CloseRaced" for j in d.journal)
    assert any(isinstance(c, Escalate) for c in d.commands) and d.state.quarantined
