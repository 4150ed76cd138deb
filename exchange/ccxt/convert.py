"""The one place ccxt's unified dicts become the port's records (`exchange/records.py`).

Every number goes through `exchange.decimals` (Decimal via str). Fields ccxt leaves out but
the venue's raw answer (`info`) carries are read here too, so no caller ever looks at `info`:
the position side (Bybit `positionIdx`, Binance `positionSide`), a fill's realized P&L
before fees (Binance `realizedPnl`; Bybit `execPnl`, "consistent with cashFlow in the
transaction log", which excludes trading and funding fees; both "0" for an opening fill) and
Bybit's order fee when ccxt found no `cumFeeDetail` (then `cumExecFee`, in the market's settle
currency).

An answer that cannot be read (a status ccxt does not know, a fill without a price) raises
`ccxt.BadResponse`, which the gateway treats like any other unreadable answer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt
from loguru import logger

from exchange.ccxt import fees
from exchange.ccxt.convert_balance import balance as balance
from exchange.ccxt.errors import UNREADABLE
from exchange.ccxt.order_params import row_only_reduces
from exchange.decimals import decimal_or_none
from exchange.records import (
    Fee,
    PositionSide,
    VenueFill,
    VenueMarket,
    VenueOrder,
    VenueOrderStatus,
    VenuePosition,
    VenueTicker,
)
from observability.error_text import describe

Raw = dict[str, Any]
_BY_NAME = {"BOTH": PositionSide.NET, "LONG": PositionSide.LONG, "SHORT": PositionSide.SHORT}


def to_float(value: Decimal | float | int | str | None) -> float | None:
    """Port input -> ccxt's float (amounts/prices already rounded by *_to_precision)."""
    return None if value is None else float(value)


def _num(raw: Raw, *keys: str) -> Decimal | None:
    """The first of `keys` that `raw` has a number for."""
    for key in keys:
        try:
            value = decimal_or_none(raw.get(key))
        except ValueError:
            raise ccxt.BadResponse(f"unreadable {key} {raw.get(key)!r}") from None
        if value is not None:
            return value
    return None


def _str(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _info(raw: Raw) -> Raw:
    """The venue's raw row ccxt keeps in `info`; {} when there is none or it is no object (a
    garbled answer: a list or a string there raised AttributeError out of the port)."""
    info = raw.get("info")
    return info if isinstance(info, dict) else {}


def position_side(info: Raw | None) -> PositionSide | None:
    """The side the venue's raw row names, or None when it names none."""
    info = info if isinstance(info, dict) else {}
    idx = info.get("positionIdx")
    if idx is not None and str(idx).strip() in ("0", "1", "2"):
        return PositionSide.from_idx(int(str(idx).strip()))
    name = info.get("positionSide") or info.get("ps")  # Binance REST rows; its stream rows
    return _BY_NAME.get(name.upper()) if isinstance(name, str) else None


def fee(raw: Raw, *, info_fee_key: str | None = None, currency: str | None = None,
        settle: str | None = None, price: fees.Price | None = None) -> Fee | None:
    """The fee ccxt (or the raw `info_fee_key`, in `currency`) reports, in `settle` where that
    is known (fees.py: a part in another asset at its `price`; unpriceable: None)."""
    try:
        found = fees.parts(raw, info_fee_key=info_fee_key, currency=currency)
    except ValueError as exc:
        raise ccxt.BadResponse(f"unreadable fee: {exc}") from None
    charged = fees.in_settle(found, settle, price, symbol=str(raw.get("symbol")),
                             order=_str(raw.get("order")) or _str(raw.get("id")))
    if charged is not None and not charged.cost.is_finite():  # a part at a rate that is no
        # finite number: booked, it made every later sum of the ledger NaN
        raise ccxt.BadResponse(f"unreadable fee: not a finite number: {charged.cost}")
    return charged


def status(raw_status: Any, row: str = "") -> VenueOrderStatus:
    """`row`: the order it is of, named in the error (" (order 5 of BTC/USDT:USDT)")."""
    try:
        return VenueOrderStatus(str(raw_status).lower())
    except ValueError:
        raise ccxt.BadResponse(f"unknown order status {raw_status!r}{row}") from None


FILLED_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "bybit": (("orderStatus",), ("cumExecQty",)),  # REST rows and the `order` topic
    "binanceusdm": (("status", "X"), ("executedQty", "z")),  # REST; ORDER_TRADE_UPDATE
}
"""By ccxt exchange id: (the raw keys of an order row's status, of its filled quantity). A
row that states its status but not what filled gets one from ccxt 4.5.90: Binance's parser
defaults `executedQty` to 0 (a FILLED entry read as ended unfilled, i.e. cancelled), Bybit's
`safe_order` takes qty - leavesQty, and Bybit answers leavesQty 0 once an order ended (a
cancelled order read as wholly filled, at cumExecValue / qty = 0). Such a row is unreadable.
Rows without a status (Bybit's create and cancel answers: ids only, looked up again) and
Binance's algo (stop) rows, which never fill themselves (`_with_actual_fill`,
`_algo_update`), are not checked."""


