"""What only the exchange knows and a core needs to decide on an event, read by the shell right
before the event is decided (the core protocol's `with_exchange_facts`)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from actors.command_executor import describe, position_listed
from actors.exchange_snapshot import last_price
from exchange.fence import Fenced, Preempted, preemptible
from exchange.port import ExchangePort
from trading.events import OrderFailed, OrderFilled
from trading.orders import OrderPurpose


def with_market_price(exchange: ExchangePort, state: Any, event: Any, log: Any) -> Any:
    """A refused stop carries the exchange's last price: when the price ran through the stop
    level, the core closes now instead of waiting for a fresh tick (which, at a shutdown, never
    comes) with the position unprotected. The read gives way to an order report (exchange/
    fence.py `preemptible`): at reconciliation priority it held the actor up to 30 s in the
    rate budget, or its retries' backoff, while the position had no stop and a report waited
    behind it (found by review); set aside, the refusal is decided on the last price seen, as
    when the read fails."""
    if not isinstance(event, OrderFailed) or event.market_price is not None:
        return event
    order = state.order(event.client_order_id)
    if order is None or order.purpose is not OrderPurpose.STOP:
        return event
    try:
        with preemptible(prices=False):
            price = last_price(exchange, state.symbol)
    except Fenced:
        raise  # this incarnation was replaced: it decides nothing more
    except Preempted:
        log.info("price after the refused stop {} not read: an order report is waiting; "
                 "decided on the last price seen", order.client_order_id)
        return event
    except Exception as exc:  # noqa: BLE001 - decided on the last price seen instead
        log.warning("price after the refused stop {} unreadable: {}", order.client_order_id,
                    describe(exc))
        return event
    return replace(event, market_price=price)


def with_close_position(exchange: ExchangePort, state: Any, event: Any, log: Any) -> Any:
    """A close that ended filled short of its amount, its position (a hedge-grid leg: its leg)
    still open in the books, carries whether the exchange still lists that position: the venue
    cuts a reduce-only close to a position smaller than the books' (a fill hidden from us, a
    person's reduce-only order or a take-profit fill not reported yet, closed the rest), and
    such a close closed it, no failed attempt (trading/lifecycle.py `close_cut`,
    trading/grid/handlers.py `_close_done`). A grid leg's is read on its side only: in hedge
    mode the venue lists each leg apart, and the other leg's says nothing of this one. Read as
    a refused close's (actors/command_executor.py `position_listed`): set aside for an order
    report, or unreadable, it stays a failed attempt."""
    if not isinstance(event, OrderFilled) or not event.complete or event.position_gone:
        return event
    order = state.order(event.client_order_id)
    if order is None or order.purpose is not OrderPurpose.CLOSE or event.filled >= order.amount:
        return event
    held = state.position is not None if order.leg is None else state.leg(order.leg).is_open
    side = None if order.leg is None else order.leg.value
    if not held or position_listed(exchange, state.symbol,
                                   f"the short close {order.client_order_id}", log, side=side):
        return event
    return replace(event, position_gone=True)
