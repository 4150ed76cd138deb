"""A symbol's failed reconciliations in a row: when the timer may try again, and what the core
is told (incident 2: a bug in one symbol's code never makes a loop).

A failed reconciliation used to be retried on every timer tick (each second), for ever: a bug in
reading an order (every lookup raising the same TypeError) made two exchange calls a second and
left a pending close unresolved, never counted. Now every failure in a row doubles the wait before
the timer's next try, with the close backoff of the symbol's rules (close_backoff_initial_s
doubling up to close_backoff_max_s; at most TEMPORARY_MAX_WAIT_S while every failure in the row was
temporary, so the end of an outage is seen within seconds); other triggers (the periodic reconcile,
a resume, a fill nobody explains) still reconcile at once. A failure that is not temporary
(anything but the port's `TemporaryError`s - network, timeout, exchange unavailable, rate limit or
the rate budget's refusal - and a position that kept moving while it was read) is counted and
reported to the core as `ReconcileFailed`; the core escalates a symbol whose close is pending after
max_close_attempts of them in a row. A successful reconciliation resets both counts.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from actors.command_executor import describe
from actors.exchange_snapshot import SnapshotUnstable, lookup_orders
from exchange import errors
from exchange.fence import Fenced, Preempted, preemptible
from exchange.port import ExchangePort
from trading import late_fees, order_evidence
from trading.events import FeesLooked, ReconcileFailed
from trading.gate import ASIDE_GRACE_S
from trading.primitives import waiting

TEMPORARY: tuple[type[BaseException], ...] = (errors.TemporaryError, SnapshotUnstable)
"""Failures that only back off: trying again later may succeed."""

CANCEL_FAILED = "a cancel failed: look again"
"""The heartbeat's reason to reconcile after a cancel failed for a temporary reason."""
FEE_UNKNOWN = "fee unknown"
"""The heartbeat's reason to look at orders whose fee is owed (`fee_look`)."""
ROUTINE = frozenset({"periodic", "retry"})
"""Reasons of a reconciliation nothing cast doubt on (the supervisor's periodic one; the
Timer's retry of one owed or failed): set aside, it is owed and entries go on the last verified
facts a while (`set_aside`). Any other reason is doubt about the facts (the position stream or
the sweep differs, an unknown fill, a report not read, a stop not found on the venue, a cancel
failed, a resume): set aside, entries wait until it succeeds (found by review in the paper
chaos campaign: an entry went on top of a position the venue's stream had just reported)."""
MAX_SET_ASIDE = 3
"""Reconciliations set aside in a row (`ReconcileRetry.set_aside`) after which a price leaving
the quiet band no longer sets the next one aside (a trending price would starve it); an order
report always does: a soak saw a removed stop's report wait 70 s behind the reconciliation
that followed three set aside for prices."""
TEMPORARY_MAX_WAIT_S = 5.0
"""The longest wait after temporary failures only: an outage that ends is noticed within this
(entries wait for a successful reconciliation; the close backoff's 60 s would keep them waiting
up to a minute after a short outage). Faults that are not temporary wait the close backoff."""
BACKOFF_COUNT_MAX = 33
"""The largest count of failures in a row handed to the backoff (32 doublings, as
trading/rules.py `doubling_wait`): the count itself has no bound during an outage, and the
close backoff's `2 ** (failures - 1)` no longer fit a float after ~1,025 failures (~80
minutes of an unreachable venue): an OverflowError out of the actor's message."""

