"""What one bot process runs: the whole bot (the default) or one worker of `run --workers N`.

A worker runs a subset of the accounts with the same code as the one-process bot (runtime/runner.py
`Bot`), but the parent owns what exists once per data dir: the instance lock `bot.lock`, the
main log `logs/bot.log` and `status.json`. So a worker takes only its accounts' locks, writes its
whole log to `logs/worker-<k>.log` (its accounts' per-symbol files are its alone, since each
account lives in exactly one worker: no file is written by two processes) and its status to
`status.worker-<k>.json`, which the parent merges into `status.json`."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from supervision.status import STATUS_FILE

MAIN_LOG = "bot.log"
PARENT_POLL_S = 0.5
"""How often a worker checks that its parent still lives (a parent killed by SIGKILL)."""
BEAT_FD_ENV = "BOT_WORKER_BEAT_FD"
"""The write end of the pipe a worker's heartbeat goes to (the parent passes it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessRole:
    worker: int | None = None
    """The worker's number (1..N); None for the whole bot in one process."""
    accounts: tuple[str, ...] | None = None
    """The accounts this process runs; None: every configured account."""
    parent_pid: int | None = None
    """The parent's PID: a worker stops gracefully when its parent is gone."""
    budget_split: tuple[tuple[str, int], ...] = ()
    """Account -> how many worker processes trade on its venue and API host (`venue_split`):
    the venue's per-IP limit is shared by all of them, so each takes its part of
    `exchange.rate_budget_share`."""

    @property
    def is_worker(self) -> bool:
        return self.worker is not None

    @property
    def main_log(self) -> str:
        return MAIN_LOG if self.worker is None else worker_log_name(self.worker)

    @property
    def status_file(self) -> str:
        return STATUS_FILE if self.worker is None else worker_status_name(self.worker)

    def runs(self, account: str) -> bool:
        return self.accounts is None or account in self.accounts

    def budgeted(self, account: Any) -> Any:
        """`account`'s settings with its part of the venue budget: rate_budget_share divided
        by the number of worker processes on its venue and host (1: unchanged)."""
        split = dict(self.budget_split).get(account.bot.account, 1)
        if split <= 1:
            return account
        exchange = account.exchange.model_copy(
            update={"rate_budget_share": account.exchange.rate_budget_share / split})
        return account.model_copy(update={"exchange": exchange})


def budget_venue(exchange_id: str, api_url: str, *, sandbox: bool = False,
                 demo: bool = False) -> tuple[str, str]:
    """The venue budget an account's requests are paid from, as the gateway keys it: the
    venue's limits (exchange.id 'binance' and 'binanceusdm' are one venue) and the API host
    (`budget_host` of the api_url: one key for every spelling of a host; without one, the
    venue's testnet or demo host is not its live host, as in exchange/ccxt/gateway.py)."""
    from exchange.budget_venues import budget_host, limits_for

    venue = limits_for(exchange_id, 50).venue
    host = budget_host(venue, api_url)
    if not api_url and (sandbox or demo):
        host = "(demo)" if demo else "(sandbox)"
    return venue, host


def account_venue(account: Any) -> tuple[str, str]:
    """`budget_venue` of an account's settings."""
    e = account.exchange
    return budget_venue(e.id, e.api_url, sandbox=e.sandbox, demo=e.demo)


def venue_split(venues: dict[str, tuple[str, str]],
                plan: list[tuple[str, ...]]) -> dict[str, int]:
    """Account -> the number of worker processes holding an account on the same venue and API
    host (`venues`: account -> (exchange id, api_url)). Each worker has its own rate budget
    (one per process), while the venue's limit is per IP: without a split, N workers on one
    venue would together spend N times `exchange.rate_budget_share` of it."""
    per_worker = [{venues[a] for a in accounts} for accounts in plan]
    return {a: sum(venues[a] in held for held in per_worker) for a in venues}


def worker_log_name(index: int) -> str:
    return f"worker-{index}.log"


def worker_status_name(index: int) -> str:
    return f"status.worker-{index}.json"


def watch_parent(role: ProcessRole, stop: threading.Event, log: Any) -> threading.Thread | None:
    """A worker whose parent died (reparented: getppid changed) stops like on SIGTERM, so its
    account locks are free for the next parent's workers; nothing is left trading unseen."""
    if role.parent_pid is None:
        return None
    parent = role.parent_pid

    def watch() -> None:
        while not stop.wait(PARENT_POLL_S):
            if os.getppid() != parent:
                log.warning("parent process {} is gone; worker {} stops", parent, role.worker)
                stop.set()
                return

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread


def open_beat(role: ProcessRole) -> Callable[[], None]:
    """A worker's heartbeat: one byte down its parent's pipe per pass of the run loop. The
    parent takes the first as "started" and a long silence as hung (runtime/workers.py); no
    disk write, so a full disk or a read-only data dir never looks like a hang. A no-op for the
    one-process bot."""
    value = os.environ.pop(BEAT_FD_ENV, "")
    if not role.is_worker or not value.isdigit():
        return lambda: None
    fd = int(value)
    try:
        os.set_blocking(fd, False)
        os.set_inheritable(fd, False)  # not for the alert command's processes
    except OSError:
        return lambda: None

    def beat() -> None:
        try:
            os.write(fd, b".")
        except OSError:
            pass  # a full pipe (the parent reads it soon) or a gone parent (watch_parent stops)

    return beat
