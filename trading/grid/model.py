"""Frozen state of one hedge-grid symbol: two legs and the orders each of them owns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal

from trading.evidence import Unconfirmed
from trading.late_fees import FeeOwed
from trading.order_evidence import OrderDoubt
from trading.orders import Order, OrderPurpose, OrderStatus, filed
from trading.primitives import ZERO, Side
from trading.transitions import LegPhase

GridKind = OrderPurpose
"""The grid's former name of the one order purpose enum (OPEN = ENTRY, ADD = LEVEL, TP =
TAKE_PROFIT are aliases there)."""
GridOrder = Order
"""The grid's former name of the one order model (trading/orders.py)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Leg:
    side: Side
    position_id: str | None = None
    contracts: Decimal = ZERO
    entry_price: Decimal | None = None
    """Average entry price of the leg."""
    level: int = 0
    """Grid levels filled after the opening entry (0..levels)."""
    ref_qty: Decimal | None = None
    """Reference quantity of this side: level k adds ref_qty * multiplier**k. Kept while the
    other side is open (a reopened side trades the same size), cleared when both are flat."""
    anchor: Decimal | None = None
    """Price the next level was computed from (last fill, or the market on a recalculation)."""
    anchor_seq: int = field(default=0, compare=False, repr=False)
    """The state's `price_seq` when the anchor was set: the pending level is recalculated only
    on a newer price. A fill reported before the next price is newer than the last price, and
    that price says nothing about how far the market is from the fill now. Left out of the repr
    (hashed by the backtest's decisions digest): its effect shows in the orders it holds back."""
    stop_price: Decimal | None = None
    """The leg's stop level, fixed when the leg opens (beyond every grid level)."""
    opened_at: float = 0.0
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    close_attempts: int = 0
    retry_at: float = 0.0
    """After a failed stop or take-profit: no new take-profit or level before this time."""
    stop_retry_at: float = field(default=0.0, repr=False)
    """After a failed stop: no new stop before this time. Kept apart from `retry_at` so a
    refused take-profit or level never holds back the leg's stop."""
    stop_failures: int = field(default=0, repr=False)
    """Stops refused in a row (reset when one rests; not persisted: a restart retries fast)."""
    tp_failures: int = field(default=0, repr=False)
    """Take-profits refused in a row: `retry_at` backs off as a stop's does (reset when one
    rests; not persisted, as `stop_failures`)."""
    level_retry_at: float = field(default=0.0, repr=False)
    """After a failed level: no new level before this time (backed off by `level_failures`)."""
    level_failures: int = field(default=0, repr=False)
    """Levels refused in a row (reset when one rests): the next waits longer, as a failing
    close does, so a level the balance cannot pay is not asked for every retry_s. These three
    are left out of the repr (hashed by the backtest's decisions digest): their effect shows in
    the orders they hold back."""
    close_retry_at: float = 0.0
    """After a failed close: no new close before this time (the close backoff). Kept apart from
    `retry_at` so a rejected stop never delays the close that replaces it."""
    close_unsent: bool = field(default=False, repr=False)
    """The leg's last close ended never reached the exchange (a kill between its commit and
    its send, found by a reconciliation): the next one that ends so is not counted again
    (handlers.py `on_failed`; a refusal ends the row). Left out of the repr, as the counts
    above."""
    stopped: bool = False
    """A fill of the leg's stop (or of a bot-side close) reduced it: whatever fill ends it, the
    leg was stopped out (its close counts for the stop-out wait and the stop-loss guard)."""

    @property
    def is_open(self) -> bool:
        return self.contracts > ZERO