class ReconcileRetry:
    def __init__(self, backoff: Callable[[int], float]) -> None:
        self.backoff = backoff
        self.failures = 0
        """Failed reconciliations in a row (what the timer's wait grows with)."""
        self.faults = 0
        """Of those, the ones that were not temporary (what the core is told)."""
        self.delay = 0.0
        self.retry_at = 0.0
        self.set_asides = 0
        """Reconciliations set aside in a row (`set_aside`)."""
        self.verified = False
        """A reconciliation of this incarnation succeeded (`protects`)."""
        self.owed_since: float | None = None
        """When the first of the reconciliations set aside in a row since the last that
        succeeded was set aside (None: none is owed). See `owe`, `stale`."""
        self.cancel_failures = 0
        """Cancels failed for a temporary reason in a row (`cancel_done`)."""
        self.cancel_look_at: float | None = None
        self.cancel_delay = 0.0

    def due(self, now: float) -> bool:
        """Whether the timer may retry now (a deadline left far ahead by a clock that stepped
        back is due at once, as every deadline of the cores)."""
        return not waiting(now, self.retry_at, self.delay)

    def why(self, now: float, reconciled: bool, state: Any) -> str | None:
        """Whether the heartbeat's Timer reconciles now, and why: a failed reconciliation once
        its backoff ran out, or a live order whose last answers were not evidence and that is
        due for another look (trading/order_evidence.py `recheck_due`), a cancel that failed
        for a temporary reason (`cancel_done`), or an ended order whose
        fee the venue has not told yet (trading/late_fees.py `due`)."""
        if not self.due(now):
            return None
        if not reconciled or self.owed_since is not None:
            return "retry"
        if self.cancel_look_at is not None and not waiting(now, self.cancel_look_at,
                                                           self.cancel_delay):
            return CANCEL_FAILED
        if order_evidence.recheck_due(state, now):
            return "look again"
        return FEE_UNKNOWN if late_fees.due(state, now) else None

    def failed(self, exc: BaseException, reason: str, now: float,
               log: Any) -> ReconcileFailed | None:
        """Count and log a failure; the event for the core, or None for a temporary one (and
        for a replaced incarnation, which must not decide anything more)."""
        self.failures += 1
        temporary = isinstance(exc, (*TEMPORARY, Fenced))
        self.delay = self.backoff(min(self.failures, BACKOFF_COUNT_MAX))
        if temporary and self.faults == 0:
            self.delay = min(self.delay, TEMPORARY_MAX_WAIT_S)
        self.retry_at = now + self.delay
        log.warning("reconciliation ({}) failed: {}; entries wait until it succeeds (failure {} "
                    "in a row, next retry in {}s)", reason, describe(exc), self.failures,
                    self.delay)
        if temporary:
            return None
        self.faults += 1
        return ReconcileFailed(error=describe(exc), failures=self.faults)

    def protects(self, core: Any, state: Any) -> bool:
        """Whether a reconciliation does protective work no order report may set aside: the
        core's `stop_unresolved`, or none has succeeded in this incarnation yet while the
        restored books hold a position or an order in flight. A stop or close that filled while
        the bot was down is learned by it alone (the streams do not replay it); set aside for
        the reports the streams delivered after a restart, the books decided on a position the
        venue had closed (a grid level sent for a stopped-out leg; found by review) and the exit
        was not journaled for as long as reports kept coming
        (tests/actors/test_exit_while_down_start_reconcile.py)."""
        return core.stop_unresolved(state) or (not self.verified and core.exposure(state) > 0)

    def preemptible(self, protective: bool = False) -> AbstractContextManager[None]:
        """The scope of a reconciliation's reads: one that waits in the rate budget is set
        aside when an order report arrives, or a price that leaves the quiet band unless
        MAX_SET_ASIDE were in a row (exchange/fence.py `preemptible`). Not a `protective` one:
        its lookup alone tells whether the position has a stop (the core's `stop_unresolved`:
        a stop intent never acknowledged, as a kill between commit and send leaves it); set
        aside for every report the streams delivered after a restart, the position waited
        1.5-4.1 s with no stop on the venue (a chaos run, kill 9)."""
        if protective:
            return nullcontext()
        return preemptible(prices=self.set_asides < MAX_SET_ASIDE)

    def set_aside(self, exc: BaseException, reason: str, log: Any, now: float) -> bool:
        """Whether `exc` set the reconciliation aside for an order report or a crossing price
        (`Preempted`): no failure, nothing sent was lost; the actor handles it next. A routine
        one (ROUTINE) is owed (`owe`): entries go on a while and the next Timer runs it. The
        caller keeps the symbol unreconciled for one asked for by doubt (`doubted`), so entries
        wait and the next Timer tries again; a fee look aside owes nothing."""
        if not isinstance(exc, Preempted):
            return False
        self.set_asides += 1
        if reason in ROUTINE:
            self.owe(now)
        log.info("reconciliation ({}) set aside: an order report or a crossing price is waiting "
                 "({} in a row)", reason, self.set_asides)
        return True

    @staticmethod
    def doubted(reason: str) -> bool:
        """Whether a reconciliation with this reason was asked for by doubt about the facts:
        set aside, it leaves the symbol unreconciled (entries wait), as every set-aside did
        before the owed rule."""
        return reason not in ROUTINE and reason != FEE_UNKNOWN

    def owe(self, now: float) -> None:
        """A routine reconciliation (ROUTINE) was set aside: one is owed, and the Timer runs it
        (`why`). Entries still go on the last verified facts for ASIDE_GRACE_S from the first
        set aside in a row (`stale`); a failure, one asked for by doubt (`doubted`) or the
        first of an incarnation not done yet blocks them at once (actors/loop.py `reconcile`)."""
        if self.owed_since is None:
            self.owed_since = now

    def current(self, reconciled: bool, now: float) -> bool:
        """The one rule entries of both styles follow (an entry and a grid leg's opening ask
        the account's gate with `reconciled` and `stale`; a grid level is placed only while
        this holds): reconciled in this incarnation with no reconciliation failed since
        (`reconciled`, actors/loop.py `reconcile`), and none owed set aside for ASIDE_GRACE_S."""
        return reconciled and not self.stale(now)

    def stale(self, now: float) -> bool:
        """Whether the reconciliation owed has been set aside for ASIDE_GRACE_S or longer (a
        start far ahead, the wall clock stepped back, is stale at once: trading/primitives.py
        `waiting`)."""
        since = self.owed_since
        return since is not None and not waiting(now, since + ASIDE_GRACE_S, ASIDE_GRACE_S)

    def succeeded(self, verified: bool = True) -> None:
        self.verified = self.verified or verified
        if verified:
            self.owed_since = None
        self.failures = self.faults = self.set_asides = 0
        self.delay = self.retry_at = 0.0
        self.cancel_look_at = None  # it cancels again what is still there to cancel

    def cancel_done(self, ok: bool, now: float) -> None:
        """A cancel's outcome (actors/command_executor.py `on_cancel`). One that failed for a
        temporary reason left its order resting until the next look: for an orphan of a flat
        symbol on a live venue (streams up) the next sweep, up to 300 s, while it may fill and
        open a position (found by review). The timer reconciles again after the close backoff,
        doubling while they keep failing; the reconciliation cancels it again."""
        if ok:
            if self.cancel_look_at is None:
                self.cancel_failures = 0
            return
        self.cancel_failures += 1
        self.cancel_delay = self.backoff(min(self.cancel_failures, BACKOFF_COUNT_MAX))
        self.cancel_look_at = now + self.cancel_delay


def fee_look(exchange: ExchangePort, state: Any) -> FeesLooked:
    """The owed orders alone, looked up for their fees (trading/late_fees.py): one lookup each
    (with Binance's trade read for its fee), where a whole reconciliation read ~12-15 requests
    and held the actor meanwhile (a live soak: a removed stop's cancel report waited behind it
    for up to 19 s). What else the venue did reaches the actor as before: its reports, the
    periodic reconciliation."""
    return FeesLooked(orders=lookup_orders(exchange, state.symbol, late_fees.owed_orders(state)))