def _filled_stated(info: Raw, exchange_id: str | None) -> bool:
    status_keys, filled_keys = FILLED_KEYS.get(exchange_id or "", ((), ()))
    if "algoId" in info or "aid" in info or not any(_str(info.get(k)) for k in status_keys):
        return True
    return any(_str(info.get(k)) for k in filled_keys)


CEILING = Decimal("1e15")
"""No market trades at a price, nor fills an amount, this large (BTC ~1e5 a contract, a meme
coin's order ~1e9 contracts): a number past it in a venue's answer is a garbled one. Read
from the venue's digits as Decimal, 1e999999999 is finite, and the decision core's first
product with it raised decimal.Overflow: the symbol's actor crashed on every such tick."""


def order(raw: Raw, *, settle: str | None = None, price: fees.Price | None = None,
          exchange_id: str | None = None) -> VenueOrder:
    """`price`: a fee asset's price in `settle` (fees.py); None: a fee in another asset is
    unknown. `exchange_id`: a row without its filled quantity (`FILLED_KEYS`) cannot be
    read."""
    info = raw.get("info") or {}
    if isinstance(info, dict) and not _filled_stated(info, exchange_id):
        raise ccxt.BadResponse(f"order {raw.get('id')} of {raw.get('symbol')} "
                               f"({raw.get('status')}) without its filled quantity")
    raw = _algo_update(raw)
    info = _info(raw)
    row = f" (order {raw.get('id') or raw.get('clientOrderId')} of {raw.get('symbol')})"
    numbers = _unsigned(row, filled=_num(raw, "filled") or Decimal(0),
                        amount=_num(raw, "amount"), average=_num(raw, "average"),
                        price=_num(raw, "price"), trigger_price=_num(
                            raw, "triggerPrice", "stopPrice", "stopLossPrice", "takeProfitPrice"))
    filled = numbers["filled"] or Decimal(0)
    return VenueOrder(
        id=_str(raw.get("id")), client_order_id=_str(raw.get("clientOrderId")),
        symbol=str(raw.get("symbol")), side=str(raw.get("side")).lower(),
        type=str(raw.get("type") or "market").lower(), status=status(raw.get("status"), row),
        amount=numbers["amount"], filled=filled, average=numbers["average"],
        price=numbers["price"], trigger_price=numbers["trigger_price"],
        reduce_only=row_only_reduces(raw.get("reduceOnly"), info, str(raw.get("side")).lower()),
        position_side=position_side(info),
        fee=fee(raw, info_fee_key="cumExecFee", currency=settle, settle=settle, price=price),
        timestamp=_int(raw.get("timestamp")),
        last_fill_at=_int(raw.get("lastTradeTimestamp") or raw.get("lastUpdateTimestamp"))
        if filled else None,
    )


