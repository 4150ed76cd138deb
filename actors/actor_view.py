"""An immutable summary of an actor's state, published after each message for the status dump
(read by the supervisor without asking the actor)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from trading.model import SymbolState
from trading.primitives import decimal_text


@dataclass(frozen=True, slots=True)
class Published:
    """What an actor publishes after each message: its immutable state, two facts, and how its
    core renders a view of that state (built only when the status dump asks)."""

    state: Any
    last_tick_at: float | None
    reconciled: bool
    render: Callable[[Any, float | None, bool], ActorView] | None = None
    """The core's view builder (None: the one-way view)."""
    priced_at: float | None = None
    """When the price the mark comes from was read: the last tick, or a reconciliation's read
    (after a start or a restart, until the first tick; None: no price read in this run)."""

    def view(self) -> ActorView:
        if self.render is not None:
            view = self.render(self.state, self.last_tick_at, self.reconciled)
        else:
            view = view_of(self.state, self.last_tick_at, reconciled=self.reconciled)
        return view if self.priced_at is None else replace(view, priced_at=self.priced_at)


@dataclass(frozen=True, slots=True)
class ActorView:
    phase: str
    position: dict | None
    stop_price: str | None
    protected: bool
    trailing: dict | None
    cooldown_until: float
    close_attempts: int
    quarantined: bool
    quarantine_reason: str | None
    last_tick_at: float | None
    reconciled: bool
    priced_at: float | None = None
    """See `Published.priced_at`: the status's `price_age_s` (the mark's age) is from it."""


def view_of(state: SymbolState, last_tick_at: float | None, *, reconciled: bool) -> ActorView:
    pos = state.position
    position = None
    if pos is not None:
        mark = state.last_price
        upnl = (
            (mark - pos.entry_price) * pos.contracts * pos.side.sign if mark is not None else None
        )
        position = {
            "side": pos.side.value,
            "contracts": str(pos.contracts),
            "entry_price": str(pos.entry_price),
            "mark_price": None if mark is None else str(mark),
            "unrealized_pnl": (None if upnl is None
                               else decimal_text(upnl.quantize(Decimal("0.0001")))),
        }
    t = state.trailing
    trailing = (
        None
        if t is None
        else {
            "state": t.state.value,
            "activation_price": str(t.activation_price),
            "trigger_price": None if t.trigger_price is None else str(t.trigger_price),
        }
    )
    protected = state.protected()  # the whole position, by a stop not being cancelled
    return ActorView(
        phase=state.phase.value,
        position=position,
        stop_price=None if state.stop_price is None else str(state.stop_price),
        protected=protected,
        trailing=trailing,
        cooldown_until=state.cooldown_until,
        close_attempts=state.close_attempts,
        quarantined=state.quarantined,
        quarantine_reason=state.quarantine_reason,
        last_tick_at=last_tick_at,
        reconciled=reconciled,
    )
