"""Per-symbol order book state and the matching rules applied at each price point.

A `Book` holds one symbol's committed state (under its own lock). Changes are computed on a
`Draft` (copy-on-write orders and position) and only installed into the book after the
transaction that persists them has committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from exchange.paper import ledger
from exchange.paper.markets import price_tick, round_to_tick
from exchange.paper.models import ONE_WAY_SIDES, ZERO, OrderRec, PositionRec, TradeRec


class Book:
    """One symbol: raw price (as the price source gave it), positions, open orders.

    `positions` has one entry per position side: {'net'} in one-way mode, {'long', 'short'}
    in hedge mode."""

    def __init__(
        self, symbol: str, market: dict[str, Any], price: Decimal, last_ms: int,
        sides: tuple[str, ...] = ONE_WAY_SIDES,
    ) -> None:
        self.symbol = symbol
        self.market = market
        self.tick = price_tick(market)
        self.lock = threading.RLock()
        self.price = price
        self.last_ms = last_ms
        self.positions: dict[str, PositionRec] = {s: PositionRec(symbol, s) for s in sides}
        self.open_orders: dict[str, OrderRec] = {}
        self.checkpoint_dirty = False
        self._marked: tuple[Decimal, Decimal] | None = None
        """(price, its mark): the mark is read many times per price (margin, views, orders)."""

    @property
    def mark(self) -> Decimal:
        marked = self._marked
        if marked is None or marked[0] is not self.price:  # the same (immutable) price object
            marked = self._marked = (self.price, round_to_tick(self.price, self.tick))
        return marked[1]

    @property
    def has_position(self) -> bool:
        return any(p.qty != 0 for p in self.positions.values())

    def used_margin(self, leverage: int) -> Decimal:
        """Initial margin of every side's position plus margin reserved by resting orders."""
        positions = sum((position_margin(p, leverage) for p in self.positions.values()), ZERO)
        return positions + sum((o.reserved for o in self.open_orders.values()), ZERO)

    def unrealized(self) -> Decimal:
        return sum(((self.mark - p.entry) * p.qty for p in self.positions.values()), ZERO)

    def find_open(self, order_id: str | None, client_id: str | None) -> OrderRec | None:
        if order_id is not None:
            return self.open_orders.get(order_id)
        for order in self.open_orders.values():
            if order.client_order_id == client_id:
                return order
        return None


def position_margin(position: PositionRec, leverage: int) -> Decimal:
    return abs(position.qty) * position.entry / leverage


def _copy(record: Any) -> Any:
    """`dataclasses.replace(record)` for the plain (mutable, unslotted, no `__post_init__`)
    records of exchange/paper/models.py: the same fields, shallow, at a fraction of the cost
    (every draft copies its book's positions; the backtester makes one per order)."""
    new = object.__new__(record.__class__)
    new.__dict__.update(record.__dict__)
    return new


class Draft:
    """A pending change to one book at time `ts` with mark price `mark`."""

    def __init__(self, book: Book, ts: int, mark: Decimal) -> None:
        self.book = book
        self.ts = ts
        self.mark = mark
        self.positions = {side: _copy(p) for side, p in book.positions.items()}
        self.changed_sides: set[str] = set()
        self.orders: dict[str, OrderRec] = {}
        self.trades: list[TradeRec] = []
        self.wallet_delta = ZERO

    @property
    def changed(self) -> bool:
        return bool(self.orders or self.trades or self.changed_sides)

    def changed_positions(self) -> list[PositionRec]:
        return [self.positions[side] for side in sorted(self.changed_sides)]

    def touch(self, order: OrderRec) -> OrderRec:
        """The draft's own (mutable) copy of an order."""
        mine = self.orders.get(order.id)
        if mine is None:
            mine = self.orders[order.id] = _copy(order)
        return mine

    def add(self, order: OrderRec) -> OrderRec:
        self.orders[order.id] = order
        return order

    def margin_delta(self, leverage: int) -> Decimal:
        """Margin the draft uses beyond its book's: its changed positions and reservations."""
        book = self.book
        delta = sum((position_margin(self.positions[side], leverage)
                     - position_margin(book.positions[side], leverage)
                     for side in self.changed_sides), ZERO)
        for order in self.orders.values():
            before = book.open_orders.get(order.id)
            delta += order.reserved - (before.reserved if before is not None else ZERO)
        return delta

    def mark_move(self) -> Decimal:
        """Unrealized P&L the book's positions gained moving from the book's mark to the
        draft's (a price point the account has not been told of yet)."""
        book = self.book
        if self.mark == book.mark:
            return ZERO
        return sum(((self.mark - book.mark) * p.qty for p in book.positions.values()), ZERO)

    def open_orders(self) -> list[OrderRec]:
        merged = {**self.book.open_orders, **self.orders}
        return sorted((o for o in merged.values() if o.is_open), key=lambda o: o.seq)


