"""`--journal FILE`: every decision of the backtest committed to a bot database, the same rows
(state, journal, ledger, order intents) the running bot writes, for inspection with the same
queries. Timestamps are market time. Off by default: it puts SQLite (and the repository's
writer thread) into the hot path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backtest.candles import DataError
from storage.repository import Repository


class JournalSink:
    def __init__(self, path: Path) -> None:
        if path.exists():
            raise DataError(f"--journal {path}: the file exists; give a new file")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.now = 0.0
        self.repo = Repository(path, synchronous="normal", clock=lambda: self.now)
        self._incarnation: dict[str, int] = {}
        self._count = 0

    def __call__(self, symbol: str, before: Any, decision: Any, now: float, grid: bool) -> None:
        self.now = now
        incarnation = self._incarnation.get(symbol)
        if incarnation is None:
            incarnation = self._incarnation[symbol] = self.repo.claim(symbol)
        self._count += 1
        correlation = f"bt-{self._count:09d}"  # deterministic, unlike the bot's random ids
        commit = self.repo.commit_grid if grid else self.repo.commit
        commit(symbol, incarnation, before, decision, correlation_id=correlation, created_at=now)

    def close(self) -> None:
        self.repo.close()
