"""SymbolActor: the pykka wrapper around one symbol's decision loop (actors/loop.py).

One pykka ThreadingActor per symbol, with a private mailbox; no lock is shared with another
symbol. The actor only turns pykka's lifecycle into the loop's calls: `on_start` starts the loop
(claim, restore, reconcile: the only way an actor begins, cold start or restart), each message
goes to `DecisionLoop.handle`, `Ping` is answered with the published state, and a crash is
reported to the supervisor. The same actor serves every trading style; the style comes from
the core that `core_for` builds (actors/cores.py).

Every message (and the start) runs inside the actor's exchange call scope (exchange/fence.py):
the fence issued when this actor object was built, which a newer incarnation or the
supervisor's verdict revokes, and the busy mark the supervisor's heartbeat honours while the
actor waits in a bounded exchange call. Each message begun and finished is progress on the same
board (supervision/liveness.py); a replaced incarnation marks nothing, and its exchange call
refused by the fence (or its commit refused by the database's incarnation fence, once a successor
claimed the symbol) ends it with one line, not a crash (the supervisor counted its failure).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import pykka

from actors.actor_view import ActorView, Published
from actors.command_executor import describe
from actors.cores import as_core
from actors.entry_gate import AccountGate
from actors.first_read import FirstRead
from actors.hot_path_metrics import MetricsRelay, TickToOrder, TimedCommits
from actors.inbox import has_waiting, inbox_depth
from actors.leverage import LeverageSetter
from actors.loop import DecisionLoop
from actors.messages import OrderActivity, Ping, Reconcile
from actors.price_slots import PriceSlots
from actors.strategy_guard import StrategyFailure, StrategyOff, describe_failure
from cluster.lease import LeaseLost
from exchange.fence import BusyBoard, CallScope, FenceBoard, Fenced, call_scope
from exchange.port import ExchangePort
from storage.repository import Fenced as CommitFenced
from storage.repository import Repository
from storage.writer import SUBMIT_TIMEOUT_S, WriterStopped
from strategies.base import Strategy
from trading.commands import Escalate


@dataclass(frozen=True, slots=True, kw_only=True)
class ActorDeps:
    """Everything an actor needs, built once by the composition root and shared read-only."""

    exchange: ExchangePort
    repo: Repository
    core_for: Callable[[str], Any]
    """The symbol's core: a SymbolCore, a GridCore, or any `actors.cores.Core`."""
    strategy_for: Callable[[str], Strategy] | None
    logger: Any
    """loguru logger; each actor binds its symbol so its lines go to logs/<symbol>.log."""
    report: Callable[[str, int, str, BaseException | None], None]
    """Supervisor callback: (symbol, incarnation, what, error) for started/failed events."""
    on_escalate: Callable[[str, Escalate], None]
    entries_blocked: Callable[[], bool] = lambda: False
    views: dict[str, Any] | None = None
    """Where each actor publishes its latest state for the status dump (one key per symbol)."""
    clock: Callable[[], float] = time.time
    prices: PriceSlots | None = None
    """Latest-price slots shared with the market feed (None: prices come as `Tick` messages)."""
    gate: AccountGate | None = None
    """The account's entry gate (None: a gate of this actor's own, with no position cap)."""
    metrics: MetricsRelay | None = None
    """Hot-path measurements (commit, tick -> order, mailbox depth); None: not measured."""
    fences: FenceBoard | None = None
    """The supervisor's fences: each new actor object takes the symbol's (None: unfenced)."""
    busy: BusyBoard | None = None
    """Where the actor marks "in a bounded exchange call until ..." for the heartbeat."""
    first_read: FirstRead | None = None
    """The account's one read for every symbol's first reconciliation (None: its own read)."""
    leverage: LeverageSetter | None = None
    """The account's: `risk.leverage` set on the venue before each symbol's first entry in
    this process (live and dry-run; None: never set, as in paper)."""


class Aborted(RuntimeError):
    """A BaseException that is not an Exception (SystemExit, KeyboardInterrupt) raised inside one
    actor's code: that actor's failure, reported and restarted like any crash."""


@contextmanager
def contained() -> Iterator[None]:
    """pykka stops EVERY actor of the process on a BaseException out of a handler, and one out of
    `on_start` ends the thread without stopping or reporting the actor (found by review: a
    library's sys.exit in one symbol stopped every symbol of every account). An actor thread
    never receives a real process shutdown this way (signals reach the main thread,
    runtime/shutdown.py), so it becomes this actor's own failure."""
    try:
        yield
    except Exception:
        raise
    except BaseException as exc:  # noqa: BLE001 - raised again as this actor's failure
        raise Aborted(f"{describe(exc)} raised inside the actor") from exc


