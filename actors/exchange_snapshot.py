"""Gathering what the exchange says about one symbol, for reconciliation."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, TypeVar

from actors.order_results import by_client_id, exchange_order
from exchange import errors
from exchange.budget import Priority, call_priority
from exchange.port import ExchangePort
from exchange.records import VenueFill
from trading import late_fees
from trading.events import ExchangeOrder, ExchangePosition, ExternalFill, Reconciled
from trading.model import Position, Side, SymbolState

P = TypeVar("P")
R = TypeVar("R")


class SnapshotUnstable(Exception):
    """The position kept changing while the snapshot was taken."""


Booked = Callable[[set[str]], set[str]]
"""Which of these client order ids have fills in the ledger, under any position."""


def gather(exchange: ExchangePort, state: SymbolState, booked: set[str],
           attempts: int = 3, *, booked_anywhere: Booked = lambda cids: set()) -> Reconciled:
    """A consistent snapshot of the one-way position, our orders, orphans and the price.
    `booked`: the open position's booked orders; `booked_anywhere`: the ledger's answer for
    any ids (an earlier position's fills are ours and booked, never a fill to book again)."""
    return consistent(state.symbol, lambda: position(exchange, state.symbol),
                      lambda pos: _read(exchange, state, booked, pos, booked_anywhere),
                      attempts)


def consistent(symbol: str, read_positions: Callable[[], P], read: Callable[[P], R],
               attempts: int = 3) -> R:
    """The position(s) are read before and after everything else, and the whole read is
    repeated if they changed in between (a stop can fill between two calls)."""
    for _ in range(attempts):
        before = read_positions()
        result = read(before)
        if read_positions() == before:
            return result
    raise SnapshotUnstable(f"{symbol}: position changed during {attempts} snapshot attempts")


def lookup_orders(exchange: ExchangePort, symbol: str,
                  orders: Iterable[Any]) -> dict[str, ExchangeOrder]:
    """Each of our live orders as the exchange has it, by client order id (absent: not found)."""
    found: dict[str, ExchangeOrder] = {}
    for order in orders:
        try:
            raw = exchange.fetch_order(order.exchange_id, symbol,
                                       by_client_id(order.client_order_id, order.is_stop))
        except errors.OrderNotFound:
            continue
        found[order.client_order_id] = exchange_order(raw, order.client_order_id)
    return found


def orphans(exchange: ExchangePort, symbol: str, live: set[str]) -> tuple[ExchangeOrder, ...]:
    """Open orders on the symbol that none of our live orders owns."""
    return tuple(exchange_order(o) for o in exchange.fetch_open_orders(symbol)
                 if o.client_order_id not in live)


def last_price(exchange: ExchangePort, symbol: str) -> Decimal | None:
    # a reconciliation's price read is part of the reconciliation, not a poll: at polling
    # priority a short budget failed the whole reconcile for its price
    with call_priority(Priority.RECONCILE):
        ticker = exchange.fetch_tickers([symbol]).get(symbol)
    return ticker.last if ticker is not None else None


def _read(exchange: ExchangePort, state: SymbolState, booked: set[str],
          position: ExchangePosition | None, booked_anywhere: Booked) -> Reconciled:
    symbol = state.symbol
    live = {o.client_order_id for o in state.orders}
    orders = lookup_orders(exchange, symbol, state.orders + late_fees.owed_orders(state))
    unowned = orphans(exchange, symbol, live)
    external: tuple[ExternalFill, ...] = ()
    if state.position is not None and _differs(state.position, position):
        external = _external_fills(exchange, state, booked, orders, booked_anywhere)
    return Reconciled(position=position, orders=orders, orphans=unowned,
                      external_fills=external, price=last_price(exchange, symbol))


def positions(exchange: ExchangePort, symbol: str) -> dict[Side, ExchangePosition]:
    """The symbol's nonzero positions by side (one in one-way mode, one per leg in hedge mode;
    ccxt lists flat positions on some exchanges)."""
    out: dict[Side, ExchangePosition] = {}
    for p in exchange.fetch_positions([symbol]):
        if p.symbol != symbol or p.contracts <= 0:
            continue
        if p.entry_price is None:  # the venue left it empty: never adopted at a price of 0
            raise errors.NetworkError(f"{symbol} {p.side} position without an entry price")
        side = Side(p.side)
        out[side] = ExchangePosition(side=side, contracts=p.contracts, entry_price=p.entry_price)
    return out


def position(exchange: ExchangePort, symbol: str) -> ExchangePosition | None:
    """The one-way position (the first nonzero one), or None."""
    return next(iter(positions(exchange, symbol).values()), None)


def _external_fills(exchange: ExchangePort, state: SymbolState, booked: set[str],
                    found: dict[str, ExchangeOrder],
                    booked_anywhere: Booked) -> tuple[ExternalFill, ...]:
    """Fills since the position opened that no booked or live order of ours explains, and the
    part of a live order's fills beyond what it applied when its lookup found nothing (that
    order ends without them: the growth it explains would never be booked). A fill without a
    client order id is named by its trade id (`trade-<id>`), so that once booked it is known.
    The venue's trade times are not trusted to tell an earlier position's fills apart (its
    clock may run ahead of ours): the ledger is asked about every id (found by a live soak: an
    earlier position's close was booked again as this one's, and its stop cancelled)."""
    pos = state.position
    assert pos is not None
    unapplied = {o.client_order_id: o.filled for o in state.orders
                 if o.client_order_id not in found}
    known = booked | {o.client_order_id for o in state.orders}
    since_s = min([pos.opened_at] + [o.created_at for o in state.orders
                                     if o.client_order_id in unapplied])
    opened_ms = int(pos.opened_at * 1000)
    out = []
    for t in _in_time_order(exchange.fetch_my_trades(state.symbol, int(since_s * 1000))):
        cid = t.client_order_id or f"trade-{t.id}"
        told = settled_fee(t, state.symbol)
        amount, fee = t.amount, told if told is not None else Decimal(0)
        if cid in unapplied:  # the first `filled` of the order's fills were applied
            skipped = min(unapplied[cid], amount)
            unapplied[cid] -= skipped
            amount -= skipped
            fee = fee * amount / t.amount if amount > 0 else fee
        elif cid in known or (t.timestamp is not None and t.timestamp < opened_ms):
            continue  # booked already, applied through its order, or before the position
        if amount > 0:
            out.append(ExternalFill(client_order_id=cid, side=t.side, amount=amount,
                                    price=t.price, fee=fee, fee_known=told is not None,
                                    filled_at=t.timestamp))
    ids = {i for f in out if (i := f.client_order_id) is not None}
    elsewhere = booked_anywhere(ids - set(unapplied))
    return tuple(f for f in out if f.client_order_id not in elsewhere)


def _differs(ours: Position, theirs: ExchangePosition | None) -> bool:
    """Whether the exchange's position is not the one we hold (gone, or another size)."""
    return theirs is None or theirs.contracts != ours.contracts


def _in_time_order(trades: list[VenueFill]) -> list[VenueFill]:
    return sorted(trades, key=lambda t: t.timestamp or 0)


def settled_fee(t: VenueFill, symbol: str) -> Decimal | None:
    """The fill's fee in the settle currency the symbol names (`BTC/USDT:USDT`; a fee in no
    named currency is in it, as the venues' fields are), else None: none told, or one in
    another asset (found by review: booked as 0 without a word, and 0.0004 BNB as 0.0004
    USDT). Such a fill is booked without a fee, said once (`FeeUnbooked`)."""
    if t.fee is None or t.fee.currency not in (None, symbol.partition(":")[2] or None):
        return None
    return t.fee.cost
