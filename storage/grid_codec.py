"""GridState <-> JSON for the `grid_state` row, and the orders whose fee is owed
(trading/late_fees.py) of both styles: a grid's in its document, a one-way symbol's in
`actor_state.fees_owed` (storage/commit_sql.py, storage/restore.py), the same JSON list either
way. Reading is tolerant like storage/restore.py: enums in any casing; a value that still cannot
be read raises CorruptRow naming the field, so only that symbol is quarantined."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from storage.restore import CorruptRow, finite_decimal, finite_time, order_side, whole_count
from trading.grid.model import GridState, Leg
from trading.late_fees import FeeOwed
from trading.model import OrderStatus, Side, parse_enum
from trading.orders import Order, parse_purpose

T = TypeVar("T")
TABLE = "grid_state"


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _leg(leg: Leg) -> dict[str, Any]:
    return {
        "position_id": leg.position_id,
        "contracts": str(leg.contracts),
        "entry_price": _s(leg.entry_price),
        "level": leg.level,
        "ref_qty": _s(leg.ref_qty),
        "anchor": _s(leg.anchor),
        "anchor_seq": leg.anchor_seq,
        "stop_price": _s(leg.stop_price),
        "opened_at": leg.opened_at,
        "realized_pnl": str(leg.realized_pnl),
        "fees": str(leg.fees),
        "close_attempts": leg.close_attempts,
        "retry_at": leg.retry_at,
        "stop_retry_at": leg.stop_retry_at,
        "level_retry_at": leg.level_retry_at,
        "level_failures": leg.level_failures,
        "close_retry_at": leg.close_retry_at,
        "stopped": leg.stopped,
        "close_unsent": leg.close_unsent,
    }


def order_data(o: Order) -> dict[str, Any]:
    """An order as JSON data (the grid's live orders, and either style's owed fees)."""
    leg = None if o.leg is None else o.leg.value
    return {
        "client_order_id": o.client_order_id,
        "leg": leg,
        "kind": o.kind.value,
        "side": o.side,
        "amount": str(o.amount),
        "price": _s(o.price),
        "level": o.level,
        "status": o.status.value,
        "exchange_id": o.exchange_id,
        "filled": str(o.filled),
        "average": _s(o.average),
        "fee": str(o.fee),
        "created_at": o.created_at,
        "replaces": o.replaces,
        "cancel_requested_at": o.cancel_requested_at,
        "last_error": o.last_error,
        "realized_pnl": str(o.realized_pnl),
        "position_id": o.position_id,
    }


def owed_data(owed: tuple[FeeOwed, ...]) -> list[dict[str, Any]]:
    """Owed fees as JSON data: each order as it was booked, its looks and when it was noted."""
    return [{"order": order_data(o.order), "looks": o.looks, "noted_at": o.noted_at}
            for o in owed]


def _looks(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("not a count of looks")
    return value


def load_owed(value: Any, table: str, symbol: str, where: str, *,
              legs: bool = True) -> tuple[FeeOwed, ...]:
    """Owed fees written by `owed_data`; None (written before they were stored) is none.
    `where` is the list's path in the stored value, named by CorruptRow; `legs`: each order
    names its hedge leg (the grid's; a one-way order names none)."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise CorruptRow(table, symbol, where, value, "not a list")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise CorruptRow(table, symbol, f"{where}[{i}]", item, "not an object")
        r = _Reader(symbol, item, f"{where}[{i}].", table)
        order = load_order(symbol, item.get("order"), f"{where}[{i}].order", table, leg=legs)
        out.append(FeeOwed(order=order,
                           looks=r.get("looks", _looks), noted_at=r.get("noted_at", finite_time)))
    return tuple(out)


def dumps(state: GridState) -> str:
    return json.dumps(
        {
            "version": 1,
            "long": _leg(state.long),
            "short": _leg(state.short),
            "orders": [order_data(o) for o in state.orders],
            "order_seq": state.order_seq,
            "reopen": [s.value for s in state.reopen],
            "next_open_at": state.next_open_at,
            "quarantined": state.quarantined,
            "quarantine_reason": state.quarantine_reason,
            "entries_blocked": state.entries_blocked,
            "price_seq": state.price_seq,
            "fees_owed": owed_data(state.fees_owed),
        },
        separators=(",", ":"),
    )


class _Reader:
    """Reads the fields of one JSON object; `prefix` is the object's path in the stored value
    (`data.long.`), which CorruptRow names with the field."""

    def __init__(self, symbol: str, data: dict[str, Any], prefix: str = "data.",
                 table: str = TABLE) -> None:
        self.symbol, self.data, self.prefix, self.table = symbol, data, prefix, table

    def get(self, field: str, parse: Callable[[Any], T], default: Any = ...) -> T:
        if field not in self.data and default is not ...:
            return default
        value = self.data.get(field)
        try:
            return parse(value)
        except (ValueError, TypeError, KeyError, InvalidOperation, ArithmeticError) as exc:
            detail = (
                "not a decimal number"
                if isinstance(exc, InvalidOperation)
                else (str(exc) or type(exc).__name__)
            )
            raise CorruptRow(
                self.table, self.symbol, f"{self.prefix}{field}", value, detail
            ) from exc

    def dec(self, field: str) -> Decimal:
        return self.get(field, finite_decimal)

    def opt_dec(self, field: str) -> Decimal | None:
        return self.get(field, lambda v: None if v in (None, "") else finite_decimal(v), None)


def _order_id(value: Any) -> str:
    """A client order id: what every exchange answer is matched by (str(None) read "None")."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("not a client order id")
    return value


def _load_leg(symbol: str, side: Side, data: Any) -> Leg:
    if not isinstance(data, dict):
        raise CorruptRow(TABLE, symbol, f"data.{side.value}", data, "not an object")
    leg = _read_leg(symbol, side, data)
    if leg.is_open:  # every open leg is written with both (found by review: a row without its
        # stop price crashed the actor at every price, until the escalation's emergency close)
        for field in ("entry_price", "stop_price"):
            if getattr(leg, field) is None:
                raise CorruptRow(TABLE, symbol, f"data.{side.value}.{field}", None,
                                 "missing for an open leg")
    return leg


def _read_leg(symbol: str, side: Side, data: dict[str, Any]) -> Leg:
    r = _Reader(symbol, data, f"data.{side.value}.")
    return Leg(
        side=side,
        position_id=r.get("position_id", _text_or_none, None),
        contracts=r.dec("contracts"),
        entry_price=r.opt_dec("entry_price"),
        level=r.get("level", whole_count, 0),
        ref_qty=r.opt_dec("ref_qty"),
        anchor=r.opt_dec("anchor"),
        anchor_seq=r.get("anchor_seq", whole_count, 0),  # rows before it: any price is newer
        stop_price=r.opt_dec("stop_price"),
        opened_at=r.get("opened_at", finite_time, 0.0),
        realized_pnl=r.get("realized_pnl", finite_decimal, Decimal(0)),
        fees=r.get("fees", finite_decimal, Decimal(0)),
        close_attempts=r.get("close_attempts", whole_count, 0),
        retry_at=r.get("retry_at", finite_time, 0.0),
        # rows written before these: a stop waits as everything else did, no level backoff
        stop_retry_at=r.get("stop_retry_at", finite_time, r.get("retry_at", finite_time, 0.0)),
        level_retry_at=r.get("level_retry_at", finite_time, 0.0),
        level_failures=r.get("level_failures", whole_count, 0),
        close_retry_at=r.get("close_retry_at", finite_time, 0.0),
        stopped=r.get("stopped", _flag, False),  # rows written before it: not stopped
        close_unsent=r.get("close_unsent", _flag, False),
    )


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("not true or false")
    return value


def _text_or_none(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError("not text")
    return value


def load_order(symbol: str, data: Any, where: str, table: str = TABLE, *,
               leg: bool = True) -> Order:
    """An order written by `order_data`; `where` is its path in the stored value, named by
    CorruptRow with the field that cannot be read (`data.orders[2].kind`). `leg`: it must name
    its hedge leg (a grid order's; a one-way order's is None)."""
    if not isinstance(data, dict):
        raise CorruptRow(table, symbol, where, data, "not an object")
    r = _Reader(symbol, data, f"{where}.", table)
    purpose = r.get("kind", parse_purpose)  # the grid's old `open` reads as `entry`
    return Order(
        client_order_id=r.get("client_order_id", _order_id),
        leg=r.get("leg", lambda v: None if v is None and not leg else parse_enum(Side, v)),
        purpose=purpose,
        reduce_only=purpose.reduces,
        side=r.get("side", order_side),
        amount=r.dec("amount"),
        price=r.opt_dec("price"),
        level=r.get("level", whole_count, 0),
        status=r.get("status", lambda v: parse_enum(OrderStatus, v)),
        # ids and texts as text, as the quarantine reason (found by review: a number, a list
        # or an object was kept, and the symbol's every later commit failed on it)
        exchange_id=r.get("exchange_id", _text_or_none, None),
        filled=r.get("filled", finite_decimal, Decimal(0)),
        average=r.opt_dec("average"),
        fee=r.get("fee", finite_decimal, Decimal(0)),
        created_at=r.get("created_at", finite_time, 0.0),
        replaces=r.get("replaces", _text_or_none, None),
        cancel_requested_at=r.get(
            "cancel_requested_at", lambda v: None if v is None else finite_time(v), None
        ),
        last_error=r.get("last_error", _text_or_none, None),
        realized_pnl=r.get("realized_pnl", finite_decimal, Decimal(0)),
        position_id=r.get("position_id", _text_or_none, None),
    )


def loads(symbol: str, text: str) -> GridState:
    try:
        data = json.loads(text)
    except (TypeError, ValueError, RecursionError) as exc:  # nested too deep: unreadable too
        raise CorruptRow(
            TABLE, symbol, "data", text[:80] if isinstance(text, str) else text, f"not JSON: {exc}"
        ) from exc
    if not isinstance(data, dict):
        raise CorruptRow(TABLE, symbol, "data", data, "not an object")
    r = _Reader(symbol, data)
    orders = data.get("orders")
    orders = [] if orders is None else orders  # rows written before any order
    if not isinstance(orders, list):  # an object, even an empty one, is not "no orders"
        raise CorruptRow(TABLE, symbol, "data.orders", orders, "not a list")
    return GridState(
        symbol=symbol,
        long=_load_leg(symbol, Side.LONG, data.get("long")),
        short=_load_leg(symbol, Side.SHORT, data.get("short")),
        orders=tuple(load_order(symbol, o, f"data.orders[{i}]") for i, o in enumerate(orders)),
        order_seq=r.get("order_seq", whole_count, 0),
        reopen=r.get("reopen", lambda v: tuple(parse_enum(Side, x) for x in v), ()),
        next_open_at=r.get("next_open_at", finite_time, 0.0),
        # flags as the legs' `stopped` (found by review: bool("false") read a hand-edited
        # "false" as true, and a quarantine reason that was no text was kept as it was)
        quarantined=r.get("quarantined", _flag, False),
        quarantine_reason=r.get("quarantine_reason", _text_or_none, None),
        entries_blocked=r.get("entries_blocked", _flag, False),
        price_seq=r.get("price_seq", whole_count, 0),  # the clock the legs' anchor_seq counts on
        fees_owed=load_owed(data.get("fees_owed"), TABLE, symbol, "data.fees_owed"),
    )
