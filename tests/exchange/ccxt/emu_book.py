"""In-memory order book shared by the venue emulators: market orders fill at the set price,
limit orders and trigger (stop) orders rest open; one net position per symbol, or in hedge
mode (`hedge = True`, the account setting) a long and a short leg per symbol, named by each
order's positionIdx 1 / 2 (Bybit) or positionSide LONG / SHORT (Binance).

Like the venues: a reduce-only order that would not reduce the position, and an opening order
whose initial margin (leverage 10) exceeds the available balance, are refused (`Rejected`,
which each venue answers with its own error code); `set_price` fires the stops it crosses;
closing fills book realized P&L.

Stops the venue ends without a fill, in each venue's words (the emulators render them):
- a triggered reduce-only stop with nothing left to reduce (the position closed meanwhile):
  Bybit cancels it (status 'canceled', `extra["cancelType"]` "CancelByReduceOnly": Bybit help
  "What is a Close On Trigger Order": "cancel it if there is no open position to be closed";
  v5 enum cancelType "CancelByReduceOnly"); on Binance the trigger places its order in the
  matching engine, which expires it (child status 'expired': Binance's futures FAQ, "stop or
  take_profit order with reduceOnly is triggered, but there is no open position to
  close/reduce, then the order will be expired") and the stop finishes ('finished', algoStatus
  FINISHED: "filled or canceled in the matching engine"), nothing executed;
- `expire`: the venue's system ends a resting (untriggered) stop while the position stays,
  e.g. Bybit's cancel before a liquidation ("CancelAllBeforeLiq": "cancelled in order to
  attempt liquidation prevention by freeing up margin"): status 'expired', rendered Bybit
  orderStatus "Deactivated" ("conditional order ... cancelled before they are triggered") with
  its cancelType, Binance algoStatus EXPIRED ("canceled by the system").
Neither venue documents cancelling a resting reduce-only GTC stop when its position closes
(Binance's EXPIRED example is a GTE_GTC order; Bybit's CancelByTpSlTsClear is for position
TP/SL, not conditional orders): such a stop rests until it triggers, as here. A resting
reduce-only LIMIT order is another matter on Binance (`expire_closers`, set by its emulator):
"The reduceOnly open order is expired due to current position has been closed" (Binance's
futures FAQ "Futures LIMIT order got expired", reason 6), and in hedge mode an order on a leg's
closing side is reduce-only by its side (Binance refuses the flag there and answers a close
with nothing to close -2022 "ReduceOnly Order is rejected."): it expires when its leg goes
flat, status 'expired' (EXPIRED). Bybit leaves it resting until it would fill, then cancels it
(CancelByReduceOnly, `WallBook` in tests/e2e/live_venue.py)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass
class EmuOrder:
    oid: str
    cid: str
    symbol: str  # exchange-native id, e.g. BTCUSDT
    side: str  # 'buy' | 'sell'
    type: str  # 'market' | 'limit'
    qty: Decimal
    price: Decimal | None
    trigger: Decimal | None
    trigger_direction: int | None  # 1 rising, 2 falling
    reduce_only: bool
    created_ms: int
    # open | untriggered | triggered | filled | finished | canceled | expired
    status: str = "open"
    filled: Decimal = Decimal(0)
    avg: Decimal | None = None
    updated_ms: int = 0
    extra: dict = field(default_factory=dict)


@dataclass
class EmuTrade:
    tid: str
    order: EmuOrder
    price: Decimal
    qty: Decimal
    fee: Decimal
    ts: int
    realized: Decimal = Decimal(0)
    """P&L of the part that closed a position, before fees (Binance `realizedPnl`, Bybit
    `execPnl`)."""
    closed: Decimal = Decimal(0)
    """The part of the fill that closed a position (Bybit `closedSize`)."""
    fee_asset: str = "USDT"
    """The asset `fee` is in: BNB with Binance's BNB fee discount on (`Book.bnb_fees`)."""


@dataclass
class EmuFunding:
    """One funding payment settled on an open position (`Book.settle_funding`)."""

    fid: str
    symbol: str
    leg: str  # 'net' | 'long' | 'short'
    size: Decimal  # signed position size
    mark: Decimal
    rate: Decimal
    paid: Decimal  # positive: the account paid; negative: it received
    ts: int


LEVERAGE = Decimal(10)


