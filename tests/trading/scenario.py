"""Decision-level test drivers that run production's decision loop (actors/loop.py).

No pykka and no I/O: the repository is kept in memory (what would be committed, in order) and
the test plays the exchange's part by answering each command with events. Everything between,
the order in which results are decided, the quiet band, the gate, the step bound, is the
production loop's, so these tests see the same event order as the live bot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import Tick
from trading.commands import CancelOrder, Command, JournalEntry, LedgerEntry, PlaceOrder
from trading.decide import SymbolCore
from trading.decision import Decision
from trading.events import Event, OrderAccepted, OrderCanceled, OrderFilled, PriceTicked
from trading.model import SymbolState


class QuietLog:
    """A logger that drops every line (property tests make thousands of decisions)."""

    def bind(self, **_: Any) -> QuietLog:
        return self

    def __getattr__(self, _name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


class MemoryRepository:
    """The repository's interface, in memory: every committed decision and record, in order."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.decisions: list[Decision] = []
        self.records: list[tuple[str, dict]] = []

    def claim(self, symbol: str) -> int:
        return 1

    def load(self, symbol: str, store: Any = None) -> Any:
        return self.state

    def commit(
        self,
        symbol: str,
        incarnation: int,
        before: Any,
        decision: Decision,
        *,
        correlation_id: str,
        created_at: float,
        store: Any = None,
    ) -> None:
        self.decisions.append(decision)
        self.state = decision.state

    def record(
        self,
        symbol: str,
        type_: str,
        data: dict,
        *,
        correlation_id: str,
        created_at: float | None = None,
    ) -> None:
        self.records.append((type_, data))

    def unhandled_signals(self, symbol: str) -> list[dict]:
        return []

    def booked_orders(self, position_id: str) -> set[str]:
        return set()


def loop_for(
    core: Any, state: Any, *, clock: Callable[[], float], execute: Callable[[Any], list[Event]]
) -> tuple[DecisionLoop, MemoryRepository]:
    """Production's loop around `core`, starting reconciled from `state`."""
    repo = MemoryRepository(state)
    loop = DecisionLoop(
        state.symbol,
        core=as_core(core),
        exchange=None,
        repo=repo,  # type: ignore[arg-type]
        log=QuietLog(),
        on_escalate=lambda symbol, esc: None,
        clock=clock,
        execute=execute,
    )
    loop.adopt(state)
    return loop, repo


@dataclass
class Scenario:
    core: SymbolCore
    state0: SymbolState | None = None
    now: float = 1000.0
    fee_rate: Decimal = Decimal("0.0005")
    placed: list[PlaceOrder] = field(default_factory=list)
    canceled: list[CancelOrder] = field(default_factory=list)
    auto_exchange: bool = True
    quiet_prices: bool = False
    """True: prices take the loop's tick path (the quiet band's shortcut) as the actor's do;
    False: every price is decided (the reference the shortcut is compared against)."""

    def __post_init__(self) -> None:
        state = self.state0 or SymbolState(symbol=self.core.rules.symbol)
        self.loop, self.repo = loop_for(
            self.core, state, clock=lambda: self.now, execute=self._execute
        )

    @property
    def state(self) -> SymbolState:
        return self.loop.state

    @state.setter
    def state(self, value: SymbolState) -> None:
        """Continue from another state (the loop adopts it, reconciled)."""
        self.loop.adopt(value)

    @property
    def decisions(self) -> list[Decision]:
        """Every committed decision, in the loop's order."""
        return self.repo.decisions

    def send(self, event: Event, dt: float = 0.0) -> Decision:
        """Hand one event to the loop; returns its first decision (empty if it changed nothing)."""
        self.now += dt
        start = len(self.repo.decisions)
        if self.quiet_prices and isinstance(event, PriceTicked):
            self.loop.tick(Tick(price=event.price))
        else:
            self.loop.apply(event)
        new = self.repo.decisions[start:]
        return new[0] if new else Decision(state=self.loop.state)

    def _execute(self, cmd: Command) -> list[Event]:
        return self.exchange_reply(cmd) if self.auto_exchange else []

    def exchange_reply(self, cmd: Command) -> list[Event]:
        if isinstance(cmd, PlaceOrder):
            self.placed.append(cmd)
            o = cmd.order
            if o.stop_price is not None:
                return [
                    OrderAccepted(
                        client_order_id=o.client_order_id, exchange_id="x" + o.client_order_id
                    )
                ]
            price = self.state.last_price
            assert price is not None
            return [
                OrderFilled(
                    client_order_id=o.client_order_id,
                    exchange_id="x" + o.client_order_id,
                    filled=o.amount,
                    average=price,
                    fee=o.amount * price * self.fee_rate,
                )
            ]
        if isinstance(cmd, CancelOrder):
            self.canceled.append(cmd)
            return [OrderCanceled(client_order_id=cmd.client_order_id)]
        return []

    def journal_types(self) -> list[str]:
        return [j.type for d in self.decisions for j in d.journal]

    def journal(self) -> list[JournalEntry]:
        return [j for d in self.decisions for j in d.journal]

    def ledger(self) -> list[LedgerEntry]:
        return [entry for d in self.decisions for entry in d.ledger]
