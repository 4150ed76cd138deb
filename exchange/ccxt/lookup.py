"""Find, cancel and list orders - including stop (trigger / algo) orders - by exchange id or
by our clientOrderId, using each exchange's native way (all through ccxt's unified methods):

bybit    GET /v5/order/realtime with orderLinkId|orderId (open + untriggered conditional orders),
         then GET /v5/order/history with the same key (filled / cancelled / triggered).
         Cancel: POST /v5/order/cancel with orderLinkId|orderId (works for conditional orders).
binance  GET /fapi/v1/order with origClientOrderId|orderId, then GET /fapi/v1/algoOrder with
         clientAlgoId|algoId (ccxt: params {'trigger': True}); stops first when the caller
         knows it is a stop. Cancel likewise: DELETE /fapi/v1/order, then /fapi/v1/algoOrder.
generic  fetch_order with {'clientOrderId': ...}, then fetch_open_orders filtered.

Functions take one ccxt instance and make raw ccxt calls; the gateway wraps them in its
retry policy (these are idempotent reads / cancels).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import ccxt
from loguru import logger

from exchange import whole_listing
from exchange.ccxt import open_order_rows
from exchange.ccxt.answer_rows import Keep, Page, parsed, rows_of
from exchange.ccxt.bybit_pages import bybit_pages
from exchange.ccxt.errors import UNREADABLE, classify, venue_code
from exchange.ccxt.order_params import Venue

Order = dict[str, Any]


def _matches(order: Order, order_id: str | None, cid: str | None) -> bool:
    if cid is not None:
        return order.get("clientOrderId") == cid
    return str(order.get("id")) == str(order_id)


def _first(orders: list[Order], order_id: str | None, cid: str | None) -> Order | None:
    return next((o for o in orders if _matches(o, order_id, cid)), None)


def _book_flags(venue: Venue, trigger_hint: bool | None,
                plain_only: bool = False) -> list[dict[str, Any]]:
    if not venue.separate_trigger_book or plain_only:
        return [{}]
    flags = [{}, dict(venue.trigger_flag)]
    return flags[::-1] if trigger_hint else flags


def find_order(
    ex: ccxt.Exchange,
    venue: Venue,
    symbol: str,
    *,
    order_id: str | None = None,
    client_order_id: str | None = None,
    trigger_hint: bool | None = None,
    plain_only: bool = False,
) -> Order | None:
    """The order with this id / clientOrderId in any state, or None if the exchange has none.
    `plain_only`: never a stop (a trade's order: a trade names only a plain order, and
    Binance's stop book numbers its algo orders apart), so that book is not asked."""
    if order_id is None and client_order_id is None:
        raise ccxt.ArgumentsRequired("find_order needs an id or params['clientOrderId']")
    if venue.lookup == "bybit":
        key = {"orderLinkId": client_order_id} if client_order_id else {"orderId": order_id}
        live = ex.fetch_open_orders(symbol, None, None, dict(key))
        found = _first(live, order_id, client_order_id)
        if found is None:
            history = ex.fetch_canceled_and_closed_orders(symbol, None, None, dict(key))
            found = _first(history, order_id, client_order_id)
        return found
    if venue.lookup == "binance":
        for flag in _book_flags(venue, trigger_hint, plain_only):
            params = dict(flag)
            if client_order_id:
                params["clientOrderId"] = client_order_id
            try:
                return _with_actual_fill(ex, symbol, ex.fetch_order(order_id, symbol, params))
            except ccxt.OrderNotFound:
                continue
        return None
    return _find_generic(ex, symbol, order_id, client_order_id)


_ENDED_UNFILLED = ("canceled", "expired", "rejected")


def _with_actual_fill(ex: ccxt.Exchange, symbol: str, order: Order) -> Order:
    """A triggered Binance algo (stop) order reports no fill itself: the trigger placed a new
    order (`actualOrderId`) that fills. Report the stop as that order is: filled (a fill, never
    a cancel), or still open while the triggered order works (algoStatus TRIGGERED, which ccxt
    4.5.90 maps to 'closed': read as a stop that ended unfilled, it was journaled as
    `OrderCanceled` and a second stop was placed). Algo statuses per Binance's "Event: Algo
    Order Update" (developers.binance.com, USDⓈ-M user data streams): NEW, TRIGGERING,
    TRIGGERED (placed in the matching engine), FINISHED (filled or canceled there), CANCELED,
    REJECTED, EXPIRED. The triggered order not found (the venue's read lagging its trigger) is
    an unreadable answer, retried and then raised as such: caught as OrderNotFound, the lookup
    went on to the regular book by the stop's client id and answered "no such order" for a
    stop that had fired (the stop watch then reconciled it as gone). TRIGGERED with no
    `actualOrderId` yet is working too: read as 'closed' with nothing filled it was a cancel.
    FINISHED with the placed order ended unfilled (Binance expires a triggered reduce-only
    order with nothing left to reduce) is that order's status, e.g. 'expired': read as
    'closed' with nothing filled, the stop watch logged "stop ... filled on the exchange" at
    INFO for a stop that ended unfilled (tests/actors/test_stop_ended_by_venue.py)."""
    info = order.get("info") or {}
    actual = info.get("actualOrderId")
    if order.get("status") != "closed" or order.get("filled"):
        return order
    if not actual:  # TRIGGERED without the placed order's id yet: working, never a cancel
        working = str(info.get("algoStatus") or "").upper() == "TRIGGERED"
        return {**order, "status": "open"} if working else order
    try:
        child = ex.fetch_order(str(actual), symbol)
    except ccxt.OrderNotFound:  # the stop exists and triggered: never "no such order"
        raise ccxt.BadResponse(f"stop {order.get('id')} on {symbol} triggered order {actual}, "
                               "which the venue does not list (yet)") from None
    status = child.get("status")
    if status != "open" and (status not in _ENDED_UNFILLED or child.get("filled")):
        status = order.get("status")  # FINISHED: the engine's order filled (some of it)
    return {**order, "status": status, "filled": child.get("filled"),
            "average": child.get("average"), "cost": child.get("cost"),
            "lastTradeTimestamp": child.get("lastTradeTimestamp")}


Run = Callable[[Callable[[ccxt.Exchange], Any], str], Any]


def with_trade_fees(run: Run, venue: Venue, order: Order) -> Order:
    """Binance USDⓈ-M order answers carry no fee; only the order's trades (`userTrades`, weight
    5) do. Read them only for an order that filled something and reports no fee: the rate
    budget pays once per fill, not per symbol per poll (issue 12: a userTrades call per symbol
    per poll broke the 2,400/min weight limit at 5 symbols). A triggered algo stop's fee is on
    the order its trigger placed (`actualOrderId`). Fees are kept per currency (converted to the
    settle currency by convert.order, fees.py). Read by order lookups and cancels, never
    before a create's answer returns (recovery.py `_with_fees`): an entry's stop must not wait
    for it.

    The venue's trade list lags its order state (the user-data stream reports a fill within
    milliseconds, userTrades may list its trades a second or more later): when the trades found
    do not add up to what the order filled, its fee is unknown and the order is returned without
    one, never with the part listed so far (taken as its whole fee, the rest was never booked).
    The core books such a fill's quantity at once and looks again for its fee
    (trading/late_fees.py). A trade that names no fee currency (ccxt 4.5.90 reads a missing
    commissionAsset as None, which fees.py takes for the settle currency) leaves it unknown too.
    """
    if venue.lookup != "binance" or _fee_known(order) or not _filled(order):
        return order
    oid = str((order.get("info") or {}).get("actualOrderId") or order.get("id"))
    symbol = order.get("symbol")
    trades = run(lambda ex: ex.fetch_my_trades(symbol, None, None, {"orderId": oid}),
                 f"trades of order {oid}")
    by_currency: dict[Any, Decimal] = {}
    traded = Decimal(0)
    for t in trades:  # per currency: with BNB burn on, BNB (or USDT once the BNB ran out)
        charged = t.get("fee") or {}
        if str(t.get("order")) == oid and charged.get("cost") is not None:
            currency = charged.get("currency")
            if not currency:  # no commissionAsset: BNB or USDT, unknown (never taken as USDT)
                return order
            by_currency[currency] = by_currency.get(currency, Decimal(0)) + Decimal(
                str(charged["cost"]))
            traded += _amount(t.get("amount"))
    if not by_currency or traded < _amount(order.get("filled")):
        return order  # not every trade of it is listed yet: its fee is unknown
    return {**order, "fee": None,
            "fees": [{"cost": str(cost), "currency": c} for c, cost in by_currency.items()]}


def _fee_known(order: Order) -> bool:
    return (order.get("fee") or {}).get("cost") is not None or any(
        f and f.get("cost") is not None for f in order.get("fees") or [])


def _filled(order: Order) -> bool:
    return _amount(order.get("filled")) > 0


def _amount(value: Any) -> Decimal:
    """A ccxt amount (a float, a string or None) as a Decimal; 0 when unreadable."""
    try:
        return Decimal(str(value or 0))
    except ArithmeticError:
        return Decimal(0)


def _find_generic(ex, symbol, order_id, client_order_id) -> Order | None:
    params = {"clientOrderId": client_order_id} if client_order_id else {}
    if ex.has.get("fetchOrder"):
        try:
            return ex.fetch_order(order_id, symbol, params)
        except ccxt.OrderNotFound:
            pass
    return _first(ex.fetch_open_orders(symbol), order_id, client_order_id)


BYBIT_ORDER_ENDED = frozenset({"110008", "110010"})
"""Bybit's answers to a cancel of an order that has ended (110008 "order has been finished or
cancelled", 110010 "order already cancelled"), which ccxt 4.5.90 raises as InvalidOrder: the
order is no longer open, as Binance's -2011 and Bybit's 110001 say (OrderNotFound), so the
caller looks it up (filled or cancelled) instead of taking a harmless race for a refusal."""


def cancel(
    ex: ccxt.Exchange,
    venue: Venue,
    symbol: str,
    *,
    order_id: str | None,
    client_order_id: str | None,
    trigger_hint: bool | None = None,
    unanswered: set[str] | None = None,
) -> Order:
    """Cancel by id or clientOrderId, trying the stop book too where stops live apart.
    Raises ccxt.OrderNotFound if no book has it open (`BYBIT_ORDER_ENDED` included).
    `unanswered` (kept across one cancel's attempts, `canceller`): "stops" once a stop's DELETE
    to the stop book went unanswered; then not found there is final, the plain book not asked."""
    if order_id is None and client_order_id is None:
        raise ccxt.ArgumentsRequired("cancel_order needs an id or params['clientOrderId']")
    last: ccxt.OrderNotFound | None = None
    for flag in _book_flags(venue, trigger_hint):
        params = dict(flag)
        if client_order_id:
            params[venue.cancel_client_id_key] = client_order_id
        told = unanswered if flag and trigger_hint else None  # a stop's DELETE, stop book
        try:
            return ex.cancel_order(order_id if not client_order_id else None, symbol, params)
        except ccxt.OrderNotFound as exc:
            last = exc
            if told is not None and "stops" in told:
                raise  # its earlier DELETE landed, or it ended: the lookup after decides
        except ccxt.InvalidOrder as exc:
            if venue.lookup != "bybit" or venue_code(exc) not in BYBIT_ORDER_ENDED:
                raise
            last = ccxt.OrderNotFound(str(exc))
        except ccxt.BaseError as exc:  # "ambiguous": sent, no answer, it may have landed
            if told is not None and classify(exc, order_call=True) == "ambiguous":
                told.add("stops")
            raise
    assert last is not None
    raise last


def canceller(venue: Venue, symbol: str, order_id: str | None, client_order_id: str | None,
              trigger_hint: bool | None) -> Callable[[ccxt.Exchange], Order]:
    """One cancel as the gateway's retry calls it, attempt after attempt. A stop (the hint)
    lives in the stop book only (ccxt 4.5.90 sends a swap's conditional orders to Binance's
    /fapi/v1/algoOrder): after its DELETE there went unanswered, not found there is final.
    Seen live: the retry went on to DELETE /fapi/v1/order, timed out too (12.6 s a cancel)."""
    unanswered: set[str] = set()
    return lambda ex: cancel(ex, venue, symbol, order_id=order_id, unanswered=unanswered,
                             client_order_id=client_order_id, trigger_hint=trigger_hint)


BYBIT_OPEN_PAGE = 50
"""Open orders a Bybit page holds at most (GET /v5/order/realtime `limit` 1-50, default 20)."""
MAX_OPEN_PAGES = 40
"""Pages of open orders read in one listing at most (2,000 Bybit orders)."""


def settle_reads(venue: Venue, markets: dict[str, Any] | None, symbols: list[str] | None,
                 params: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The params of each read an all-symbol listing takes. Bybit lists one settle coin per
    read (position/list, order/realtime without a symbol), and ccxt asks for USDT unless told:
    a USDC-settled perpetual was never listed. One read per settle coin of `symbols`."""
    base = dict(params or {})
    if venue.lookup != "bybit" or "settleCoin" in base or not symbols or not markets:
        return [base]
    coins = sorted({str(markets[s]["settleId"]) for s in symbols
                    if (markets.get(s) or {}).get("settleId")})
    return [{**base, "settleCoin": coin} for coin in coins] or [base]


BYBIT_POSITION_PAGE = 200
"""Positions a Bybit page holds at most (GET /v5/position/list `limit` 1-200)."""
MAX_POSITION_PAGES = 50
"""Pages of an all-symbol position read at most (10,000 rows): more is an unreadable answer."""


def read_positions(ex: ccxt.Exchange, symbols: list[str] | None, params: dict[str, Any],
                   keep: Keep | None = None) -> list:
    """`ex.fetch_positions(symbols, params)`. ccxt parses every row of the answer, and one it
    cannot parse (a "NaN" mark price: Precise raises ValueError) failed the read whole: on
    Binance the one all-symbol read every actor shares, so one row of a symbol traded by hand
    on the account failed every symbol's reconciliation and the sweep (the sweep on Bybit
    too). Then the answer ccxt kept is parsed row by row (Bybit, Binance USDⓈ-M, as ccxt
    does; answer_rows.py); such a row of a symbol not traded (`keep`) is skipped, said once.
    One answer: none of its rows readable is an unreadable answer (`Keep.check`)."""
    rows = _position_page(ex, symbols, params, keep)
    if keep is not None:
        keep.check()
    return [p for p in rows if symbols is None or p.get("symbol") in symbols]


Shared = tuple[list, dict[str, str]]
"""The shared all-symbol position read: its rows and the traded symbols whose row it could
not read (Keep.apart), with the one-line error each one's read raises."""


def shared_positions(ex: ccxt.Exchange, traded: list[str] | None, said: set[str]) -> Shared:
    """Binance's one all-symbol position read, shared by every actor and the fills poll
    (fresh_read.py): a traded symbol's row ccxt cannot parse fails that symbol's read alone
    (`of_symbols`); raised here, it failed every symbol's reconciliation with it."""
    keep = Keep(traded, said, apart={})
    return read_positions(ex, None, {}, keep), dict(keep.apart or {})


def of_symbols(shared: Shared, symbols: list[str] | None) -> list:
    """The rows of the shared read, for `symbols` (None: the account's, every symbol's):
    raised as unreadable when the row of one of them could not be read."""
    rows, apart = shared
    for symbol in sorted(apart) if symbols is None else symbols:
        if symbol in apart:
            raise ccxt.BadResponse(apart[symbol])
    return rows


def _position_page(ex: ccxt.Exchange, symbols: list[str] | None, params: dict[str, Any],
                   keep: Keep | None) -> list:
    """One answer of `read_positions`, every symbol's rows, a row skipped noted in `keep`
    (the listing judges)."""
    ex.enableLastJsonResponse = True  # this thread's own instance; never an answer
    ex.last_json_response = None  # to an earlier request taken for this one's
    try:
        whole_read = list(ex.fetch_positions(symbols, params))
        return keep.count(whole_read) if keep is not None else whole_read
    except UNREADABLE as whole:
        answer = ex.last_json_response
        if keep is None or ex.id not in ("bybit", "binanceusdm") or answer is None:
            raise
        failed = whole
    rows, cursor = rows_of(answer)
    if rows is None:
        raise failed

    def parse(row: dict[str, Any]) -> list:
        if ex.id == "bybit":
            return [ex.parse_position(row)]
        if Decimal(str(row.get("entryPrice") or 0)) > 0:  # ccxt's: a flat row is left out
            return [ex.parse_position_risk(row)]  # (a garbled entryPrice: ArithmeticError)
        return []

    # the rows the venue listed and the next page: a full page read short is no last page
    return Page(parsed(ex, rows, parse, keep, failed, "position"), len(rows), cursor)


def positions(ex: ccxt.Exchange, venue: Venue, symbols: list[str] | None,
              reads: list[dict[str, Any]], hedge: bool = False,
              keep: Keep | None = None) -> list:
    """The raw position rows of `symbols` (None: of the account, one read per `reads`). Bybit
    lists the symbol asked for even when flat (size "0"; both legs, positionIdx 1 and 2, in
    hedge mode): a one-symbol read that lists no row of it (or of one leg) is malformed, raised
    as unreadable naming the symbol, never taken as "no position" (issue 12: a bad position
    answer must not unprotect a position)."""
    if venue.lookup == "bybit" and not symbols:
        every = [r for p in reads for r in _bybit_position_pages(ex, p, keep)]
        if keep is not None:  # not one row of every page of every coin readable
            keep.check()
        return every
    rows = [r for p in reads for r in read_positions(ex, symbols, p, keep)]
    if venue.lookup == "bybit" and symbols:
        listed = {str((r.get("info") or {}).get("positionIdx")) for r in rows}
        missing = sorted({"1", "2"} - listed) if hedge and rows else []
        if not rows or missing:
            what = f"hedge leg positionIdx {missing[0]}" if missing else "the symbol asked"
            raise ccxt.BadResponse(f"bybit fetch_positions {symbols[0]}: the answer lists no "
                                   f"row of {what} (the venue lists a flat one, size 0)")
    return rows


def _bybit_position_pages(ex: ccxt.Exchange, params: dict[str, Any],
                          keep: Keep | None = None) -> list:
    """Every page of an all-symbol Bybit position read: up to 200 rows a page, the next one
    named by `nextPageCursor` (ccxt 4.5.90 reads one page; its `paginate` option wants a
    `since` this read has none of, and retries that error into a raise). Without this an
    account holding more rows than one page lost the rest from the reconcile sweep. A cursor
    named twice, or more than MAX_POSITION_PAGES pages, is an unreadable answer."""
    rows, ended = bybit_pages(
        lambda cursor: _position_page(ex, None, {**params, "limit": BYBIT_POSITION_PAGE,
                                                 **({"cursor": cursor} if cursor else {})}, keep),
        BYBIT_POSITION_PAGE, MAX_POSITION_PAGES, "bybit fetch_positions")
    if ended:
        return rows
    raise ccxt.BadResponse(f"bybit fetch_positions: more than {MAX_POSITION_PAGES} pages of "
                           f"{BYBIT_POSITION_PAGE} positions")


def open_orders(ex: ccxt.Exchange, venue: Venue, symbol: str | None, since, limit, params,
                symbols: list[str] | None = None, said: set[str] | None = None) -> list:
    """Open orders including untriggered stops (`symbol` None: of the account, read for each
    settle coin of `symbols`, see `settle_reads`; with `said`, an order row ccxt cannot parse
    of a symbol not in `symbols` is skipped, see open_order_rows.py)."""
    if symbol is None:
        keep = None if said is None else Keep(symbols, said)
        rows = [o for p in settle_reads(venue, ex.markets, symbols, params)
                for o in _open_orders(ex, venue, None, since, limit, p, keep)]
        if keep is not None:
            keep.check()  # not one row readable: an unreadable answer, not "no orders"
        return rows
    return _open_orders(ex, venue, symbol, since, limit, params)


def _open_orders(ex: ccxt.Exchange, venue: Venue, symbol: str | None, since, limit,
                 params, keep: Keep | None = None) -> list:
    orders = _open_pages(ex, venue, symbol, since, limit, dict(params or {}), keep)
    if venue.separate_trigger_book and not (params or {}).get("trigger"):
        stops = {**(params or {}), **venue.trigger_flag}
        orders += _open_read(ex, symbol, since, limit, stops, keep)
    return orders


def _open_read(ex: ccxt.Exchange, symbol: str | None, since, limit, params: dict[str, Any],
               keep: Keep | None) -> list:
    """One answer of open orders; of the account with `keep`: row by row if ccxt cannot
    parse it whole (open_order_rows.py)."""
    if symbol is None and keep is not None:
        return open_order_rows.read(ex, since, limit, params, keep)
    return list(ex.fetch_open_orders(symbol, since, limit, params))


def _open_pages(ex: ccxt.Exchange, venue: Venue, symbol: str | None, since, limit,
                params: dict[str, Any], keep: Keep | None = None) -> list:
    """Every open order, page by page where the venue pages them: Bybit answers the newest 20
    unless asked for up to 50 and names the next page in `nextPageCursor` (ccxt 4.5.90 puts it
    into one row's info and asks for one default page), so a listing that looks for orders
    nobody owns saw only the newest 20 of the account's or the symbol's open orders."""
    if venue.lookup != "bybit" or limit is not None:
        return _open_read(ex, symbol, since, limit, params, keep)
    # a cursor named again: read again and again, every order listed 40 times
    orders, ended = bybit_pages(
        lambda cursor: _open_read(ex, symbol, since, BYBIT_OPEN_PAGE,
                                  {**params, "cursor": cursor} if cursor else params, keep),
        BYBIT_OPEN_PAGE, MAX_OPEN_PAGES, f"bybit fetch_open_orders {symbol or 'of the account'}")
    if ended:
        return orders
    if symbol is None and whole_listing.required():  # the first reconciliations' list
        raise ccxt.ExchangeError(f"bybit open orders of the account: more than {MAX_OPEN_PAGES} "
                                 f"pages of {BYBIT_OPEN_PAGE}; the older ones were not read")
    logger.warning("open orders of {}: stopped after {} full pages; some were not read",
                   symbol or "the account", MAX_OPEN_PAGES)
    return orders
