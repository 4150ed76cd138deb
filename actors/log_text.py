"""Log arguments whose text is built only when a log line is actually written.

loguru formats a message only when some sink takes its level; an argument that is expensive to
turn into text (a journal record's data: a dict of plain values, ~6 us) is wrapped so that a
filtered-out line (debug/info in the backtest and in most runs) costs one small object.
"""

from __future__ import annotations

from typing import Any


class LazyData:
    """`"{}".format(LazyData(x))` is `"{}".format(x.data)`: the same text, built on demand."""

    __slots__ = ("_owner",)

    def __init__(self, owner: Any) -> None:
        self._owner = owner

    def __format__(self, spec: str) -> str:
        return format(self._owner.data, spec)

    def __str__(self) -> str:
        return str(self._owner.data)

    def __repr__(self) -> str:
        return repr(self._owner.data)
