"""Decimal at the boundary: every number ccxt returns becomes a `Decimal` (via `str`), except
integer timestamps/counters, booleans and the raw exchange payload under 'info'."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

_INT_KEYS = frozenset({"timestamp", "lastTradeTimestamp", "lastUpdateTimestamp", "since",
                       "nonce", "seq", "count"})


def _keep_int(key: str | None) -> bool:
    return key is not None and (key in _INT_KEYS or key.endswith("Timestamp") or key.endswith("Time"))


def to_decimal(value: Any, key: str | None = None) -> Any:
    """Recursively convert floats (and non-timestamp ints) to Decimal; leave 'info' alone."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, Decimal)):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int):
        return value if _keep_int(key) else Decimal(value)
    if isinstance(value, dict):
        return {k: (v if k == "info" else to_decimal(v, k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_decimal(item, key) for item in value]
    return value


def to_float(value: Decimal | float | int | str | None) -> float | None:
    """Port input -> ccxt's float (amounts/prices already rounded by *_to_precision)."""
    return None if value is None else float(value)
