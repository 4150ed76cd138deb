"""Each symbol's restart history (supervision/restart_policy.py `RestartHistory`), kept across
restarts of the bot.

Found by review: the history that decides the backoff, the `crash_loop` alert and the escalation
lived in memory only. A bot restarted by its service manager after each crash started every
symbol from nothing, so a symbol that failed in every run (its start failing, its actor
crashing) was restarted for ever and never escalated: the history is state the rules need after
a restart (INCIDENTS.md rule 2), like the restart count beside it.

It is stored by the supervisor's record keeper after each failure (best effort, off the
supervisor's thread: supervision/record_keeper.py), one meta row per symbol, with wall-clock
times: a monotonic clock starts over with the process. Read back at start, those times are
placed on the new process's monotonic clock; a time ahead of the wall clock (it stepped back
meanwhile) counts as now, so no failure stays in the window longer than it would have.
A value that cannot be read is one WARNING line naming its symbol, whose history starts empty;
every other symbol's is kept. A person's resume clears it, as it clears the one in memory.
Only failures the supervisor saw are kept: a process killed as a whole names no symbol.
"""

from __future__ import annotations

import json
import math
from collections import deque
from typing import Any

from observability.error_text import describe
from supervision.restart_policy import RestartHistory

KEY_PREFIX = "restart_history:"
"""Meta key of a symbol's history: this prefix and the symbol."""


def history_key(symbol: str) -> str:
    return KEY_PREFIX + symbol


def dump(history: RestartHistory, wall_now: float, mono_now: float) -> str:
    """The history as stored (its monotonic times as wall-clock ones)."""

    def wall(mono: float) -> float:
        return wall_now - (mono_now - mono)

    last = history.last_failure_at
    return json.dumps({
        "failures": [wall(t) for t in history.failures],
        "consecutive": history.consecutive,
        "last_failure_at": None if last is None else wall(last),
        "loop_told": history.loop_told,
    })


def _stored_rows() -> dict[str, str]:
    from storage.database import Meta

    rows = Meta.select(Meta.key, Meta.value).where(Meta.key.startswith(KEY_PREFIX))
    # LIKE reads "_" as any character (and is case-blind on PostgreSQL): the prefix checked here
    return {row.key[len(KEY_PREFIX):]: row.value for row in rows
            if row.key.startswith(KEY_PREFIX)}


def stored_histories(repo: Any, symbols: list[str], wall_now: float, mono_now: float,
                     log: Any) -> dict[str, RestartHistory]:
    """The stored history of each of `symbols` that has one (see the module's text)."""
    try:
        rows = repo.read(_stored_rows)
    except Exception as exc:  # noqa: BLE001 - no reason not to start: one line, from nothing
        log.warning("stored restart histories not read ({}); every symbol's starts empty",
                    describe(exc))
        return {}
    histories = {}
    for symbol in symbols:
        raw = rows.get(symbol)
        if not raw:
            continue
        try:
            histories[symbol] = _load(raw, wall_now, mono_now)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            log.bind(symbol=symbol).warning(
                "meta {} = {!r} cannot be read ({}); its restart history starts empty",
                history_key(symbol), raw[:200], describe(exc))
    return histories


def _load(raw: str, wall_now: float, mono_now: float) -> RestartHistory:
    data = json.loads(raw)

    def mono(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{value!r} is not a time")
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a time")
        return mono_now - max(wall_now - value, 0.0)  # one ahead of the clock: now

    consecutive = data["consecutive"]
    if isinstance(consecutive, bool) or not isinstance(consecutive, int) or consecutive < 0:
        raise ValueError(f"consecutive = {consecutive!r} is not a count")
    last = data["last_failure_at"]
    return RestartHistory(
        failures=deque(sorted(mono(t) for t in data["failures"])),
        consecutive=consecutive,
        last_failure_at=None if last is None else mono(last),
        loop_told=bool(data["loop_told"]),
    )
