"""What the status dump says of the emergency closes (runtime/emergency.py): every close owed
(`owed_closes`), the runs of each owed close this process made (failed runs, last error, next
try) and the closes sent whose fill is not booked yet. Written by the closer's threads, read
by the status round: every access under one lock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from storage.commit_sql import EMERGENCY_OWED as OWED
from storage.models import Meta


def owed_closes() -> dict[str, str]:
    """Inside `repo.read`: symbol -> reason of every close owed, listed symbols or not. One
    range read of the meta keys."""
    after = OWED[:-1] + chr(ord(OWED[-1]) + 1)  # the first key past the prefix
    rows = Meta.select().where((Meta.key > OWED) & (Meta.key < after) & (Meta.value != ""))
    return {row.key.removeprefix(OWED): row.value for row in rows}


class CloseStatus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._unbooked: dict[str, dict[str, Any]] = {}  # symbol -> close sent, fill not booked
        self._tries: dict[str, dict[str, Any]] = {}
        """symbol -> this process's runs of its owed close: failed, error, next_at."""

    def noted(self, symbol: str, **change: Any) -> None:
        """Update the symbol's runs (failed=True counts one more failed run)."""
        with self._lock:
            t = self._tries.setdefault(symbol, {})
            if change.pop("failed", False):
                t["failed"] = t.get("failed", 0) + 1
            t.update(change)

    def forget(self, symbol: str) -> None:
        """The symbol's close is no longer owed: its runs are not shown."""
        with self._lock:
            self._tries.pop(symbol, None)

    def owed_status(self, owed: dict[str, str], symbols: list[str],
                    escalations: list[dict[str, Any]], active: set[str]) -> list[dict[str, Any]]:
        """The status dump's `emergency_closes_owed`: one entry per close owed (`owed`, as
        `owed_closes` read it), listed symbols or not (found by review: the dump showed none,
        a person could not see that a position was owed a close). `since`: the symbol's oldest
        open escalation (the close is owed with it); `running`: in `active`; `failed_runs`,
        `last_error` and `next_retry_at` as this process knows them (nothing yet after a
        start)."""
        with self._lock:
            tries = {sym: dict(t) for sym, t in self._tries.items()}
        out = []
        for sym, reason in sorted(owed.items()):
            t = tries.get(sym, {})
            opened = [e["time"] for e in escalations if e.get("symbol") == sym]
            out.append({"symbol": sym, "reason": reason, "since": min(opened, default=None),
                        "listed": sym in symbols, "running": sym in active,
                        "failed_runs": t.get("failed", 0), "last_error": t.get("error"),
                        "next_retry_at": t.get("next_at")})
        return out

    def sent_not_booked(self, symbol: str, sent: list[str], ended: float) -> None:
        """A close sent whose `done` reached no running actor of the symbol."""
        with self._lock:
            self._unbooked[symbol] = {"symbol": symbol, "sent_at": ended, "orders": sent}

    def not_booked(self, runs: Callable[[str, float], bool]) -> list[dict[str, Any]]:
        """The status dump's `emergency_closes_not_booked`: closes sent whose fill waits for the
        symbol's actor; one dropped once `runs(symbol, sent_at)`: its actor runs again (its
        start reconciles) or a reconcile-only run reconciled it since."""
        with self._lock:
            for symbol in [sym for sym, e in self._unbooked.items() if runs(sym, e["sent_at"])]:
                del self._unbooked[symbol]
            return [dict(entry) for _, entry in sorted(self._unbooked.items())]
