"""Gathering what the exchange says about one symbol, for reconciliation."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt

from actors.order_results import _dec, exchange_order
from exchange.port import ExchangePort
from trading.events import ExchangeOrder, ExchangePosition, ExternalFill, Reconciled
from trading.model import Side, SymbolState


class SnapshotUnstable(Exception):
    """The position kept changing while the snapshot was taken."""


def gather(exchange: ExchangePort, state: SymbolState, booked: set[str], attempts: int = 3) -> Reconciled:
    """A consistent snapshot: the position is read before and after the orders, and the whole
    read is repeated if it changed in between (a stop can fill between two calls)."""
    for _ in range(attempts):
        before = _position(exchange, state.symbol)
        snapshot = _read(exchange, state, booked, before)
        if _position(exchange, state.symbol) == before:
            return snapshot
    raise SnapshotUnstable(f"{state.symbol}: position changed during {attempts} snapshot attempts")


def _read(exchange: ExchangePort, state: SymbolState, booked: set[str],
          position: ExchangePosition | None) -> Reconciled:
    symbol = state.symbol
    orders: dict[str, ExchangeOrder] = {}
    for order in state.orders:
        try:
            found = exchange.fetch_order(order.exchange_id, symbol,
                                         {"clientOrderId": order.client_order_id})
        except ccxt.OrderNotFound:
            continue
        orders[order.client_order_id] = exchange_order(found, order.client_order_id)
    live = {o.client_order_id for o in state.orders}
    orphans = tuple(
        exchange_order(o) for o in exchange.fetch_open_orders(symbol)
        if o.get("clientOrderId") not in live
    )
    external: tuple[ExternalFill, ...] = ()
    if state.position is not None and position is None:
        known = booked | live
        external = _external_fills(exchange, symbol, state.position.opened_at, known)
    tickers = exchange.fetch_tickers([symbol])
    price = tickers.get(symbol, {}).get("last")
    return Reconciled(position=position, orders=orders, orphans=orphans,
                      external_fills=external, price=_dec(price) if price is not None else None)


def _position(exchange: ExchangePort, symbol: str) -> ExchangePosition | None:
    for p in exchange.fetch_positions([symbol]):
        if p.get("symbol") != symbol:
            continue
        contracts = _dec(p.get("contracts"))
        if contracts <= 0:
            continue  # ccxt lists flat positions on some exchanges
        return ExchangePosition(side=Side(str(p.get("side")).lower()), contracts=contracts,
                                entry_price=_dec(p.get("entryPrice")))
    return None


def _external_fills(exchange: ExchangePort, symbol: str, since_s: float,
                    known: set[str]) -> tuple[ExternalFill, ...]:
    """Fills since the position opened that no booked or live order of ours explains."""
    trades: list[dict[str, Any]] = exchange.fetch_my_trades(symbol, int(since_s * 1000))
    out = []
    for t in trades:
        cid = t.get("clientOrderId") or (t.get("info") or {}).get("clientOrderId") or ""
        if cid in known:
            continue  # booked already, or applied through its order
        fee = (t.get("fee") or {}).get("cost")
        out.append(ExternalFill(client_order_id=cid or None, side=str(t.get("side")), amount=_dec(t.get("amount")),
                                price=_dec(t.get("price")), fee=_dec(fee) if fee is not None else Decimal(0)))
    return tuple(out)