def _unsigned(row: str, **values: Decimal | None) -> dict[str, Decimal | None]:
    """`values` as they are; BadResponse naming the first that is no finite number >= 0 and
    below CEILING (a garbled row: a NaN filled quantity raised in every later comparison of the
    order's progress, on the streams' thread, and took the whole order stream down with it)."""
    for name, value in values.items():
        if value is not None and (not value.is_finite() or not 0 <= value < CEILING):
            raise ccxt.BadResponse(f"unreadable {name} {value}{row}")
    return values


_ALGO_WORKING = frozenset({"TRIGGERING", "TRIGGERED"})
_UNFILLED: Raw = {"filled": 0, "average": None, "fee": None, "fees": [], "lastTradeTimestamp": None}


def _algo_update(raw: Raw) -> Raw:
    """A Binance USDⓈ-M ALGO_UPDATE (a stop, on the user data stream) as what it says of the
    stop's fill. ccxt.pro 4.5.90 parses it with `parse_ws_order` (id `aid`, algo status `X`):
    TRIGGERED and FINISHED become 'closed', and as the event has no `z`, `safe_order` makes
    `filled` the stop's whole quantity, at no price: a fill that had not happened (TRIGGERED:
    its order was only placed in the matching engine) or not at all (FINISHED: that order
    filled OR was canceled there). Algo statuses per Binance's "Event: Algo Order Update":
    TRIGGERING / TRIGGERED -> still working (open, nothing filled: the REST lookup says the same,
    lookup._with_actual_fill); FINISHED -> what the engine executed (`aq` at `ap`): nothing is
    a stop that ended unfilled (canceled), some is closed with that much filled; a FINISHED
    event without `aq` cannot be read. The fill itself is booked from the triggered order's own
    trade and the order lookup, never from this event."""
    info = raw.get("info") or {}
    if not isinstance(info, dict) or "aid" not in info:
        return raw
    algo = str(info.get("X") or "").upper()
    zero_price = {"price": None} if not _num(raw, "price") else {}
    if algo in _ALGO_WORKING:
        return {**raw, **_UNFILLED, **zero_price, "status": "open"}
    if algo != "FINISHED":
        return raw
    executed = _num(info, "aq")
    if executed is None or not executed.is_finite() or executed < 0:  # NaN: InvalidOperation
        # below; below 0: read as a stop that ended unfilled
        raise ccxt.BadResponse(f"algo order {raw.get('id')} FINISHED without a readable "
                               f"executed quantity (aq {info.get('aq')!r})")
    if executed <= 0:
        return {**raw, **_UNFILLED, **zero_price, "status": "canceled"}
    average = _num(info, "ap")
    return {**raw, **zero_price, "status": "closed", "filled": executed,
            "average": average if average else None, "fee": None, "fees": []}


FEE_CURRENCY_KEYS: dict[str, tuple[str, ...]] = {"binanceusdm": ("commissionAsset", "N")}
"""By ccxt exchange id: the raw keys naming a trade's fee currency, where ccxt 4.5.90 leaves
it None when the venue does (fees.py would take None for the settle currency: with Binance's
BNB burn on, BNB booked as USDT). Bybit's linear executions are charged in the settle coin,
what ccxt names when `feeCoin` is missing."""


