"""The repository: every write of the bot goes through here, as one transaction per decision.

A decision's new state, its journal entries, its ledger fills and its order intents are
committed together before any command is executed (write-ahead). Commits are fenced by the
actor's incarnation number, so a hung actor that the supervisor replaced can never write again.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import peewee as pw

from storage.database import open_database
from storage.models import (
    ActorStateRow,
    EscalationRow,
    EventRow,
    FillRow,
    Meta,
    OrderRow,
    PositionRow,
    TrailingStopRow,
)
from storage.restore import load_state
from storage.writer import GroupCommitWriter
from trading.commands import Escalate, JournalEntry
from trading.decision import Decision
from trading.model import OrderRecord, SymbolState


class Fenced(Exception):
    """A commit from an actor incarnation that has been replaced."""


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class Repository:
    def __init__(self, path: Path, *, synchronous: str = "full", clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.db = open_database(self.path, synchronous=synchronous)
        self.writer = GroupCommitWriter(self.db)
        self.clock = clock
        self.id_tag = Meta.get(Meta.key == "id_tag").value

    def close(self) -> None:
        self.writer.close()
        self.db.close()

    # -- per-symbol lifecycle -------------------------------------------------------------
    def claim(self, symbol: str) -> int:
        """Start a new incarnation of the symbol's actor; older incarnations are fenced off."""

        def work() -> int:
            ActorStateRow.insert(symbol=symbol, updated_at=self.clock()).on_conflict_ignore().execute()
            ActorStateRow.update(incarnation=ActorStateRow.incarnation + 1).where(
                ActorStateRow.symbol == symbol).execute()
            return ActorStateRow.get(ActorStateRow.symbol == symbol).incarnation

        return self.writer.submit(work)

    def load(self, symbol: str) -> SymbolState:
        return load_state(symbol)

    def commit(self, symbol: str, incarnation: int, before: SymbolState, decision: Decision,
               *, correlation_id: str, created_at: float) -> None:
        state = decision.state

        def work() -> None:
            now = self.clock()
            if not self._write_actor_state(symbol, incarnation, state, now):
                raise Fenced(f"{symbol}: incarnation {incarnation} was replaced")
            self._write_position(symbol, before, state, now, _close_reason(decision))
            self._write_trailing(symbol, state)
            for order in state.orders + state.finished_orders:
                self._write_order(symbol, order, now)
            for fill in decision.ledger:
                FillRow.insert(symbol=symbol, client_order_id=fill.client_order_id,
                               position_id=fill.position_id, side=fill.side, amount=str(fill.amount),
                               price=str(fill.price), fee=str(fill.fee),
                               realized_pnl=str(fill.realized_pnl), created_at=created_at).execute()
            self._journal(symbol, decision.journal, correlation_id, created_at, now)
            for cmd in decision.commands:
                if isinstance(cmd, Escalate):
                    EscalationRow.insert(symbol=symbol, reason=cmd.reason, attempts=cmd.attempts,
                                         last_error=cmd.last_error, created_at=created_at).execute()

        self.writer.submit(work)

    def _write_actor_state(self, symbol: str, inc: int, s: SymbolState, now: float) -> bool:
        n = ActorStateRow.update(
            phase=s.phase.value, order_seq=s.order_seq, cooldown_until=s.cooldown_until,
            close_attempts=s.close_attempts, next_close_at=s.next_close_at,
            close_reason=s.close_reason, last_close_error=s.last_close_error,
            needs_stop=s.needs_stop, stop_price=_s(s.stop_price),
            take_profit_price=_s(s.take_profit_price), quarantined=s.quarantined,
            quarantine_reason=s.quarantine_reason, updated_at=now,
        ).where((ActorStateRow.symbol == symbol) & (ActorStateRow.incarnation == inc)).execute()
        return n == 1

    def _write_position(self, symbol: str, before: SymbolState, s: SymbolState, now: float,
                        reason: str | None) -> None:
        old, pos = before.position, s.position
        if old is not None and (pos is None or pos.position_id != old.position_id):
            PositionRow.update(status="closed", closed_at=now, contracts="0",
                               realized_pnl=str(old.realized_pnl), fees=str(old.fees),
                               close_reason=reason or "closed").where(
                PositionRow.position_id == old.position_id).execute()
        if pos is not None:
            PositionRow.replace(
                position_id=pos.position_id, symbol=symbol, side=pos.side.value,
                contracts=str(pos.contracts), entry_price=str(pos.entry_price),
                opened_at=pos.opened_at, status="open", realized_pnl=str(pos.realized_pnl),
                fees=str(pos.fees)).execute()

    def _write_trailing(self, symbol: str, s: SymbolState) -> None:
        t = s.trailing
        if t is None or s.position is None:
            TrailingStopRow.delete().where(TrailingStopRow.symbol == symbol).execute()
            return
        TrailingStopRow.replace(
            symbol=symbol, position_id=s.position.position_id, state=t.state.value,
            activation_price=str(t.activation_price), callback_pct=str(t.callback_pct),
            best_price=_s(t.best_price), trigger_price=_s(t.trigger_price)).execute()

    def _write_order(self, symbol: str, o: OrderRecord, now: float) -> None:
        OrderRow.replace(
            client_order_id=o.client_order_id, symbol=symbol, position_id=o.position_id,
            purpose=o.purpose.value, side=o.side, amount=str(o.amount), stop_price=_s(o.stop_price),
            reduce_only=o.reduce_only, status=o.status.value, exchange_id=o.exchange_id,
            filled=str(o.filled), average=_s(o.average), fee=str(o.fee), replaces=o.replaces,
            last_error=o.last_error, created_at=o.created_at, updated_at=now).execute()

    def _journal(self, symbol: str, entries: tuple[JournalEntry, ...] | list[JournalEntry],
                 correlation_id: str, created_at: float, now: float) -> None:
        rows = [dict(symbol=symbol, type=e.type, data=json.dumps(e.data, default=str),
                     correlation_id=correlation_id, created_at=created_at, recorded_at=now)
                for e in entries]
        if rows:
            EventRow.insert_many(rows).execute()

    def unhandled_signals(self, symbol: str) -> list[dict[str, Any]]:
        """Signals journaled as received whose handling was never journaled (indexed by symbol)."""
        rows = (EventRow.select(EventRow.type, EventRow.data)
                .where((EventRow.symbol == symbol) & EventRow.type.in_(
                    ["SignalReceived", "SignalHandled", "SignalSkipped"])).order_by(EventRow.id))
        received: dict[str, dict[str, Any]] = {}
        for row in rows:
            data = json.loads(row.data)
            sid = data.get("signal_id")
            if not sid:
                continue
            if row.type == "SignalReceived":
                received[sid] = data
            else:
                received.pop(sid, None)
        return list(received.values())

    def booked_orders(self, position_id: str) -> set[str]:
        """Client order ids with fills already in the ledger for a position (indexed)."""
        return {r.client_order_id for r in FillRow.select(FillRow.client_order_id).where(
            FillRow.position_id == position_id)}

    # -- journal and supervision records ----------------------------------------------------
    def record(self, symbol: str, type_: str, data: dict[str, Any], *, correlation_id: str,
               created_at: float | None = None) -> None:
        created = self.clock() if created_at is None else created_at
        entry = JournalEntry(type=type_, data=data)
        self.writer.submit(lambda: self._journal(symbol, [entry], correlation_id, created, self.clock()))

    def add_escalation(self, symbol: str, reason: str, attempts: int, last_error: str | None) -> None:
        now = self.clock()
        self.writer.submit(lambda: EscalationRow.insert(
            symbol=symbol, reason=reason, attempts=attempts, last_error=last_error,
            created_at=now).execute())

    def quarantine(self, symbol: str, reason: str, *, correlation_id: str) -> None:
        """Quarantine a symbol whose rows cannot be read (only the scalar flags are touched)."""
        now = self.clock()

        def work() -> None:
            ActorStateRow.insert(symbol=symbol, updated_at=now).on_conflict_ignore().execute()
            ActorStateRow.update(quarantined=True, quarantine_reason=reason, updated_at=now).where(
                ActorStateRow.symbol == symbol).execute()
            self._journal(symbol, [JournalEntry(type="Quarantined", data={"reason": reason})],
                          correlation_id, now, now)

        self.writer.submit(work)

    def count_restart(self, symbol: str) -> None:
        self.writer.submit(lambda: ActorStateRow.update(restarts=ActorStateRow.restarts + 1).where(
            ActorStateRow.symbol == symbol).execute())

    def set_meta(self, key: str, value: str) -> None:
        self.writer.submit(lambda: Meta.replace(key=key, value=value).execute())

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = Meta.get_or_none(Meta.key == key)
        return default if row is None else row.value

    def resolve_escalations(self, symbol: str) -> None:
        now = self.clock()
        self.writer.submit(lambda: EscalationRow.update(resolved_at=now).where(
            (EscalationRow.symbol == symbol) & EscalationRow.resolved_at.is_null()).execute())


def _close_reason(decision: Decision) -> str | None:
    for entry in decision.journal:
        if entry.type == "PositionClosed":
            return str(entry.data.get("reason"))
    return None


def is_database_locked_error(exc: BaseException) -> bool:
    return isinstance(exc, pw.OperationalError) and "locked" in str(exc)