class AnnouncedCommits:
    """A repository whose `commit` is announced to the heartbeat as a bounded call (it waits at
    most the writer's submit timeout): an actor waiting for its commit behind a slow disk or
    database is slow, not hung, like one in an exchange call. Once the commit returns, the mark
    is what it was before (an earlier exchange call's stays until the message ends, as always).
    Everything else is the repository's own."""

    def __init__(self, inner: Any, board: BusyBoard, symbol: str,
                 current: Callable[[], bool]) -> None:
        self._inner = inner
        self._board = board
        self._symbol = symbol
        self._current = current

    def commit(self, *args: Any, **kwargs: Any) -> Any:
        mine = self._current()  # a replaced incarnation's marks would cover for its successor
        previous = self._board.hold(self._symbol, SUBMIT_TIMEOUT_S) if mine else None
        try:
            return self._inner.commit(*args, **kwargs)
        finally:
            if mine:
                self._board.restore(self._symbol, previous)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class SymbolActor(pykka.ThreadingActor):
    use_daemon_thread = True  # a hung, replaced actor must not keep the process alive

    def __init__(self, symbol: str, deps: ActorDeps) -> None:
        super().__init__()
        self.symbol = symbol
        self.deps = deps
        self.log = deps.logger.bind(symbol=symbol)
        core = as_core(deps.core_for(symbol))
        strategy = deps.strategy_for(symbol) if core.uses_strategy and deps.strategy_for else None
        views = deps.views
        metrics = deps.metrics
        self.tick_to_order = TickToOrder(metrics) if metrics is not None else None
        # a timed or announced repository is the repository (a proxy around `commit`)
        repo: Any = deps.repo if metrics is None else TimedCommits(deps.repo, metrics)
        if deps.busy is not None:
            repo = AnnouncedCommits(repo, deps.busy, symbol, self._current)
        self.loop = DecisionLoop(
            symbol,
            core=core,
            exchange=deps.exchange,
            repo=cast(Repository, repo),
            log=self.log,
            on_escalate=deps.on_escalate,
            strategy=strategy,
            clock=deps.clock,
            entries_blocked=deps.entries_blocked,
            gate=deps.gate,
            leverage=deps.leverage,
            slot=deps.prices.get(symbol) if deps.prices is not None else None,
            publish=None if views is None else self._publish,
            renew_strategy=None if strategy is None or deps.strategy_for is None
            else partial(deps.strategy_for, symbol),
            strategy_hook=self._strategy_told,
            first_read=deps.first_read,
        )
        if self.tick_to_order is not None:
            self.loop.execute = self.tick_to_order.wrap(self.loop.execute)
        # built on the supervisor's thread at spawn: from here on the previous incarnation's
        # exchange calls are refused
        self.fence = deps.fences.issue(symbol) if deps.fences is not None else None
        self._skipping = False
        self._aborted = False
        """Its account's database calls were aborted (a cluster account stopping after its
        lease lapsed, runtime/node_accounts.py): found by review, the next call's error was a
        `crashed` traceback, pykka's own, a failure counted and a restart queued."""
        busy = self.deps.busy
        self._scope = CallScope(fence=self.fence, busy=None if busy is None else self._waiting,
                                urgent=self._urgent)

    def _publish(self, published: Published) -> None:
        """Into the shared views, unless a successor was issued (found by review: a replaced
        actor that woke published its stale state over its successor's). A revoked one with no
        successor yet still publishes: what it commits meanwhile is what a successor restores."""
        views, fences = self.deps.views, self.deps.fences
        assert views is not None
        if fences is None or self.fence is None:
            views[self.symbol] = published
        else:
            fences.unless_succeeded(self.fence, lambda: views.__setitem__(self.symbol, published))

    def _current(self) -> bool:
        """Still the symbol's incarnation (a replaced one's marks would cover for its successor)."""
        return self.fence is None or self.fence.valid

    def _urgent(self, prices: bool) -> bool:
        """An order report waits in the mailbox (or the stop watch's `Reconcile` of a stop the
        venue has no record of: found by review, it waited behind the reconciliation it would
        have set aside as an `OrderActivity`), a stop placement of the core is due, or
        (`prices`) a price that leaves the quiet band waits in the slot: a reconciliation
        waiting for budget is set aside for it (exchange/fence.py `preemptible`); the next
        `Timer` places the stop (a live soak: a refused stop's retry waited 70 s behind a
        reconciliation's reads, each allowed 30 s in the budget). Not bounded like prices: the
        placement ends the duty (a stop order is live again, or the retry waits stop_retry_s)."""
        slot, loop = self.loop.slot, self.loop
        return (has_waiting(self.actor_inbox, (OrderActivity,))
                or has_waiting(self.actor_inbox, (Reconcile,), lambda m: m.urgent)
                or loop.core.stop_due(loop.state, loop.clock())
                or (prices and slot is not None and slot.urgent()))

    def _waiting(self, seconds: float) -> None:
        if self.deps.busy is not None and self._current():
            self.deps.busy.mark(self.symbol, seconds)

    def _progressed(self) -> None:
        if self.deps.busy is not None and self._current():
            self.deps.busy.progressed(self.symbol)

    def _done_waiting(self) -> None:
        if self.deps.busy is not None and self._current():
            self.deps.busy.clear(self.symbol)

    def _strategy_told(self, failure: StrategyFailure | None) -> None:
        """The supervisor hears of a failed strategy (the status, an alert) and of its renewal."""
        if failure is None:
            self.deps.report(self.symbol, self.loop.incarnation, "strategy_renewed", None)
            return
        off = StrategyOff(describe_failure(self.symbol, failure), first=failure.streak == 1)
        self.deps.report(self.symbol, self.loop.incarnation, "strategy_failed", off)

    def on_start(self) -> None:
        try:
            with contained(), call_scope(self._scope):
                self.loop.start()
        except Exception as exc:
            self.log.error("failed to start: {}", describe(exc))
            self.deps.report(self.symbol, self.loop.incarnation, "start_failed", exc)
            raise
        finally:
            self._done_waiting()
        if self.fence is not None:
            self.fence.incarnation = self.loop.incarnation
        self.log.info(
            "started (incarnation {}, {}, reconciled {})",
            self.loop.incarnation,
            self.loop.core.summary(self.loop.state),
            self.loop.reconciled,
        )
        self.deps.report(self.symbol, self.loop.incarnation, "started", None)

    def on_stop(self) -> None:
        try:
            with contained():  # out of on_stop too, pykka stopped every actor
                if self.loop.state is not None:
                    self.log.info("stopped ({})", self.loop.core.summary(self.loop.state))
        finally:
            self.deps.report(self.symbol, self.loop.incarnation, "stopped", None)

    def on_failure(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if isinstance(exc, (Fenced, CommitFenced)) and not self._current():
            # expected: the supervisor gave up on this incarnation and counted that failure; a
            # successor that claimed the symbol meanwhile also fences its commits
            what = "exchange call was not sent" if isinstance(exc, Fenced) else "commit was refused"
            self.log.warning("incarnation {} was replaced; its {}", self.loop.incarnation, what)
            self.deps.report(self.symbol, self.loop.incarnation, "replaced", exc)
            return
        self.log.opt(exception=(exc_type, exc, tb)).error(
            "crashed: {}", describe(exc) if exc else exc_type
        )
        self.deps.report(self.symbol, self.loop.incarnation, "crashed", exc)

    def on_receive(self, message: Any) -> Any:
        with contained():
            if self._aborted and not isinstance(message, Ping):  # a Ping reads no database
                self._skip(message, said=True)
                return None
            try:
                return self._receive(message)
            except Exception as exc:
                # its database calls aborted (a lapsed lease), or its writer stopped (the
                # repository closed under an actor that outlived the bot's stop)
                aborted = getattr(self.deps.repo, "aborted", False)
                lost = isinstance(exc, LeaseLost) and exc.final  # the account stops (exit 3)
                if not aborted and not lost and not isinstance(exc, WriterStopped):
                    raise
                self._aborted = True  # the account stops: no failure, no restart, no traceback
                if lost:  # found by review: a `crashed` traceback, counted, a restart queued
                    self.log.warning("{}; this actor stops here (not a crash): its queued "
                                     "messages are not handled", describe(exc))
                else:
                    self.log.warning("database {} (the account is stopping): {}; its queued "
                                     "messages are not handled",
                                     "calls aborted" if aborted else "closed", describe(exc))
                self._skip(message, said=True)
                return None

    def _receive(self, message: Any) -> Any:
        if isinstance(message, Ping):
            return self.loop.published
        if not self._current():  # the supervisor gave up on it: its stop waits behind these
            self._skip(message)
            return None
        if self.deps.metrics is not None and self.tick_to_order is not None:
            self.deps.metrics.observe_mailbox(inbox_depth(self.actor_inbox))
            self.tick_to_order.message(message)
        self._progressed()
        try:
            with call_scope(self._scope):
                self.loop.handle(message)
        finally:
            self._done_waiting()
            if isinstance(message, Reconcile) and message.handled is not None:
                message.handled.set()
        return None

    def _skip(self, message: Any, said: bool = False) -> None:
        """A revoked incarnation handles nothing more from its mailbox (pykka queues its stop
        behind it): a hung actor that woke went on saving decisions its successor restored.
        Nor does one whose database calls were aborted (`said`: its line is logged)."""
        if not self._skipping and not said:
            self._skipping = True
            self.log.warning("incarnation {} was replaced; its queued messages are not handled",
                             self.loop.incarnation)
        if isinstance(message, Reconcile) and message.handled is not None:
            message.handled.set()

    @property
    def published(self) -> Published:
        return self.loop.published

    @property
    def view(self) -> ActorView:
        return self.loop.view