def fill(raw: Raw, *, client_order_id: str | None = None, settle: str | None = None,
         price: fees.Price | None = None, exchange_id: str | None = None) -> VenueFill:
    """`exchange_id`: a trade naming no fee currency (`FEE_CURRENCY_KEYS`) has an unknown
    fee."""
    info = _info(raw)
    currency_keys = FEE_CURRENCY_KEYS.get(exchange_id or "", ())
    named = not currency_keys or any(_str(info.get(k)) for k in currency_keys)
    px, amount = _num(raw, "price"), _num(raw, "amount")
    # ccxt reads a row without its price as 0.0: booked, that was a fill at 0 (found by review)
    if px is None or amount is None or not tradeable(px) or not tradeable(amount):
        raise ccxt.BadResponse(f"trade {raw.get('id')} of {raw.get('symbol')} has no usable "
                               f"price or amount (price {px}, amount {amount})")
    if _str(raw.get("id")) is None:  # read as the id 'None': the next id-less trade of the
        # symbol was taken for it, a duplicate, and never reported (another order's fill)
        raise ccxt.BadResponse(f"trade of {raw.get('symbol')} order {raw.get('order')} has "
                               f"no trade id")
    side = str(raw.get("side")).lower()
    if side not in ("buy", "sell"):  # ccxt reads a row without its side as None: never a
        # fill of either side (its 'none' matched no position's side: booked nowhere)
        raise ccxt.BadResponse(f"trade {raw.get('id')} of {raw.get('symbol')} has no side "
                               f"({raw.get('side')!r})")
    pnl = _num(info, "realizedPnl", "execPnl")
    if pnl is not None and not pnl.is_finite():  # booked, it made every later sum NaN
        raise ccxt.BadResponse(f"trade {raw.get('id')} of {raw.get('symbol')} has an "
                               f"unreadable realized P&L ({pnl})")
    return VenueFill(
        id=str(raw.get("id")), order_id=_str(raw.get("order")),
        client_order_id=client_order_id or _str(raw.get("clientOrderId")),
        symbol=str(raw.get("symbol")), side=side, price=px,
        amount=amount, fee=fee(raw, settle=settle, price=price) if named else None,
        realized_pnl=pnl,
        position_side=position_side(info), taker_or_maker=_str(raw.get("takerOrMaker")),
        timestamp=_int(raw.get("timestamp")),
    )


SIZE_KEYS: dict[str, tuple[str, ...]] = {
    "bybit": ("size",),  # /v5/position/list and the `position` topic
    "binanceusdm": ("positionAmt", "pa"),  # positionRisk; ACCOUNT_UPDATE
}
"""By ccxt exchange id: the raw position keys that carry a position's size. Where the raw
row has none of them, ccxt 4.5.90's `safe_position` makes one up (notional / mark price;
on an isolated row, from the margins and the liquidation price): never a size to trade on.
Another venue's rows are taken as ccxt reads them."""


_SIDE_KEYS = ("positionIdx", "positionSide", "ps")
"""The raw keys `position_side` reads (Bybit; Binance REST; Binance streams)."""


def position(raw: Raw, exchange_id: str | None = None) -> VenuePosition:
    """An entry price the venue left empty or zero (Bybit answers `avgPrice: ""` in some
    states; ccxt then gives None) is None: unknown, never a price of 0. A row without its size
    (ccxt's `contracts` None: Binance's `positionAmt`, Bybit's `size` missing) is flat only
    when nothing else in it says a position is held (a side, an entry price); otherwise it
    cannot be read: taken as size 0 it was dropped as flat, and an emergency close found 'no
    position on the exchange' for one that was there. A held row without its side (ccxt's
    side None) cannot be read either. A row of `exchange_id` without any of its `SIZE_KEYS`
    has no size, whatever ccxt estimated (its estimate from a stale or garbled notional sized
    the position's stop and close); a held one that names no position side (Bybit
    `positionIdx`, Binance `positionSide` / `ps`: these venues always do) cannot be read."""
    side = str(raw.get("side")).lower()
    hedged = bool(raw.get("hedged"))
    info = _info(raw)
    size_keys = SIZE_KEYS.get(exchange_id or "", ())
    named = position_side(info)
    if named is None and size_keys and any(_str(info.get(k)) for k in _SIDE_KEYS):
        # ccxt 4.5.90's bybit reads any positionIdx but "0" and "1" as the short hedge leg: a
        # garbled one-way long was a short leg (reconciliation, emergency close: wrong side)
        raise ccxt.BadResponse(f"{raw.get('symbol')} position with an unreadable position "
                               f"side ({', '.join(f'{k} {info.get(k)!r}' for k in _SIDE_KEYS)})")
    if named is None:
        named = PositionSide(side) if hedged else PositionSide.NET
    entry = _num(raw, "entryPrice")
    contracts = _num(raw, "contracts")
    if size_keys and not any(_str((info or {}).get(key)) for key in size_keys):
        contracts = None  # ccxt's estimate, not the venue's size
    if contracts is None and (side in ("long", "short") or (entry is not None and entry > 0)):
        raise ccxt.BadResponse(f"{raw.get('symbol')} {side} position without its size")
    if contracts and side not in ("long", "short"):  # held, but neither long nor short:
        # read as side 'none', reconciliation raised ValueError and an emergency close sent a buy
        raise ccxt.BadResponse(f"{raw.get('symbol')} position of {contracts} without its side")
    if contracts and size_keys and not any(_str((info or {}).get(k)) for k in _SIDE_KEYS):
        # ccxt's Binance `hedged` is positionSide != 'BOTH': a one-way position read as a hedge
        # leg, whose emergency close named a hedge leg (refused in one-way mode: InvalidOrder)
        raise ccxt.BadResponse(f"{raw.get('symbol')} position of {contracts} without its "
                               f"position side")
    return VenuePosition(
        symbol=str(raw.get("symbol")), side=side,
        contracts=abs(contracts or Decimal(0)),
        entry_price=entry if entry is not None and entry > 0 else None,
        mark_price=_num(raw, "markPrice"),
        unrealized_pnl=_num(raw, "unrealizedPnl"), position_side=named,
        hedged=hedged or named is not PositionSide.NET, timestamp=_int(raw.get("timestamp")),
    )


