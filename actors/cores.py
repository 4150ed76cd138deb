"""The core protocol: what the one decision loop (actors/loop.py) needs from a trading style.

A style is a pure core (`decide`, its state, its quiet band) plus four answers the loop cannot
know: how to take its reconciliation snapshot, how its state is stored (`store`, used by the
one commit and one load path of the repository), how its commands are executed, and how its
state is shown. Two styles exist: the one-way core (trading/decide.py) and the hedge grid
(trading/grid/core.py). A new style adds one class here, never a second shell.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol

from actors import exchange_snapshot as snap
from actors import grid_snapshot
from actors.actor_view import ActorView, view_of
from actors.command_executor import CancelHook, CommandExecutor, EscalationHook
from actors.exchange_facts import with_close_position, with_market_price
from actors.grid_executor import GridExecutor
from actors.grid_view import grid_view
from actors.leverage import LeverageSetter
from exchange.port import ExchangePort
from storage.commit_sql import ONE_WAY
from storage.grid_store import HEDGE_GRID
from storage.repository import Repository, StateStore
from trading.decide import SymbolCore
from trading.decision import Decision
from trading.events import Event
from trading.exposure import grid_held, one_way_held
from trading.grid.core import GridCore
from trading.grid.events import GridReconciled
from trading.grid.maintain import stop_due as grid_stop_due
from trading.grid.maintain import stop_unresolved as grid_stop_unresolved
from trading.grid.model import GridState
from trading.model import SymbolState
from trading.quiet_band import QuietBand
from trading.stop_rules import stop_due, stop_unresolved

Admit = Callable[[str, Decimal | None], str | None]
"""The entry gate as the core sees it: (kind, margin) -> refusal reason or None."""


class Core(Protocol):
    """One trading style as the decision loop drives it."""

    style: str
    store: StateStore
    """How the state is encoded in the repository (one commit path, one load path)."""
    uses_strategy: bool
    """Whether prices also go to the symbol's strategy (its signals enter through the gate)."""

    def decide(
        self, state: Any, event: Any, now: float, *, settled: bool, admit: Admit,
        reconciled: bool = True,
    ) -> Decision:
        """`settled`: no other result of this message is waiting (the grid maintains then).
        `reconciled`: this incarnation has reconciled once (the grid places no level before)."""
        ...

    def quiet_band(self, state: Any) -> QuietBand | None:
        """Prices that would change nothing but the mark price (None: every price decides)."""
        ...

    def snapshot(self, exchange: ExchangePort, repo: Repository, state: Any) -> Any:
        """The exchange's view of this symbol, as the event that reconciles the state."""
        ...

    def with_exchange_facts(self, exchange: ExchangePort, state: Any, event: Any, log: Any) -> Any:
        """An event completed with what only the exchange knows and the core needs (the grid:
        the realized P&L the exchange booked for a fill); most events pass unchanged."""
        ...

    def executor(
        self, symbol: str, exchange: ExchangePort, on_escalate: EscalationHook, log: Any,
        on_cancel: CancelHook | None = None, leverage: LeverageSetter | None = None,
    ) -> Callable[[Any], list[Event]]:
        """What executes one committed command and returns its results as events (`leverage`:
        set before the symbol's first order that can grow a position, actors/leverage.py)."""
        ...

    def view(self, state: Any, last_tick_at: float | None, reconciled: bool) -> ActorView: ...

    def stop_due(self, state: Any, now: float) -> bool:
        """A stop placement of the core's time-driven duties is due now (what a reconciliation
        waiting for rate budget is set aside for)."""
        ...

    def stop_unresolved(self, state: Any) -> bool:
        """A position's (a leg's) only stop is an intent never acknowledged: a reconciliation's
        lookup alone tells whether a stop rests, so nothing sets it aside."""
        ...

    def exposure(self, state: Any) -> int:
        """Open positions plus entries in flight (what the account's gate counts)."""
        ...

    def close_backoff(self, failures: int) -> float:
        """The style's close backoff: seconds to wait after `failures` failures in a row (what
        failed reconciliations back off with, actors/reconcile_retry.py)."""
        ...

    def summary(self, state: Any) -> str:
        """One phrase for the start and stop log lines."""
        ...


