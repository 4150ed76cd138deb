"""The commands a decision left to send (DecisionLoop.apply sends them one at a time and decides
each one's results before the next goes out).

While a command waits its turn, the results of the ones before it are decided, and those
decisions may end an order whose create is still waiting. Seen in the hedge grid's kill -9
chaos run: a decision reopened the long leg and placed a short level order; the entry filled,
its take-profit filled at once and closed the leg, and that decision canceled the level order,
which was still waiting. The cancel found nothing on the exchange and was booked; then the
create went out, filled, and its fill was never booked (the order had ended in our state): an
unknown position on the exchange, adopted only at the next restart.

So a cancel of an order whose create is still waiting takes the create out of the queue and is
answered here (canceled, no exchange call); a create whose order is no longer pending in the
current state, and an amend of a stop no longer open, are not sent.

Nor is the create of an order that grows a position (an entry, a grid level) once the account
blocks entries (the bot stopping, the kill switch): it fails as never sent. Found by a live
hedge grid chaos run: the final start's message that opened both legs kept deciding and
sending for 3 s after `stopping: no new entries` (the short leg's entry 1.7 s after it, a
level of each leg after their entries filled), as its BlockEntries waited behind it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from trading.commands import AmendStop, CancelOrder, PlaceOrder
from trading.events import Event, OrderCanceled, OrderFailed
from trading.orders import OrderStatus

BLOCKED = "not sent: entries are blocked account-wide (kill switch or shutdown)"


def send_next(queued: deque[Any], state: Any, execute: Callable[[Any], list[Event]],
              log: Any, blocked: Callable[[], bool] = lambda: False) -> list[Event]:
    """Send the first waiting command (or settle it here, see the module doc); its results.
    `blocked`: the account blocks entries now."""
    command = queued.popleft()
    if isinstance(command, PlaceOrder) and not command.order.purpose.reduces and blocked():
        grows = command.order.client_order_id
        log.info("create_order {} {}", grows, BLOCKED)
        return [OrderFailed(client_order_id=grows, error=BLOCKED, never_reached=True,
                            lost=True)]
    if isinstance(command, CancelOrder):
        cid = command.client_order_id
        if cid is not None and _take_out_create(queued, cid):
            return [OrderCanceled(client_order_id=cid)]
        return execute(command)
    if isinstance(command, PlaceOrder):
        cid, wanted = command.order.client_order_id, OrderStatus.PENDING
    elif isinstance(command, AmendStop):
        cid, wanted = command.client_order_id, OrderStatus.OPEN
    else:
        return execute(command)
    order = state.order(cid)
    if order is None or order.status is not wanted:
        status = "gone" if order is None else order.status.value
        log.warning("{} {} not sent: a decision made while it waited ended it ({})",
                    type(command).__name__, cid, status)
        return []
    return execute(command)


def _take_out_create(queued: deque[Any], cid: str) -> bool:
    for index, command in enumerate(queued):
        if isinstance(command, PlaceOrder) and command.order.client_order_id == cid:
            del queued[index]
            return True
    return False