def positions(rows: list[Raw], exchange_id: str | None, traded: list[str] | None,
              said: set[str], account: list[str] | None = None) -> list[VenuePosition]:
    """The held positions among `rows`. A row that cannot be read fails the read
    (ccxt.BadResponse) when it is of a symbol in `traded` (None: any); one of another symbol
    (traded by hand on the same account) is skipped, said once per symbol (`said`): Binance
    reads every position in one all-symbol read, shared by every actor and the fills poll,
    and such a row failed each of them for as long as the venue listed it so. `account`: the
    symbols the account trades (`traded` empty or None: them); a row of one of them skipped in
    a read of others (a shared answer read for one symbol) is said as such (found by review:
    it was called a symbol this account does not trade; its own read fails on it)."""
    asked = (traded or account) if account is not None else traded
    held: list[VenuePosition] = []
    for row in rows:
        try:
            found = position(row, exchange_id)
        except ccxt.BadResponse as exc:
            symbol = str(row.get("symbol"))
            if asked is None or symbol in asked:
                raise
            if f"position {symbol}" not in said:
                said.add(f"position {symbol}")
                why = ("a symbol this account trades: its own reads fail on it"
                       if account is not None and symbol in account
                       else "a symbol this account does not trade")
                logger.warning("{}: skipped an unreadable position row of {} in a read of {}, "
                               "{}: {}", exchange_id, symbol, ", ".join(asked), why, exc)
            continue
        if found.contracts != 0:
            held.append(found)
    return held


def ticker(raw: Raw) -> VenueTicker:
    """A last price no market trades at (negative, NaN, infinite: a garbled answer; ccxt
    already makes a 0 None) is None: no price, as a ticker without one. Taken as a price it
    reached the actors and reconciliation's price (a long's stop "crossed" at -5, a NaN that
    raised in every comparison); the raw stream reader skips the same (raw_tickers.py)."""
    last = _num(raw, "last", "close")
    return VenueTicker(
        symbol=str(raw.get("symbol")), last=last if tradeable(last) else None,
        bid=_num(raw, "bid"),
        ask=_num(raw, "ask"), base_volume=_num(raw, "baseVolume"),
        quote_volume=_num(raw, "quoteVolume"), timestamp=_int(raw.get("timestamp")),
    )


