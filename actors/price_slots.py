"""Tick conflation: one latest-price slot per symbol between the market feed and the actor.

The feed writes each new price into the symbol's slot and tells the actor `TickReady` only when
no wake is pending; the actor takes the latest price when it handles the wake. So the mailbox
holds at most one price wake per symbol whatever the tick rate: an actor that falls behind
decides on the newest price instead of working through a queue of stale ones (for a stop or a
trailing trigger the latest price is the one that matters; the strategy's rolling window samples
prices anyway and then samples at the rate the actor keeps up with). Every other message still
goes through the mailbox, unchanged and in order.

Each slot has its own lock, held for a few field assignments; it is shared only by the feed
thread and that symbol's actor (like the mailbox itself), never between symbols.

A wake can be lost (an actor that dies with the wake in its mailbox; pykka drops the mailbox).
The next incarnation clears the pending flag on start, and the actor also takes the slot on
every supervisor `Timer`, so a price never waits longer than one heartbeat interval.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from typing import Any

from actors.messages import Tick
from trading.decide import QuietBand

NO_WAKE = 0
"""`PriceSlot.offer`: the price waits for a pending wake, the next wake or `Timer`."""
QUIET_WAKE = 1
"""`PriceSlot.offer`: wake the actor, for a quiet price (the strategy's sampling): no hurry."""
URGENT_WAKE = 2
"""`PriceSlot.offer`: wake the actor now: the price leaves its quiet band (or it has none)."""


class PriceSlot:
    __slots__ = ("_lock", "_tick", "_wake_pending", "_woken_at", "_band", "offered", "taken")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tick: Tick | None = None
        self._wake_pending = False
        self._woken_at = -math.inf
        self._band: QuietBand | None = None
        self.offered = 0
        """Ticks written by the feed (for measurements)."""
        self.taken = 0
        """Ticks the actor took and decided on."""

    def offer(self, tick: Tick, now: float, quiet_wake_s: float | None) -> int:
        """Store `tick` as the latest price; true (QUIET_WAKE or URGENT_WAKE) when the caller
        must wake the actor, NO_WAKE (0) when not.

        No wake while one is pending. A price inside the actor's published quiet band (it would
        change nothing but the mark price) wakes the actor only if it was last woken at least
        `quiet_wake_s` ago (None: never; the next wake or `Timer` picks it up): QUIET_WAKE. Any
        other price wakes it now: URGENT_WAKE."""
        with self._lock:
            self.offered += 1
            band = self._band
            held = self._tick
            # A quiet price never replaces one the actor has not taken that is not quiet (it
            # crosses a level): a dip through a trigger that reverses on the next tick is still
            # acted on, while a quiet price would change nothing but the mark price anyway.
            if not (
                held is not None
                and band is not None
                and band.contains_price(tick.price)
                and not band.contains_price(held.price)
            ):
                self._tick = tick
            if self._wake_pending:
                return NO_WAKE
            quiet = band is not None and band.contains_price(tick.price)
            if quiet and (quiet_wake_s is None or now - self._woken_at < quiet_wake_s):
                return NO_WAKE
            self._wake_pending = True
            self._woken_at = now
            return QUIET_WAKE if quiet else URGENT_WAKE

    def take(self) -> Tick | None:
        """The latest price not yet taken (None if there is none); re-arms the wake."""
        with self._lock:
            tick = self._tick
            self._tick = None
            self._wake_pending = False
            if tick is not None:
                self.taken += 1
            return tick

    def publish_band(self, band: QuietBand | None) -> Tick | None:
        """The actor's new quiet band. Returns (and takes) a waiting price that was left
        without a wake under the old band but is not quiet under the new one: the actor must
        decide on it now. Atomic with `offer`, so no price falls between the two."""
        with self._lock:
            self._band = band
            tick = self._tick
            if (
                tick is None
                or self._wake_pending
                or (band is not None and band.contains_price(tick.price))
            ):
                return None
            self._tick = None
            self.taken += 1
            return tick

    def reset(self) -> None:
        """A new actor incarnation: forget the old band and any pending wake (the price is
        dropped too; reconciliation fetches a fresh one)."""
        with self._lock:
            self._tick = None
            self._wake_pending = False
            self._band = None

    def wake_failed(self) -> None:
        """The wake could not be delivered (actor not running): the next price wakes again."""
        with self._lock:
            self._wake_pending = False

    @property
    def waiting(self) -> bool:
        return self._tick is not None

    def waiting_quiet(self) -> bool:
        """A price waits without a wake because the actor's band calls it quiet."""
        with self._lock:
            tick, band = self._tick, self._band
            return tick is not None and band is not None and band.contains_price(tick.price)


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
