"""Quiet-price wakes, a few actors at a time.

A price inside its actor's quiet band changes nothing but the mark price and the strategy's
sample, so the feed wakes the actor for it at most every `quiet_wake_s` (actors/price_slots.py).
At 500 symbols one venue push of every ticker made ~500 actor threads runnable at once, all
wanting the one interpreter lock: a price that crosses a stop, arriving in the same push, had
its actor (and the stream thread reading it, and the database writer committing its close
intent) wait behind that crowd. bench/bench_stream_close.py measured it per stage: actor takes
the price -> commit starts, pure interpreter work, p99 46-98 ms with the quiet wakes and
0.27 ms without them (load 13-21, bench/README.md).

So quiet wakes queue here and go out at most `in_flight` at a time; each one frees its place
when the actor takes its slot (or the wake could not be delivered, or the actor restarted).
Urgent wakes (a price leaving its band) never pass through here: the feed sends them at once,
and a price that turns urgent while its quiet wake still waits in this queue wakes the actor
at once too (`PriceSlot.offer`). A stuck actor holds its place until the supervisor's `Timer`
makes it take its slot (at most one heartbeat interval)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from actors.messages import TICK_READY
from actors.price_slots import PriceSlot

IN_FLIGHT = 4
"""Quiet wakes out at once: enough to keep every actor sampling at `quiet_wake_s` (each wake is
~0.1 ms of interpreter time), few enough that a crossing's actor does not queue behind them."""


class QuietWakes:
    def __init__(self, deliver: Callable[[str, Any], bool], in_flight: int = IN_FLIGHT) -> None:
        self._deliver = deliver
        self._free = in_flight
        self._queue: deque[tuple[str, PriceSlot]] = deque()
        self._lock = threading.Lock()
        self.failed = 0
        """Quiet wakes that could not be delivered (actor not running)."""

    def submit(self, wakes: Iterable[tuple[str, PriceSlot]]) -> None:
        """Queue the quiet wakes of these slots (each slot's `offer` returned QUIET_WAKE)."""
        with self._lock:
            self._queue.extend(wakes)
        self._pump()

    def queued(self) -> int:
        return len(self._queue)

    def _released(self) -> None:
        """An actor took the slot its quiet wake was for: its place goes to the next one."""
        with self._lock:
            self._free += 1
        self._pump()

    def _pump(self) -> None:
        while True:
            with self._lock:
                if not self._free or not self._queue:
                    return
                symbol, slot = self._queue.popleft()
                # nothing left to take (an urgent wake took it) or a quiet wake already out
                if not slot.claim_quiet(self._released):
                    continue
                self._free -= 1
            if not self._deliver(symbol, TICK_READY):
                slot.unclaim_quiet()  # the next price wakes again
                with self._lock:
                    self._free += 1
                    self.failed += 1
