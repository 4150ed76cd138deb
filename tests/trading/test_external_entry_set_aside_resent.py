"""An external signal's entry set aside by our own rate budget (actors/command_executor.py
`_not_sent`, `Preempted`; `OrderFailed.set_aside`) is sent again after 2 s (the grid's
`retry_s`) as a new order with a new client id, while the signal is still valid: not once it
expired, not after an exit or a newer signal, at most `MAX_RESENDS` times (the give-up
journaled naming the signal); the entry gate is asked again at the resend.

Found by live one-way chaos (bybit seed 4961): 13 external entries answered 202 and journaled
`SignalHandled` were set aside and never sent (signal live-bybit-265 -> main-ad9e-ETH-59e):
since 52412439 such an entry only returned the symbol to FLAT, which the strategy's next
signal enters from, but an external signal is one-shot."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_partial_fills import Core
from trading.entry_resend import MAX_RESENDS
from trading.events import EntriesBlocked, OrderFailed, PriceTicked, SignalRaised, TimerFired
from trading.model import OrderPurpose, Phase, Side

PREEMPTED = "Preempted: an order report is waiting: this call is set aside for it"


def _aside(c: Core, entry) -> None:  # noqa: ANN001
    c.send(OrderFailed(client_order_id=entry.client_order_id, error=PREEMPTED,
                       never_reached=True, lost=True, set_aside=True))


def _external(c: Core, sid: str = "sig-1", expires_in: float = 30.0,
              side: Side = Side.LONG):
    c.send(SignalRaised(side=side, reason="external", signal_id=sid,
                        expires_at=c.now + expires_in))
    (entry,) = c.placed(OrderPurpose.ENTRY)
    return entry


def _skips(c: Core) -> list:
    return [j for j in c.last.journal if j.type == "SignalSkipped"]


def test_a_set_aside_external_entry_is_sent_again_after_2s_with_a_new_id():
    c = Core()
    c.send(PriceTicked(price=D(100)))
    first = _external(c)
    _aside(c, first)
    aside_at = c.now
    assert c.state.phase is Phase.FLAT and c.state.entry_refusals == 0
    c.send(TimerFired(), at=aside_at + 1.9)
    assert c.placed(OrderPurpose.ENTRY) == [], "sent again before the 2 s wait"
    c.send(TimerFired(), at=aside_at + 2.0)
    (again,) = c.placed(OrderPurpose.ENTRY)
    assert again.client_order_id != first.client_order_id
    assert (again.side, again.amount) == (first.side, first.amount)
    assert c.state.phase is Phase.ENTERING
    (requested,) = [j for j in c.last.journal if j.type == "EntryRequested"]
    assert "sig-1" in requested.reason and requested.order == again.client_order_id
    c.report(again, "1", complete=True)  # it fills: protected with a stop like any entry
    assert c.state.phase is Phase.OPEN and c.placed(OrderPurpose.STOP)


def test_an_expired_signal_is_not_sent_again_and_the_give_up_is_journaled():
    c = Core()
    c.send(PriceTicked(price=D(100)))
    _aside(c, _external(c, expires_in=1.0))
    c.send(TimerFired(), at=c.now + 2.0)
    assert c.placed(OrderPurpose.ENTRY) == []
    (skip,) = _skips(c)
    assert skip.signal_id == "sig-1" and "expired" in skip.reason and "sig-1" in skip.reason
    assert c.state.entry_resend is None
    c.send(TimerFired(), at=c.now + 10.0)
    assert c.placed(OrderPurpose.ENTRY) == []


def test_set_aside_every_time_it_is_given_up_after_the_bound():
    c = Core()
    c.send(PriceTicked(price=D(100)))
    entry = _external(c, expires_in=600.0)
    ids = {entry.client_order_id}
    for _ in range(MAX_RESENDS):
        _aside(c, entry)
        c.send(TimerFired(), at=c.now + 2.0)
        (entry,) = c.placed(OrderPurpose.ENTRY)
        ids.add(entry.client_order_id)
    assert len(ids) == MAX_RESENDS + 1
    _aside(c, entry)
    (skip,) = _skips(c)
    assert skip.signal_id == "sig-1" and "given up" in skip.reason
    c.send(TimerFired(), at=c.now + 2.0)
    assert c.placed(OrderPurpose.ENTRY) == [] and c.state.phase is Phase.FLAT


def test_an_exit_or_a_newer_signal_meanwhile_wins():
    c = Core()
    c.send(PriceTicked(price=D(100)))
    _aside(c, _external(c))
    c.send(SignalRaised(side=None, reason="external", signal_id="x-1"))
    assert any(s.signal_id == "sig-1" for s in _skips(c))
    c.send(TimerFired(), at=c.now + 2.0)
    assert c.placed(OrderPurpose.ENTRY) == []

    _aside(c, _external(c, sid="sig-2"))
    short = _external(c, sid="sig-3", side=Side.SHORT)  # the other side: it wins
    assert any(s.signal_id == "sig-2" for s in _skips(c))
    c.send(TimerFired(), at=c.now + 2.0)
    assert c.placed(OrderPurpose.ENTRY) == [] and c.state.live_orders(OrderPurpose.ENTRY) == [
        c.state.order(short.client_order_id)]


def test_the_entry_gate_is_asked_again_at_the_resend():
    c = Core()
    c.send(PriceTicked(price=D(100)))
    _aside(c, _external(c))
    c.send(EntriesBlocked(blocked=True, reason="kill switch"))
    c.send(TimerFired(), at=c.now + 2.0)
    assert c.placed(OrderPurpose.ENTRY) == []
    (skip,) = _skips(c)
    assert skip.signal_id == "sig-1" and "kill switch" in skip.reason
    c.send(EntriesBlocked(blocked=False, reason="kill switch"))
    c.send(TimerFired(), at=c.now + 2.0)
    assert c.placed(OrderPurpose.ENTRY) == []


def test_the_strategys_set_aside_entry_is_not_sent_again_by_the_core():
    c = Core()
    c.send(PriceTicked(price=D(100)))
    c.send(SignalRaised(side=Side.LONG))
    (entry,) = c.placed(OrderPurpose.ENTRY)
    _aside(c, entry)
    c.send(TimerFired(), at=c.now + 2.0)
    assert c.placed(OrderPurpose.ENTRY) == []  # its next signal enters (no wait: 52412439)
    c.send(SignalRaised(side=Side.LONG))
    assert c.placed(OrderPurpose.ENTRY)
