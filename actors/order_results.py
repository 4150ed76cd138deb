"""Turning the port's order records into trading events.

A fill is reported only at the venue's average price (the rule of trading/order_evidence.py
`fill_average` on the live path): an answer that says something filled but not at what price
reports no fill, and the order stays as it is. Here nothing proves a limit price is the fill
price (an order that fills as it is placed may cross the book at a better one; a stop's or a
market order's `price` is a trigger or nothing), so none stands in for the average;
reconciliation, which knows whether a limit order was seen resting, decides and looks again.
A fill whose fee the venue did not tell (Binance: its trades not listed yet) is reported with
`fee_known=False`: the core books its quantity now and its fee once a later look tells it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from exchange.budget import Priority, call_priority
from exchange.records import VenueOrder, VenueOrderStatus
from trading.events import (
    Event,
    ExchangeOrder,
    OrderAccepted,
    OrderCanceled,
    OrderFailed,
    OrderFilled,
)

ZERO = Decimal(0)


def exchange_order(order: VenueOrder, client_order_id: str | None = None) -> ExchangeOrder:
    """What trading needs to know about an order the venue reported."""
    return ExchangeOrder(
        client_order_id=client_order_id or order.client_order_id or "",
        exchange_id=order.id,
        status=order.status.value,
        filled=order.filled,
        average=order.average,
        fee=order.fee_cost,
        reduce_only=order.reduce_only,
        last_fill_at=order.last_fill_at,
        fee_known=order.fee is not None,
        trigger_price=order.trigger_price,
    )


def events_for(client_order_id: str, order: VenueOrder, *, pending: bool) -> list[Event]:
    """Events describing an order's state as the exchange reports it: none for a fill without
    its average price (the order stays as it is: reconciliation or a later report books it)."""
    if order.filled > ZERO:
        if order.average is None:
            return []
        return [_filled(client_order_id, order, complete=not order.status.is_open)]
    if order.status is VenueOrderStatus.OPEN:
        return [OrderAccepted(client_order_id=client_order_id, exchange_id=order.id)]
    if order.status is VenueOrderStatus.CLOSED:  # closed with nothing filled: like a cancel
        return [OrderCanceled(client_order_id=client_order_id)]
    if pending:
        return [OrderFailed(client_order_id=client_order_id,
                            error=f"exchange status {order.status.value}", never_reached=False)]
    return [OrderCanceled(client_order_id=client_order_id)]


def tells_fills(answer: object) -> bool:
    """Whether an answer to a call about an order says what of it filled, at what price and
    fee: a full order record. A sparse answer the port could not complete (no amount: the ccxt
    gateway's when its re-fetch failed), fills without their fee (a failed fee read on
    Binance: booked now, the fee would be lost), fills without the venue's average price (a
    limit price is no proof of it here), or anything malformed does not; the order must be
    looked up."""
    if not isinstance(answer, VenueOrder) or answer.amount is None:
        return False
    filled = answer.filled
    if not isinstance(filled, Decimal) or not filled.is_finite() or filled < ZERO:
        return False
    if filled == ZERO:
        return True
    return answer.fee is not None and answer.average is not None


def canceled_events(client_order_id: str, order: VenueOrder) -> list[Event]:
    """A cancel the venue accepted, from its answer (`tells_fills`). The cancel succeeded, so
    the order is done whatever status a stale answer shows: nothing filled, it is canceled;
    else what filled is its final cumulative fill, which ends it (booked once however often it
    is reported: the cores book only the increase, and an order that ended ignores later
    reports, so a cancel after it would add nothing)."""
    if order.filled > ZERO:
        return [_filled(client_order_id, order, complete=True)] if order.average is not None else []
    return [OrderCanceled(client_order_id=client_order_id)]


def _filled(client_order_id: str, order: VenueOrder, *, complete: bool) -> OrderFilled:
    """The answer's fill at the venue's average (callers check there is one)."""
    assert order.average is not None
    return OrderFilled(client_order_id=client_order_id, exchange_id=order.id,
                       filled=order.filled, average=order.average, fee=order.fee_cost,
                       complete=complete, fee_known=order.fee is not None,
                       filled_at=order.last_fill_at, trigger_price=order.trigger_price)


def by_client_id(cid: str, stop: bool = False) -> dict[str, Any]:
    """The port params naming one of our orders; for a stop, the hint that sends a venue
    keeping stops apart (Binance's algo orders) to its stop book first."""
    return {"clientOrderId": cid, "trigger": True} if stop else {"clientOrderId": cid}


def look_up(exchange: Any, symbol: str, exchange_id: str | None, cid: str, *,
            stop: bool = False) -> VenueOrder:
    """One of our orders by client order id, at protective priority: the answer decides a
    protective action (a fill that grew a position needs a bigger stop, an entry that landed
    needs its stop, a close's fill ends the position). Found by a live soak: run at the
    default (reconciliation) priority, a streamed fill's lookup queued behind the periodic
    reconciliations for up to ~30 s while a grid leg had only its old, smaller stop."""
    with call_priority(Priority.PROTECTIVE):
        return exchange.fetch_order(exchange_id, symbol, by_client_id(cid, stop))
