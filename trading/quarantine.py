"""The quarantine reasons of a side mismatch and what a quarantine holds back of our own orders.

A quarantined symbol takes no new entries (trading/decide.py). These two rules say which of our
orders for the position still go while it lasts: none for our side while the exchange lists the
other one (`mismatched`), and no close retries while a person or the emergency close owns the
position (`closes_held`). The one-way lifecycle, its stop rules, reconciliation and the quiet
band all ask the same two questions.
"""

from __future__ import annotations

from trading.model import SymbolState

SIDE_MISMATCH = "position side differs from exchange"
"""The quarantine reason of a position the exchange lists on the other side than ours
(trading/reconcile.py): a person decides, and no order of ours for our side can protect or
close what the exchange holds (`mismatched`)."""

SIDE_AGREES_AGAIN = f"{SIDE_MISMATCH} (it agrees again: resume to trade)"
"""The quarantine reason once the exchange lists our side again (trading/reconcile.py): a
person was alerted and lifts it, but our stop and exits act again meanwhile (`closes_held`)."""


def mismatched(state: SymbolState) -> bool:
    """Quarantined because the exchange lists the position on the other side than ours: a stop
    or a close for our side is a reduce-only order the venue refuses (it would grow the
    exchange's position). Placed anyway, a refused stop was sent again every stop_retry_s for
    as long as a person took to decide, and a price through our stop level sent closes that
    were refused until they escalated into the emergency close of the exchange's position."""
    return state.quarantined and state.quarantine_reason == SIDE_MISMATCH


def closes_held(state: SymbolState) -> bool:
    """Quarantined for a reason that holds our own close retries: an escalation (the emergency
    close owns the position now), a side mismatch, a position nobody can see. Not once the
    exchange agrees with our side again (SIDE_AGREES_AGAIN): our exits act then, and a close of
    one that failed was never retried (found by review: the symbol sat closing, its trailing
    stop and take-profit off, until a person resumed it); it is retried and escalates as any."""
    return state.quarantined and state.quarantine_reason != SIDE_AGREES_AGAIN
