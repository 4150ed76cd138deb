"""What a hostile client may cost the dashboard: refusals are logged at most once a second (a
summary line counts the rest), and wrong tokens from one peer slow that peer down.

Any web page can make a browser send requests to a loopback dashboard (a no-cors POST), so a
refusal must never be one WARNING line each (synchronous, under the shared log lock); and a
login form without backoff invites guessing.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from notifications.secret import one_line
from signals.reject_throttle import RejectionThrottle

FREE_FAILURES = 5
"""Wrong tokens a peer may send in a row before it has to wait (a typo or two cost nothing)."""
MAX_WAIT_S = 60.0
_PEERS_KEPT = 1024


class ThrottledLog:
    """WARNING lines of one kind of event at most once per ``interval_s``, with a count of the
    ones held back in between."""

    def __init__(self, logger: Any, *, what: str, interval_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.what, self.clock = logger, what, clock
        self._throttle = RejectionThrottle(interval_s)

    def warning(self, reason: str, message: str, *args: Any) -> None:
        """``message`` (a loguru format) if none was logged within the interval; ``reason`` is
        what the held-back ones are counted under."""
        record, held = self._throttle.admit(reason, self.clock())
        if held is not None:
            self._summary(held.count, held.reasons)
        if record:
            self.log.warning(message, *args)

    def flush(self, *, due_only: bool = False) -> None:
        """Log what is still held back: at shutdown, and (``due_only``) from a timer once the
        interval of the last logged line is over, so a burst's count is logged even when no
        refusal follows it (found by review: it waited for the next one, or for the stop)."""
        held = self._throttle.flush(self.clock() if due_only else None)
        if held is not None:
            self._summary(held.count, held.reasons)

    def _summary(self, count: int, reasons: dict[str, int]) -> None:
        text = ", ".join(f"{why} x{n}" for why, n in reasons.items())
        self.log.warning("{}: {} more refused ({})", self.what, count, text)


class LoginThrottle:
    """Per peer: after ``FREE_FAILURES`` wrong tokens in a row, each further one makes the peer
    wait twice as long as the one before (2 s, 4 s, ... at most ``MAX_WAIT_S``) before its
    next token is even checked. A right token clears the peer. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._peers: dict[str, tuple[int, float]] = {}
        """peer -> (wrong tokens in a row, when it may try again)."""

    def retry_in(self, peer: str) -> float:
        """Seconds the peer must still wait before a token of its is checked (0: go ahead)."""
        with self._lock:
            _, until = self._peers.get(peer, (0, 0.0))
        return max(until - self.clock(), 0.0)

    def failed(self, peer: str) -> None:
        now = self.clock()
        with self._lock:
            count = self._peers.get(peer, (0, 0.0))[0] + 1
            # the power is bounded first: 2.0 ** 1024 overflows, and the raise left the peer's
            # wait unset (a peer failing for ~17 h then guessed at full speed)
            wait = 0.0 if count <= FREE_FAILURES else min(
                2.0 ** min(count - FREE_FAILURES, 60), MAX_WAIT_S)
            self._peers.pop(peer, None)
            self._peers[peer] = (count, now + wait)
            while len(self._peers) > _PEERS_KEPT:  # the least recently failing peer goes
                del self._peers[next(iter(self._peers))]

    def succeeded(self, peer: str) -> None:
        with self._lock:
            self._peers.pop(peer, None)


class ServerLog:
    """aiohttp's own log calls (its request handler's ``logger``). By default they go to Python's
    logging, which the bot leaves unconfigured: each request aiohttp's parser refused (a raw
    byte in the URL, a broken chunk size) printed "Error handling request" and a traceback on
    stderr, outside bot.log. Here a refused request is a throttled one-line WARNING naming the
    problem (a body that does not decode as its Content-Encoding included); anything else (a
    bug in a handler) is an ERROR in the bot's log, traceback kept."""

    def __init__(self, logger: Any, refusals: ThrottledLog) -> None:
        self.log, self.refusals = logger, refusals

    def debug(self, *args: Any, **kwargs: Any) -> None:
        return None

    def exception(self, msg: str, *args: Any, exc_info: Any = None, **kwargs: Any) -> None:
        exc = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        if isinstance(exc, HttpProcessingError | RequestPayloadError):
            # RequestPayloadError: a body that does not decode as its Content-Encoding says,
            # met again when aiohttp drains what a handler left unread
            cause = exc if isinstance(exc, HttpProcessingError) else exc.__cause__
            text = str(cause.message).strip() if isinstance(cause, HttpProcessingError) else ""
            reason = text.splitlines()[0] if text else ""
            self.refusals.warning("malformed request", "dashboard: malformed request from {} "
                                  "refused (400): {}", one_line(str(args[0] if args else "?"), 60),
                                  one_line(reason or type(exc).__name__, 120))
            return
        self.log.opt(exception=exc).error("dashboard: {}", one_line(str(msg) % args, 300))

    error = exception

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.log.warning("dashboard: {}", one_line(str(msg) % args, 300))