@dataclass
class Fees:
    taker: Decimal
    maker: Decimal
    slippage_bps: Decimal
    leverage: int


def trigger_hit(order: OrderRec, mark: Decimal) -> bool:
    assert order.trigger_price is not None
    if order.trigger_direction == "above":
        return mark >= order.trigger_price
    return mark <= order.trigger_price


_AT_ONCE = Decimal("-Infinity")


def _reached_at(order: OrderRec, falling: bool) -> Decimal:
    """Sort key: how late a move reaches the order's price (its trigger until triggered, else
    its limit; one with neither: at once). Falling, the higher prices come first."""
    price = order.trigger_price if order.waiting_for_trigger else order.price
    if price is None:
        return _AT_ONCE
    return -price if falling else price


def limit_crossed(order: OrderRec, mark: Decimal) -> bool:
    assert order.price is not None
    return mark <= order.price if order.side == "buy" else mark >= order.price


class Matcher:
    """Fills, triggers and reduce-only rules. `free_balance` reads the account's free USDT."""

    def __init__(
        self, fees: Fees, next_trade_seq: Callable[[], int], free_balance: Callable[[], Decimal]
    ) -> None:
        self.fees = fees
        self.next_trade_seq = next_trade_seq
        self.free_balance = free_balance

    # ---- fills -------------------------------------------------------------------------

    def fill(self, d: Draft, order: OrderRec, price: Decimal, *, maker: bool) -> None:
        """Fill the whole remaining amount of `order` at `price` (reduce-only cut first)."""
        o = d.touch(order)
        position = d.positions[o.position_side]
        qty = o.remaining
        if o.reduce_only:
            qty = ledger.reducible(position.qty, o.side, o.remaining)
            if qty <= 0:
                self.finish(d, o, "canceled")
                return
            o.amount = o.filled + qty  # like a venue amending an oversized reduce-only order
        cost = qty * price
        fee = ledger.fee(cost, self.fees.maker if maker else self.fees.taker)
        new_qty, new_entry, realized = ledger.apply_fill(
            position.qty, position.entry, o.side, qty, price
        )
        d.positions[o.position_side] = replace(
            position, qty=new_qty, entry=new_entry, updated_ms=d.ts
        )
        d.changed_sides.add(o.position_side)
        o.filled += qty
        o.cost += cost
        o.fee += fee
        o.last_trade_ms = d.ts
        d.wallet_delta += realized - fee
        seq = self.next_trade_seq()
        d.trades.append(TradeRec(
            seq=seq, id=str(seq), order_id=o.id, client_order_id=o.client_order_id,
            symbol=o.symbol, side=o.side, price=price, amount=qty, cost=cost, fee=fee,
            realized_pnl=realized, taker_or_maker="maker" if maker else "taker",
            reduce_only=o.reduce_only, ts=d.ts, position_side=o.position_side,
        ))
        self.finish(d, o, "closed")

    def finish(self, d: Draft, order: OrderRec, status: str) -> None:
        o = d.touch(order)
        o.status = status
        o.reserved = ZERO
        o.updated_ms = d.ts

    def market_price(self, d: Draft, side: str) -> Decimal:
        return ledger.slipped(d.mark, side, self.fees.slippage_bps, d.book.tick)

    def execute_market(self, d: Draft, order: OrderRec) -> None:
        self.fill(d, order, self.market_price(d, order.side), maker=False)

    def marketable(self, d: Draft, order: OrderRec) -> bool:
        """A limit order takes liquidity only if it reaches the other side of the book: a buy
        at or above the ask, a sell at or below the bid (the price moved by the slippage, as
        the ticker quotes them); inside the spread it rests, and fills later as a maker."""
        return limit_crossed(order, self.market_price(d, order.side))

    def execute_limit_now(self, d: Draft, order: OrderRec) -> None:
        """A limit order that crosses on arrival fills as taker, never worse than its price."""
        assert order.price is not None
        ask_or_bid = self.market_price(d, order.side)
        if order.side == "buy":
            price = min(order.price, ask_or_bid)
        else:
            price = max(order.price, ask_or_bid)
        self.fill(d, order, price, maker=False)

    def arrive(self, d: Draft, order: OrderRec) -> Decimal | None:
        """Fill or rest a new order on the draft; returns the margin it needs (None: none).
        Shared by the paper exchange and the backtester's simulated exchange."""
        if order.trigger_price is not None:
            return None
        if order.type == "market" or self.marketable(d, order):
            price = self.market_price(d, order.side)
            if order.type == "limit":
                assert order.price is not None
                price = min(order.price, price) if order.side == "buy" else max(order.price, price)
            required = None if order.reduce_only else self.required_margin(
                d, order.side, order.amount, price, order.position_side)
            if order.type == "market":
                self.execute_market(d, order)
            else:
                self.execute_limit_now(d, order)
            return required
        if order.reduce_only:
            return None
        assert order.price is not None
        order.reserved = order.amount * order.price / self.fees.leverage
        return order.reserved + order.amount * order.price * self.fees.maker

    # ---- margin ------------------------------------------------------------------------

    def required_margin(
        self, d: Draft, side: str, amount: Decimal, price: Decimal, position_side: str
    ) -> Decimal:
        """Initial margin for the opening part of an order plus its taker fee."""
        opening = ledger.opening_amount(d.positions[position_side].qty, side, amount)
        return opening * price / self.fees.leverage + ledger.fee(amount * price, self.fees.taker)

    def affordable(self, d: Draft, order: OrderRec, price: Decimal) -> bool:
        if order.reduce_only:
            return True
        need = self.required_margin(d, order.side, order.remaining, price, order.position_side)
        free = (self.free_balance() + d.mark_move() + d.wallet_delta
                - d.margin_delta(self.fees.leverage))
        return free >= need

    # ---- price points ------------------------------------------------------------------

    def on_point(self, d: Draft, before: Decimal | None = None) -> None:
        """Process every open order of the book at the draft's mark price, in the order the
        price reaches them on its way from `before` (the last point's mark; default the
        book's), the oldest first among equals. Oldest first alone, a long's stop placed before
        its grid level acted first when one point crossed both: it closed the leg, then the
        level opened a new one without a stop (found by a paper chaos run of the hedge grid),
        where a venue fills the level on the way down and the stop then closes both."""
        start = d.book.mark if before is None else before
        orders = d.open_orders()
        if d.mark != start:
            falling = d.mark < start
            orders.sort(key=lambda o: _reached_at(o, falling))  # stable: seq among equals
        for order in orders:
            if order.waiting_for_trigger:
                if trigger_hit(order, d.mark):
                    self.trigger(d, order)
            elif order.type == "limit" and limit_crossed(order, d.mark):
                assert order.price is not None
                self.fill(d, order, order.price, maker=True)

    def trigger(self, d: Draft, order: OrderRec) -> None:
        o = d.touch(order)
        o.triggered = True
        o.updated_ms = d.ts
        if o.type == "market":
            if self.affordable(d, o, self.market_price(d, o.side)):
                self.execute_market(d, o)
            else:
                self.finish(d, o, "rejected")
            return
        assert o.price is not None
        if not self.affordable(d, o, o.price):
            self.finish(d, o, "rejected")
        elif self.marketable(d, o):
            self.execute_limit_now(d, o)
        elif not o.reduce_only:
            o.reserved = o.remaining * o.price / self.fees.leverage
