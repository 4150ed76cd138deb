"""The scope an exchange call runs in: who issued it (fence) and who waits on it (liveness).

Why a context variable: the gateway is called synchronously on the calling actor's own thread,
through the port's fixed signatures. The actor sets the scope once around each message it
handles (actors/symbol_actor.py); every exchange call made while handling it, including each
retry and each wait in the rate budget inside the gateway, sees the same scope without any
port signature changing. A thread that set no scope (the market feed, the CLI) is unfenced and
reports no waits.

Lease fencing (cluster/fenced_port.py) can use the same hook: a scope's fence is anything with
`check()` raising a port error (`FenceCheck`), so a fence that checks the actor incarnation and
then the account lease (raising `LeaseLost`) makes the lease fence cover every retry inside the
gateway too, not only each port call; the account runtime would install it where the actor
builds its scope (actors/symbol_actor.py). Wired: a cluster node sets the board's
`account_check` to its lease guard (runtime/cluster_node.py).

  - `Fence`: the incarnation of the actor that issued the call. The supervisor revokes it when it
    gives up on that incarnation (`FenceBoard.revoke`), and a newer incarnation replaces it; the
    gateway calls `check_fence()` before each attempt and after each sleep, so a replaced
    incarnation sends nothing (issue 12 item 4).
  - `waiting(seconds)`: the gateway is about to block for at most `seconds` (a rate-budget wait,
    a retry backoff, or one HTTP request with its timeout). The scope's `busy` marks the actor
    "in a bounded exchange call until <deadline>", which the supervisor's heartbeat honours
    instead of restarting a slow-but-working actor (issue 12 item 1).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from exchange.errors import ExchangeError


class Fenced(ExchangeError):
    """The incarnation that issued this call was replaced: nothing was (or will be) sent."""


class Fence:
    """One actor incarnation's right to talk to the exchange."""

    __slots__ = ("symbol", "incarnation", "_board")

    def __init__(self, symbol: str, board: FenceBoard) -> None:
        self.symbol = symbol
        self.incarnation = 0  # filled in once the actor has claimed it (for messages only)
        self._board = board

    @property
    def valid(self) -> bool:
        return self._board.current(self.symbol) is self

    def check(self) -> None:
        if not self.valid:
            raise Fenced(f"{self.symbol}: actor incarnation {self.incarnation or '?'} was "
                         "replaced; its exchange call is not sent")
        if self._board.account_check is not None:
            self._board.account_check()  # a cluster node's account lease (LeaseLost)


class FenceBoard:
    """The one valid fence per symbol (in memory: fencing a thread of this process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[str, Fence] = {}
        self._latest: dict[str, Fence] = {}  # the last issued, revoked or not
        self.account_check: Callable[[], None] | None = None
        """Checked after the incarnation by every fence of this board: on a cluster node, the
        account's lease, so each retry inside the gateway is lease-fenced too."""

    def issue(self, symbol: str) -> Fence:
        """A new incarnation's fence; every older fence of `symbol` is invalid from now on."""
        fence = Fence(symbol, self)
        with self._lock:
            self._current[symbol] = self._latest[symbol] = fence
        return fence

    def revoke(self, symbol: str) -> None:
        """The supervisor gave up on the symbol's running incarnation (it is restarted later)."""
        with self._lock:
            self._current.pop(symbol, None)

    def current(self, symbol: str) -> Fence | None:
        with self._lock:
            return self._current.get(symbol)

    def unless_succeeded(self, fence: Fence, action: Callable[[], None]) -> bool:
        """Run `action` (quick: it holds the board) unless a newer fence of `fence`'s symbol was
        ever issued (a revoked one with no successor yet still runs it): no successor is issued
        in between. Returns whether it ran."""
        with self._lock:
            if self._latest.get(fence.symbol) is not fence:
                return False
            action()
            return True


class AccountFence:
    """The fence of exchange calls no actor makes for the account (its emergency close): the
    board's account check (a cluster node's lease) before each attempt and after each wait.
    Without it such a call ran unfenced: a close refused or rate-limited while the lease held
    was sent after another node had taken the account (found by review)."""

    __slots__ = ("_board",)

    def __init__(self, board: FenceBoard) -> None:
        self._board = board

    def check(self) -> None:
        if self._board.account_check is not None:
            self._board.account_check()


