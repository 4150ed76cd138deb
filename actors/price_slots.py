"""Tick conflation: one latest-price slot per symbol between the market feed and the actor.

The feed writes each new price into the symbol's slot and tells the actor `TickReady` only when
no wake is pending; the actor takes the latest price when it handles the wake. So the mailbox
holds at most one price wake per symbol whatever the tick rate: an actor that falls behind
decides on the newest price instead of working through a queue of stale ones (for a stop or a
trailing trigger the latest price is the one that matters; the strategy's rolling window samples
prices anyway and then samples at the rate the actor keeps up with). Every other message still
goes through the mailbox, unchanged and in order. A price the actor's published quiet band does
not call quiet (it crosses a level) is kept when a newer one replaces it, and the actor decides
both, in order, judging each against its current band (the published one may be older).

Each slot has its own lock, held for a few field assignments; it is shared only by the feed
thread and that symbol's actor (like the mailbox itself), never between symbols.

A wake can be lost (an actor that dies with the wake in its mailbox; pykka drops the mailbox).
The next incarnation clears the pending flag on start, and the actor also takes the slot on
every supervisor `Timer`, so a price never waits longer than one heartbeat interval. A replaced
incarnation that is still running (hung, then unstuck) shares the slot: the generation `reset`
gives each incarnation keeps it from taking the new one's prices or publishing its band.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable
from typing import Any

from actors.messages import Tick
from trading.quiet_band import QuietBand

NO_WAKE = 0
"""`PriceSlot.offer`: the price waits for a pending wake, the next wake or `Timer`."""
QUIET_WAKE = 1
"""`PriceSlot.offer`: wake the actor, for a quiet price (the strategy's sampling): no hurry."""
URGENT_WAKE = 2
"""`PriceSlot.offer`: wake the actor now: the price leaves its quiet band (or it has none)."""


class PriceSlot:
    __slots__ = ("_lock", "_tick", "_crossing", "_wake_pending", "_wake_quiet", "_woken_at",
                 "_band", "_generation", "offered", "taken")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tick: Tick | None = None
        """The latest price not yet taken."""
        self._crossing: Tick | None = None
        """An older price not yet taken that the band did not call quiet (it crosses a level)."""
        self._wake_pending = False
        self._wake_quiet = False
        """The pending wake is a quiet one (it may wait in the feed's pacer, not yet sent)."""
        self._woken_at = -math.inf
        self._band: QuietBand | None = None
        self._generation = 0
        """Bumped by `reset`: the actor incarnation that owns the slot."""
        self.offered = 0
        """Ticks written by the feed (for measurements)."""
        self.taken = 0
        """Ticks the actor took and decided on."""

    def offer(self, tick: Tick, now: float, quiet_wake_s: float | None,
              superseded: Callable[[], bool] | None = None) -> int:
        """Store `tick` as the latest price; true (QUIET_WAKE or URGENT_WAKE) when the caller
        must wake the actor, NO_WAKE (0) when not.

        `superseded` (a REST price): true when another source wrote a newer price since the
        REST call was made; asked under the slot's lock, so a newer price written by then is
        seen and one written after this write replaces it (asked before the write, a streamed
        price landing in between was overwritten by the older REST one). Then nothing is
        written (NO_WAKE).

        No wake while one is pending, except for a price outside the band behind a pending
        quiet wake (which may still wait in the feed's pacer): URGENT_WAKE. A price inside the
        actor's published quiet band (it would change nothing but the mark price) wakes the
        actor only if it was last woken at least
        `quiet_wake_s` ago (None: never; the next wake or `Timer` picks it up): QUIET_WAKE. Any
        other price wakes it now: URGENT_WAKE."""
        with self._lock:
            if superseded is not None and superseded():
                return NO_WAKE
            self.offered += 1
            band = self._band
            held = self._tick
            # The latest price always wins; a replaced price the band does not call quiet is
            # kept too (the newest such one) and handed over first: a dip through a trigger
            # that reverses on the next tick is still acted on. The band may be older than the
            # actor's state, so the actor judges both again against its current band.
            if held is not None and band is not None and not band.contains_price(held.price):
                self._crossing = held
            self._tick = tick
            quiet = band is not None and band.contains_price(tick.price)
            if self._wake_pending:
                if quiet or not self._wake_quiet:
                    return NO_WAKE
                # a crossing behind a quiet wake the pacer may still hold: wake now (the quiet
                # one then finds the slot taken: one cheap empty wake)
                self._wake_quiet = False
                return URGENT_WAKE
            if quiet and (quiet_wake_s is None or now - self._woken_at < quiet_wake_s):
                return NO_WAKE
            self._wake_pending = True
            self._wake_quiet = quiet
            self._woken_at = now
            return QUIET_WAKE if quiet else URGENT_WAKE

    def urgent(self) -> bool:
        """A price waits that the published band does not call quiet (a crossing): the actor
        must decide it soon. A symbol with no band (the grid) never says so here."""
        with self._lock:
            band, tick = self._band, self._tick
            return band is not None and (self._crossing is not None or (
                tick is not None and not band.contains_price(tick.price)))

    def take_all(self, generation: int = 0) -> tuple[Tick, ...]:
        """The prices not yet taken, in order: a held crossing price, then the latest (empty if
        none); re-arms the wake. Empty for a replaced incarnation (`generation` older than the
        last `reset`): it must not take the new incarnation's prices."""
        with self._lock:
            if generation != self._generation:
                return ()
            self._wake_pending = False
            return self._take()

    def take(self, generation: int = 0) -> Tick | None:
        """`take_all`'s latest price only: for a reader that publishes no band (no crossing
        price is held then)."""
        ticks = self.take_all(generation)
        return ticks[-1] if ticks else None

    def _take(self) -> tuple[Tick, ...]:
        ticks = tuple(t for t in (self._crossing, self._tick) if t is not None)
        self._crossing = self._tick = None
        self.taken += len(ticks)
        return ticks

    def publish_band(self, band: QuietBand | None, generation: int = 0, *,
                     take: bool = True) -> tuple[Tick, ...]:
        """The actor's new quiet band. Returns (and takes) the waiting prices, as `take_all`, when
        they were left without a wake and the new band does not call the latest quiet, or a
        crossing price is held: the actor must decide on them now. Atomic with `offer`, so no
        price falls between the two. A replaced incarnation's band is ignored. `take=False`:
        the band only; waiting prices stay for the next wake or `Timer` (a start's last band,
        actors/loop.py `sync_band`)."""
        with self._lock:
            if generation != self._generation:
                return ()
            self._band = band
            tick = self._tick
            if (
                not take
                or self._wake_pending
                or tick is None
                or (self._crossing is None and band is not None
                    and band.contains_price(tick.price))
            ):
                return ()
            return self._take()

    def reset(self) -> int:
        """A new actor incarnation: forget the old band and any pending wake (the prices are
        dropped too; reconciliation fetches a fresh one). Returns the new generation, which
        the incarnation passes to `take` and `publish_band`."""
        with self._lock:
            self._tick = self._crossing = None
            self._wake_pending = False
            self._band = None
            self._generation += 1
            return self._generation

    def wake_failed(self) -> None:
        """The wake could not be delivered (actor not running): the next price wakes again."""
        with self._lock:
            self._wake_pending = False

    @property
    def generation(self) -> int:
        """The current incarnation's generation (the last `reset`'s)."""
        return self._generation

    @property
    def waiting(self) -> bool:
        return self._tick is not None

    def waiting_quiet(self) -> bool:
        """A price waits without a wake because the actor's band calls it quiet."""
        with self._lock:
            tick, band = self._tick, self._band
            return (tick is not None and self._crossing is None and band is not None
                    and band.contains_price(tick.price))


class PriceSlots:
    """The slots of all symbols, built once by the composition root and shared by the feed and
    every incarnation of every actor (a restarted actor finds the latest price in its slot)."""

    def __init__(self, symbols: Iterable[str]) -> None:
        self._slots = {s: PriceSlot() for s in symbols}

    def get(self, symbol: str) -> PriceSlot | None:
        return self._slots.get(symbol)

    def counts(self) -> dict[str, Any]:
        return {
            "offered": sum(s.offered for s in self._slots.values()),
            "taken": sum(s.taken for s in self._slots.values()),
        }
