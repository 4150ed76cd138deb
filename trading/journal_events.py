"""Journal records of the one-way core, and the ones both styles share (trading/journal.py).

Field names are the data keys the journal has always stored; money and prices are Decimal,
sides and purposes enums (stored as their values)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from trading.journal import JournalRecord
from trading.orders import OrderPurpose
from trading.primitives import Side

# -- shared by both styles ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class EntriesBlocked(JournalRecord):
    """The kill switch or a shutdown stopped new entries."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EntriesAllowed(JournalRecord):
    """New entries are allowed again."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalSkipped(JournalRecord):
    """A signal that did not lead to an order, and why."""

    side: Side | None
    reason: str
    signal_id: str | None

    @property
    def WARN(self) -> bool:  # noqa: N802 - the loop's flag for records logged as warnings
        """A size the market refuses (below its minimums, above its maximum: `size_refusal`)
        is logged as a warning: no entry of that size is sent until the config or the market
        changes, and an INFO line was all a user saw of a bot that never traded."""
        return self.reason.startswith("size ")


@dataclass(frozen=True, slots=True, kw_only=True)
class QuarantineLifted(JournalRecord):
    """A person lifted the symbol's quarantine."""

    by: str
    reason: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrphanCanceled(JournalRecord):
    """An open order on the symbol that none of ours owns was cancelled (or one of ours left
    resting from a position that is closed: its first cancel failed)."""

    order: str | None
    exchange_id: str | None


# -- the one-way position ----------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class EntryRequested(JournalRecord):
    """An entry order was committed."""

    side: Side
    amount: Decimal
    reason: str
    order: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionOpened(JournalRecord):
    """The entry filled completely."""

    side: Side
    contracts: Decimal
    entry_price: Decimal
    position_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionAdopted(JournalRecord):
    """Reconciliation took over a position the exchange has and storage did not."""

    side: Side
    contracts: Decimal
    entry_price: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownPositionFlagged(JournalRecord):
    """A position storage does not know, not adopted (the symbol is quarantined)."""

    side: Side
    contracts: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionListedAfterClose(JournalRecord):
    """The position list the reconciliation read still showed, on the position's side, the
    position its own order answers had just closed: a list older than those fills (a venue's
    position read lags its order state), not a position to adopt (trading/reconcile.py)."""

    WARN: ClassVar[bool] = True
    """The loop logs this record as a warning."""
    side: Side
    contracts: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionSideMismatch(JournalRecord):
    """The exchange's position has the other side."""

    stored: Side
    exchange: Side


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionResized(JournalRecord):
    """The exchange's position has another size; ours follows it."""

    stored: Decimal
    exchange: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionResizeWaits(JournalRecord):
    """The exchange's position is smaller while a close of ours is still unresolved (or larger
    while our entry is still open): ours keeps its size until that order's report (or the next
    reconciliation) says what it filled."""

    stored: Decimal
    exchange: Decimal
    order: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionClosed(JournalRecord):
    """The position is flat; its P&L as booked from fills. `fees_not_told`: how many of its
    orders' fees the venue has not told yet (Binance: booked later, `FeeBookedLate`), so
    `fees` and `net_pnl` are not final; stored and shown only when some are (a close read
    "'fees': '0', 'net_pnl': '-0.2630'" for 0.2758 USDT of fees booked a few seconds later)."""

    position_id: str
    side: Side
    reason: str
    realized_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    fees_not_told: int = 0

    OMIT_WHEN_ZERO: ClassVar[frozenset[str]] = frozenset({"fees_not_told"})


@dataclass(frozen=True, slots=True, kw_only=True)
class FillWithoutPosition(JournalRecord):
    """An exit order filled while its position was not open (none, or a later one on the other
    side: a closed short's buy reported after a long opened). Its fill is booked all the same
    (quantity, price and the whole fee; no P&L: the entry price of what it closed is unknown),
    under its order's position, so the ledger keeps equal to the exchange's fills."""

    order: str
    amount: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class FillExceedsPosition(JournalRecord):
    """An exit fill larger than the position in our books (the grid's `FillExceedsLeg`): it is
    booked for the position's contracts; the venue held more than our books did."""

    order: str
    amount: Decimal
    contracts: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseWithoutFills(JournalRecord):
    """Part of a position closed elsewhere with no fills to book."""

    contracts: Decimal
    note: str = "the exchange shows no fills for this part; booked with zero P&L"


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseUnconfirmed(JournalRecord):
    """The exchange listed no position but nothing shows it closed (trading/evidence.py): the
    position stays open in our books and its stop stays on the exchange."""

    contracts: Decimal
    """What our books still hold (unexplained by fills)."""
    answers: int
    """Contradictory answers in a row so far."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseConfirmationAlerted(JournalRecord):
    """The contradiction persisted: an alert went out (no emergency close)."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StopRequested(JournalRecord):
    """The exchange stop is (re)placed."""

    stop_price: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class StopAlreadyCrossed(JournalRecord):
    """The price is already through the stop level: close instead."""

    stop_price: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class StopPlaced(JournalRecord):
    """The exchange acknowledged the stop; the position is protected at this level."""

    stop_price: Decimal | None
    order: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StopMoveRequested(JournalRecord):
    """The trailing stop ratcheted far enough to move the exchange stop."""

    old_stop: Decimal | None
    new_stop: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class StopAmended(JournalRecord):
    """The exchange stop was moved in place (amended; same order)."""

    order: str
    stop_price: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class StopAmendFailed(JournalRecord):
    """The amendment was refused; the move falls back to a new stop, then the old one goes."""

    order: str
    stop_price: Decimal
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TrailingStopActivated(JournalRecord):
    """The price reached the trailing stop's activation level."""

    price: Decimal
    trigger_price: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderCanceled(JournalRecord):
    """One of our orders is confirmed cancelled."""

    order: str
    purpose: OrderPurpose


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderFailed(JournalRecord):
    """Placing one of our orders failed (rejected, or never reached)."""

    order: str
    purpose: OrderPurpose
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentNotOnExchange(JournalRecord):
    """A committed order the exchange does not have (it never got there)."""

    order: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseRequested(JournalRecord):
    """A close attempt was committed (counted before it is sent)."""

    reason: str | None
    attempt: int
    order: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseFailed(JournalRecord):
    """A close attempt failed; the next one waits `retry_in_s`."""

    attempt: int
    error: str
    retry_in_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseRaced(JournalRecord):
    """The close was refused because the position was already gone."""

    error: str
    note: str = "position already closed on the exchange"


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalated(JournalRecord):
    """Close attempts ran out: quarantine, alert, emergency close."""

    reason: str
    attempts: int
    error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class EmergencyCloseRequested(JournalRecord):
    """The escalation path's close order was committed."""

    order: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EmergencyCloseFailed(JournalRecord):
    """The escalation path's close order failed."""

    error: str


# -- written outside the cores (actors, storage); here so rows decode to records ----------

@dataclass(frozen=True, slots=True, kw_only=True)
class SignalHandled(JournalRecord):
    """A signal's decision was committed (lost signals are skipped on restart)."""

    signal_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Quarantined(JournalRecord):
    """The supervisor quarantined the symbol."""

    reason: str
