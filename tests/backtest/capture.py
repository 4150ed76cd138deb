"""A repository stand-in for comparing backtests: it keeps every commit and journal record as
the repository receives them (a `backtest.memory_repo.Forward`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trading.decision import Decision


@dataclass
class Capture:
    """Every commit and record, in order."""

    commits: list[tuple[Any, ...]] = field(default_factory=list)

    def claim(self, symbol: str) -> int:
        return 1

    def commit(self, symbol: str, incarnation: int, before: Any, decision: Decision, *,
               correlation_id: str, created_at: float, store: Any) -> None:
        # dataclass equality leaves last_price out (a tick alone is not a change): compare it
        self.commits.append((created_at, symbol, before, before.last_price, decision,
                             decision.state.last_price, decision.state.finished_orders))

    def record(self, symbol: str, type_: str, data: dict[str, Any], *, correlation_id: str,
               created_at: float) -> None:
        self.commits.append((created_at, symbol, type_, data))
