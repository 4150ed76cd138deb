"""SymbolActor: the imperative shell around one symbol's pure decision core.

One pykka ThreadingActor per symbol, with a private mailbox; no lock is shared with another
symbol. For every message: build an event, `decide`, commit the new state with its journal and
order intents in one transaction (write-ahead), then execute the commands; their results come
back as events handled in the same message. Restore-and-reconcile in `on_start` is the only way
an actor begins, whether on a cold start or a supervisor restart (crash-only).

Prices arrive conflated (actors/price_slots.py): a `TickReady` wake makes the actor take the
latest price from its slot. A price inside the state's quiet band (`SymbolCore.quiet_band`:
no trigger crossed, nothing due) changes only `last_price`, so it skips `decide` and the commit;
every other price goes through the full decide / commit / execute loop.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Callable

import pykka

from actors import exchange_snapshot
from actors.actor_view import ActorView, Published, view_of
from actors.command_executor import CommandExecutor, describe
from actors.messages import (
    BlockEntries,
    ExternalSignal,
    OrderActivity,
    Ping,
    Reconcile,
    Resume,
    Tick,
    TickReady,
    Timer,
)
from actors.price_slots import PriceSlots
from actors.shell import ShellMixin
from exchange.port import ExchangePort
from storage.repository import Repository
from strategies.base import Strategy
from trading.commands import Escalate, JournalEntry
from trading.decide import QuietBand, SymbolCore
from trading.events import (
    EntriesBlocked,
    Event,
    OrderFailed,
    PriceTicked,
    QuarantineLifted,
    SignalRaised,
    TimerFired,
)
from trading.model import Phase, SymbolState


@dataclass(frozen=True, slots=True, kw_only=True)
class ActorDeps:
    """Everything an actor needs, built once by the composition root and shared read-only."""

    exchange: ExchangePort
    repo: Repository
    core_for: Callable[[str], SymbolCore]
    strategy_for: Callable[[str], Strategy]
    logger: Any
    """loguru logger; each actor binds its symbol so its lines go to logs/<symbol>.log."""
    report: Callable[[str, int, str, BaseException | None], None]
    """Supervisor callback: (symbol, incarnation, what, error) for started/failed events."""
    on_escalate: Callable[[str, Escalate], None]
    entries_blocked: Callable[[], bool] = lambda: False
    views: dict[str, ActorView] | None = None
    """Where each actor publishes its latest view for the status dump (one key per symbol)."""
    clock: Callable[[], float] = time.time
    prices: PriceSlots | None = None
    """Latest-price slots shared with the market feed (None: prices come as `Tick` messages)."""


class SymbolActor(ShellMixin, pykka.ThreadingActor):
    use_daemon_thread = True  # a hung, replaced actor must not keep the process alive

    def __init__(self, symbol: str, deps: ActorDeps) -> None:
        super().__init__()
        self.symbol = symbol
        self.deps = deps
        self.log = deps.logger.bind(symbol=symbol)
        self.core = deps.core_for(symbol)
        self.strategy = deps.strategy_for(symbol)
        self.executor = CommandExecutor(symbol, deps.exchange, on_escalate=deps.on_escalate, log=self.log)
        self.incarnation = 0
        self.state = SymbolState(symbol=symbol)
        self.reconciled = False
        self.last_tick_at: float | None = None
        self.published = Published(self.state, None, False)
        self.slot = deps.prices.get(symbol) if deps.prices is not None else None
        self._quiet: QuietBand | None = None
        self._quiet_for: SymbolState | None = None
        """The state `_quiet` was computed for (a price-only change carries it over)."""
        self._band_published: object = None

    # -- lifecycle --------------------------------------------------------------------------
    def on_start(self) -> None:
        try:
            if self.slot is not None:
                self.slot.reset()  # re-arm the wake; reconciliation fetches a fresh price
            self.incarnation = self.deps.repo.claim(self.symbol)
            self.state = self.deps.repo.load(self.symbol)
            if self.deps.entries_blocked():
                self._apply(EntriesBlocked(blocked=True, reason="kill switch"))
            self._skip_lost_signals()
            self._reconcile("start")
            self._sync_band()
        except Exception as exc:
            self.log.error("failed to start: {}", describe(exc))
            self.deps.report(self.symbol, self.incarnation, "start_failed", exc)
            raise
        self.log.info("started (incarnation {}, phase {}, reconciled {})",
                      self.incarnation, self.state.phase.value, self.reconciled)
        self.deps.report(self.symbol, self.incarnation, "started", None)

    def _skip_lost_signals(self) -> None:
        """Signals that reached the journal but died with the previous actor's mailbox: prices
        have moved since, so they are recorded as skipped rather than applied late."""
        for data in self.deps.repo.unhandled_signals(self.symbol):
            self.deps.repo.record(self.symbol, "SignalSkipped",
                                  {**data, "reason": "arrived while the actor was down or restarting"},
                                  correlation_id=data["signal_id"])
            self.log.warning("signal {} skipped: it arrived while the actor was down", data["signal_id"])

    def on_stop(self) -> None:
        self.log.info("stopped (phase {}, position {})", self.state.phase.value,
                      "none" if self.state.position is None else
                      f"{self.state.position.side.value} {self.state.position.contracts}")
        self.deps.report(self.symbol, self.incarnation, "stopped", None)

    # -- messages ---------------------------------------------------------------------------
    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Ping):
            return self.published
        self._handle(message)
        self._sync_band()
        return None

    def _handle(self, message: Any) -> None:
        match message:
            case TickReady():
                self._take_price()
            case Tick():
                self._tick(message)
            case ExternalSignal():
                self._external(message)
            case OrderActivity():
                self._activity(message)
            case Reconcile(reason=reason):
                self._reconcile(reason)
            case Timer():
                self._take_price()  # a wake lost with a crashed actor's mailbox
                if not self.reconciled:
                    self._reconcile("retry")
                self._apply(TimerFired())
            case BlockEntries(blocked=blocked, reason=reason):
                self._apply(EntriesBlocked(blocked=blocked, reason=reason))
            case Resume(by=by):
                self._apply(QuarantineLifted(by=by))
                self._reconcile("resume")
            case _:
                self.log.warning("ignored unknown message {!r}", message)

    def _take_price(self) -> None:
        tick = self.slot.take() if self.slot is not None else None
        if tick is not None:
            self._tick(tick)

    def _band(self) -> QuietBand | None:
        """The current state's quiet band (computed once per state; a price-only change keeps it)."""
        if self._quiet_for is not self.state:
            self._quiet = self.core.quiet_band(self.state)
            self._quiet_for = self.state
        return self._quiet

    def _sync_band(self) -> None:
        """Tell the feed (through the slot) which prices may wait; decide at once on a waiting
        price the new band no longer calls quiet."""
        if self.slot is None:
            return
        while (band := self._band()) is not self._band_published:
            self._band_published = band
            tick = self.slot.publish_band(band)
            if tick is None:
                return
            self._tick(tick)

    def _tick(self, tick: Tick) -> None:
        self.last_tick_at = now = self.deps.clock()
        quiet = self._band()
        if quiet is not None and quiet.contains(tick.price, now):
            # What decide would return for this tick, without building it (see quiet_band).
            self.state = self._quiet_for = replace(self.state, last_price=tick.price, finished_orders=())
            self._publish()
        else:
            self._apply(PriceTicked(price=tick.price))
        pos = self.state.position
        signal = self.strategy.on_price(tick.price, tick.volume, self.last_tick_at,
                                        pos.side if pos is not None and self.state.phase is Phase.OPEN else None)
        if signal is not None:
            self._signal(signal)

    def _external(self, message: ExternalSignal) -> None:
        """An external signal; `SignalHandled` is journaled in the same transaction as the first
        decision it causes (correlated by the signal id), or on its own if nothing changed."""
        sid = message.signal_id
        handled = (JournalEntry(type="SignalHandled", data={"signal_id": sid}),) if sid else ()
        signal = SignalRaised(side=message.side, reason=message.reason, signal_id=sid,
                              size_usdt=message.size_usdt)
        if self._signal(signal, correlation_id=sid or "", also=handled) or not sid:
            return
        self.deps.repo.record(self.symbol, "SignalHandled", {"signal_id": sid}, correlation_id=sid)

    def _signal(self, signal: SignalRaised, *, correlation_id: str = "",
                also: tuple[JournalEntry, ...] = ()) -> bool:
        """Returns whether `also` was committed."""
        if not self.reconciled and signal.side is not None:
            self.deps.repo.record(self.symbol, "SignalSkipped",
                                  {"reason": "not reconciled with the exchange yet",
                                   "signal_id": signal.signal_id},
                                  correlation_id=uuid.uuid4().hex[:16])
            return False
        return self._apply(signal, correlation_id=correlation_id, also=also)

    def _snapshot(self) -> Event:
        pos = self.state.position
        booked = self.deps.repo.booked_orders(pos.position_id) if pos is not None else set()
        return exchange_snapshot.gather(self.deps.exchange, self.state, booked)

    # -- the decide / commit / execute loop -------------------------------------------------
    def _apply(self, first: Event, *, correlation_id: str = "", also: tuple[JournalEntry, ...] = ()) -> bool:
        """Decide, commit, execute until no event is left. `also`: journal entries committed
        with the first decision that changes something; returns whether that happened."""
        # a correlation id is made only when something is committed (most ticks change nothing)
        pending: deque[Event] = deque([first])
        raced = False
        while pending:
            event = pending.popleft()
            now = self.deps.clock()
            decision = self.core.decide(self.state, event, now)
            if not decision.changed and decision.state == self.state:
                self.state = decision.state
                continue
            correlation_id = correlation_id or uuid.uuid4().hex[:16]
            stored = decision
            if also:
                stored = replace(decision, journal=decision.journal + also)
                also = ()
            self.deps.repo.commit(self.symbol, self.incarnation, self.state, stored,
                                  correlation_id=correlation_id, created_at=now)
            self.state = decision.state
            for entry in decision.journal:
                self.log.info("{} {}", entry.type, entry.data)
            for command in decision.commands:
                pending.extend(self.executor.execute(command))
            raced = raced or (isinstance(event, OrderFailed) and event.position_gone)
        self._publish()
        if raced:
            self._reconcile("close raced with another fill")
        return not also

    def _publish(self) -> None:
        """Publish a reference to the current immutable state; the status dump builds the view
        from it (building it here on every tick cost ~12 us per tick)."""
        published = Published(self.state, self.last_tick_at, self.reconciled)
        self.published = published
        if self.deps.views is not None:
            self.deps.views[self.symbol] = published

    @property
    def view(self) -> ActorView:
        p = self.published
        return view_of(p.state, p.last_tick_at, reconciled=p.reconciled)
