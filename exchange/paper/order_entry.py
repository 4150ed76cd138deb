"""Write side of the paper exchange: placing and canceling orders, and the submissions log
every attempt leaves (accepted, rejected, or refused by an injected fault).

Mixed into `PaperExchange`, which provides the books, the matcher, the store and the locks.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from exchange import errors
from exchange.paper.engine import Book, Draft
from exchange.paper.models import OrderRec, Submission, order_view
from exchange.paper.orders import (
    OrderRequest,
    check_against_book,
    parse_request,
    position_side,
    reduce_only_flag,
)
from exchange.records import VenueOrder


class OrderEntryMixin:
    """The paper exchange's order entry (mixed into PaperExchange, which provides these)."""

    if TYPE_CHECKING:
        hedge_mode: bool
        _closed: bool
        _call: Any
        _enter: Any
        _now_ms: Any
        _catch_up: Any
        _book: Any
        _store: Any
        _commit: Any
        _matcher: Any
        _ids_lock: Any
        _client_ids: set[str]
        _next_order_seq: Any

    def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: Decimal,
        price: Decimal | None = None,
        params: dict[str, Any] | None = None,
    ) -> VenueOrder:
        params = dict(params or {})
        call = {"symbol": symbol, "type": type, "side": side, "amount": amount,
                "price": price, "params": params}
        try:
            fault = self._enter("create_order", call)
        except errors.ExchangeError as exc:
            if not self._closed:
                self._record_attempt(call, "fault", exc)
                self._store.flush()
            raise
        note = None if fault is None else f"after-accept fault: {type_name(fault.error)}"
        try:
            result = self._create(call, note)
        except errors.ExchangeError as exc:
            self._record_attempt(call, "rejected", exc)
            if fault is not None:
                raise fault.error from exc
            raise
        finally:
            self._store.flush()
        if fault is not None:
            raise fault.error
        return result

    def _record_attempt(self, call: dict[str, Any], outcome: str, exc: BaseException) -> None:
        sub = self._submission(call, outcome, None, f"{type_name(exc)}: {exc}")
        sub.position_side = self._declared_position_side(call)
        self._store.record_submission(sub)

    def _declared_position_side(self, call: dict[str, Any]) -> str | None:
        """The position side a (rejected) request named, if it named a valid one."""
        params = call["params"]
        try:
            reduce_only = (reduce_only_flag(params, str(call["symbol"]))
                           or params.get("stopLossPrice") is not None)
            return position_side(params, call["side"], reduce_only, hedge_mode=self.hedge_mode,
                                 symbol=str(call["symbol"]))
        except Exception:  # noqa: BLE001 - a request that names no valid side
            return None

    def _submission(
        self, call: dict[str, Any], outcome: str, order_id: str | None, error: str | None,
        position_side: str | None = None,
    ) -> Submission:
        return Submission(
            ts=self._now_ms(), client_order_id=call["params"].get("clientOrderId"),
            symbol=call["symbol"], type=call["type"], side=call["side"], amount=call["amount"],
            price=call["price"], params=call["params"], outcome=outcome, order_id=order_id,
            error=error, position_side=position_side,
        )

    def _create(self, call: dict[str, Any], note: str | None) -> VenueOrder:
        book = self._book(call["symbol"])
        req = parse_request(book.market, call["type"], call["side"], call["amount"],
                            call["price"], call["params"], hedge_mode=self.hedge_mode)
        with book.lock:
            now = max(self._now_ms(), book.last_ms)  # a clock stepping back never rewinds it
            self._catch_up(book, now)
            check_against_book(req, book.mark, book.positions[req.position_side].qty)
            self._reserve_client_id(req)
            sub = self._submission(call, "accepted", None, note, req.position_side)
            try:
                order = self._place(book, req, now, sub)
            except BaseException:
                self._release_client_id(req)
                raise
        return order

    def _reserve_client_id(self, req: OrderRequest) -> None:
        if req.client_id is None:
            return
        with self._ids_lock:
            if req.client_id in self._client_ids:
                raise errors.InvalidOrder(
                    f"paper: duplicate clientOrderId {req.client_id!r} ({req.symbol})"
                )
            self._client_ids.add(req.client_id)

    def _release_client_id(self, req: OrderRequest) -> None:
        if req.client_id is not None:
            with self._ids_lock:
                self._client_ids.discard(req.client_id)

    def _place(self, book: Book, req: OrderRequest, now: int, sub: Submission) -> VenueOrder:
        d = Draft(book, now, book.mark)
        seq = self._next_order_seq()
        order = d.add(OrderRec(
            seq=seq, id=str(seq), client_order_id=req.client_id, symbol=req.symbol,
            type=req.type, side=req.side, amount=req.amount, price=req.price,
            reduce_only=req.reduce_only, created_ms=now, trigger_price=req.trigger_price,
            trigger_direction=req.trigger_direction, stop_loss_price=req.stop_loss_price,
            updated_ms=now, position_side=req.position_side,
        ))
        required = self._matcher.arrive(d, order)
        sub.order_id = order.id
        self._commit(d, raw_price=book.price, last_ms=now, required=required, submissions=[sub])
        return order_view(d.orders[order.id])

    def cancel_order(
        self, id: str | None, symbol: str, params: dict[str, Any] | None = None
    ) -> VenueOrder:
        params = dict(params or {})
        call = {"id": id, "symbol": symbol, "params": params}
        return self._call("cancel_order", call, lambda: self._cancel(id, symbol, params))

    def _cancel(self, order_id: str | None, symbol: str, params: dict[str, Any]) -> VenueOrder:
        client_id = params.get("clientOrderId")
        if order_id is None and client_id is None:
            raise errors.BadRequest("paper: cancel_order needs an id or params['clientOrderId']")
        book = self._book(symbol)
        with book.lock:
            now = max(self._now_ms(), book.last_ms)  # a clock stepping back never rewinds it
            self._catch_up(book, now)
            order = book.find_open(order_id, client_id)
            if order is None:
                raise errors.OrderNotFound(
                    f"paper: {symbol} order {order_id or client_id} is not open "
                    "(unknown, filled or already canceled)"
                )
            d = Draft(book, now, book.mark)
            self._matcher.finish(d, order, "canceled")
            self._commit(d, raw_price=book.price, last_ms=now)
            return order_view(d.orders[order.id])


def type_name(exc: BaseException) -> str:
    return type(exc).__name__
