"""A rate budget with priorities, in the venue's own units (Binance weight, Bybit requests).

One `PriorityBucket` is a token bucket (`rate_per_s` units per second, at most `capacity`
banked) that serves four priorities. Each priority may only spend down to its floor, a share
of the capacity it leaves for the priorities above it:

    PROTECTIVE (stop place/move, close, cancel)   floor 0     books at once, may go negative
    RECONCILE  (fetch_* lookups, balance)         floor 15 %
    ENTRY      (an order that opens or adds)      floor 30 %
    POLLING    (tickers, fills polling)           floor 50 %

So a protective call never queues behind a lower priority: the lower ones cannot take the
tokens reserved for it, and they never book ahead (only protective calls reserve into
negative, queueing behind earlier protective calls only). Except on a bucket whose floor holds
less than the protective call's cost (Bybit's per-UID endpoint buckets: capacity about one
request): a lower priority needs it full and spends it, and a protective call right after
waits at most its cost's refill time, cost / rate (0.1 s on Bybit's order/create at the
default share). Letting it go into debt at once would send over the venue's per-second limit
and draw a 10006, which blocks every call until the venue's reset. A lower priority waits its turn
(after the calls of its own priority that asked first; between priorities only the floors
decide), in steps of at most `step_s`, until the level is above its floor; an entry that
would wait past its bound is refused (`BudgetRefused`, raised before anything is sent,
journaled by the actor as a failed order). A call that booked here and is then not sent
(refused at a later bucket, set aside, fenced) gives its units back (`give_back`), never past
what the venue's last word left.
After the venue says "too many" (429, -1003, 10006) the bucket is blocked until the venue's
reset: nothing is sent, protective calls included, because it would only be refused again and
repeated 429s turn into IP bans. A block longer than a priority's bound (Bybit's IP ban: 600 s)
refuses that priority at once, naming the block; a protective call waits it out, its wait
announced to the actor's liveness mark (exchange/fence.py) so the supervisor does not restart it.

Clock and sleep are injected; the lock is never held while sleeping.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import IntEnum

from exchange.errors import RateLimited

MIN_WAIT_S = 0.001
PEER_CHECK_S = 1.0
"""How often a bucket with `peer_blocks` looks at the blocks its peers were told of."""


class Priority(IntEnum):
    PROTECTIVE = 0
    GAP_FILL = 1
    """The streams' gap fill (the fills missed while they were down): the streams count as up
    only after it, so it goes before the reconciliations, which run at the faster REST-mode
    pace until then. At reconcile priority it got about 1/(K+1) of the budget against K
    reconciling actors: Binance streams, connected again after 1 s, stayed in REST mode for
    94-130 s in a live soak (20 symbols, a userTrades read of weight 5 each)."""
    RECONCILE = 2
    ENTRY = 3
    POLLING = 4


FLOOR = {Priority.PROTECTIVE: 0.0, Priority.GAP_FILL: 0.10, Priority.RECONCILE: 0.15,
         Priority.ENTRY: 0.30, Priority.POLLING: 0.50}
"""Share of the capacity each priority leaves untouched for the priorities above it."""


class BudgetRefused(RateLimited):
    """The rate budget could not serve the call within its bound; nothing was sent."""


class PriorityBucket:
    def __init__(self, name: str, *, rate_per_s: float, capacity: float, unit: str,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate_per_s <= 0 or capacity <= 0:
            raise ValueError(f"{name}: rate and capacity must be > 0 ({rate_per_s}, {capacity})")
        self.name, self.unit = name, unit
        self.rate_per_s, self.capacity = float(rate_per_s), float(capacity)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._tokens = self.capacity
        self._stamp = clock()
        self._blocked_until = 0.0
        self._refused_until = 0.0
        """The part of the block the venue refused for (not only a window the bot saw spent):
        it holds the calls that weigh nothing here too (a Binance order on the IP)."""
        self.on_block: Callable[[float], None] | None = None
        """Told every block's length (exchange/venue_blocks.py keeps the venue's IP blocks)."""
        self.peer_blocks: Callable[[], float] | None = None
        """Seconds a peer on the same IP was blocked for (the worker processes of one data
        dir share exchange/venue_blocks.py's file), read at most every PEER_CHECK_S."""
        self._peers_checked = -math.inf
        self._tickets = itertools.count()
        self._lines: dict[Priority, dict[int, list[float]]] = {p: {} for p in Priority}
        """The calls of each lower priority waiting, by ticket in arrival order: [cost, the
        units queued before it when it came, less what left from the middle since]."""
        self._entered = {p: 0.0 for p in Priority}
        self._left = {p: 0.0 for p in Priority}
        """Running totals per priority: the units queued so far (less what left from the
        middle) and those that left from the head; the demand queued is their difference, the
        demand ahead of a waiter its `before` less `_left` (summing the queue under the lock
        for every check cost O(N) each, O(N^2) a round: 500 reconciliations at a start)."""
        self._refundable = 0.0
        """How far `give_back` may still raise the tokens: what was booked since the venue's
        last word (a header's count, a block), never past what that word left."""
        self.spent = {p: 0.0 for p in Priority}
        self.refused = 0
        self.waited_s = 0.0

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._stamp)
        self._stamp = max(self._stamp, now)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate_per_s)

    def _try(self, cost: float, priority: Priority, ticket: int) -> float:
        """Book `cost` if `priority` may; return 0, or how long to wait before asking again
        (protective: how long to wait for the booking it just made). A lower priority waits
        its turn: behind the calls of its own priority that came first (between priorities
        only the floors decide), so each waiter sleeps until its own turn (all of them woke at
        every grant: 142 checks per token for 200)."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            blocked = max(self._blocked_until - now, 0.0)
            if cost <= 0:  # weighs nothing here (a Binance order on the IP): a refusal holds
                return max(self._refused_until - now, 0.0)
            if priority is Priority.PROTECTIVE:
                self._book(cost, priority)
                return max(blocked, -self._tokens / self.rate_per_s)
            # a small bucket cannot hold floor + cost: then the lower priority needs it full
            need = min(FLOOR[priority] * self.capacity + cost, self.capacity)
            turn = need + self._ahead(priority, ticket)
            if blocked <= 0 and self._tokens >= min(turn, self.capacity):
                self._book(cost, priority)
                self._leave(priority, ticket)
                return 0.0
            self._join(priority, ticket, cost)
            return blocked if blocked > 0 else (turn - self._tokens) / self.rate_per_s

    def _book(self, cost: float, priority: Priority) -> None:
        self._tokens -= cost
        self.spent[priority] += cost
        self._refundable = min(self._refundable + cost, self.capacity)

    def give_back(self, cost: float, priority: Priority) -> None:
        """A call that booked `cost` here was not sent after all (refused, set aside or fenced
        at a later bucket or wait, exchange/budget_meter.py): its units come back, so a refusal
        no longer spends the IP weight every account shares. Never past what the venue's last
        word left (`cap_remaining`, a block): the venue never counted the call, so its word is
        right as it stands; given back past it, the calls after would go out over it."""
        cost = min(float(cost), self.capacity)
        if cost <= 0:
            return
        with self._lock:
            self._refill(self._clock())
            back = min(cost, self._refundable)
            self._refundable -= back
            self._tokens = min(self._tokens + back, self.capacity)
            self.spent[priority] = max(self.spent[priority] - cost, 0.0)

    def _ahead(self, priority: Priority, ticket: int) -> float:
        """The units the calls of `priority` waiting before `ticket` will take first (under
        the lock; a ticket not queued yet comes last). Not those of the priorities above: they
        would hold a poll behind every waiting reconciliation, where the floors let it spend
        down to its own."""
        line = self._lines[priority].get(ticket)
        before = self._entered[priority] if line is None else line[1]
        return max(before - self._left[priority], 0.0)

    def _join(self, priority: Priority, ticket: int, cost: float) -> None:
        lines = self._lines[priority]
        if ticket not in lines:
            lines[ticket] = [cost, self._entered[priority]]
            self._entered[priority] += cost

    def _leave(self, priority: Priority, ticket: int) -> None:
        """Give up `ticket`'s place (under the lock; once: a served waiter leaves at its grant
        and again when its take ends, as a refused or fenced one does)."""
        lines = self._lines[priority]
        if ticket not in lines:
            return
        head = next(iter(lines)) == ticket
        cost, before = lines.pop(ticket)
        if not lines:  # none left: start the totals again (no drift from float sums)
            self._entered[priority] = self._left[priority] = 0.0
        elif head:
            self._left[priority] += cost
        else:  # served out of turn, refused or fenced: those after it move up
            self._entered[priority] -= cost
            for line in lines.values():
                if line[1] > before:
                    line[1] -= cost

    def take(self, cost: float, priority: Priority, *, max_wait_s: float,
             before_sleep: Callable[[float], None] = lambda s: None,
             step_s: float = math.inf) -> float:
        """Spend `cost` units for a call of `priority`; return the seconds waited. A lower
        priority re-checks after each wait, which lasts at most `step_s`; past `max_wait_s` it
        raises `BudgetRefused`. `before_sleep(seconds)` runs before each wait (liveness mark,
        incarnation fence, a reconciliation set aside: exchange/budget_meter.py)."""
        cost = min(float(cost), self.capacity)  # a call dearer than the bucket still goes out
        with self._lock:
            ticket = next(self._tickets)
        try:
            return self._take(cost, priority, ticket, max_wait_s, before_sleep, step_s)
        finally:  # served, refused or fenced: it no longer holds a place in the queue
            with self._lock:
                self._leave(priority, ticket)

    def _take(self, cost: float, priority: Priority, ticket: int, max_wait_s: float,
              before_sleep: Callable[[float], None], step_s: float) -> float:
        waited = 0.0
        while True:
            self._check_peers()
            wait = self._try(cost, priority, ticket)
            if wait <= 0:
                return waited
            # a deficit of a few ulps would ask for a sleep that does not move a clock near
            # 1.7e9 (the loop then never ends): wait at least a millisecond
            wait = max(wait, MIN_WAIT_S)
            if priority is Priority.PROTECTIVE:
                return self._wait_booked(cost, wait, before_sleep)
            if waited + wait > max_wait_s:
                raise self._refusal(cost, priority, waited + wait, max_wait_s)
            waited += self._pause(min(wait, step_s), before_sleep)

    def _wait_booked(self, cost: float, wait: float,
                     before_sleep: Callable[[float], None]) -> float:
        """A protective call's wait for what it booked already; fenced during it (a replaced
        incarnation sends nothing), the booking comes back."""
        try:
            waited = self._pause(wait, before_sleep)
            # a block that came while it waited (another call's 429, a peer's) holds it too:
            # it was sent into the block, a refusal more
            while (left := self._blocked_left(cost)) > 0:
                waited += self._pause(max(left, MIN_WAIT_S), before_sleep)
            return waited
        except BaseException:
            self.give_back(cost, Priority.PROTECTIVE)
            raise

    def _pause(self, wait: float, before_sleep: Callable[[float], None]) -> float:
        before_sleep(wait)
        self._sleep(wait)
        with self._lock:
            self.waited_s += wait
        return wait

    def _blocked_left(self, cost: float) -> float:
        self._check_peers()
        with self._lock:
            until = self._blocked_until if cost > 0 else self._refused_until
            return max(until - self._clock(), 0.0)

    def _check_peers(self) -> None:
        """A block another process on this IP was told of holds here too: the venue's limit is
        the IP's, so a worker that goes on asking after its peer's 429 is the 'failing to back
        off' Binance bans for (found by review: it learnt of it only from its own 429)."""
        if self.peer_blocks is None:
            return
        with self._lock:
            now = self._clock()
            if now - self._peers_checked < PEER_CHECK_S:
                return
            self._peers_checked = now
        left = self.peer_blocks()  # a file read: outside the lock
        if left > 0:
            # not told on (on_block): the file has it already; it keeps deadlines only (a
            # spent minute's among them), so it holds what weighs here, not a Binance order
            self._hold(left, refused=False)

    def _refusal(self, cost: float, priority: Priority, wait: float,
                 max_wait_s: float) -> BudgetRefused:
        with self._lock:
            self.refused += 1
            blocked = self._blocked_until - self._clock()
        why = f"; blocked by the venue for {blocked:.0f}s more" if blocked > max_wait_s else ""
        return BudgetRefused(
            f"{self.name}: rate budget short for a {priority.name.lower()} call ({cost:g} "
            f"{self.unit}, would wait {wait:.1f}s > {max_wait_s:g}s{why})")

    def cap_remaining(self, remaining: float) -> None:
        """The venue says only `remaining` units are left in its window: never assume more.
        Never less than none either: a header far past the limit (garbage, or another program's
        burst) left a debt of its size, and a protective call waited it out at this bucket's
        rate (days, for 'X-MBX-USED-WEIGHT-1M: 99999999999'); a spent fixed window is waited
        out by a block until it turns (exchange/budget_meter.py)."""
        with self._lock:
            self._refill(self._clock())
            remaining = max(float(remaining), 0.0)
            self._tokens = min(self._tokens, remaining)
            self._refundable = min(self._refundable, remaining - self._tokens)

    def retune(self, rate_per_s: float, capacity: float | None = None) -> None:
        """Change the rate (the venue stated another limit): what was earned so far is kept at
        the old rate, the tokens stay (never above the new capacity, a debt stays a debt).
        `capacity`: the new one; None scales it with the rate."""
        if not (rate_per_s > 0 and (capacity is None or capacity > 0)):
            raise ValueError(f"{self.name}: rate and capacity must be > 0 ({rate_per_s}, "
                             f"{capacity})")
        with self._lock:
            self._refill(self._clock())
            if capacity is None:
                capacity = self.capacity * rate_per_s / self.rate_per_s
            self.rate_per_s, self.capacity = float(rate_per_s), float(capacity)
            self._tokens = min(self._tokens, self.capacity)

    def block_for(self, seconds: float, *, refused: bool = True) -> float:
        """The venue refused for rate: send nothing until its reset. Returns how long the
        bucket was already blocked. `refused=False`: only the window is spent (the venue's
        header said so): a call that weighs nothing here still goes."""
        before = self._hold(seconds, refused)
        if self.on_block is not None and seconds > before:
            self.on_block(seconds)
        return before

    def _hold(self, seconds: float, refused: bool = True) -> float:
        """Block for `seconds` from now (a longer block stays) and spend what is left; return
        how long it was already blocked."""
        with self._lock:
            now = self._clock()
            before = max(self._blocked_until - now, 0.0)
            self._blocked_until = max(self._blocked_until, now + max(seconds, 0.0))
            if refused:
                self._refused_until = max(self._refused_until, now + max(seconds, 0.0))
            self._refill(now)
            self._tokens = min(self._tokens, 0.0)
            self._refundable = 0.0
        return before

    def status(self) -> dict[str, object]:
        with self._lock:
            self._refill(self._clock())
            return {"unit": self.unit, "rate_per_s": round(self.rate_per_s, 3),
                    "capacity": self.capacity, "available": round(self._tokens, 2),
                    "blocked_s": round(max(self._blocked_until - self._clock(), 0.0), 2),
                    "spent": {p.name.lower(): round(v, 1) for p, v in self.spent.items()},
                    "refused": self.refused, "waited_s": round(self.waited_s, 2)}


_PRIORITY: ContextVar[Priority | None] = ContextVar("exchange_call_priority", default=None)


@contextmanager
def call_priority(priority: Priority) -> Iterator[None]:
    """Run the enclosed exchange calls at `priority`; the outermost port call decides (a fills
    poll stays polling although it calls fetch_my_trades inside)."""
    if _PRIORITY.get() is not None:
        yield
        return
    token = _PRIORITY.set(priority)
    try:
        yield
    finally:
        _PRIORITY.reset(token)


def current_priority() -> Priority:
    """The priority of the call in progress (a call nobody classified counts as reconcile)."""
    found = _PRIORITY.get()  # (PROTECTIVE is 0: never test it for truth)
    return Priority.RECONCILE if found is None else found


@contextmanager
def at_least(priority: Priority) -> Iterator[None]:
    """Raise the priority of the enclosed calls to `priority` if it is lower (the lookup of an
    order whose create failed must not be refused like an entry: it settles what was sent)."""
    current = _PRIORITY.get()
    if current is not None and current <= priority:
        yield
        return
    token = _PRIORITY.set(priority)
    try:
        yield
    finally:
        _PRIORITY.reset(token)