def tradeable(price: Decimal | None) -> bool:
    """A price a market trades at (or an amount a fill can have): finite, positive, below
    CEILING (the REST and raw stream tickers, the price ticker, trade rows)."""
    return price is not None and price.is_finite() and 0 < price < CEILING


def _step(value: Any, tick_size_mode: bool) -> Decimal:
    number = _limit({"precision": value}, "precision")
    if number is None or (tick_size_mode and number <= 0):
        raise ccxt.BadResponse(f"unreadable precision {value!r}")
    return number if tick_size_mode else Decimal(1).scaleb(-int(number))


def _limit(raw: Raw, key: str) -> Decimal | None:
    """A market's number (`_num`); one that is no finite number ("NaN") is unreadable too:
    compared, it raised decimal.InvalidOperation out of load_markets, which failed the load of
    every market for one instrument the bot does not even trade."""
    value = _num(raw, key)
    if value is not None and not value.is_finite():
        raise ccxt.BadResponse(f"unreadable {key} {value}")
    return value


def _market_order_max(raw: Raw, limits: Raw) -> Decimal | None:
    """The most one order may be: the smaller of ccxt's `limits.amount.max` (the limit-order
    maximum: Binance LOT_SIZE, Bybit maxOrderQty) and the market-order one (Binance
    MARKET_LOT_SIZE in `limits.market.max`; Bybit's lotSizeFilter.maxMktOrderQty, which ccxt
    4.5.90 leaves in the raw market). Every order the bot sends is a market order or a stop
    that triggers one, and the market-order maximum is often 10x smaller."""
    lot = (raw.get("info") or {}).get("lotSizeFilter") if isinstance(raw.get("info"), dict) \
        else None
    found = [_limit(limits.get("amount") or {}, "max"), _limit(limits.get("market") or {}, "max"),
             _limit(lot, "maxMktOrderQty") if isinstance(lot, dict) else None]
    known = [m for m in found if m is not None and m > 0]
    return min(known) if known else None


def has_precision(raw: Any) -> bool:
    """Whether ccxt's market carries its amount and price precision (one without is not
    tradable: `market` refuses it)."""
    precision = raw.get("precision") if isinstance(raw, dict) else None
    return isinstance(precision, dict) and precision.get("amount") is not None \
        and precision.get("price") is not None


def market(raw: Raw, *, tick_size_mode: bool) -> VenueMarket:
    """ccxt's market; precision is a step in TICK_SIZE mode, else a count of decimals."""
    precision, limits = raw.get("precision") or {}, raw.get("limits") or {}
    if not has_precision(raw):
        raise ccxt.BadResponse(f"market {raw.get('symbol')} has no amount/price precision")
    amount_step = _step(precision["amount"], tick_size_mode)
    return VenueMarket(
        symbol=str(raw.get("symbol")), amount_step=amount_step,
        price_tick=_step(precision["price"], tick_size_mode),
        min_amount=_limit(limits.get("amount") or {}, "min"),
        max_amount=_market_order_max(raw, limits),
        min_cost=_limit(limits.get("cost") or {}, "min"),
        contract_size=_limit(raw, "contractSize") or Decimal(1),
        linear=bool(raw.get("linear")), swap=bool(raw.get("swap")),
        settle=_str(raw.get("settle")), maker_fee=_num(raw, "maker"), taker_fee=_num(raw, "taker"),
    )


def markets(loaded: dict[str, Raw], *, tick_size_mode: bool) -> tuple[
        dict[str, VenueMarket], dict[str, str]]:
    """Every market that can be read, and why each other one is left out (not tradable): one
    such instrument fails no load, and a configured symbol among them is refused at start
    with its reason, not as a typo ("is not a market")."""
    records: dict[str, VenueMarket] = {}
    left_out: dict[str, str] = {}
    for symbol, raw in loaded.items():
        try:
            records[symbol] = market(raw, tick_size_mode=tick_size_mode)
        except (ccxt.BadResponse, *UNREADABLE) as exc:
            left_out[symbol] = describe(exc)
    return records, left_out
