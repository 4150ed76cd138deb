"""The dashboard of `bot.py run --workers N`, served by the parent process.

The dashboard reads only `status.json` and each account's database, and writes only control
rows (dashboard/source.py), so the parent, which merges the workers' snapshots into
`status.json`, serves it for every account while the workers trade: one port, one token, as
with one process. A control (pause, close, resume, ...) is a row in the account's database
that the worker running it applies at its next round (bot.status_interval_s), as `bot.py signal` is.

Each account's database is opened on the first request that needs it, once it exists (its
worker creates it on first start; PostgreSQL is opened at once); before that such a request
answers 503 naming the account. `/metrics` carries what the status snapshot holds (positions,
protection, P&L, restarts, mailboxes, and whether each account's worker is alive and current);
the actors' hot-path histograms and the exchange call counters live in the workers' processes
and are not exported here.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from dashboard.source import AccountHandle, AccountNotReady, DashboardSource, stale_after
from dashboard.wiring import build_dashboard, symbol_logs
from observability.metrics import BotMetrics
from protections.guard import build_checks
from protections.wiring import capital_base
from storage.opening import open_repository
from storage.repository import Repository
from supervision.instance_lock import is_locked


class LazyRepository:
    """An account's repository, opened on first use (reads, and the control table's writer)."""

    def __init__(self, settings: Any, name: str) -> None:
        self.settings = settings
        self.name = name
        self.path = settings.resolve(settings.storage.path)
        self._repo: Repository | None = None
        self._lock = threading.Lock()

    def _open(self) -> Repository:
        with self._lock:
            if self._repo is None:
                if not self.settings.storage.url and not Path(self.path).exists():
                    raise AccountNotReady(f"account {self.name}: its database does not exist "
                                          "yet (its worker has not started it)")
                self._repo = open_repository(self.settings.storage, path=self.path,
                                             account=self.name)
            return self._repo

    def read(self, query: Any, *args: Any) -> Any:
        return self._open().read(query, *args)

    @property
    def writer(self) -> Any:
        return self._open().writer

    def close(self) -> None:
        with self._lock:
            if self._repo is not None:
                self._repo.close()
                self._repo = None


class ParentDashboard:
    def __init__(self, *, settings: Any, data_dir: Path, logger: Any) -> None:
        accounts = settings.account_settings()
        self.repos = [LazyRepository(a, a.bot.account) for a in accounts]
        handles = [
            AccountHandle(name=repo.name, symbols=tuple(a.symbol_list), repo=repo,
                          capital=capital_base(a),
                          log_path=symbol_logs(data_dir, repo.name, settings.has_accounts),
                          takes_close=a.strategy.name != "hedge_grid",
                          protections=tuple(c.name for c in build_checks(a.protections,
                                                                         capital_base(a))))
            for a, repo in zip(accounts, self.repos, strict=True)
        ]
        self.source = DashboardSource(data_dir=data_dir, accounts=handles,
                                      running=lambda: is_locked(data_dir / "bot.lock"),
                                      stale_after_s=stale_after(settings.bot.status_interval_s))
        self.metrics = BotMetrics(snapshot=self.source.status, running=self.source.running,
                                  accounts=tuple(self.source.accounts))
        self.server = build_dashboard(settings, self.source, self.metrics.render, logger)

    @property
    def url(self) -> str | None:
        return self.server.url if self.server is not None else None

    def start(self) -> None:
        if self.server is not None:
            self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        for repo in self.repos:
            repo.close()
