"""Journal records of the hedge grid's legs (trading/journal.py). Where a type string is the
one-way core's too (`StopPlaced`, `OrderCanceled`, `OrderFailed`, `CloseRaced`, `Escalated`),
`TYPE` keeps it and the fields keep the keys the grid always stored."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from trading.journal import JournalRecord
from trading.orders import OrderPurpose
from trading.primitives import Side


@dataclass(frozen=True, slots=True, kw_only=True)
class LegOpened(JournalRecord):
    """A hedge leg opened."""

    leg: Side
    position_id: str | None
    price: Decimal
    amount: Decimal
    stop_price: Decimal | None
    ref_qty: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LegAveraged(JournalRecord):
    """A grid level filled into an open leg."""

    leg: Side
    level: int
    price: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class LegReduced(JournalRecord):
    """Part of a leg closed."""

    leg: Side
    order: str
    amount: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class LegClosed(JournalRecord):
    """A leg is flat; its P&L as booked from fills. `fees_not_told`: as PositionClosed's (its
    orders' fees the venue has not told yet; in the data only when some are)."""

    leg: Side
    position_id: str | None
    reason: str
    realized_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    fees_not_told: int = 0

    OMIT_WHEN_ZERO: ClassVar[frozenset[str]] = frozenset({"fees_not_told"})


@dataclass(frozen=True, slots=True, kw_only=True)
class LegClosedOnExchange(JournalRecord):
    """The exchange has no contracts where the leg had some; `fills` of the exchange's fills that
    no order of ours explains are booked for it (issue 16 item 3)."""

    leg: Side
    ours: Decimal
    fills: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class LegAdopted(JournalRecord):
    """Reconciliation took over a leg the exchange has."""

    leg: Side
    contracts: Decimal
    entry_price: Decimal
    stop_price: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LegListedAfterClose(JournalRecord):
    """The position list the reconciliation read still showed the leg its own order answers
    had just closed: a list older than those fills, not a leg to adopt
    (trading/grid/reconcile.py)."""

    WARN: ClassVar[bool] = True
    """The loop logs this record as a warning."""
    leg: Side
    contracts: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class LegAdjusted(JournalRecord):
    """The exchange's leg has another size; ours follows it."""

    leg: Side
    ours: Decimal
    exchange: Decimal
    entry_price: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class LegResizeWaits(JournalRecord):
    """The exchange's leg has another size while an order of ours that could explain it is
    still live (a close; a level or a take-profit whose lookup lags the position list): ours
    keeps its size until that order's report (or the next reconciliation) says what it
    filled."""

    leg: Side
    ours: Decimal
    exchange: Decimal
    order: str


@dataclass(frozen=True, slots=True, kw_only=True)
class FillWithoutLeg(JournalRecord):
    """A reducing order filled while its leg was flat in our books; it is booked all the same,
    with the exchange's realized P&L where the exchange reports it."""

    leg: Side | None
    order: str
    amount: Decimal
    price: Decimal
    realized_pnl: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FillExceedsLeg(JournalRecord):
    """A reducing fill larger than the leg."""

    leg: Side | None
    order: str
    amount: Decimal
    contracts: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceQuantitiesCleared(JournalRecord):
    """Both legs are flat: the reference sizes start over."""

    long: Decimal | None
    short: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReopenCleared(JournalRecord):
    """Every cancel of the closed legs is confirmed: they may reopen."""

    sides: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenSkipped(JournalRecord):
    """A leg did not open for its size (below the market's minimums, above its maximum), and
    why: journaled once per leg and reason (trading/grid/maintain.py `_not_opened`)."""

    WARN: ClassVar[bool] = True
    """The loop logs this record as a warning: the leg will not open until the config or the
    market changes (found by a user run of examples/hedge_grid.toml live on the Binance
    emulator: its order size rounded below the venue's minimum order value, every leg was
    skipped at INFO, and the bot traded nothing for minutes with no warning)."""
    leg: Side
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LevelSkipped(JournalRecord):
    """A leg's next level is not placed, and why (it would make the leg larger than the
    market's maximum order amount, or it is below the market's minimums)."""

    leg: Side
    level: int
    amount: Decimal
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryRefused(JournalRecord):
    """The account's entry gate refused to open a leg (trading/gate.py)."""

    leg: Side
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StopCrossedUnprotected(JournalRecord):
    """The price crossed a leg's stop level with no stop resting: close."""

    leg: Side
    stop_price: Decimal | None
    price: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class LegStopPlaced(JournalRecord):
    """The exchange acknowledged a leg's stop."""

    TYPE: ClassVar[str] = "StopPlaced"
    leg: Side | None
    stop_price: Decimal | None
    amount: Decimal
    order: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TakeProfitPlaced(JournalRecord):
    """The exchange acknowledged a leg's take-profit."""

    leg: Side | None
    price: Decimal | None
    amount: Decimal
    order: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LevelPlaced(JournalRecord):
    """The exchange acknowledged a leg's next grid level; `position_id`: the position it was
    placed to average into (a level can outlive it: it may fill after the leg closed, before its
    cancel lands, and open the leg anew)."""

    leg: Side | None
    level: int
    price: Decimal | None
    amount: Decimal
    order: str
    position_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LevelRecalculated(JournalRecord):
    """The price moved past recalc_pct: the pending level is recomputed."""

    leg: Side
    level: int
    old_price: Decimal | None
    anchor: Decimal
    price: Decimal
    moved_pct: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class LegOrderCanceled(JournalRecord):
    """One of a leg's orders is confirmed cancelled."""

    TYPE: ClassVar[str] = "OrderCanceled"
    order: str
    leg: Side | None
    kind: OrderPurpose


@dataclass(frozen=True, slots=True, kw_only=True)
class LegOrderFailed(JournalRecord):
    """Placing one of a leg's orders failed."""

    TYPE: ClassVar[str] = "OrderFailed"
    order: str
    leg: Side | None
    kind: OrderPurpose
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LegCloseRaced(JournalRecord):
    """A leg's close was refused because the leg was already gone."""

    TYPE: ClassVar[str] = "CloseRaced"
    leg: Side | None
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LegEscalated(JournalRecord):
    """A leg's close attempts ran out: quarantine and alert."""

    TYPE: ClassVar[str] = "Escalated"
    leg: Side | None
    attempts: int
    last_error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LegCloseUnconfirmed(JournalRecord):
    """The exchange listed the leg flat but nothing shows it closed (trading/evidence.py): the
    leg stays open in our books and its stop stays on the exchange."""

    leg: Side
    contracts: Decimal
    """What our books still hold (unexplained by fills)."""
    answers: int
    """Contradictory answers in a row so far."""
