"""Turning ccxt-shaped order dicts from the exchange port into trading events."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trading.events import (
    Event,
    ExchangeOrder,
    OrderAccepted,
    OrderCanceled,
    OrderFailed,
    OrderFilled,
)

ZERO = Decimal(0)


def _dec(value: Any) -> Decimal:
    if value is None:
        return ZERO
    return value if isinstance(value, Decimal) else Decimal(str(value))


def fee_of(order: dict[str, Any]) -> Decimal:
    fee = order.get("fee") or {}
    if fee.get("cost") is not None:
        return _dec(fee["cost"])
    return sum((_dec(f.get("cost")) for f in order.get("fees") or []), ZERO)


def exchange_order(order: dict[str, Any], client_order_id: str | None = None) -> ExchangeOrder:
    return ExchangeOrder(
        client_order_id=client_order_id or order.get("clientOrderId") or "",
        exchange_id=order.get("id"),
        status=str(order.get("status") or "open"),
        filled=_dec(order.get("filled")),
        average=_dec(order["average"]) if order.get("average") is not None else None,
        fee=fee_of(order),
        reduce_only=bool(order.get("reduceOnly")),
    )


def events_for(client_order_id: str, order: dict[str, Any], *, pending: bool) -> list[Event]:
    """Events describing an order's state as the exchange reports it."""
    x = exchange_order(order, client_order_id)
    if x.filled > ZERO:
        average = x.average if x.average is not None else _dec(order.get("price"))
        events: list[Event] = [OrderFilled(client_order_id=client_order_id, exchange_id=x.exchange_id,
                                           filled=x.filled, average=average, fee=x.fee,
                                           complete=x.status != "open")]
        return events
    if x.status == "open":
        return [OrderAccepted(client_order_id=client_order_id, exchange_id=x.exchange_id)]
    if x.status == "closed":  # closed with nothing filled: treat like a cancel
        return [OrderCanceled(client_order_id=client_order_id)]
    if pending:
        return [OrderFailed(client_order_id=client_order_id, error=f"exchange status {x.status}",
                            never_reached=False)]
    return [OrderCanceled(client_order_id=client_order_id)]
