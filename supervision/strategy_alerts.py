"""The `strategy_failed` alert, at most one per window for the whole account.

A strategy that raises is off for its symbol (actors/strategy_guard.py) and the first failure of
each symbol's streak is alerted. A bug in the strategy's code meets every symbol within seconds,
so that was one alert per symbol (500 on a large account, found by review), queued in the same
Telegram class as the escalations, which then waited behind them. Now the first is alerted at
once; the symbols failing after it within WINDOW_S are held and alerted together in one
message once the window has passed (the supervisor's heartbeat calls `tick`). Each symbol's own
ERROR line, journal row and status field are unchanged."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

WINDOW_S = 600.0
"""At most one strategy_failed alert per this many seconds."""
NAMED = 20
"""Symbols named in a held alert (the rest counted)."""


class StrategyAlerts:
    def __init__(self, alerts: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.alerts = alerts
        self.clock = clock
        self._last: float | None = None
        self._held: dict[str, str] = {}

    def failed(self, symbol: str, text: str) -> None:
        now = self.clock()
        if self._last is None or now - self._last >= WINDOW_S:
            self._last = now
            self.alerts.alert(symbol, "strategy_failed", text)
        else:
            self._held.setdefault(symbol, text)

    def tick(self) -> None:
        if not self._held or self._last is None or self.clock() - self._last < WINDOW_S:
            return
        symbols = sorted(self._held)
        first = self._held[symbols[0]]
        named = ", ".join(symbols[:NAMED]) + (f" and {len(symbols) - NAMED} more"
                                              if len(symbols) > NAMED else "")
        self._held.clear()
        self._last = self.clock()
        self.alerts.alert(None, "strategy_failed",
                          f"the strategy failed on {len(symbols)} more symbol(s) since the last "
                          f"such alert: {named}; {symbols[0]}: {first}")
