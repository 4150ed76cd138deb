"""The text of a log line: ``2026-11-21T07:03:49.123Z | INFO | BTC/USDT:USDT | message``.

The file streams build it themselves from a queued line's plain values, once per line for
``bot.log``, the actor's file and the console (``LineFormat``); ``LINE_FORMAT`` is the same
text in loguru's format syntax, for a reader of the code.
"""

from __future__ import annotations

import re
import sys
import time
from typing import Any

_TIME = "{time:YYYY-MM-DDTHH:mm:ss.SSS!UTC}Z"
LINE_FORMAT = _TIME + " | {level} | {extra[symbol]} | {message}\n{exception}"
Key = tuple[str | None, str | None]
"""The file of an actor's lines: (symbol, account); None for the part a line does not name."""
Pending = tuple[float, float, str, Any, Any, str]
"""A queued line: monotonic time queued, epoch time queued, level, symbol, account, message."""
_MAX_TAGS = 10_000
"""Tags cached (one per actor); more distinct (symbol, account) pairs: the cache starts over."""
_STAMP_START = re.compile(r"^(?=\d{4}-)", re.MULTILINE)


def escaped(text: str) -> str:
    """``text`` with every character that is not printable escaped (``\\n``, ``\\x1b``): a
    newline in a value from outside (an exchange's error page, a symbol) would start a forged
    line, a carriage return or an ANSI escape would rewrite a terminal's line."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def say(text: str) -> None:
    """``text`` and its newline to stderr in one write. ``print`` writes the two apart, and with
    the stream unbuffered (PYTHONUNBUFFERED, ``python -u``) the console log thread's line could
    land between them: two lines run together, the next one starting after the first's text."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def traceback_text(text: str) -> str:
    """A traceback's lines, each `escaped`; a line that starts like a log line's
    time (an exception message's second line) is indented, so it never reads as a line."""
    lines = [escaped(line) for line in text.split("\n")]
    return _STAMP_START.sub("  ", "\n".join(lines))


class UtcClock:
    """``2026-11-21T07:03:49.123Z`` from an epoch, caching the last millisecond's text (the
    lines of a batch mostly share it) and the last second's. Used under the streams' write
    lock, one batch at a time."""

    def __init__(self) -> None:
        self._ms = -1
        self._stamp = ""
        self._second = -1
        self._second_text = ""

    def format(self, epoch: float) -> str:
        ms = int(epoch * 1000)
        if ms == self._ms:
            return self._stamp
        second, part = divmod(ms, 1000)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        self._ms, self._stamp = ms, f"{self._second_text}.{part:03d}Z"
        return self._stamp


class LineFormat:
    """A queued line's bytes for ``bot.log`` and the key of its actor's file."""

    def __init__(self) -> None:
        self._clock = UtcClock()
        self._tags: dict[tuple[Any, Any], tuple[Key | None, str]] = {}

    def __call__(self, item: Pending) -> tuple[Key | None, bytes]:
        """The line and its actor's file key (None: the line goes to bot.log only)."""
        _, epoch, level, symbol, account, message = item
        try:
            key, tag = self._tags[symbol, account]
        except (KeyError, TypeError):  # TypeError: an unhashable value bound as the symbol
            key, tag = self._tag(symbol, account)
        line = f"{self._clock.format(epoch)} | {level}{tag}{message}"
        return key, line.encode("utf-8", "backslashreplace")

    def _tag(self, symbol: Any, account: Any) -> tuple[Key | None, str]:
        """The file key and `` | <tag> | `` of a (symbol, account) pair, cached."""
        key: Key | None = None
        tag = "-" if symbol is None else escaped(str(symbol))
        if account is not None:
            tag = f"{escaped(str(account))} {tag}"
            key = (None if symbol is None else str(symbol), str(account))
        elif symbol is not None:
            key = (str(symbol), None)
        if len(self._tags) >= _MAX_TAGS:
            self._tags.clear()
        found = (key, f" | {tag} | ")
        try:
            self._tags[symbol, account] = found
        except TypeError:
            pass  # unhashable: built again for its next line
        return found
