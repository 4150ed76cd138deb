"""Which of our client order ids a trade belongs to, for venues whose trade records lack it.

ccxt trades carry no clientOrderId. Bybit's executions have `orderLinkId` in `info`; Binance's
`userTrades` have only the exchange's `orderId`. The gateway remembers the client id of every
order it created; a trade of an order it has not seen answered yet (the REST fill poll can read
the fill before `create_order` has returned, or after a restart) is looked up once by order id,
and the answer is remembered, so a stranger's trades cost one lookup each, not one per poll.
"No such order" is remembered for NOT_FOUND_RECHECK_S only: a trade's order exists, and the
venue's order search lags its trades and creates by up to a few seconds; remembered for good,
one lagging answer made every later read of that order's trades come without its client id (an
order that landed after a timeout was never matched to its intent, which could be sent again).
Without this memo, such a fill reached the actor as an unknown fill (a reconcile) instead of
as its own order's fill (tests/exchange/ccxt/test_stream_feed.py, disconnect mid-fill on
Binance, failed about one run in four).

Kept by symbol and order id: Binance numbers orders per symbol ("orderId is self-increasing for
each specific symbol"), and keyed by the id alone another symbol's trade of an order numbered
like ours took our client id (its fill went to an actor that has no such order: ignored).
Only plain orders are kept and taken: Binance numbers its algo (stop) orders apart (ccxt's id
of one is its algoId) and a trade names only a plain order (a triggered stop's trade names the
order its trigger placed), so a stop numbered like an order took that order's trades; the
lookup asks the plain book only (the stop book's answer was never taken: a request wasted).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

MEMO_SIZE = 20_000
_NONE = ""  # remembered: the venue has this order without a client id
NOT_FOUND_RECHECK_S = 10.0
"""How long the venue's "no such order" answer is believed before the order is asked again."""


class ClientIdMemo:
    """Mixed into CcxtGateway (which provides `_memo_lock`, `_cid_by_order` and `_find`)."""

    _memo_lock: threading.Lock
    _cid_by_order: OrderedDict[tuple[str, str], str]
    _cid_missing: OrderedDict[tuple[str, str], float]  # when the venue said "no such order"
    _find: Callable[..., dict[str, Any] | None]
    _clock: Callable[[], float]

    def _client_id_of(self, trade: dict[str, Any]) -> str | None:
        info = trade.get("info") or {}
        cid = trade.get("clientOrderId") or info.get("orderLinkId") or info.get("clientOrderId")
        if cid:
            return str(cid)
        order_id, symbol = trade.get("order"), trade.get("symbol")
        if order_id is None or not symbol:
            return None
        key = (str(symbol), str(order_id))
        with self._memo_lock:
            known = self._cid_by_order.get(key)
            missing_at = self._cid_missing.get(key)
        if known is None and missing_at is not None and (
                self._clock() - missing_at < NOT_FOUND_RECHECK_S):
            return None
        if known is None:
            known = self._cid_from_order(*key)
        return known or None

    def _cid_from_order(self, symbol: str, order_id: str) -> str:
        """The order's client id, or `_NONE` when the venue has the order without one
        (remembered) or has no such order (remembered for NOT_FOUND_RECHECK_S). Any other
        failure fails the read (the callers retry it): naming the trade by its trade id for
        this one read made our own fill an unexplained `trade-<id>`, booked apart from its
        order's fill, so counted twice."""
        found = self._find(symbol, order_id, None, None, plain=True)  # no stop book read
        if found is not None and _is_algo(found):  # the stop book's: another number space
            found = None
        if found is None:
            with self._memo_lock:
                self._cid_missing[(symbol, order_id)] = self._clock()
                self._cid_missing.move_to_end((symbol, order_id))
                while len(self._cid_missing) > MEMO_SIZE:
                    self._cid_missing.popitem(last=False)
            return _NONE
        cid = str(found.get("clientOrderId") or _NONE)
        self._remember(symbol, order_id, cid)
        return cid

    def _remember_cid(self, order: dict[str, Any]) -> None:
        if _is_algo(order):  # no trade names it
            return
        if order.get("id") is not None and order.get("clientOrderId") and order.get("symbol"):
            self._remember(str(order["symbol"]), str(order["id"]), str(order["clientOrderId"]))

    def _remember(self, symbol: str, order_id: str, cid: str) -> None:
        with self._memo_lock:
            self._cid_missing.pop((symbol, order_id), None)
            self._cid_by_order[(symbol, order_id)] = cid
            while len(self._cid_by_order) > MEMO_SIZE:
                self._cid_by_order.popitem(last=False)


def _is_algo(order: dict[str, Any]) -> bool:
    """A Binance algo (conditional) order: its id is an algoId (REST `algoId`, stream `aid`)."""
    info = order.get("info")
    return isinstance(info, dict) and ("algoId" in info or "aid" in info)
