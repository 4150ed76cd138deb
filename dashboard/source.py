"""What the dashboard reads: the status snapshot (``status.json``, the file ``status --json``
reads) and each account's database (ledger, journal, control table).

It holds no reference to actors or the supervisor, so the same source works from another
process (e.g. one dashboard for several ``--workers``): give it the data dir and a Repository
per account database.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from supervision.status import AHEAD_TOLERANCE_S, STATUS_FILE, read_status


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


def _time(value: Any) -> float | None:
    """Epoch seconds, or None for what is not a finite number."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) else None


class DashboardSource:
    def __init__(self, *, data_dir: Path, accounts: list[AccountHandle],
                 running: Callable[[], bool], stale_after_s: float = STALE_AFTER_S,
                 clock: Callable[[], float] = time.time, log: Any = logger) -> None:
        self.data_dir = data_dir
        self.accounts = {a.name: a for a in accounts}
        self.running = running
        self.stale_after_s, self.clock = stale_after_s, clock
        self.log = log
        self._told: str | None = None
        self._told_lock = threading.Lock()

    def status(self) -> dict[str, Any] | None:
        """``status.json`` (see ``read``); None before the bot wrote it or while unreadable."""
        return self.read()[0]

    def read(self) -> tuple[dict[str, Any] | None, str | None]:
        """``status.json`` with ``bot.running`` from the lock, and the heartbeat's age as this
        host's clock sees it (``bot.heartbeat_age_s``, ``bot.heartbeat_stale``: a browser's
        clock on another machine may be off); or None and why not (None: not written yet). A
        file that cannot be read or is not a status (a hand edit, a damaged disk: not JSON,
        nested too deep, ``bot`` not an object, a heartbeat that is no time) is one line naming
        it, logged once per problem; the page and the metrics go on without it."""
        path = self.data_dir / STATUS_FILE
        try:
            status = read_status(self.data_dir, constants_as_text=True)
        except (OSError, ValueError) as exc:  # JSONDecodeError, UnicodeDecodeError: ValueErrors
            reason = (exc.strerror or exc) if isinstance(exc, OSError) else f"not valid JSON: {exc}"
            return None, self._unreadable(f"{path}: cannot read the status ({reason})")
        if status is None:
            return None, None
        bot = status.get("bot") if isinstance(status, dict) else None
        if not isinstance(bot, dict):
            return None, self._unreadable(f"{path}: not a status ('bot' is not an object)")
        beat = bot.get("heartbeat_at")
        at = _time(beat)
        if beat is not None and at is None:
            return None, self._unreadable(
                f"{path}: not a status (bot.heartbeat_at {str(beat)[:40]!r} is not a time)")
        with self._told_lock:
            self._told = None
        written_running = bot.get("running") is not False
        bot["running"] = self.running()
        age = None if at is None else self.clock() - at
        ahead = age is not None and age < -AHEAD_TOLERANCE_S  # stale: was 0 s old until then
        bot["heartbeat_age_s"] = None if age is None else round(age if ahead else max(age, 0), 1)
        bot["heartbeat_stale"] = age is None or ahead or age > self.stale_after_s
        # as `bot.py status` says it (runtime/status_cli.py): not running, ended without its
        # final snapshot; running, its heartbeat stale
        bot["stale"] = bot["heartbeat_stale"] if bot["running"] else written_running
        return status, None

    def _unreadable(self, problem: str) -> str:
        with self._told_lock:
            told, self._told = self._told, problem
        if told != problem:
            self.log.warning("dashboard: {}", problem)
        return problem

    def account(self, name: str | None) -> AccountHandle:
        """The named account, or the only one; KeyError with the choices otherwise."""
        if name is None and len(self.accounts) == 1:
            return next(iter(self.accounts.values()))
        if name not in self.accounts:
            raise KeyError(f"account: unknown {name!r} (choose from: {', '.join(self.accounts)})")
        return self.accounts[name]