@dataclass(frozen=True, slots=True, kw_only=True)
class GridState:
    symbol: str
    long: Leg = field(default_factory=lambda: Leg(side=Side.LONG))
    short: Leg = field(default_factory=lambda: Leg(side=Side.SHORT))
    orders: tuple[Order, ...] = ()
    order_seq: int = 0
    reopen: tuple[Side, ...] = ()
    """Sides that closed and reopen only once every pending order of both sides (and every order
    of the closed side) is confirmed gone (incident 9)."""
    next_open_at: float = 0.0
    open_skipped_for: str | None = field(default=None, compare=False, repr=False)
    """The leg and kind of the last reason a leg was not opened (OpenSkipped, EntryRefused):
    the same again is not journaled at every retry, as `SymbolState.skipped_for`. Not
    persisted: a restart records it once more."""
    open_refusals: int = field(default=0, compare=False, repr=False)
    """Opening orders that ended unfilled in a row (`GridRules.open_retry`); an opening fill
    starts again. Not persisted (a restart may try once at once), as the one-way core's."""
    quarantined: bool = False
    quarantine_reason: str | None = None
    entries_blocked: bool = False
    entries_blocked_reason: str | None = field(default=None, compare=False, repr=False)
    """Why entries are blocked, as `SymbolState.entries_blocked_reason`: not in the stored
    document (a restored block has none until the next `EntriesBlocked`), not compared, not
    in the repr."""
    last_price: Decimal | None = field(default=None, compare=False)
    price_seq: int = field(default=0, compare=False)
    """How many prices the symbol has seen (ticks and reconciliations). Persisted with the legs'
    `anchor_seq`, which counts on it (rows written before either restore both as 0)."""
    reopen_after_seq: int = field(default=0, compare=False)
    """A leg closed on the price numbered this: it reopens only on a newer price, never on the
    one it closed on (a close-and-reopen loop inside one message, issue 16 item 1)."""
    finished_orders: tuple[Order, ...] = field(default=(), compare=False)
    unconfirmed: tuple[tuple[Side, Unconfirmed], ...] = field(default=(), compare=False)
    """Per leg, an episode of the exchange listing the leg flat with nothing that shows it
    closed (trading/evidence.py). Not persisted: a restart starts counting again."""
    resize_waits: tuple[Side, ...] = field(default=(), compare=False, repr=False)
    """Legs whose last reconciliation listed them at another size than ours while a live order
    of ours could explain it (its lookup lagging the position list): the next one that still
    does follows the exchange (trading/grid/reconcile.py). Not persisted, not compared."""
    levels_refused: tuple[tuple[str | None, int], ...] = field(default=(), compare=False,
                                                               repr=False)
    """(position id, level) of the levels refused for making their leg larger than the
    market's maximum order amount (trading/grid/maintain.py): journaled once each. Not
    persisted, not compared, not in the repr."""
    doubts: tuple[OrderDoubt, ...] = field(default=(), compare=False, repr=False)
    """Live orders whose last lookup answers were not evidence (trading/order_evidence.py);
    not persisted, left out of the repr like `SymbolState.doubts`."""
    fees_owed: tuple[FeeOwed, ...] = field(default=(), compare=False, repr=False)
    """Ended orders whose fee is not told yet (trading/late_fees.py), as `SymbolState`'s:
    persisted in the stored document (storage/grid_codec.py), not compared, not in the repr."""

    def unconfirmed_of(self, side: Side) -> Unconfirmed | None:
        return next((u for s, u in self.unconfirmed if s is side), None)

    def with_unconfirmed(self, side: Side, episode: Unconfirmed | None) -> GridState:
        others = tuple((s, u) for s, u in self.unconfirmed if s is not side)
        return replace(self, unconfirmed=others + (((side, episode),) if episode else ()))

    def leg(self, side: Side) -> Leg:
        return self.long if side is Side.LONG else self.short

    def leg_phase(self, side: Side) -> LegPhase:
        """Read, not stored (see trading/transitions.py LegPhase). A leg whose contracts just
        reached zero keeps its position id until `close_leg` books it: still open until then."""
        leg = self.leg(side)
        if leg.is_open or leg.position_id is not None:
            return LegPhase.OPEN
        return LegPhase.CLOSED if side in self.reopen else LegPhase.FLAT

    def with_leg(self, leg: Leg) -> GridState:
        return replace(self, long=leg) if leg.side is Side.LONG else replace(self, short=leg)

    def order(self, client_order_id: str) -> Order | None:
        for order in self.orders:
            if order.client_order_id == client_order_id:
                return order
        return None

    def orders_of(self, side: Side, purpose: OrderPurpose | None = None) -> list[Order]:
        return [o for o in self.orders
                if o.leg is side and (purpose is None or o.purpose is purpose)]

    def with_order(self, order: Order) -> GridState:
        """Insert or update a live order; terminal orders move to `finished_orders`."""
        orders, finished = filed(self.orders, self.finished_orders, order)
        return replace(self, orders=orders, finished_orders=finished)

    def protected(self, side: Side) -> bool:
        """An acknowledged stop covering the whole leg rests on the exchange."""
        return self.covered(side, self.leg(side).contracts)

    def covered(self, side: Side, amount: Decimal) -> bool:
        """An acknowledged stop of the leg's position for `amount` or more rests on the
        exchange. A stop being cancelled, or one placed for an earlier position of the side (a
        late fill reopened it while that stop's cancel was unconfirmed), does not count; one
        filled in part counts for what it can still fill (`Order.remaining`)."""
        return any(o.status is OrderStatus.OPEN and o.remaining >= amount
                   and o.cancel_requested_at is None and self.of_current(o)
                   for o in self.orders_of(side, OrderPurpose.STOP))

    def of_current(self, order: Order) -> bool:
        """Placed for the leg's current position (orders stored before position ids were
        recorded on grid orders name none: they count)."""
        if order.leg is None:
            return False
        return order.position_id in (None, self.leg(order.leg).position_id)
