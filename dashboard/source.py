"""What the dashboard reads: the status snapshot (``status.json``, the file ``status --json``
reads) and each account's database (ledger, journal, control table).

It holds no reference to actors or the supervisor, so the same source works from another
process (e.g. one dashboard for several ``--workers``): give it the data dir and a Repository
per account database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from supervision.status import read_status


class AccountNotReady(Exception):
    """The account's database cannot be read yet (its worker has not created it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountHandle:
    name: str
    symbols: tuple[str, ...]
    repo: Any
    """The account's storage.repository.Repository (reads, and the control table)."""
    capital: Decimal
    """Where the equity curve starts (protections.capital_usdt or the paper balance)."""
    log_path: Callable[[str], Path]
    """A symbol's log file."""
    takes_close: bool = True
    """False for a hedge-grid account: its symbols trade their own levels and skip a close."""
    protections: tuple[str, ...] | None = None
    """The protections the account runs (``[protections]``); None: not known, any is taken."""


STALE_AFTER_S = 15.0
"""A heartbeat older than this (at least) means the bot is not updating its status."""


def stale_after(status_interval_s: float) -> float:
    """When the page calls the bot's heartbeat stale: 5 missed status writes, at least 15 s."""
    return max(STALE_AFTER_S, 5 * status_interval_s)


class DashboardSource:
    def __init__(self, *, data_dir: Path, accounts: list[AccountHandle],
                 running: Callable[[], bool], stale_after_s: float = STALE_AFTER_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.data_dir = data_dir
        self.accounts = {a.name: a for a in accounts}
        self.running = running
        self.stale_after_s, self.clock = stale_after_s, clock

    def status(self) -> dict[str, Any] | None:
        """``status.json`` with ``bot.running`` from the lock, and the heartbeat's age as this
        host's clock sees it (``bot.heartbeat_age_s``, ``bot.heartbeat_stale``: a browser's
        clock on another machine may be off)."""
        status = read_status(self.data_dir)
        if status is not None:
            bot = status["bot"]
            bot["running"] = self.running()
            beat = bot.get("heartbeat_at")
            age = None if beat is None else round(max(self.clock() - float(beat), 0.0), 1)
            bot["heartbeat_age_s"] = age
            bot["heartbeat_stale"] = age is None or age > self.stale_after_s
        return status

    def account(self, name: str | None) -> AccountHandle:
        """The named account, or the only one; KeyError with the choices otherwise."""
        if name is None and len(self.accounts) == 1:
            return next(iter(self.accounts.values()))
        if name not in self.accounts:
            raise KeyError(f"account: unknown {name!r} (choose from: {', '.join(self.accounts)})")
        return self.accounts[name]