class BusyBoard:
    """Per symbol: until when its actor is known to be inside a bounded exchange call, and when
    it last made progress (began or finished a message, announced a bounded exchange call).

    The supervisor judges a missed heartbeat by both (supervision/liveness.py): a Ping queued
    behind a backlog of messages, each waiting in the rate budget, comes back late although the
    actor never stopped working, and between two calls (a message ending, the next one deciding
    and committing before its first request) it is in no call at all. Its clock must be the
    supervisor's monotonic clock (the supervisor builds the board)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}
        self._progress: dict[str, float] = {}

    def mark(self, symbol: str, seconds: float) -> None:
        now = self._clock()
        until = now + max(seconds, 0.0)
        with self._lock:
            self._progress[symbol] = now
            if until > self._until.get(symbol, 0.0):
                self._until[symbol] = until

    def hold(self, symbol: str, seconds: float) -> float | None:
        """`mark` for a wait nested in the message (its own commit), returning the mark it
        replaced for `restore`: an exchange call's mark stays until the message ends."""
        now = self._clock()
        with self._lock:
            previous = self._until.get(symbol)
            self._progress[symbol] = now
            self._until[symbol] = max(now + max(seconds, 0.0), previous or 0.0)
        return previous

    def restore(self, symbol: str, previous: float | None) -> None:
        """The nested wait ended: the mark is what it was before `hold`, and it progressed."""
        now = self._clock()
        with self._lock:
            self._progress[symbol] = now
            if previous is None:
                self._until.pop(symbol, None)
            else:
                self._until[symbol] = previous

    def progressed(self, symbol: str) -> None:
        """The symbol's actor began a message (or did anything else that is progress)."""
        now = self._clock()
        with self._lock:
            self._progress[symbol] = now

    def clear(self, symbol: str) -> None:
        """The actor finished a message: it is in no exchange call now, and it progressed."""
        now = self._clock()
        with self._lock:
            self._until.pop(symbol, None)
            self._progress[symbol] = now

    def busy_for(self, symbol: str) -> float:
        """Seconds left of the symbol's announced bounded call (0: not in one)."""
        with self._lock:
            until = self._until.get(symbol)
        return 0.0 if until is None else max(until - self._clock(), 0.0)

    def idle_for(self, symbol: str) -> float:
        """Seconds since the symbol's actor last made progress or its announced bounded call
        ran out, whichever is later (inf: none reported). A call that times out returns a
        little after its bound (the request was signed and sent before the timer started, and
        its thread must win the interpreter lock back): counted from the announcement alone,
        an actor whose call was as long as the heartbeat timeout was judged hung in that gap
        (a live chaos run: `actor failed in heartbeat` 5.008 s after a close whose answer was
        held past its 5 s timeout; the close's lookup was then fenced)."""
        with self._lock:
            last = self._progress.get(symbol)
            until = self._until.get(symbol)
        if last is None:
            return float("inf")
        return max(self._clock() - max(last, until or last), 0.0)


class FenceCheck(Protocol):
    def check(self) -> None:
        """Raise (a port error) if the caller may no longer talk to the exchange."""


@dataclass(frozen=True, slots=True, kw_only=True)
class CallScope:
    fence: FenceCheck | None = None
    busy: Callable[[float], None] | None = None
    urgent: Callable[[bool], bool] | None = None
    """True while the issuing actor has a message waiting that must not queue behind a
    reconciliation's rate-budget waits: an order report, or (when its argument, `prices`, is
    true) a price that leaves its quiet band. See `preemptible`."""


class Preempted(ExchangeError):
    """A call below protective priority (a reconciliation's read, an entry's create) gave up
    its wait in the rate budget, before anything was sent, because its actor has an order
    report waiting (`preemptible`)."""


_SCOPE: ContextVar[CallScope | None] = ContextVar("exchange_call_scope", default=None)


@contextmanager
def call_scope(scope: CallScope) -> Iterator[None]:
    token = _SCOPE.set(scope)
    try:
        yield
    finally:
        _SCOPE.reset(token)


_PREEMPTIBLE: ContextVar[int] = ContextVar("exchange_call_preemptible", default=0)
_FOR_REPORTS, _FOR_PRICES = 1, 2


@contextmanager
def preemptible(*, prices: bool = True) -> Iterator[None]:
    """The enclosed calls may be set aside: before each wait in the rate budget, a call of a
    lower priority than protective raises `Preempted` when its actor's scope says a message
    is waiting that must not queue behind it (`CallScope.urgent`). For calls that can be made
    again later: the actor's reconciliations (a live soak saw a removed stop's cancel report
    wait up to 70 s behind a reconciliation's ~12-15 calls, each allowed 30 s in the budget)
    and the creates of orders that grow a position (10 s behind a grid's level orders).
    `prices`: a price leaving the quiet band counts too (an order report always does)."""
    token = _PREEMPTIBLE.set(_FOR_PRICES if prices else _FOR_REPORTS)
    try:
        yield
    finally:
        _PREEMPTIBLE.reset(token)


def in_preemptible() -> bool:
    """Whether the calls made now may be set aside (`preemptible`)."""
    return _PREEMPTIBLE.get() > 0


def check_preempted() -> None:
    """Raise `Preempted` inside `preemptible()` when the issuing actor has urgent mail."""
    level = _PREEMPTIBLE.get()
    if not level:
        return
    scope = _SCOPE.get()
    if scope is not None and scope.urgent is not None and scope.urgent(level == _FOR_PRICES):
        raise Preempted("an order report is waiting: this call is set aside for it")


def check_fence() -> None:
    """Raise `Fenced` if the calling incarnation was replaced (no-op outside an actor)."""
    scope = _SCOPE.get()
    if scope is not None and scope.fence is not None:
        scope.fence.check()


def waiting(seconds: float) -> None:
    """Announce that the caller blocks for at most `seconds` in a bounded exchange call."""
    scope = _SCOPE.get()
    if scope is not None and scope.busy is not None:
        scope.busy(seconds)
