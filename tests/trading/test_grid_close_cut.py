"""A hedge-grid leg's close the venue cut to a leg smaller than the books' (a fill hidden from
us, e.g. a person's reduce-only order or a take-profit fill not reported yet, closed the rest)
ends filled short of its amount while the exchange lists no position on that leg's side
(`OrderFilled.position_gone`, read by the shell per leg side: actors/exchange_facts.py
`with_close_position`). It closed the leg: no failed attempt, no escalation at the last
attempt (incident 2 counts failures, and a close that closed the leg is none), as the one-way
core's `close_cut` (tests/trading/test_close_cut.py). A close short while the venue still
lists the rest of the leg stays a failed attempt. The actor on the Binance emulator:
tests/actors/test_grid_binance_close_cut.py."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_close_counted_before_send import _closes, _unprotected_long
from tests.trading.test_grid_core import Book
from trading.commands import Escalate
from trading.decision import Decision
from trading.events import OrderFilled, PriceTicked


def _cut(position_gone: bool, filled: D = D("0.5")) -> tuple[Book, Decision]:
    """The long's close (the last attempt allowed) filled for half its amount, ended: the
    decision on that report (the rig's loop has no exchange: the reconciliation it asks for
    next fails, and is no part of this)."""
    b = Book(max_close_attempts=1)
    _unprotected_long(b)
    (close,) = _closes(list(b.send(PriceTicked(price=D(90))).commands))
    assert b.state.long.close_attempts == 1 and close.amount == D(1)
    d = b.send(OrderFilled(client_order_id=close.client_order_id, exchange_id="c",
                           filled=filled, average=D(90), fee=D("0.01"), complete=True,
                           position_gone=position_gone))
    return b, d


def test_a_leg_close_cut_to_the_venues_leg_is_no_failed_attempt_at_the_last_attempt():
    b, d = _cut(position_gone=True)
    assert not any(isinstance(c, Escalate) for c in d.commands), "escalated a closed leg"
    assert not d.state.quarantined
    journal = [j.type for j in d.journal]
    assert "Escalated" not in journal and "CloseRaced" in journal
    # still tracked until the exchange's fills are booked (the reconciliation asked for at
    # once: actors/command_executor.py `reconcile_after`); closed again after a backoff if not
    assert d.state.long.contracts == D("0.5")
    assert not _closes(list(d.commands)), "the rest was closed again at once, on a flat leg"
    assert d.state.long.close_retry_at > b.now


def test_a_leg_close_short_while_the_venue_lists_the_rest_is_still_a_failed_attempt():
    _, d = _cut(position_gone=False)
    assert any(isinstance(c, Escalate) for c in d.commands) and d.state.quarantined
    assert "CloseRaced" not in [j.type for j in d.journal]


def test_a_leg_close_that_ended_unfilled_while_the_venue_lists_no_leg_is_counted_raced():
    """Found by review: one that filled nothing was read as cut and never escalated (closes at
    every backoff for ever while the reconciliation kept failing). It closed nothing: raced,
    counted, escalating at the last attempt as a refused one does."""
    _, d = _cut(position_gone=True, filled=D(0))
    assert "CloseRaced" in [j.type for j in d.journal]
    assert any(isinstance(c, Escalate) for c in d.commands) and d.state.quarantined
