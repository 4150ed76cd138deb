"""The state machines as tables: the one-way position phase, a hedge leg's phase, an order's
status. Every change of one of them goes through a function here that checks its table.

A change that is not in its table is a bug: it raises `IllegalTransition` naming the subject
and the transition (`order main-ab12-BTC-s3: filled -> open`). Inside an actor that is a crash
like any other exception in `decide`: the supervisor restarts the symbol from storage (the same
path as a cold start: load, reconcile) and quarantines it if it keeps happening. Never a silent
no-op.

"Nothing to do" cases are explicit, not absorbed by the check:
- a report for an order that already reached a final state: a final order leaves the state's
  live orders in the same decision (`SymbolState.with_order`, `GridState.with_order`), so a
  duplicate or late report finds no order and the handler returns early, documented there;
- the rows that keep a status (`pending -> pending`, `open -> open`) are listed below with the
  reason they happen.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from trading.events import OrderAccepted, OrderFilled
from trading.frozen import replace
from trading.model import Phase
from trading.orders import Order, OrderStatus


class IllegalTransition(RuntimeError):
    """A phase or status change its table does not allow: a bug, handled as a crash."""

    def __init__(self, subject: str, old: StrEnum, new: StrEnum) -> None:
        self.subject, self.old, self.new = subject, old, new
        super().__init__(f"{subject}: {old.value} -> {new.value}")


P = Phase
PHASE_TRANSITIONS: dict[tuple[Phase, Phase], str] = {
    (P.FLAT, P.ENTERING): "the entry order is committed",
    (P.FLAT, P.OPEN): "reconciliation adopts a position the exchange has",
    (P.ENTERING, P.OPEN): "the entry filled (or its rest ended after a partial fill, or "
                          "reconciliation found the position)",
    (P.ENTERING, P.FLAT): "the entry ended without a fill, or a partial position was closed "
                          "on the exchange",
    (P.OPEN, P.CLOSING): "a close order is committed",
    (P.OPEN, P.FLAT): "the exchange stop filled, or the position closed elsewhere",
    (P.CLOSING, P.FLAT): "the close (or another exit) filled",
    (P.CLOSING, P.OPEN): "a person lifted the quarantine; close attempts start over",
}
"""(from, to) -> why it happens. Staying in a phase is not a transition."""


def phase_change(subject: str, old: Phase, new: Phase) -> Phase:
    """Check a position phase change; returns `new`."""
    if (old, new) not in PHASE_TRANSITIONS:
        raise IllegalTransition(f"position {subject}", old, new)
    return new


class LegPhase(StrEnum):
    """A hedge leg's phase, read from the grid state (`leg_phase`), not stored: stored grid
    rows from older versions need no migration."""

    FLAT = "flat"
    """No contracts; may open."""
    OPEN = "open"
    """Contracts on the exchange."""
    CLOSED = "closed"
    """Just closed: waits until every order it owned and every pending level is confirmed
    gone before it may reopen (incident 9)."""


LEG_TRANSITIONS: dict[tuple[LegPhase, LegPhase], str] = {
    (LegPhase.FLAT, LegPhase.OPEN): "an opening or level order filled, or reconciliation "
                                    "adopted the exchange's leg",
    (LegPhase.OPEN, LegPhase.CLOSED): "the leg's contracts reached zero (take-profit, stop, "
                                      "close, or closed on the exchange)",
    (LegPhase.CLOSED, LegPhase.FLAT): "every cancel of the closed leg is confirmed",
    (LegPhase.CLOSED, LegPhase.OPEN): "an order that still rested when the leg closed filled "
                                      "(or reconciliation found a leg): the position is real, "
                                      "so it is booked, never refused",
}


def leg_change(subject: str, old: LegPhase, new: LegPhase) -> LegPhase:
    """Check a hedge leg's phase change; returns `new`."""
    if (old, new) not in LEG_TRANSITIONS:
        raise IllegalTransition(f"leg {subject}", old, new)
    return new


S = OrderStatus
ORDER_TRANSITIONS: dict[tuple[OrderStatus, OrderStatus], str] = {
    (S.PENDING, S.OPEN): "the exchange acknowledged the order",
    (S.PENDING, S.FILLED): "filled before (or without) an acknowledgement",
    (S.PENDING, S.CANCELED): "cancel confirmed before the acknowledgement was processed",
    (S.PENDING, S.REJECTED): "the exchange refused it",
    (S.PENDING, S.FAILED): "proven never to have reached the exchange",
    (S.PENDING, S.PENDING): "a partial fill reported before the acknowledgement",
    (S.OPEN, S.FILLED): "the resting order filled",
    (S.OPEN, S.CANCELED): "cancel confirmed (by us, by a person, or gone from the exchange)",
    (S.OPEN, S.OPEN): "a partial fill, or a repeated acknowledgement (reconciliation "
                      "re-reports every resting order)",
}
"""(from, to) -> why. Filled, canceled, rejected and failed are final: no row leaves them."""


def order_change(order: Order, new: OrderStatus, **changes: Any) -> Order:
    """`order` with status `new` (and other field changes) if its table allows it."""
    if (order.status, new) not in ORDER_TRANSITIONS:
        raise IllegalTransition(f"order {order.client_order_id}", order.status, new)
    return replace(order, status=new, **changes)


class _HasOrders(Protocol):
    def order(self, client_order_id: str) -> Order | None: ...


StateT = TypeVar("StateT", bound=_HasOrders)
CtxT = TypeVar("CtxT")


def acknowledged_first(state: StateT, order: Order, ev: OrderFilled, ctx: CtxT,
                       on_accepted: Callable[[StateT, OrderAccepted, CtxT], StateT],
                       ) -> tuple[StateT, Order]:
    """A part of a still pending order filled before its acknowledgement: the rest rests on
    the exchange, so the order is acknowledged first (through the style's own `on_accepted`:
    the order it replaces is cancelled then). Left pending, a stop's level and its replaced
    stop's cancel were never booked (not `active_stop`, no trailing move or cover while a stop
    is pending), and a closing position never cancelled such an entry (only resting orders
    are). Returns the state and the order as the fill then finds them; unchanged otherwise.
    Both styles' fill handlers start here."""
    if order.status is OrderStatus.PENDING and not ev.complete and ev.filled > order.filled:
        state = on_accepted(state, OrderAccepted(
            client_order_id=order.client_order_id,
            exchange_id=ev.exchange_id or order.exchange_id), ctx)
        order = state.order(ev.client_order_id) or order
    return state, order