class OneWayCore:
    """The one-way core (trading/decide.py): one position per symbol, trailing stop."""

    style = "one_way"
    store: StateStore = ONE_WAY
    uses_strategy = True

    def __init__(self, core: SymbolCore) -> None:
        self.core = core

    def decide(
        self, state: SymbolState, event: Any, now: float, *, settled: bool, admit: Admit,
        reconciled: bool = True,
    ) -> Decision:
        return self.core.decide(state, event, now, admit=admit)

    def quiet_band(self, state: SymbolState) -> QuietBand | None:
        return self.core.quiet_band(state)

    def snapshot(self, exchange: ExchangePort, repo: Repository, state: SymbolState) -> Event:
        pos = state.position
        booked = repo.booked_orders(pos.position_id) if pos is not None else set()
        return snap.gather(exchange, state, booked,
                           booked_anywhere=lambda ids: repo.booked_among(ids, state.symbol))

    def with_exchange_facts(
        self, exchange: ExchangePort, state: SymbolState, event: Any, log: Any
    ) -> Any:
        event = with_close_position(exchange, state, event, log)
        return with_market_price(exchange, state, event, log)

    def executor(
        self, symbol: str, exchange: ExchangePort, on_escalate: EscalationHook, log: Any,
        on_cancel: CancelHook | None = None, leverage: LeverageSetter | None = None,
    ) -> Callable[[Any], list[Event]]:
        return CommandExecutor(symbol, exchange, on_escalate=on_escalate, log=log,
                               on_cancel=on_cancel, leverage=leverage).execute

    def stop_due(self, state: SymbolState, now: float) -> bool:
        return stop_due(state, now, self.core.rules)

    def stop_unresolved(self, state: SymbolState) -> bool:
        return stop_unresolved(state)

    def view(self, state: SymbolState, last_tick_at: float | None, reconciled: bool) -> ActorView:
        return view_of(state, last_tick_at, reconciled=reconciled)

    def close_backoff(self, failures: int) -> float:
        return self.core.rules.risk.close_backoff(failures)

    def exposure(self, state: SymbolState) -> int:
        return one_way_held(state)

    def summary(self, state: SymbolState) -> str:
        pos = state.position
        held = "none" if pos is None else f"{pos.side.value} {pos.contracts}"
        return f"phase {state.phase.value}, position {held}"


class HedgeGridCore:
    """The hedge grid (trading/grid/core.py): a long and a short leg, levels, take-profits.

    Quiet band: none. Every price decides, because `maintain` re-evaluates the legs' stops,
    take-profits and level recalculation on each one; a grid band would have to mirror all of
    maintain's predicates and has not been built (the slot still conflates a burst of prices
    to the latest one)."""

    style = "hedge_grid"
    store: StateStore = HEDGE_GRID
    uses_strategy = False

    def __init__(self, core: GridCore) -> None:
        self.core = core

    def decide(
        self, state: GridState, event: Any, now: float, *, settled: bool, admit: Admit,
        reconciled: bool = True,
    ) -> Decision:
        # results of this message's commands are applied before the orders are maintained
        return self.core.decide(state, event, now, maintain_after=settled, admit=admit,
                                reconciled=reconciled)

    def quiet_band(self, state: GridState) -> QuietBand | None:
        return None

    def snapshot(
        self, exchange: ExchangePort, repo: Repository, state: GridState
    ) -> GridReconciled:
        return grid_snapshot.gather(exchange, state,
                                    booked=lambda ids: repo.booked_among(ids, state.symbol))

    def with_exchange_facts(
        self, exchange: ExchangePort, state: GridState, event: Any, log: Any
    ) -> Any:
        event = with_close_position(exchange, state, event, log)
        event = with_market_price(exchange, state, event, log)
        return grid_snapshot.with_exchange_pnl(exchange, state, event, log)

    def executor(
        self, symbol: str, exchange: ExchangePort, on_escalate: EscalationHook, log: Any,
        on_cancel: CancelHook | None = None, leverage: LeverageSetter | None = None,
    ) -> Callable[[Any], list[Event]]:
        return GridExecutor(symbol, exchange, on_escalate=on_escalate, log=log,
                            on_cancel=on_cancel, leverage=leverage).execute_grid

    def stop_due(self, state: GridState, now: float) -> bool:
        return grid_stop_due(state, now, self.core.rules.retry_s)

    def stop_unresolved(self, state: GridState) -> bool:
        return grid_stop_unresolved(state)

    def view(self, state: GridState, last_tick_at: float | None, reconciled: bool) -> ActorView:
        return grid_view(state, last_tick_at, reconciled)

    def close_backoff(self, failures: int) -> float:
        return self.core.rules.close_backoff(failures)

    def exposure(self, state: GridState) -> int:
        return grid_held(state)

    def summary(self, state: GridState) -> str:
        return f"hedge grid, long {state.long.contracts}, short {state.short.contracts}"


def as_core(core: Any) -> Core:
    """The protocol object for a bare trading core (what the wiring's factories build)."""
    if isinstance(core, SymbolCore):
        return OneWayCore(core)
    if isinstance(core, GridCore):
        return HedgeGridCore(core)
    return core  # already a Core
