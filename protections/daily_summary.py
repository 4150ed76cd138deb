"""The daily summary of the trade notices (`telegram.notify_trades`): one per UTC day, also for
the day that ended while the bot was down.

A pass that sees the UTC day change sends the summary of the day that ended. A bot stopped
before midnight and started after it saw no change, and that day's summary was never sent
(found by review: a person relying on it silently missed the day). The last day summed up is
stored (a meta row), so the first pass with notices wired sends yesterday's summary when no run
did, and a restart later that day does not send it again. Only yesterday's: a bot down for
several days sends no summary of the days before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from observability.error_text import describe
from protections.ledger_feed import DAY_S, LedgerTotals
from storage.restore import finite_time
from supervision.status import EQUITY_LABEL

SUMMARY_KEY = "daily_summary_day"
"""00:00 UTC (a timestamp) of the last day whose summary was sent."""
UNREAD = object()


class DailySummaries:
    def __init__(self, repo: Any, log: Any) -> None:
        self.repo, self.log = repo, log
        self._last: Any = UNREAD
        """The last day summed up; None: none stored (a new bot, or one of an older version)."""

    def send(self, on_trade: Callable[[str], None], totals: LedgerTotals, day: float,
             net: Decimal, late: bool = False) -> None:
        """The summary of ``day`` (its net ``net``), unless it was sent already."""
        last = self._stored()
        if last is not None and last >= day:
            return
        when = " (sent at start: the bot was down at midnight)" if late else ""
        on_trade(f"daily summary {time.strftime('%Y-%m-%d', time.gmtime(day))}{when}: "
                 f"realized {net:.2f} USDT; total {totals.net:.2f}, {EQUITY_LABEL} "
                 f"{totals.equity:.2f}, {totals.wins}W/{totals.draws}D/{totals.losses}L")
        self._mark(day)

    def owed(self, on_trade: Callable[[str], None], totals: LedgerTotals) -> None:
        """Yesterday's summary when no run sent it. With none stored, whether it was sent is
        not known: none is sent, and yesterday counts as summed up from here on."""
        yesterday = totals.day - DAY_S
        last = self._stored()
        if last is None:
            self._mark(yesterday)
        elif last < yesterday:
            self.send(on_trade, totals, yesterday, totals.prev_day_net, late=True)

    def _stored(self) -> float | None:
        if self._last is UNREAD:
            raw = self.repo.get_meta(SUMMARY_KEY)  # a database away: the pass fails, tried again
            try:
                self._last = finite_time(raw) if raw else None
            except (ValueError, TypeError, OverflowError) as exc:
                self.log.error("protections: stored meta row '{}' {!r} unreadable ({}); "
                               "no summary of a day missed is sent", SUMMARY_KEY, raw, exc)
                self._last = None
        return None if self._last is None else float(self._last)

    def _mark(self, day: float) -> None:
        self._last = day
        try:
            self.repo.set_meta(SUMMARY_KEY, repr(day))
        except Exception as exc:  # noqa: BLE001 - the summary is sent; one line says the rest
            self.log.error("protections: the daily summary was sent but not stored ({}); a "
                           "restart today sends it again", describe(exc))
