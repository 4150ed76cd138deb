"""`--journal FILE`: every decision of the backtest committed to a bot database, the same rows
(state, journal, ledger, order intents) the running bot writes, for inspection with the same
queries. Timestamps are market time. Off by default: it puts SQLite (and the repository's
writer thread) into the hot path. The backtest's MemoryRepository forwards its commits here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from backtest.candles import DataError
from storage.errors import StorageError
from storage.repository import Repository
from trading.decision import Decision


class JournalSink:
    def __init__(self, path: Path) -> None:
        if path.exists():
            raise DataError(f"--journal {path}: the file exists; give a new file")
        self.now = 0.0
        try:  # one line naming the option, not a traceback (found by review: StorageError's)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.repo = Repository(path, synchronous="normal", clock=lambda: self.now)
        except (OSError, StorageError) as exc:
            raise DataError(f"--journal {path}: cannot create the database "
                            f"({_reason(exc, path)})") from None
        self._count = 0
        self._last_in = ""

    def claim(self, symbol: str) -> int:
        return self.repo.claim(symbol)

    def _correlation(self, given: str) -> str:
        """Deterministic ids, unlike the bot's random ones; the decisions of one message keep
        sharing one."""
        if given != self._last_in or not given:
            self._last_in = given
            self._count += 1
        return f"bt-{self._count:09d}"

    def commit(self, symbol: str, incarnation: int, before: Any, decision: Decision, *,
               correlation_id: str, created_at: float, store: Any) -> None:
        self.now = created_at
        self.repo.commit(symbol, incarnation, before, decision, correlation_id=self._correlation(
            correlation_id), created_at=created_at, store=store)

    def record(self, symbol: str, type_: str, data: dict[str, Any], *, correlation_id: str,
               created_at: float) -> None:
        self.now = created_at
        self.repo.record(symbol, type_, data, correlation_id=self._correlation(correlation_id),
                         created_at=created_at)

    def close(self) -> None:
        self.repo.close()


def _reason(exc: OSError | StorageError, path: Path) -> str:
    """Why the journal could not be created, without the path the line names already."""
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return f"its folder {path.parent} cannot be made: a file is in the way"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc).removeprefix(f"{path}: ")
