"""Quiet wakes spread over time instead of sent in a burst.

A quiet wake (a price inside the actor's quiet band: only the strategy's sampling needs it,
actors/price_slots.py QUIET_WAKE) makes one actor thread runnable. A venue push re-prices every
symbol within a few milliseconds, and with 500 symbols the feed made 500 threads runnable at
once; each takes the interpreter lock for its turn (~50-100 us), so a price that crossed a stop,
arriving just after, waited behind all of them. The pacer sends the quiet wakes from its own
thread in small rounds, every `ROUND_S`, so that a whole push's wakes go out within `spread_s`
(kept below the quiet-wake interval: every quiet price a wake was promised for is still taken
before the next one is due). Urgent wakes never come here: the feed sends them at once, and a
price leaving the band behind a queued quiet wake gets its own urgent one (PriceSlot.offer).

One pacer serves the whole process (`shared_pacer`): a pacer thread per account (four
accounts in one worker) woke every round each and competed for the interpreter lock with the
actors (bench_workers.py, one worker: tick -> close p99 119-223 ms against 38-41 ms unpaced).

Nothing is lost: a queued wake is a slot whose `wake_pending` flag is set, so the slot keeps
the newest price for it and no second quiet wake is queued for the same symbol; a wake that
cannot be delivered (the actor is not running) is handed back to the slot (`wake_failed`), as
the feed does. The deque is the pacer's own (feed threads append, the pacer pops); no lock is
shared with the actors.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from actors.messages import TICK_READY
from actors.price_slots import PriceSlot

ROUND_S = 0.004
"""Seconds between two rounds of quiet wakes while some are queued."""

Deliver = Callable[[str, Any], bool]


class WakePacer:
    def __init__(self, spread_s: float, clock: Callable[[], float] = time.monotonic,
                 threaded: bool = True) -> None:
        """`threaded=False`: no thread; the owner calls `send_round` (tests drive rounds)."""
        self.spread_s = spread_s
        self.clock = clock
        self.threaded = threaded
        self._queue: deque[tuple[float, str, PriceSlot, Deliver]] = deque()
        self._cond = threading.Condition()  # the pacer's own: the feed threads and its thread
        self._added = 0
        self._done = 0
        self._work = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.sent = 0
        """Wakes delivered (for tests and benches)."""
        self.failed = 0
        """Wakes that found the actor not running (handed back to the slot)."""

    def add(self, symbol: str, slot: PriceSlot, deliver: Deliver) -> None:
        """Queue one quiet wake (the slot's `wake_pending` is already set by `offer`), to go
        out through `deliver`."""
        with self._cond:
            self._queue.append((self.clock(), symbol, slot, deliver))
            self._added += 1
        if self._thread is None and self.threaded:
            self._start()
        # set only when not set: the thread clears the flag before it reads the queue, so a
        # flag still set means the wake appended above will be read (Event.set notifies
        # under a lock every time, once per price of a 500-symbol push)
        if not self._work.is_set():
            self._work.set()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def wait_delivered(self, timeout: float) -> bool:
        """Wait until every wake queued before this call was delivered (or handed back);
        False if `timeout` passed first. For callers that step the market by hand (tests,
        rigs) and must know each actor has its wake in the mailbox."""
        with self._cond:
            target = self._added
            return self._cond.wait_for(lambda: self._done >= target, timeout)

    def stop(self) -> None:
        """Stop the thread; the wakes still queued are sent first (a quiet price is not left
        with a pending flag nobody clears)."""
        self._stop.set()
        self._work.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self.flush()

    def flush(self) -> int:
        """Send every queued wake now; returns how many were taken off the queue."""
        return self._send(len(self._queue))

    def send_round(self) -> int:
        """One round: enough wakes for the queue to drain within `spread_s` of its oldest
        one at one round per `ROUND_S` (at least one; all of them once that time is near).
        Returns how many were taken off the queue."""
        queue = self._queue
        if not queue:
            return 0
        left = self.spread_s - (self.clock() - queue[0][0])
        if left <= ROUND_S:
            return self._send(len(queue))
        return self._send(max(1, math.ceil(len(queue) * ROUND_S / left)))

    # -- the thread ---------------------------------------------------------------------------
    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="quiet-wakes",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._work.wait()
            self._work.clear()
            while self._queue and not self._stop.is_set():
                self.send_round()
                if self._queue:
                    self._stop.wait(ROUND_S)

    def _send(self, n: int) -> int:
        """Up to `n` queued wakes, oldest first; returns how many were taken off the queue
        (delivered or handed back to their slot)."""
        taken = 0
        for _ in range(n):
            with self._cond:
                if not self._queue:
                    break
                _, symbol, slot, deliver = self._queue.popleft()
            taken += 1
            try:
                delivered = deliver(symbol, TICK_READY)
            except Exception:  # noqa: BLE001 - one bad delivery must not stop the others
                delivered = False
            if delivered:
                self.sent += 1
            else:  # the slot's next price wakes again (or the actor's next Timer takes it)
                slot.wake_failed()
                self.failed += 1
            with self._cond:
                self._done += 1
                self._cond.notify_all()
        return taken


_shared: WakePacer | None = None
_shared_lock = threading.Lock()


def shared_pacer(spread_s: float) -> WakePacer:
    """The process's pacer (made on first use); its spread is the smallest any feed asked."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = WakePacer(spread_s)
        else:
            _shared.spread_s = min(_shared.spread_s, spread_s)
        return _shared
