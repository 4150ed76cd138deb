"""The restore's status spellings and its selects, their SQL built once (storage/prepared.py:
about ten run per symbol at every actor start). Split out of storage/restore.py."""

from __future__ import annotations

from typing import Any

from storage.models import ActorStateRow, OrderRow, PositionRow, TrailingStopRow
from storage.prepared import Prepared
from trading.model import OrderStatus

__all__ = ["LIVE", "LIVE_STATUS", "OPEN_STATUS", "ORDER_STATUS", "POSITION_STATUS", "spellings"]

LIVE = ("pending", "open")


def spellings(*values: str) -> tuple[str, ...]:
    """Each value as we write it and as older versions wrote it (`OPEN`, `Open`): matched with
    `IN`, so the (symbol, status) index serves the lookup (a `LOWER(status)` filter cannot use
    it and read the symbol's whole history on every start). Rows are lower-cased by the v2
    migration; these are the casings a row written by an older bot after it still has."""
    return tuple(dict.fromkeys(v for value in values
                               for v in (value, value.upper(), value.title())))


OPEN_STATUS = spellings("open")
LIVE_STATUS = spellings(*LIVE)
ORDER_STATUS = spellings(*(status.value for status in OrderStatus))
POSITION_STATUS = spellings("open", "closed")
"""Every status an order (a position) row may hold: a row of the symbol with none of them
(NULL, a hand edit, a newer bot's value) is not known to be ended, so it is never left out of
the restore."""

ACTOR_ROW = Prepared("actor_state row", ActorStateRow, (str,),
                     lambda symbol: ActorStateRow.symbol == symbol,
                     shape=lambda query: query.limit(1))
OPEN_POSITIONS = Prepared("open positions", PositionRow, (str,),
                          lambda symbol: (PositionRow.symbol == symbol)
                          & PositionRow.status.in_(OPEN_STATUS),
                          shape=lambda query: query.limit(2))
TRAILING_ROW = Prepared("trailing_stops row", TrailingStopRow, (str,),
                        lambda symbol: TrailingStopRow.symbol == symbol,
                        shape=lambda query: query.limit(1))
LIVE_ORDERS = Prepared("live orders", OrderRow, (str,),
                       lambda symbol: (OrderRow.symbol == symbol)
                       & OrderRow.status.in_(LIVE_STATUS),
                       shape=lambda query: query.order_by(OrderRow.created_at,
                                                          OrderRow.client_order_id))


def _unknown_status(model: Any, known: tuple[str, ...]) -> Prepared:
    """The first of the symbol's rows of `model` whose status is NULL or not in `known`."""
    return Prepared(f"{model._meta.table_name} status", model, (str,),
                    lambda symbol: (model.symbol == symbol)
                    & (model.status.is_null() | model.status.not_in(known)),
                    fields=(model._meta.primary_key, model.status),
                    shape=lambda query: query.limit(1))


UNKNOWN_POSITION_STATUS = _unknown_status(PositionRow, POSITION_STATUS)
UNKNOWN_ORDER_STATUS = _unknown_status(OrderRow, ORDER_STATUS)
