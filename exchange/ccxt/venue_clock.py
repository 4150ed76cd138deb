"""The venue's clock for signing (a machine clock off from the venue's: no NTP, a VM resumed).

A signed request carries this machine's time, and the venue refuses one outside its window
(Binance -1021: >= 1 s ahead or older than recvWindow; Bybit 10002; ccxt raises both as
`InvalidNonce`). Resent as it was, every attempt was refused the same way: no order, no stop,
no balance while the clock stayed off. On such a refusal the gateway reads the venue's time
(ccxt's `load_time_difference`, one public request) and every instance of every thread signs
with it from then on (ccxt's `timeDifference` option, which its `nonce()` subtracts).

A slow answer is not a skewed clock. ccxt's `load_time_difference` takes the venue's time as
now when its answer is read, so a busy process (500 actor threads starting on 2 cores) or a
slow network read as this clock being ahead by the answer's whole delay: a start of 500
symbols learned "19 s ahead" from one slow read, signed every request 19 s in the past, had
each refused, and each refusal read the venue's time again (51,430 time reads, 2,661 restarts,
not started after 400 s). Now the time is read between two looks at this clock, the venue's
time taken as the midpoint's, and a difference is believed only beyond the read's own
uncertainty (half its round trip); one read at a time, and none for a request signed before
the last read ended (its retry signs with what that read learned).

One clock per venue budget (`shared`: one venue and API host in this process), so the streams'
instances, built apart from the gateway's, sign their WebSocket login with the same time
(stream_login.py), and every account on that host learns it from the first refusal."""

from __future__ import annotations

import threading
import weakref
from typing import Any

import ccxt
from loguru import logger

from exchange.ccxt.errors import scrub
from observability.error_text import describe


class VenueClock:
    def __init__(self, exchange_id: str) -> None:
        self.id = exchange_id
        self._lock = threading.Lock()
        self._difference_ms: int | None = None
        """This machine's clock minus the venue's, as last read (None: never needed)."""
        self._uncertain_ms = 0
        """Half the round trip of the read `_difference_ms` came from: how far it may be off."""
        self._reading = threading.Lock()  # one read of the venue's time at a time
        self._reads = 0  # reads of the venue's time ended so far

    @property
    def difference_ms(self) -> int | None:
        """This machine's clock minus the venue's, as last read (None: never needed)."""
        return self._difference_ms

    @property
    def ahead_at_most_ms(self) -> int | None:
        """How far this clock may run ahead of the venue's at most: the read's difference plus
        its uncertainty, for waits that must not end early (a venue's reset stamp, a trade read
        moved back): the midpoint read is off by up to half its round trip either way (a CI
        run's read of 442 ms learned 2779 ms of 3000, and a 10006's reset was asked again
        221 ms before it, on the venue's clock)."""
        with self._lock:
            d = self._difference_ms
            return None if d is None else d + self._uncertain_ms

    def apply(self, ex: ccxt.Exchange) -> int:
        """Sign `ex`'s requests with the venue's time (the calling thread's own instance).
        Returns what the request is signed with (the reads ended so far), for `refused`."""
        reads, difference = self._reads, self._difference_ms
        if difference is not None and ex.options.get("timeDifference") != difference:
            ex.options["timeDifference"] = difference
        return reads

    def earlier(self, ms: int) -> int:
        """`ms`, a time of this machine's clock (a feed's last look, a position's opening),
        moved back by how far this clock runs ahead of the venue's, which filters a trade read
        by its own clock: as it was, 90 s ahead, the venue answered from 30 s after the fill
        the feed's poll (its look less a minute) was for. Never later: a start moved back only
        reads trades twice, and their ids are delivered and booked once."""
        return ms - max(self.ahead_at_most_ms or 0, 0)

    def refused(self, ex: ccxt.Exchange, exc: BaseException, signed: int) -> None:
        """`ex`'s request, signed as `apply` said (`signed`), was refused for its timestamp:
        read the venue's time now (the caller's retry then signs with it), unless another
        thread is reading it or a read ended since the request was signed. A failed read
        leaves things as they were."""
        if not isinstance(exc, ccxt.InvalidNonce) or not self._reading.acquire(blocking=False):
            return
        try:
            if self._reads > signed:
                return
            read = self._read(ex)
            if read is not None:
                self._learned(*read)
            self._reads += 1
        finally:
            self._reading.release()

    def _read(self, ex: ccxt.Exchange) -> tuple[int, int] | None:
        """(this clock minus the venue's at the read's midpoint, half its round trip)."""
        try:
            before = int(ex.milliseconds())
            server = int(ex.fetch_time())
            after = int(ex.milliseconds())
        except Exception as read_exc:  # noqa: BLE001 - the refusal itself is retried as it was
            logger.warning("{} refused a request's timestamp and its time could not be read: "
                           "{}", self.id, scrub(describe(read_exc)))
            return None
        half = max(after - before, 0) // 2
        return before + half - server, half

    def _learned(self, difference: int, half: int) -> None:
        with self._lock:
            before = self._difference_ms
            shown = abs(difference - (before or 0)) > half  # beyond the read's uncertainty
            if shown:
                self._difference_ms, self._uncertain_ms = difference, half
        if not shown:
            logger.warning("{} refused a request's timestamp; its time, read in {} ms, shows "
                           "no clock difference beyond that: the request was slow, not the "
                           "clock (signing as before)", self.id, 2 * half)
        elif before != difference:
            logger.warning("{} refused a request's timestamp: this machine's clock is {} ms {} "
                           "the venue's; signing with the venue's time (sync the clock: NTP)",
                           self.id, abs(difference), "ahead of" if difference > 0 else "behind")


_SHARED: weakref.WeakKeyDictionary[Any, VenueClock] = weakref.WeakKeyDictionary()
_SHARED_LOCK = threading.Lock()


def shared(owner: Any, exchange_id: str) -> VenueClock:
    """The one VenueClock of `owner` (a gateway's `meter.venue`: the budget of one venue and
    API host, shared by every account on it in this process), made on first use."""
    with _SHARED_LOCK:
        clock = _SHARED.get(owner)
        if clock is None:
            clock = _SHARED[owner] = VenueClock(exchange_id)
        return clock
