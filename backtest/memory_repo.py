"""The backtest's repository: the decision loop's storage interface (storage/repository.py), in
memory. Every committed decision's journal entries and ledger fills are kept in order, with
the market time they were committed at, for the report, the trades and the charts.

No database in the hot path: with `--journal` each commit is also forwarded to a bot database
(backtest/journal.py), the rows the running bot writes.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from trading.commands import Escalate, JournalEntry, LedgerEntry
from trading.decision import Decision
from trading.grid.model import GridState
from trading.journal import JournalItem
from trading.model import SymbolState


class Forward(Protocol):
    """Where `--journal` sends every commit (backtest/journal.py JournalSink)."""

    def claim(self, symbol: str) -> int: ...

    def commit(self, symbol: str, incarnation: int, before: Any, decision: Decision, *,
               correlation_id: str, created_at: float, store: Any) -> None: ...

    def record(self, symbol: str, type_: str, data: dict[str, Any], *, correlation_id: str,
               created_at: float) -> None: ...


def empty_state(symbol: str, store: Any) -> Any:
    """A symbol's state before its first decision (a fresh database restores the same)."""
    if getattr(store, "name", "one_way") == "hedge_grid":
        return GridState(symbol=symbol)
    return SymbolState(symbol=symbol)


class MemoryRepository:
    """One backtest account's storage. `clock`: the market time (escalations are stamped
    with it; commits carry their own)."""

    def __init__(self, clock: Callable[[], float], forward: Forward | None = None,
                 stop_levels: bool = False,
                 kill_switch: tuple[int, float] | None = None) -> None:
        self.clock = clock
        self._kill_switch = kill_switch
        """(supervision.kill_switch_escalations, kill_switch_window_s): more than that many
        distinct symbols escalating within the window trip the kill switch, as the supervisor
        does (supervision/supervisor.py `_on_escalation`); None: never."""
        self.kill_switch: tuple[float, str] | None = None
        """(market time, reason) the kill switch tripped: no new entries on any symbol after it
        (the backtest's entry gate asks); nobody resets it in a backtest."""
        self.forward = forward
        self.stop_levels: list[tuple[float, str, Decimal | None, Decimal | None]] = []
        """With `stop_levels`: (market time, symbol, stop level, trailing trigger) of a one-way
        state each time either changes in a commit (None: none), for the chart's lines of the
        stops the bot holds itself (`exchange.stop_mode = "bot"`), which the journal does not
        record: no stop order is placed, moved or acknowledged."""
        self._levels: dict[str, tuple[Decimal | None, Decimal | None]] | None = (
            {} if stop_levels else None)
        self.journal: list[tuple[float, str, JournalItem]] = []
        self.ledger: list[tuple[float, str, LedgerEntry]] = []
        self.escalations: list[tuple[float, str, str]] = []
        self.owed: list[tuple[str, str]] = []
        """(symbol, reason) of each escalation asking for the emergency close, not run yet
        (backtest/emergency.py runs them after the message that escalated)."""
        self.decisions = 0
        """Committed decisions (those that changed something)."""
        self.states: dict[str, Any] = {}
        self._booked: dict[str, set[str]] = {}
        """Client order ids with fills in the ledger, by position id."""
        self._booked_all: dict[str, set[str]] = {}  # client order id -> its fills' symbols

    # -- what the decision loop calls ---------------------------------------------------------
    def claim(self, symbol: str) -> int:
        return self.forward.claim(symbol) if self.forward is not None else 1

    def load(self, symbol: str, store: Any = None) -> Any:
        state = self.states.get(symbol)
        return state if state is not None else empty_state(symbol, store)

    def commit(self, symbol: str, incarnation: int, before: Any, decision: Decision, *,
               correlation_id: str, created_at: float, store: Any = None) -> None:
        self.decisions += 1
        self.states[symbol] = decision.state
        if self._levels is not None:
            self._note_levels(symbol, decision.state, created_at)
        for entry in decision.journal:
            self.journal.append((created_at, symbol, entry))
        for fill in decision.ledger:
            self.ledger.append((created_at, symbol, fill))
            self._booked.setdefault(fill.position_id, set()).add(fill.client_order_id)
            self._booked_all.setdefault(fill.client_order_id, set()).add(symbol)
        if self.forward is not None:
            self.forward.commit(symbol, incarnation, before, decision,
                                correlation_id=correlation_id, created_at=created_at, store=store)

    def _note_levels(self, symbol: str, state: Any, now: float) -> None:
        if not isinstance(state, SymbolState) or self._levels is None:
            return
        trailing = state.trailing
        levels = (state.stop_price, trailing.trigger_price if trailing is not None else None)
        if levels != self._levels.get(symbol, (None, None)):
            self._levels[symbol] = levels
            self.stop_levels.append((now, symbol, *levels))

    def record(self, symbol: str, type_: str, data: dict[str, Any], *, correlation_id: str,
               created_at: float | None = None) -> None:
        """A journal row outside a decision (signals from outside the strategy: none here)."""
        at = self.clock() if created_at is None else created_at
        self.journal.append((at, symbol, JournalEntry(type=type_, data=data)))
        if self.forward is not None:
            self.forward.record(symbol, type_, data, correlation_id=correlation_id, created_at=at)

    def unhandled_signals(self, symbol: str) -> list[dict[str, Any]]:
        return []

    def booked_orders(self, position_id: str) -> set[str]:
        return set(self._booked.get(position_id, ()))

    def booked_among(self, client_order_ids: set[str], symbol: str | None = None) -> set[str]:
        return {cid for cid in client_order_ids if (symbols := self._booked_all.get(cid))
                and (symbol is None or symbol in symbols)}

    # -- the executors' escalation hook --------------------------------------------------------
    def escalated(self, symbol: str, command: Escalate) -> None:
        """Counted for the report, the emergency close owed when it asks for one, and the kill
        switch tripped past its limit (the supervisor's alert is not simulated)."""
        now = self.clock()
        self.escalations.append((now, symbol, command.reason))
        if command.close:
            self.owed.append((symbol, command.reason))
        if self._kill_switch is not None and self.kill_switch is None:
            most, window = self._kill_switch
            recent = {s for at, s, _ in self.escalations if now - at <= window}
            if len(recent) > most:
                self.kill_switch = (now, f"{len(recent)} symbols escalated within {window:.0f}s")
