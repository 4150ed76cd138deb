"""The text of a log line: ``2026-11-21T07:03:49.123Z | INFO | BTC/USDT:USDT | message``.

The file streams build it themselves from a queued line's plain values, once per line for
``bot.log``, the actor's file and the console (``LineFormat``); ``LINE_FORMAT`` is the same
text in loguru's format syntax, for a reader of the code.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

_TIME = "{time:YYYY-MM-DDTHH:mm:ss.SSS!UTC}Z"
LINE_FORMAT = _TIME + " | {level} | {extra[symbol]} | {message}\n{exception}"
Key = tuple[str | None, str | None]
"""The file of an actor's lines: (symbol, account); None for the part a line does not name."""
Pending = tuple[float, datetime, str, Any, Any, str]
"""A queued line: monotonic time queued, record time, level, symbol, account, message."""


class UtcClock:
    """``2026-11-21T07:03:49.123Z`` from an epoch, caching the formatted second (second and
    text in one tuple: threads format concurrently, outside any lock)."""

    def __init__(self) -> None:
        self._cached: tuple[int, str] = (-1, "")

    def format(self, epoch: float) -> str:
        second, ms = divmod(int(epoch * 1000), 1000)
        cached = self._cached
        if second != cached[0]:
            cached = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
            self._cached = cached
        return f"{cached[1]}.{ms:03d}Z"


class LineFormat:
    """A queued line's bytes for ``bot.log`` and the key of its actor's file."""

    def __init__(self) -> None:
        self._clock = UtcClock()

    def __call__(self, item: Pending) -> tuple[Key | None, bytes]:
        """The line and its actor's file key (None: the line goes to bot.log only)."""
        _, when, level, symbol, account, message = item
        key: Key | None = None
        tag = "-" if symbol is None else symbol
        if account is not None:
            tag = f"{account} {tag}"
            key = (None if symbol is None else str(symbol), str(account))
        elif symbol is not None:
            key = (str(symbol), None)
        stamp = self._clock.format(when.timestamp())
        line = f"{stamp} | {level} | {tag} | {message}"
        return key, line.encode("utf-8", "backslashreplace")
