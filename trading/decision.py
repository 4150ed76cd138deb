"""The result of one decision and the small context handlers share while building it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Callable

from trading.client_ids import client_order_id
from trading.commands import Command, JournalEntry, LedgerEntry, PlaceOrder
from trading.model import OrderPurpose, OrderRecord, SymbolState
from trading.rules import Rules


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """A decision of either core: the one-way `SymbolState` or the hedge grid's `GridState`."""

    state: Any
    commands: tuple[Any, ...] = ()
    journal: tuple[JournalEntry, ...] = ()
    ledger: tuple[LedgerEntry, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.commands or self.journal or self.ledger or self.state.finished_orders)


@dataclass(slots=True)
class Ctx:
    """Per-decision scratchpad: rules, the decision time, and what to emit."""

    rules: Rules
    now: float
    admit: Callable[[str, Decimal | None], str | None] = field(default=lambda kind, margin: None)
    """The account's entry gate (trading/gate.py): called once right before an order that
    opens a position is created; a returned reason refuses the entry (it is journaled)."""
    commands: list[Command] = field(default_factory=list)
    journal: list[JournalEntry] = field(default_factory=list)
    ledger: list[LedgerEntry] = field(default_factory=list)

    def emit(self, command: Command) -> None:
        self.commands.append(command)

    def record(self, type_: str, **data: Any) -> None:
        self.journal.append(JournalEntry(type=type_, data={k: _plain(v) for k, v in data.items()}))

    def new_order(
        self,
        state: SymbolState,
        purpose: OrderPurpose,
        side: str,
        amount: Decimal,
        *,
        stop_price: Decimal | None = None,
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
            stop_price=stop_price,
            reduce_only=purpose.reduces,
            position_id=position_id,
            created_at=self.now,
            replaces=replaces,
        )
        self.emit(PlaceOrder(order=order))
        return replace(state, order_seq=seq).with_order(order)

    def decision(self, state: SymbolState) -> Decision:
        return Decision(
            state=state,
            commands=tuple(self.commands),
            journal=tuple(self.journal),
            ledger=tuple(self.ledger),
        )


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "value") and isinstance(getattr(value, "value"), str):
        return value.value
    return value
