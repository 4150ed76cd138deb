"""The venue's clock for signing (a machine clock off from the venue's: no NTP, a VM resumed).

A signed request carries this machine's time, and the venue refuses one outside its window
(Binance -1021: >= 1 s ahead or older than recvWindow; Bybit 10002; ccxt raises both as
`InvalidNonce`). Resent as it was, every attempt was refused the same way: no order, no stop,
no balance while the clock stayed off. On such a refusal the gateway reads the venue's time
(ccxt's `load_time_difference`, one public request) and every instance of every thread signs
with it from then on (ccxt's `timeDifference` option, which its `nonce()` subtracts).

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

    @property
    def difference_ms(self) -> int | None:
        """This machine's clock minus the venue's, as last read (None: never needed)."""
        return self._difference_ms

    def apply(self, ex: ccxt.Exchange) -> None:
        """Sign `ex`'s requests with the venue's time (the calling thread's own instance)."""
        difference = self._difference_ms
        if difference is not None and ex.options.get("timeDifference") != difference:
            ex.options["timeDifference"] = difference

    def earlier(self, ms: int) -> int:
        """`ms`, a time of this machine's clock (a feed's last look, a position's opening),
        moved back by how far this clock runs ahead of the venue's, which filters a trade read
        by its own clock: as it was, 90 s ahead, the venue answered from 30 s after the fill
        the feed's poll (its look less a minute) was for. Never later: a start moved back only
        reads trades twice, and their ids are delivered and booked once."""
        return ms - max(self._difference_ms or 0, 0)

    def refused(self, ex: ccxt.Exchange, exc: BaseException) -> None:
        """`ex`'s request was refused for its timestamp: read the venue's time now (the
        caller's retry then signs with it). A failed read leaves things as they were."""
        if not isinstance(exc, ccxt.InvalidNonce):
            return
        try:
            difference = int(ex.load_time_difference())
        except Exception as read_exc:  # noqa: BLE001 - the refusal itself is retried as it was
            logger.warning("{} refused a request's timestamp and its time could not be read: "
                           "{}", self.id, scrub(describe(read_exc)))
            return
        with self._lock:
            before, self._difference_ms = self._difference_ms, difference
        if before != difference:
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
