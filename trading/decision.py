"""The result of one decision and the small context handlers share while building it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, Protocol, TypeVar

from trading.client_ids import client_order_id
from trading.commands import Command, JournalEntry, LedgerEntry, PlaceOrder
from trading.frozen import replace
from trading.journal import JournalItem, JournalRecord, plain
from trading.model import OrderPurpose, OrderRecord, SymbolState
from trading.orders import Order
from trading.rules import Rules


class CoreState(Protocol):
    """What the decision loop needs of a core's state (`SymbolState`, `GridState`)."""

    @property
    def finished_orders(self) -> tuple[Order, ...]: ...


S = TypeVar("S", bound=CoreState)
R = TypeVar("R")


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision(Generic[S]):
    """A decision of either core: `Decision[SymbolState]` or `Decision[GridState]`."""

    state: S
    commands: tuple[Command, ...] = ()
    journal: tuple[JournalItem, ...] = ()
    """Typed records from the cores (trading/journal.py); a shell may add plain JournalEntry
    rows (e.g. SignalHandled). Both have the `.type`/`.data` storage keeps."""
    ledger: tuple[LedgerEntry, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.commands or self.journal or self.ledger or self.state.finished_orders)


@dataclass(slots=True, kw_only=True)
class BaseCtx(Generic[R]):
    """Per-decision scratchpad of either core: its rules, the decision time, what to emit."""

    rules: R
    now: float
    admit: Callable[[str, Decimal | None], str | None] = field(default=lambda kind, margin: None)
    """The account's entry gate (trading/gate.py): called once right before an order that
    opens a position is created; a returned reason refuses the entry (it is journaled)."""
    reconciled: bool = True
    """This incarnation's books have been compared with the exchange at least once (the shell's
    first successful reconciliation; a backtest's books are the exchange's). Before, the grid
    places no level: its books may hold a leg the venue closed while the bot was down."""
    commands: list[Command] = field(default_factory=list)
    journal: list[JournalItem] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)
    fill_at: float | None = None
    """While a fill is booked: when the venue says it filled (`fill_time`); None otherwise."""

    @property
    def closed_at(self) -> float:
        """When a close booked now happened: its fill's venue time, else the booking time."""
        return self.now if self.fill_at is None else self.fill_at

    def emit(self, command: Command) -> None:
        self.commands.append(command)

    def record(self, record: JournalRecord | str, **data: Any) -> None:
        """Journal a typed record (trading/journal_events.py). The old free-string form
        `record("Type", **data)` still works so code written against it (the decision-loop
        branch) merges as is; it stores the same row, but new code should add a record."""
        if isinstance(record, str):
            row = {key: plain(value) for key, value in data.items()}
            self.journal.append(JournalEntry(type=record, data=row))
        else:
            self.journal.append(record)

    def decision(self, state: S) -> Decision[S]:
        return Decision(state=state, commands=tuple(self.commands), journal=tuple(self.journal),
                        ledger=tuple(self.ledger))


def fill_time(filled_at_ms: Any, created_at: float, now: float) -> float | None:
    """The venue's fill time in epoch seconds, bounded by the order's creation and the booking
    time: a venue clock ahead of ours (or a malformed value) is never trusted past now, and a
    fill is never older than its order. None when the venue told none (or nothing readable)."""
    if isinstance(filled_at_ms, bool) or not isinstance(filled_at_ms, int) or filled_at_ms <= 0:
        return None
    return min(max(filled_at_ms / 1000, created_at), now)


class Ctx(BaseCtx[Rules]):
    """The one-way core's context."""

    __slots__ = ()

    def new_order(
        self,
        state: SymbolState,
        purpose: OrderPurpose,
        side: str,
        amount: Decimal,
        *,
        price: Decimal | None = None,
        position_id: str | None = None,
        replaces: str | None = None,
    ) -> SymbolState:
        """Create a pending order with the next client id, and emit PlaceOrder for it. The
        record is committed with the state before the shell sends it (write-ahead)."""
        seq = state.order_seq + 1
        r = self.rules
        order = OrderRecord(
            client_order_id=client_order_id(r.account, r.id_tag, r.symbol, seq, purpose),
            purpose=purpose,
            side=side,
            amount=amount,
            price=price,
            reduce_only=purpose.reduces,
            position_id=position_id,
            created_at=self.now,
            replaces=replaces,
        )
        self.emit(PlaceOrder(order=order))
        # replace(state, order_seq=seq).with_order(order) in one replace: a new order is
        # pending, so live, and with_order only appends it (after any namesake)
        others = tuple(o for o in state.orders if o.client_order_id != order.client_order_id)
        return replace(state, order_seq=seq, orders=others + (order,))

