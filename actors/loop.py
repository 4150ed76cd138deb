"""The one decision loop: decide -> commit (write-ahead) -> execute -> results back as events.

Pykka-free: the actor (actors/symbol_actor.py) hands it messages, and tests drive the very same
object. It serves every trading style through the core protocol (actors/cores.py).

What it guarantees, for both styles:
- every decision that changes something is committed (state, journal, ledger, order intents)
  in one transaction before any of its commands is sent; results of the commands come back as
  events and are decided in the same message, each command's before the next is sent;
- a message that keeps producing events is a bug: after MAX_STEPS decisions it raises, naming
  the event that started it (incident 2), and the supervisor handles the crash;
- a close rejected because the position was already gone triggers a reconciliation;
- an external signal's `SignalHandled` is journaled in the transaction of the first decision it
  causes; signals journaled while the previous incarnation was down are recorded as skipped;
- `Timer` means one thing: take a price left in the slot, retry a failed reconciliation or
  look at owed fees when due (actors/reconcile_retry.py), then the core's duties (`TimerFired`);
- prices come through the symbol's price slot (the latest wins; a crossing price it replaced is
  decided first) and skip `decide` inside the core's quiet band (the grid has none);
- entries wait before the first successful reconciliation, after one failed or one for doubt set
  aside; a routine one set aside is owed: entries go on ASIDE_GRACE_S (reconcile_retry.py);
  each asks the account's gate (actors/entry_gate.py); each commit settles the exposure.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from actors.actor_view import ActorView, Published
from actors.command_executor import EscalationHook, describe, reconcile_after
from actors.command_queue import send_next
from actors.cores import Core
from actors.correlation import new_correlation_id
from actors.entry_gate import AccountGate, exposure_of
from actors.exchange_sweep import publishes_first
from actors.first_read import FirstRead
from actors.funding_feed import FundingPaid
from actors.funding_feed import book as book_funding
from actors.leverage import LeverageSetter
from actors.log_text import LazyData
from actors.messages import (
    BlockEntries,
    ExternalSignal,
    OrderActivity,
    Reconcile,
    Resume,
    Tick,
    TickReady,
    Timer,
)
from actors.order_results import events_for, look_up
from actors.price_slots import PriceSlot
from actors.reconcile_retry import FEE_UNKNOWN, ReconcileRetry, fee_look
from actors.resume import resume
from actors.signal_intake import (
    exits_after_entry,
    external,
    lost_signals,
    strategy_failed,
    strategy_renewed,
)
from actors.stop_watch import cancelling
from actors.strategy_guard import StrategyFailure, StrategyGuard
from exchange.fence import Fenced
from exchange.port import ExchangePort
from storage.repository import Repository
from strategies.base import Strategy
from trading.commands import JournalEntry
from trading.events import (
    EntriesBlocked,
    Event,
    PriceTicked,
    TimerFired,
)
from trading.frozen import replace
from trading.model import OrderStatus, Phase
from trading.quiet_band import QuietBand

MAX_STEPS = 1000
"""Decisions one message may cause; past it the loop raises (a bug must not loop sending orders)."""


class RunawayLoop(RuntimeError):
    """A message kept producing events past MAX_STEPS."""


class DecisionLoop:
    def __init__(
        self,
        symbol: str,
        *,
        core: Core,
        exchange: ExchangePort,
        repo: Repository,
        log: Any,
        on_escalate: EscalationHook,
        strategy: Strategy | None = None,
        clock: Callable[[], float] = time.time,
        entries_blocked: Callable[[], bool] = lambda: False,
        gate: AccountGate | None = None,
        slot: PriceSlot | None = None,
        publish: Callable[[Published], None] | None = None,
        execute: Callable[[Any], list[Event]] | None = None,
        defer_quiet_prices: bool = False,
        renew_strategy: Callable[[], Strategy] | None = None,
        strategy_hook: Callable[[StrategyFailure | None], None] | None = None,
        first_read: FirstRead | None = None,
        leverage: LeverageSetter | None = None,
    ) -> None:
        """`execute`: runs one command and returns its results as events (default: the core's
        executor on `exchange`; tests that play the exchange's part pass their own).
        `defer_quiet_prices`: a quiet price reaches the state only when a decision or a
        reconciliation needs it (for the backtest, which reads neither in between).
        `renew_strategy`: a fresh strategy for this symbol, tried after one raised (None: it
        stays off); `strategy_hook`: told each failure, and None when a fresh one runs (the
        actor tells the supervisor; the backtest raises to stop). See actors/strategy_guard.py.
        `first_read`: the account-wide read the start reconciliation may be served from.
        `leverage`: the account's, set before the symbol's first entry (actors/leverage.py)."""
        self.symbol, self.core, self.exchange, self.repo = symbol, core, exchange, repo
        self.first_read = first_read
        self.log = log
        self.strategy_hook = strategy_hook
        self._guard = StrategyGuard(
            strategy, renew=renew_strategy, on_failed=partial(strategy_failed, self),
            on_renewed=partial(strategy_renewed, self)) \
            if strategy is not None and core.uses_strategy else None
        self.clock, self.entries_blocked = clock, entries_blocked
        self.gate = gate or AccountGate(max_open_positions=None, kill_switch=entries_blocked,
                                        clock=clock)
        self.slot = slot
        self._slot_generation = 0  # this incarnation's, from `PriceSlot.reset`
        self.defer_quiet_prices = defer_quiet_prices
        self._quiet_price: Decimal | None = None  # not yet written into the state
        self._publish_to = publish
        self._retry = ReconcileRetry(core.close_backoff)
        self.waiting_exits: list[tuple[ExternalSignal, bool]] = []  # signal_intake.py
        self.execute = execute or core.executor(
            symbol, exchange, on_escalate, log,
            on_cancel=lambda ok: self._retry.cancel_done(ok, self.clock()), leverage=leverage)
        self.incarnation = 0
        self.state: Any = None
        self.reconciled = False  # set by the first successful reconciliation
        self.last_tick_at: float | None = None
        self.priced_at: float | None = None  # the last price read: a tick, a reconciliation
        self.published = Published(None, None, False, core.view)
        self._quiet: QuietBand | None = None
        self._quiet_for: Any = None  # the state `_quiet` is for (a price-only change keeps it)
        self._band_published: object = None
        self._reserved = False  # the gate reserved a slot in this `apply` (settled at its end)
        self.quarantined_ns = 0
        """When this incarnation's quarantine began (`time.monotonic_ns`): a person's resume asked
        before it does not lift it (actors/resume.py). A restored quarantine is older than any."""

    # -- start ------------------------------------------------------------------------------
    def start(self) -> None:
        """Claim a new incarnation, restore, reconcile: cold start and restart are one path."""
        if self.slot is not None:  # re-arm the wake; reconciliation fetches a fresh price
            self._slot_generation = self.slot.reset()
        self.incarnation = self.repo.claim(self.symbol)
        self.state = self.repo.load(self.symbol, store=self.core.store)
        if self.first_read is not None:  # the account-wide read must be sent after this
            self.first_read.loaded(self.symbol)
        self._quiet_price = None
        self._settle()  # restored positions count
        if self.entries_blocked():
            self.apply(EntriesBlocked(blocked=True, reason="kill switch"))
        exits = lost_signals(self)
        self.reconcile("start")
        for exit_ in exits:  # on the reconciled state, as the exit would have been
            external(self, exit_, late=True)
        self.sync_band(rounds=1)  # later prices wait for the running actor's wake

    def adopt(self, state: Any, *, reconciled: bool = True) -> None:
        """Begin from `state`, not `start()`'s restore and reconciliation (decision tests)."""
        self.incarnation = self.incarnation or 1
        self.state = state
        self._quiet_price = None
        self.reconciled = self._retry.verified = reconciled
        self._settle()
        self._publish()

    # -- messages ---------------------------------------------------------------------------
    def handle(self, message: Any) -> None:
        """One mailbox message, then tell the price slot the (possibly new) quiet band."""
        self._blocked_early()
        match message:
            case TickReady():
                self.take_price()
            case Tick():
                self.tick(message)
            case ExternalSignal():
                external(self, message)
            case OrderActivity():
                self.activity(message)
            case Reconcile(reason=reason, needed=needed):
                if needed is None or needed():
                    self.reconcile(reason)
            case Timer():
                self.take_price()  # a wake lost with a crashed actor's mailbox
                if why := self._retry.why(self.clock(), self.reconciled, self.state):
                    self.reconcile(why)  # a failed one's retry, or a look again (order doubt)
                self.apply(TimerFired())
            case FundingPaid():
                book_funding(self, message)  # each payment once (actors/funding_feed.py)
            case BlockEntries(blocked=blocked, reason=reason):
                if blocked or not self.entries_blocked():  # the guard's clear is not the
                    self.apply(EntriesBlocked(blocked=blocked, reason=reason))  # account's
            case Resume():
                resume(self, message)
            case _:
                self.log.warning("ignored unknown message {!r}", message)
        exits_after_entry(self)
        self.sync_band()

    def _blocked_early(self) -> None:
        """The account blocked entries (kill switch, the bot stopping) while this actor's
        `BlockEntries` still waits in its mailbox behind other messages: blocked before this
        one is decided. Found by a live hedge grid on the Bybit emulator: after SIGTERM its
        levels, which take no slot of the entry gate, were placed for 2-3 s more (one filled)."""
        if self.entries_blocked() and not getattr(self.state, "entries_blocked", True):
            self.apply(EntriesBlocked(blocked=True, reason="kill switch or shutdown"))

    def take_price(self) -> None:
        """The slot's prices, in order (a crossing price, then the latest), each judged against
        the band of the state the previous one left."""
        if self.slot is not None:
            for tick in self.slot.take_all(self._slot_generation):
                self.tick(tick)

    def tick(self, tick: Tick) -> None:
        self.last_tick_at = self.priced_at = now = self.clock()
        quiet = self._band()
        if quiet is not None and quiet.contains(tick.price, now):
            self._quiet_price = tick.price
            if not self.defer_quiet_prices:
                self._catch_up()
                self._publish()
        else:
            self.apply(PriceTicked(price=tick.price))
        if self._guard is None:
            return
        pos = self.state.position
        open_side = pos.side if pos is not None and self.state.phase is Phase.OPEN else None
        signal = self._guard.on_price(tick.price, tick.volume, now, open_side)
        if signal is not None:
            self.apply(signal)

    @property
    def strategy(self) -> Strategy | None:
        """The strategy instance in use (a fresh one after a failed one was renewed)."""
        return None if self._guard is None else self._guard.strategy

    def activity(self, message: OrderActivity) -> None:
        """The exchange reported fills: look each of our orders up and apply what it says. A
        report whose lookup fails (a timeout, a lagging history) is reconciled at once, with the
        orders after it (FillBatch: they filled later; a grid's stop applied first closed a leg
        its level had grown, whose fill then opened a phantom leg)."""
        if message.unknown:
            self.reconcile("unknown fill")
        unread = None
        for cid in message.client_order_ids:
            order = self.state.order(cid)
            if order is None:
                continue
            try:
                found = look_up(self.exchange, self.symbol, order.exchange_id, cid,
                                stop=order.is_stop)
            except Fenced:
                raise  # this incarnation was replaced: it decides nothing more
            except Exception as exc:  # noqa: BLE001 - reconciled below
                self.log.warning("fetch_order {} failed: {}; reconciling", cid, describe(exc))
                unread = cid
                break
            events = events_for(cid, found, pending=order.status is OrderStatus.PENDING)
            for event in events:
                self.apply(event)
            if not events:  # filled at no price it tells: reconciliation defers, looks again
                self.reconcile("fill without a price")
        if unread is not None:
            self.reconcile(f"report of {unread} unreadable")

    def reconcile(self, reason: str) -> None:
        """Compare with the exchange (a message like any other: nothing is dropped meanwhile)."""
        self._catch_up()
        try:
            protects = reason != FEE_UNKNOWN and self._retry.protects(self.core, self.state)
            with self._retry.preemptible(protects):  # a report sets it aside, unless it protects
                exchange = self.exchange if reason != "start" or self.first_read is None \
                    else self.first_read.port(self.symbol, self.exchange)  # once, at start
                snapshot = (fee_look(exchange, self.state) if reason == FEE_UNKNOWN
                            else self.core.snapshot(exchange, self.repo, self.state))
        except Fenced:
            raise  # this incarnation was replaced: it decides nothing more (no Timer duties)
        except Exception as exc:  # noqa: BLE001 - exchange unreachable: trade nothing new, retry
            aside = self._retry.set_aside(exc, reason, self.log, self.clock())  # routine: owed
            self.reconciled = self.reconciled and aside and not self._retry.doubted(reason)
            failed = None if aside else self._retry.failed(exc, reason, self.clock(), self.log)
            if failed is not None:  # not temporary: the core escalates a pending close
                self.apply(failed)
            self._publish()
            return
        self._retry.succeeded(verified=reason != FEE_UNKNOWN)
        if getattr(snapshot, "price", None) is not None:
            self.priced_at = self.clock()
        self.reconciled = True  # the snapshot's own decision acts on the reconciled state
        self.apply(snapshot)

    # -- the decide / commit / execute loop -------------------------------------------------
    def apply(
        self, first: Event, *, correlation_id: str = "", also: tuple[JournalEntry, ...] = ()
    ) -> bool:
        """Decide, commit, execute until no event is left. `also`: journal entries committed
        with the first decision that changes something; returns whether that happened."""
        # a correlation id is made only when something is committed (most ticks change nothing)
        self._catch_up()
        pending: deque[Event] = deque([first])
        queued: deque[Any] = deque()  # commands not sent yet (a filled entry's stop goes first)
        why: str | None = None  # a reconciliation asked for by an event (`reconcile_after`)
        steps = 0
        before = self.state
        try:
            while pending or queued:
                if not pending:  # one command, its results decided (actors/command_queue.py)
                    if (marked := cancelling(self.state, queued[0], self.clock())) is not None:
                        self._publish(marked)  # a stop's cancel: never read as a stop lost
                    elif publishes_first(queued[0]):
                        self._publish()  # the sweep sees it in flight (actors/exchange_sweep.py)
                    pending.extend(send_next(queued, self.state, self.execute, self.log,
                                             self.entries_blocked))
                    continue
                steps += 1
                if steps > MAX_STEPS:
                    raise RunawayLoop(
                        f"{self.symbol}: decision loop did not settle after {MAX_STEPS} "
                        f"steps, started by {first!r}"
                    )
                event = self.core.with_exchange_facts(self.exchange, self.state,
                                                      pending.popleft(), self.log)
                committed = self._step(
                    event, settled=not pending, correlation_id=correlation_id, also=also
                )
                if committed is None:
                    continue
                correlation_id, also, commands = committed
                queued.extendleft(reversed(commands))
                why = why or reconcile_after(event)
        finally:
            if self._reserved or self.state is not before:  # most ticks: neither
                self._reserved = False
                self._settle()
        self._publish()
        if why:
            self.reconcile(why)
        return not also

    def _step(
        self, event: Event, *, settled: bool, correlation_id: str, also: tuple[JournalEntry, ...]
    ) -> tuple[str, tuple[JournalEntry, ...], tuple[Any, ...]] | None:
        """One decision, committed if it changes something. Returns the correlation id, the
        `also` entries still to commit and the commands to execute; None: nothing committed."""
        now = self.clock()
        decision = self.core.decide(self.state, event, now, settled=settled, admit=self._admit,
                                    reconciled=self._retry.current(self.reconciled, now))
        if not decision.changed and decision.state == self.state:
            self.state = decision.state
            return None
        correlation_id = correlation_id or new_correlation_id()
        stored = decision
        if also:
            stored = replace(decision, journal=decision.journal + also)
            also = ()
        self.repo.commit(
            self.symbol,
            self.incarnation,
            self.state,
            stored,
            correlation_id=correlation_id,
            created_at=now,
            store=self.core.store,
        )
        if decision.state.quarantined and (  # a quarantine begins (or names a new reason)
                not self.state.quarantined
                or decision.state.quarantine_reason != self.state.quarantine_reason):
            self.quarantined_ns = time.monotonic_ns()
        self.state = decision.state
        for entry in decision.journal:  # text only if logged; a few records warn
            log = self.log.warning if getattr(entry, "WARN", False) else self.log.info
            log("{} {}", entry.type, LazyData(entry))
        return correlation_id, also, decision.commands

    def _catch_up(self) -> None:
        """Write the last quiet price into the state: what decide would return for that price,
        without building it (see quiet_band); the state keeps its quiet band."""
        price = self._quiet_price
        if price is not None:
            self._quiet_price = None
            self.state = self._quiet_for = replace(self.state, last_price=price, finished_orders=())

    def _admit(self, kind: str, margin: Decimal | None) -> str | None:
        refused = self.gate.admit(self.symbol, kind, reconciled=self.reconciled, margin=margin,
                                  incarnation=self.incarnation,
                                  facts_stale=self._retry.stale(self.clock()))
        self._reserved = self._reserved or refused is None
        return refused

    def _settle(self) -> None:
        """Tell the gate what this symbol holds now (fenced by the incarnation like a commit)."""
        self.gate.settle(self.symbol, exposure_of(self.core, self.state), self.incarnation)

    # -- price slot and publishing ------------------------------------------------------------
    def _band(self) -> QuietBand | None:
        """The current state's quiet band (once per state; a price-only change keeps it)."""
        if self._quiet_for is not self.state:
            self._quiet = self.core.quiet_band(self.state)
            self._quiet_for = self.state
        return self._quiet

    def sync_band(self, rounds: int = -1) -> None:
        """Tell the feed (through the slot) which prices may wait; decide at once on a waiting
        price the new band no longer calls quiet, for at most `rounds` bands (negative: no
        bound); past them the band is published alone (tests/actors/test_start_in_a_trend.py:
        a start, refused every wake, moved a trailing stop for as long as a trend went on)."""
        if self.slot is None:
            return
        while (band := self._band()) is not self._band_published:
            self._band_published = band
            ticks = self.slot.publish_band(band, self._slot_generation, take=rounds != 0)
            if not ticks:
                return
            rounds -= 1
            for tick in ticks:
                self.tick(tick)

    def _publish(self, state: Any = None) -> None:
        """Publish the current immutable state (or `state`, a message still being decided);
        the status dump builds the view from it."""
        state = self.state if state is None else state
        published = Published(state, self.last_tick_at, self._retry.current(  # a stale one:
            self.reconciled, self.clock()), self.core.view, self.priced_at)  # NOT RECONCILED
        self.published = published
        if self._publish_to is not None:
            self._publish_to(published)

    @property
    def view(self) -> ActorView:
        return self.published.view()
