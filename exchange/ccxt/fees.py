"""Fees in the market's settle currency, whatever currency the venue charged them in.

The ledger books a fee as an amount of the settle currency (USDT). Venues can charge in another
asset: Binance USDⓈ-M with the BNB fee discount on ("BNB burn") reports `commission` in
`commissionAsset: "BNB"` on `userTrades` and `N: "BNB"` on ORDER_TRADE_UPDATE; Bybit's order
answer lists its fee per coin in `cumFeeDetail` (ccxt 4.5.90's bybit.parse_order keeps only the
first coin of it) and an execution's in `feeCoin` (ccxt's trade fee currency, else the settle
coin). Summed as they come, 0.0004 BNB was booked as 0.0004 USDT: ~600 times too little.

Here every part of a fee is added up in the settle currency: a part in the settle currency (or
in none named: the venue's field is in it) as it is, a part in another asset at that asset's
price in the settle currency from the venue (`FeePrices`: its `<ASSET>/<SETTLE>:<SETTLE>`
perpetual's last price, one cheap public call through the rate budget, kept `ttl_s`). When no
price can be had the fee is unknown (None, what the port says for "no fee reported"), never a
wrong number, and one warning names the symbol, the order and the currency.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from loguru import logger

from exchange.decimals import decimal_or_none, to_decimal
from exchange.records import Fee
from observability.error_text import describe

Price = Callable[[str, str], Decimal | None]
"""(asset, settle) -> the asset's price in the settle currency, or None when none can be had."""


def parts(raw: dict[str, Any], *, info_fee_key: str | None = None,
          currency: str | None = None) -> list[Fee]:
    """Each fee a ccxt order or trade names, by currency (unreadable: ValueError). Bybit's
    `cumFeeDetail` (every coin) first; else ccxt's `fee` / `fees`; else the raw
    `info_fee_key` in `currency`."""
    found_info = raw.get("info")
    info: dict[str, Any] = found_info if isinstance(found_info, dict) else {}
    detail = info.get("cumFeeDetail")
    if isinstance(detail, dict) and detail:
        found = [Fee(cost=cost, currency=str(coin)) for coin, value in detail.items()
                 if (cost := decimal_or_none(value)) is not None]
        if found:
            return _finite(found)
    single = raw.get("fee") or {}
    listed = [single] if single.get("cost") is not None else [
        f for f in raw.get("fees") or [] if f and f.get("cost") is not None]
    if listed:
        return _finite([Fee(cost=to_decimal(f["cost"]), currency=f.get("currency"))
                        for f in listed])
    cost = decimal_or_none(info.get(info_fee_key)) if info_fee_key else None
    return [] if cost is None else _finite([Fee(cost=cost, currency=currency)])


def _finite(found: list[Fee]) -> list[Fee]:
    """`found`; ValueError for a cost that is no finite number (a NaN fee booked made the
    ledger's every later sum NaN)."""
    for fee in found:
        if not fee.cost.is_finite():
            raise ValueError(f"not a finite number: {fee.cost} {fee.currency or ''}".strip())
    return found


def in_settle(found: list[Fee], settle: str | None, price: Price | None, *,
              symbol: str, order: str | None) -> Fee | None:
    """`found` as one fee in `settle` (None: no fee reported, or one that cannot be priced).
    Without a known `settle` the parts are added only when they are all in one currency."""
    if not found:
        return None
    if settle is None:
        named = {f.currency for f in found}
        return Fee(cost=sum((f.cost for f in found), Decimal(0)),
                   currency=found[0].currency) if len(named) == 1 else None
    total = Decimal(0)
    for part in found:
        if part.currency in (None, settle):
            total += part.cost
            continue
        if price is None:  # the caller cannot price it (the streams: their fee is not booked)
            logger.debug("fee of {} order {} is in {}: left unknown", symbol, order,
                         part.currency)
            return None
        rate = price(part.currency, settle)
        if rate is None:
            logger.warning("fee of {} order {} is in {} and no {} price in {} could be had: "
                           "booked as unknown", symbol, order, part.currency, part.currency,
                           settle)
            return None
        converted = part.cost * rate
        logger.debug("fee of {} order {}: {} {} at {} = {} {}", symbol, order, part.cost,
                     part.currency, rate, converted, settle)
        total += converted
    return Fee(cost=total, currency=settle)


class FeePrices:
    """An asset's price in a settle currency from the venue, kept `ttl_s` (a failed read too,
    so a venue without that market is not asked on every fill)."""

    def __init__(self, read: Callable[[str], Decimal | None], has_market: Callable[[str], bool],
                 clock: Callable[[], float], ttl_s: float = 60.0) -> None:
        self._read = read
        """symbol -> its last price (one public ticker call); may raise."""
        self._has_market = has_market
        self._clock = clock
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[float, Decimal | None]] = {}
        self.reads = 0

    def price(self, asset: str, settle: str) -> Decimal | None:
        symbol = f"{asset}/{settle}:{settle}"
        now = self._clock()
        with self._lock:
            kept = self._kept.get(symbol)
            if kept is not None and now - kept[0] < self.ttl_s:
                return kept[1]
        value = self._fresh(symbol)
        with self._lock:
            self._kept[symbol] = (now, value)
        return value

    def _fresh(self, symbol: str) -> Decimal | None:
        if not self._has_market(symbol):
            logger.debug("fee prices: the venue lists no {}", symbol)
            return None
        self.reads += 1
        try:
            value = self._read(symbol)
        except Exception as exc:  # noqa: BLE001 - no price: the fee is booked as unknown
            logger.debug("fee prices: reading {} failed: {}", symbol, describe(exc))
            return None
        return value if value is not None and value > 0 else None


def last_price(run: Callable[[Callable[[Any], Any], str], Any]) -> Callable[[str], Decimal | None]:
    """A symbol's last price through the gateway's `run` (its retry policy and rate budget):
    Binance's one-symbol ticker weighs 1, Bybit's 1."""
    def read(symbol: str) -> Decimal | None:
        ticker = run(lambda ex: ex.fetch_ticker(symbol), f"fee price {symbol}")
        return decimal_or_none((ticker or {}).get("last"))
    return read