class Rejected(Exception):
    """The venue refuses the order: kind 'reduce_only', 'reduce_only_open_orders' (Binance: the
    leg's resting closing limits leave too little of it, `Book._held_by_closers`), 'margin' or
    'mode' (the order's position side does not fit the account's position mode)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Book:
    def __init__(self, prices: dict[str, Decimal], now_ms: int = 1_700_000_000_000) -> None:
        self.prices = dict(prices)
        self.orders: dict[str, EmuOrder] = {}
        self.trades: list[EmuTrade] = []
        # (symbol, leg) -> (signed size, entry); leg 'net' one-way, 'long' / 'short' hedge mode
        self.positions: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        self.hedge = False
        self.balance = Decimal("10000")
        self.bnb_fees = False
        """Binance's "BNB burn": fees are paid in BNB (10% off, at `bnb_price`) out of
        `bnb_balance`; the USDT wallet pays none."""
        self.bnb_balance = Decimal(0)
        self.bnb_price = Decimal(600)
        self.now_ms = now_ms
        self.lock = threading.RLock()
        self._ids = itertools.count(1001)
        self.child_orders = False  # Binance: a triggered stop fills through a new order
        self.hold_children = False  # the triggered stop's new order rests until fill_children
        self.expire_closers = False  # Binance: a leg gone flat expires its resting closing limits
        self.count_closers = False  # Binance: resting closing limits count against a new close
        self.count_closers_at_trigger = False
        """The same count for the order a triggered stop sends (undocumented on Binance: a test
        of the bot under that reading turns it on); refused, the stop ends with nothing done."""
        # WebSocket emulators (ws_emu_*.py): called as fn(kind, obj) under the lock on every
        # change, kind "order" (EmuOrder), "trade" (EmuTrade) or "price" (symbol)
        self.listeners: list = []
        self.fundings: list[EmuFunding] = []
        """Funding settled on open positions (Bybit execType Funding, Binance FUNDING_FEE)."""

    def emit(self, kind: str, obj: object) -> None:
        for listener in self.listeners:
            listener(kind, obj)

    def tick(self) -> int:
        self.now_ms += 1000
        return self.now_ms

    def next_id(self) -> str:
        return str(next(self._ids))

    def place(self, **fields) -> EmuOrder:
        with self.lock:
            order = EmuOrder(oid=self.next_id(), created_ms=self.tick(), **fields)
            order.updated_ms = order.created_ms
            if order.trigger is None:
                self._check(order)
            if order.trigger is not None:
                order.status = "untriggered"
            elif order.type == "market":
                self._fill(order, self.prices[order.symbol])
            self.orders[order.oid] = order
            self.emit("order", order)
            return order

    @staticmethod
    def leg_of(order: EmuOrder) -> str:
        idx = str(order.extra.get("positionIdx", 0))
        named = str(order.extra.get("positionSide", "BOTH")).upper()
        if idx == "1" or named == "LONG":
            return "long"
        if idx == "2" or named == "SHORT":
            return "short"
        return "net"

    def position(self, symbol: str, leg: str = "net") -> tuple[Decimal, Decimal]:
        return self.positions.get((symbol, leg), (Decimal(0), Decimal(0)))

    def closes(self, order: EmuOrder) -> bool:
        """The order can only close: reduce-only, or in hedge mode its leg's closing side (a
        sell of the long, a buy of the short; Binance refuses reduceOnly with positionSide
        LONG / SHORT: the side alone closes)."""
        return self._closes(order)

    def _closes(self, order: EmuOrder) -> bool:
        leg = self.leg_of(order)
        return order.reduce_only or (leg == "long" and order.side == "sell") or (
            leg == "short" and order.side == "buy")

    def _reducible(self, order: EmuOrder) -> Decimal:
        size = self.position(order.symbol, self.leg_of(order))[0]
        if size == 0 or (size > 0) == (order.side == "buy"):
            return Decimal(0)
        return min(abs(size), order.qty)

    def _held_by_closers(self, order: EmuOrder) -> Decimal:
        """Binance: what the leg's resting closing limit orders already take of it. A new
        closing order beyond the rest is refused, -4118 "ReduceOnly Order Failed. Please check
        your existing position and open orders." (REDUCE_ONLY_MARGIN_CHECK_FAILED; seen live:
        a market close refused while a full-size reduce-only take-profit rested, Qubx issue
        386, 2026-08; Binance's support in ccxt issue 9001: "You have other open orders that
        would be filled before the failed one and close all positions"). Conditional orders
        wait outside the book (the algo service) and take nothing before they trigger."""
        leg = self.leg_of(order)
        return sum((o.qty - o.filled for o in self.orders.values()
                    if o is not order and o.symbol == order.symbol and o.trigger is None
                    and o.status == "open" and self.leg_of(o) == leg and self._closes(o)),
                   Decimal(0))

    def available(self) -> Decimal:
        used = sum((abs(size) * entry / LEVERAGE for size, entry in self.positions.values()),
                   Decimal(0))
        return self.balance - used

    def _check(self, order: EmuOrder) -> None:
        if (self.leg_of(order) == "net") == self.hedge:
            raise Rejected("mode")
        if self._closes(order):
            reducible = self._reducible(order)
            if reducible == 0:
                raise Rejected("reduce_only")
            held = self._held_by_closers(order) if self.count_closers else Decimal(0)
            if held and order.qty > abs(self.position(order.symbol, self.leg_of(order))[0]) - held:
                raise Rejected("reduce_only_open_orders")
            order.qty = reducible  # a close larger than the leg is cut to it
            return
        price = order.price or self.prices[order.symbol]
        if order.qty * price / LEVERAGE > self.available():
            raise Rejected("margin")

    def set_price(self, symbol: str, price: Decimal) -> list[EmuOrder]:
        """Move the market; fire every stop the new price crosses. Returns the fired stops."""
        with self.lock:
            self.prices[symbol] = price
            fired = []
            for order in list(self.orders.values()):
                if order.symbol != symbol or order.status != "untriggered":
                    continue
                rising = (order.trigger_direction or (1 if order.side == "buy" else 2)) == 1
                assert order.trigger is not None
                if (price >= order.trigger) if rising else (price <= order.trigger):
                    self._trigger(order, price)
                    self.emit("order", order)
                    fired.append(order)
            self.emit("price", symbol)
            return fired

    def _trigger(self, order: EmuOrder, price: Decimal) -> None:
        if self._closes(order):
            qty = self._reducible(order)
            if (self.count_closers_at_trigger and self.child_orders and qty
                    and self._held_by_closers(order) > abs(self.position(
                        order.symbol, self.leg_of(order))[0]) - qty):
                self._expire_in_engine(order)
                return
            if qty == 0 and not self.child_orders:  # Bybit: cancelled as reduce-only
                order.extra["cancelType"] = "CancelByReduceOnly"
                order.status, order.updated_ms = "canceled", self.tick()
                return
            if qty:
                order.qty = qty
            else:  # Binance: its order goes to the matching engine, which expires it
                self._expire_in_engine(order)
                return
        if not self.child_orders:
            self._fill(order, price)
            return
        # Binance's algo orders: the trigger places a new regular order (its own id), and the
        # algo order finishes pointing at it (actualOrderId); the fill belongs to the child
        child = self._child(order)
        # Binance algoStatus TRIGGERED: its order is in the matching engine (told on the stream
        # before the order's own updates and the stop's FINISHED, as the venue does)
        order.status, order.updated_ms = "triggered", self.tick()
        if self.hold_children:
            return
        self.emit("order", order)
        self._fill(child, price)
        self.emit("order", child)
        order.status, order.updated_ms = "filled", self.tick()

    def _child(self, order: EmuOrder) -> EmuOrder:
        child = EmuOrder(oid=self.next_id(), cid=f"x-{order.oid}", symbol=order.symbol,
                         side=order.side, type="market", qty=order.qty, price=None, trigger=None,
                         trigger_direction=None, reduce_only=order.reduce_only,
                         created_ms=self.tick(), extra=dict(order.extra))
        self.orders[child.oid] = child
        order.extra["actualOrderId"] = child.oid
        return child

    def _expire_in_engine(self, order: EmuOrder) -> None:
        """Binance: a triggered reduce-only stop with nothing to reduce. Its order is placed in
        the matching engine and expires there (ORDER_TRADE_UPDATE x/X EXPIRED); the stop
        finishes with nothing executed (ALGO_UPDATE FINISHED, aq 0)."""
        child = self._child(order)
        child.status, child.updated_ms = "expired", self.tick()
        self.emit("order", child)
        order.status, order.updated_ms = "finished", self.tick()

    def expire(self, order: EmuOrder, cancel_type: str = "CancelAllBeforeLiq") -> bool:
        """The venue's system ends a resting stop (not the account's cancel): Bybit
        "Deactivated" with `cancel_type`, Binance algoStatus EXPIRED. False: not resting."""
        with self.lock:
            if order.status != "untriggered":
                return False
            order.extra["cancelType"] = cancel_type
            order.status, order.updated_ms = "expired", self.tick()
            self.emit("order", order)
            return True

    def fill_children(self) -> None:
        """Fill the orders held triggered stops placed (hold_children), at the current price:
        the stops finish (Binance algoStatus FINISHED)."""
        self._end_children(fill=True)

    def cancel_children(self) -> None:
        """The orders held triggered stops placed end unfilled in the matching engine (e.g.
        a reduce-only order with nothing left to reduce: Binance expires it, status 'expired'):
        the stops finish all the same (algoStatus FINISHED, status 'finished' here), with
        nothing executed."""
        self._end_children(fill=False)

    def _end_children(self, fill: bool) -> None:
        with self.lock:
            for order in list(self.orders.values()):
                child = self.orders.get(order.extra.get("actualOrderId") or "")
                if order.status != "triggered" or child is None:
                    continue
                if fill:
                    self._fill(child, self.prices[child.symbol])
                else:
                    child.status, child.updated_ms = "expired", self.tick()
                self.emit("order", child)
                order.status, order.updated_ms = ("filled" if fill else "finished"), self.tick()
                self.emit("order", order)

    def _fill(self, order: EmuOrder, price: Decimal) -> None:
        order.status, order.filled, order.avg = "filled", order.qty, price
        order.updated_ms = self.tick()
        fee = (order.qty * price * Decimal("0.00055")).quantize(Decimal("0.00000001"))
        key = (order.symbol, self.leg_of(order))
        size, entry = self.positions.get(key, (Decimal(0), Decimal(0)))
        delta = order.qty if order.side == "buy" else -order.qty
        new = size + delta
        realized = closed = Decimal(0)
        if size == 0 or (size > 0) == (delta > 0):
            entry = (abs(size) * entry + abs(delta) * price) / abs(new) if new else Decimal(0)
        else:
            closed = min(abs(size), abs(delta))
            realized = (price - entry) * closed * (1 if size > 0 else -1)
            if new == 0:
                entry = Decimal(0)
            elif (new > 0) != (size > 0):
                entry = price  # flipped: the rest opens at this price
        asset = "USDT"
        if self.bnb_fees:  # the USDT fee, 10% off, in BNB at its price
            fee = (fee * Decimal("0.9") / self.bnb_price).quantize(Decimal("1E-10"))
            asset, self.bnb_balance = "BNB", self.bnb_balance - fee
        self.trades.append(EmuTrade(self.next_id(), order, price, order.qty, fee, self.tick(),
                                    realized, closed, fee_asset=asset))
        self.positions[key] = (new, entry)
        self.balance += realized - (fee if asset == "USDT" else 0)
        self.emit("trade", self.trades[-1])
        if self.expire_closers and size and not new:
            self._expire_closers(order.symbol, key[1])

    def _expire_closers(self, symbol: str, leg: str) -> None:
        """Binance: the leg went flat; its resting limit orders that can only close it expire
        (module docstring)."""
        for other in list(self.orders.values()):
            if (other.symbol == symbol and other.trigger is None and other.status == "open"
                    and self.leg_of(other) == leg and self._closes(other)):
                other.status, other.updated_ms = "expired", self.tick()
                self.emit("order", other)

    def settle_funding(self, rate: Decimal, symbol: str | None = None) -> list[EmuFunding]:
        """Settle funding on every open position (of `symbol`), as the venues do: position
        value (size x mark price) x rate, a long pays a positive rate and a short receives it
        (the other way round for a negative rate); the wallet changes by it."""
        settled = []
        with self.lock:
            ts = self.tick()
            for (sym, leg), (size, _entry) in sorted(self.positions.items()):
                if size == 0 or (symbol is not None and sym != symbol):
                    continue
                mark = self.prices[sym]
                value = (abs(size) * mark * rate).quantize(Decimal("0.00000001"))
                paid = value if size > 0 else -value
                settled.append(EmuFunding(self.next_id(), sym, leg, size, mark, rate, paid, ts))
                self.balance -= paid
            self.fundings += settled
        return settled

    def fees_of(self, order: EmuOrder) -> Decimal:
        return sum((t.fee for t in self.trades if t.order is order), Decimal(0))

    def find(self, oid: str | None = None, cid: str | None = None, stops: bool | None = None):
        with self.lock:
            for order in self.orders.values():
                if (oid and order.oid == oid) or (cid and order.cid == cid):
                    is_stop = order.trigger is not None
                    if stops is None or stops == is_stop:
                        return order
            return None

    def cancel(self, order: EmuOrder) -> bool:
        with self.lock:
            if order.status not in ("open", "untriggered"):
                return False
            # Bybit says "Deactivated" of a conditional order cancelled before its trigger
            order.extra["cancelType"] = "CancelByUser"
            order.extra["untriggered"] = order.status == "untriggered"
            order.status, order.updated_ms = "canceled", self.tick()
            self.emit("order", order)
            return True


WEEK_MS = 7 * 86_400_000


def trade_window(start: Any, end: Any, now_ms: int) -> tuple[int, int] | None:
    """The stretch of trade history one request covers, as Bybit (/v5/execution/list) and
    Binance (/fapi/v1/userTrades) document it: at most 7 days; only startTime: startTime..+7
    days; only endTime: the 7 days before it; neither: the last 7 days. None: endTime -
    startTime is longer than 7 days (the venue refuses the request)."""
    if start and end:
        return (int(start), int(end)) if int(end) - int(start) <= WEEK_MS else None
    if start:
        return int(start), int(start) + WEEK_MS
    if end:
        return int(end) - WEEK_MS, int(end)
    return now_ms - WEEK_MS, now_ms
