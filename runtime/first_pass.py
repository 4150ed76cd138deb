"""The protections' first pass at an account's start, before any of its actors runs.

The first pass replays the whole stored ledger into the daily loss limit, the drawdown and the
stop-loss guard. It ran on the run loop, after the actors had started: a bot that died between
booking the loss that crossed a limit and its next pass (~1 s later) admitted entries at the
next start until that replay finished, and a hedge grid opened its legs within milliseconds
(found by review). The account's build now runs it before any actor starts; one that fails
holds every entry (`LedgerJudged`) until a run-loop pass succeeds, and the bot runs on: its
actors still manage the open positions and their stops.
"""

from __future__ import annotations

import time
from typing import Any

from observability.error_text import describe


class LedgerJudged:
    """An EntryCheck of the account's gate, asked before the guard: it refuses every entry while
    no protections pass has judged the stored ledger (a tripped limit in it is not known)."""

    name = "protections"

    def __init__(self, guard: Any) -> None:
        self.guard = guard

    def refuse(self, symbol: str, now: float) -> str | None:
        if self.guard.judged:
            return None
        return "the stored ledger is not judged yet (its first pass failed: see the log)"


def judge_stored_ledger(guard: Any, log: Any, account: str) -> None:
    """The guard's first pass (alerts, journal rows and saved state as any pass), said with what
    it cost; one that fails is said with its traceback, and the run loop's passes try again."""
    started = time.monotonic()
    try:
        guard.tick()
    except Exception as exc:  # noqa: BLE001 - the account starts; entries wait for a pass
        log.opt(exception=exc).error(
            "protections of account {}: the first pass over the stored ledger failed: {}; "
            "entries are refused until a pass succeeds", account, describe(exc))
        return
    log.info("protections of account {}: the stored ledger (to row {}) judged in {:.2f} s",
             account, guard.totals.last_fill_id, time.monotonic() - started)
