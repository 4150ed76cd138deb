"""Turning the port's order records into trading events."""

from __future__ import annotations

from decimal import Decimal

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
    )


def events_for(client_order_id: str, order: VenueOrder, *, pending: bool) -> list[Event]:
    """Events describing an order's state as the exchange reports it."""
    if order.filled > ZERO:
        average = order.average if order.average is not None else order.price or ZERO
        return [OrderFilled(client_order_id=client_order_id, exchange_id=order.id,
                            filled=order.filled, average=average, fee=order.fee_cost,
                            complete=not order.status.is_open)]
    if order.status is VenueOrderStatus.OPEN:
        return [OrderAccepted(client_order_id=client_order_id, exchange_id=order.id)]
    if order.status is VenueOrderStatus.CLOSED:  # closed with nothing filled: like a cancel
        return [OrderCanceled(client_order_id=client_order_id)]
    if pending:
        return [OrderFailed(client_order_id=client_order_id,
                            error=f"exchange status {order.status.value}", never_reached=False)]
    return [OrderCanceled(client_order_id=client_order_id)]
