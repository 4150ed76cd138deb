"""How the backtester reaches the decision cores: through the bot's one decision loop
(actors/loop.py `DecisionLoop`), one per symbol, exactly as the actors do, minus pykka.

Every price point, fill report and reconciliation is a message the loop handles as it handles
the actor's mailbox (`DecisionLoop.handle`): decide -> commit (write-ahead) -> execute -> results
back as events, the step bound, the quiet band, the entry gate, the exchange's facts for grid
fills. Only the surroundings are the backtest's own:
- the clock is the market time of the price point being replayed (`MarketClock`, one for all
  symbols, injected into every loop and the gate);
- the repository is in memory (backtest/memory_repo.py) and records the journal and ledger for
  the report (and forwards them to a bot database with `--journal`);
- the exchange is the simulated one (backtest/sim_exchange.py), reached by the loop's own
  executors (`CommandExecutor`, `GridExecutor`) and snapshots;
- one `AccountGate` is shared by the backtest's symbols, so `risk.max_open_positions` holds
  across them as it does across an account's actors;
- a price inside the core's quiet band is written into the state only when the next decision
  needs it (the loop's `defer_quiet_prices`): nothing reads the state between messages here.

Per symbol, the narrow interface the engine uses:
    driver.start(now)                      claim, restore, reconcile (the actor's `on_start`)
    driver.tick(price, volume, now)        one price point (a `Tick` message)
    driver.fills(client_order_ids, now)    the exchange reported trades (an `OrderActivity`)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from actors.cores import as_core
from actors.entry_gate import AccountGate
from actors.loop import DecisionLoop
from actors.messages import OrderActivity, Reconcile, Tick
from actors.strategy_guard import StrategyFailure
from backtest.candles import fmt_ms
from backtest.emergency import BacktestCloser
from backtest.memory_repo import MemoryRepository
from config.settings import Settings
from exchange.port import ExchangePort
from protections.checks import EntryCheck
from runtime import wiring
from strategies.base import Strategy

ID_TAG = "bt"  # fixed: client order ids (and so every record) are the same on every run


class MarketClock:
    """The market time (seconds) of the price point being replayed; nothing reads the wall
    clock."""

    __slots__ = ("now",)

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class QuietLog:
    """The loops' logger: warnings and errors are kept (a backtest prints no log stream)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def bind(self, **_: Any) -> QuietLog:
        return self

    def _keep(self, text: str, *args: Any) -> None:
        self.lines.append(text.format(*args))

    def _drop(self, *_: Any, **__: Any) -> None:
        return None

    warning = error = _keep
    info = debug = _drop


class StrategyStopped(Exception):
    """A strategy raised during the replay: the run stops with this one line. The bot would
    keep the symbol's position managed and try a fresh strategy later (actors/strategy_guard.py),
    but a report of a run whose strategy was off part of the time would read as a result."""


def stop_on_failure(symbol: str, clock: MarketClock) -> Callable[[StrategyFailure | None], None]:
    def hook(failure: StrategyFailure | None) -> None:
        if failure is not None:
            raise StrategyStopped(
                f"{symbol}: strategy {failure.strategy} raised at "
                f"{fmt_ms(int(clock.now * 1000))} on price {failure.price}: {failure.error}; "
                "the backtest stops (fix the strategy, or the data it met there)")
    return hook


class SymbolDriver:
    """One symbol's decision loop, fed the replay's messages at market time; after each, the
    emergency close an escalation asked for, then a reconciliation (as the supervisor does)."""

    __slots__ = ("clock", "closer", "loop", "repo")

    def __init__(self, loop: DecisionLoop, clock: MarketClock,
                 repo: MemoryRepository | None = None,
                 closer: BacktestCloser | None = None) -> None:
        self.loop = loop
        self.clock = clock
        self.repo = repo
        self.closer = closer

    def _emergency(self) -> None:
        repo, closer = self.repo, self.closer
        while repo is not None and closer is not None and repo.owed:
            symbol, reason = repo.owed.pop(0)
            closer.close(symbol, reason)
            self.loop.handle(Reconcile(reason="emergency close"))

    def start(self, now: float) -> None:
        self.clock.now = now
        self.loop.start()

    def tick(self, price: Decimal, volume: Decimal | None, now: float) -> None:
        self.clock.now = now
        self.loop.handle(Tick(price=price, volume=volume))
        if self.repo is not None and self.repo.owed:
            self._emergency()

    def fills(self, client_order_ids: list[str], now: float) -> None:
        """As the market feed reports them: one message, ids sorted."""
        self.clock.now = now
        self.loop.handle(OrderActivity(client_order_ids=tuple(client_order_ids)))
        if self.repo is not None and self.repo.owed:
            self._emergency()


def drivers_for(settings: Settings, exchange: ExchangePort, repo: MemoryRepository,
                clock: MarketClock, log: QuietLog,
                strategy_for: Callable[[str], Strategy] | None = None,
                defer_quiet_prices: bool = True,
                checks: Iterable[EntryCheck] = ()) -> list[SymbolDriver]:
    """One loop per configured symbol, wired as runtime/account.py wires the actors: the
    configured style's core, the configured strategy (or `strategy_for`), one shared gate
    with `checks` (the protections: backtest/protections.py).
    `defer_quiet_prices`: the loop's shortcut for prices inside the quiet band (nothing here
    reads the state or the view between messages; tests/backtest/test_quiet_shortcut.py
    checks that every decision is the same without it)."""
    assert settings.symbols is not None, "the config validator requires symbols.list"
    if settings.strategy.name == "hedge_grid":
        core_for: Callable[[str], Any] = wiring.grid_core_factory(settings, exchange, ID_TAG)
    else:
        core_for = wiring.core_factory(settings, exchange, ID_TAG)
    strategy = strategy_for or wiring.strategy_factory(settings)
    gate = AccountGate(max_open_positions=settings.risk.max_open_positions, clock=clock,
                       kill_switch=lambda: repo.kill_switch is not None, checks=checks)
    closer = BacktestCloser(exchange, repo, f"{settings.bot.account}-{ID_TAG}-", log)
    drivers = []
    for symbol in settings.symbols.list:
        core = as_core(core_for(symbol))
        loop = DecisionLoop(
            symbol, core=core, exchange=exchange, repo=repo,  # type: ignore[arg-type]
            log=log, on_escalate=repo.escalated,
            strategy=strategy(symbol) if core.uses_strategy else None, clock=clock, gate=gate,
            defer_quiet_prices=defer_quiet_prices, strategy_hook=stop_on_failure(symbol, clock))
        drivers.append(SymbolDriver(loop, clock, repo, closer))
    return drivers
