"""The one place the backtester drives a decision core: decide -> (record) -> execute -> results
back as events, for the one-way `SymbolCore` and the hedge grid's `GridCore`.

This mirrors what the actor shells do for one message (`SymbolActor._apply` / `_tick`,
`GridActor._apply` / `on_receive(Tick)`, `ShellMixin._activity`), minus pykka, storage and
the wall clock: the clock is the market time of the price point being replayed. Commands are
executed by the shells' own executors (`CommandExecutor`, `GridExecutor`) against the
simulated exchange, so the exchange calls and the event translation are the live bot's.

Narrow interface, so the loop can be swapped for the shared decision loop once it exists:
    driver.start(now)                      reconcile with the exchange (as `on_start` does)
    driver.tick(price, volume, now)        one price point
    driver.fills(client_order_ids, now)    the exchange reported trades on these orders
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from actors import exchange_snapshot
from actors.command_executor import CommandExecutor
from actors.grid_actor import GridExecutor
from actors.grid_actor import gather as grid_gather
from actors.order_results import events_for
from strategies.base import Strategy
from trading.commands import Escalate, JournalEntry, LedgerEntry
from trading.decide import QuietBand, SymbolCore
from trading.events import OrderFailed, PriceTicked, SignalRaised
from trading.model import OrderStatus, Phase, SymbolState

MAX_STEPS = 1000


@dataclass(slots=True)
class Recorder:
    """Everything the cores said, in order, with the market time it happened at."""

    journal: list[tuple[float, str, JournalEntry]] = field(default_factory=list)
    ledger: list[tuple[float, str, LedgerEntry]] = field(default_factory=list)
    escalations: list[tuple[float, str, str]] = field(default_factory=list)
    decisions: int = 0
    sink: Callable[[str, Any, Any, float, bool], None] | None = None
    """`--journal`: (symbol, state before, decision, market time, grid?) for every decision."""


class QuietLog:
    """The executors' logger: warnings are kept (a backtest prints no log stream)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def _keep(self, text: str, *args: Any) -> None:
        self.lines.append(text.format(*args))

    warning = error = info = debug = _keep


class _Base:
    def __init__(self, symbol: str, core: Any, exchange: Any, recorder: Recorder) -> None:
        self.symbol = symbol
        self.core = core
        self.exchange = exchange
        self.recorder = recorder
        self.log = QuietLog()
        self.state: Any = None

    def _escalated(self, symbol: str, command: Escalate) -> None:
        self.recorder.escalations.append((self._now, symbol, command.reason))

    _now = 0.0

    grid = False

    def _record(self, before: Any, decision: Any, now: float) -> None:
        rec = self.recorder
        rec.decisions += 1
        if rec.sink is not None:
            rec.sink(self.symbol, before, decision, now, self.grid)
        for entry in decision.journal:
            rec.journal.append((now, self.symbol, entry))
        for entry in decision.ledger:
            rec.ledger.append((now, self.symbol, entry))

    def fills(self, client_order_ids: list[str], now: float) -> None:
        """`ShellMixin._activity`: look each of our orders up and apply what it says."""
        for cid in client_order_ids:
            order = self.state.order(cid)
            if order is None:
                continue
            found = self.exchange.fetch_order(order.exchange_id, self.symbol, {"clientOrderId": cid})
            for event in events_for(cid, found, pending=order.status is OrderStatus.PENDING):
                self.apply(event, now)

    def apply(self, first: Any, now: float) -> None:
        raise NotImplementedError


class OneWayDriver(_Base):
    """`SymbolActor` without pykka: quiet-band shortcut, strategy, decide/execute loop."""

    def __init__(self, symbol: str, core: SymbolCore, strategy: Strategy, exchange: Any,
                 recorder: Recorder) -> None:
        super().__init__(symbol, core, exchange, recorder)
        self.strategy = strategy
        self.state = SymbolState(symbol=symbol)
        self.executor = CommandExecutor(symbol, exchange, on_escalate=self._escalated, log=self.log)
        self._band: QuietBand | None = None
        self._band_for: SymbolState | None = None
        self._quiet_price: Decimal | None = None
        """The last quiet price not yet written into the state: the actor writes it at once
        (`replace(state, last_price=...)`, ~25 us); here it is written before the next decide,
        which then sees the very state the actor's would."""

    def start(self, now: float) -> None:
        self.apply(exchange_snapshot.gather(self.exchange, self.state, set()), now)

    def tick(self, price: Decimal, volume: Decimal | None, now: float) -> None:
        if self._band_for is not self.state:
            self._band = self.core.quiet_band(self.state)
            self._band_for = self.state
        band = self._band
        if band is not None and band.contains(price, now):
            self._quiet_price = price
        else:
            self.apply(PriceTicked(price=price), now)
        state = self.state
        pos = state.position
        side = pos.side if pos is not None and state.phase is Phase.OPEN else None
        signal: SignalRaised | None = self.strategy.on_price(price, volume, now, side)
        if signal is not None:
            self.apply(signal, now)

    def apply(self, first: Any, now: float) -> None:
        self._now = now
        if self._quiet_price is not None:
            self.state = replace(self.state, last_price=self._quiet_price, finished_orders=())
            self._quiet_price = None
        pending: deque[Any] = deque([first])
        raced = False
        while pending:
            event = pending.popleft()
            decision = self.core.decide(self.state, event, now)
            if not decision.changed and decision.state == self.state:
                self.state = decision.state
                continue
            self._record(self.state, decision, now)
            self.state = decision.state
            for command in decision.commands:
                pending.extend(self.executor.execute(command))
            raced = raced or (isinstance(event, OrderFailed) and event.position_gone)
        if raced:
            booked = {e.client_order_id for _, s, e in self.recorder.ledger if s == self.symbol}
            self.apply(exchange_snapshot.gather(self.exchange, self.state, booked), now)


class GridDriver(_Base):
    """`GridActor` without pykka: every price is decided (the grid has no quiet band)."""

    grid = True

    def __init__(self, symbol: str, core: Any, exchange: Any, recorder: Recorder) -> None:
        super().__init__(symbol, core, exchange, recorder)
        from trading.grid.model import GridState

        self.state = GridState(symbol=symbol)
        self.executor = GridExecutor(symbol, exchange, on_escalate=self._escalated, log=self.log)

    def start(self, now: float) -> None:
        self.apply(grid_gather(self.exchange, self.state), now)

    def tick(self, price: Decimal, volume: Decimal | None, now: float) -> None:
        self.apply(PriceTicked(price=price), now)

    def apply(self, first: Any, now: float) -> None:
        self._now = now
        pending: deque[Any] = deque([first])
        steps = 0
        while pending:
            steps += 1
            if steps > MAX_STEPS:
                raise RuntimeError(f"{self.symbol}: grid decision loop did not settle at {first!r}")
            event = pending.popleft()
            decision = self.core.decide(self.state, event, now, maintain_after=not pending)
            if not decision.changed and decision.state == self.state:
                self.state = decision.state
                continue
            self._record(self.state, decision, now)
            self.state = decision.state
            for command in decision.commands:
                pending.extend(self.executor.execute_grid(command))


Driver = OneWayDriver | GridDriver
DriverFactory = Callable[[str], Driver]
