"""`[protections]` in a backtest: the running bot's checks (protections/checks.py), fed from the
backtest's own ledger in market time.

The running bot judges the stored ledger on its run loop, every `bot.status_interval_s`
(protections/guard.py), and the one entry gate asks each check before every entry. Here the
same checks sit in the backtest's entry gate, and `ProtectionsReplay` brings their totals
(protections/ledger_feed.py `LedgerTotals`, the same bookkeeping) up to the fills of each price
point right after that point, at its market time: a trip stops the next entry after the fill
that caused it, where the running bot would stop entries at its next pass (up to one status
interval later). A trip is journaled as the bot journals it
(`ProtectionTripped`, on the symbol or `*` for the account) and listed in the report. The
rules are the checks' own: the daily loss limit clears at 00:00 UTC of the market time, the
stop-loss guard's pause ends `stoploss_guard_pause_s` after the last stop-out, the drawdown
limit holds to the end (nobody resets it in a backtest).

Found by review: the backtest ignored `[protections]` (said in the report as "not simulated"),
so a strategy whose live runs pause after losses was judged on trades the bot would not make.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protections.guard import ACCOUNT_SUBJECT, build_checks
from protections.ledger_feed import DAY_S, LedgerTotals, day_start
from protections.wiring import capital_base

PROTECTION_KEYS = ("daily_loss_limit_usdt", "daily_loss_limit_pct", "max_drawdown_usdt",
                   "max_drawdown_pct", "stoploss_guard_count")
CLOSES = ("PositionClosed", "LegClosed")


@dataclass(frozen=True, slots=True)
class TripSeen:
    """A protection that tripped during the run, for the report."""

    at: float
    name: str
    symbol: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"at": self.at, "protection": self.name, "symbol": self.symbol,
                "reason": self.reason}


def configured(settings: Any) -> list[str]:
    """The `[protections]` keys a config sets (none: the replay runs without them)."""
    p = settings.protections
    return [f"protections.{k}" for k in PROTECTION_KEYS if getattr(p, k)]


class ProtectionsReplay:
    """One backtest account's protections: its checks (for the entry gate) and their totals."""

    def __init__(self, settings: Any, repo: Any) -> None:
        base = capital_base(settings)
        self.checks: list[Any] = build_checks(settings.protections, base)
        """The checks (`EntryCheck`s for the gate, with `evaluate` for the totals)."""
        self.totals = LedgerTotals(base=base)
        self.repo = repo
        self.trips: list[TripSeen] = []
        self._ledger = 0
        """Ledger rows (repo.ledger) already handed to the totals."""
        self._journal = 0
        """Journal rows (repo.journal) already looked at for closed positions."""
        self._next_day = float("-inf")
        """The next 00:00 UTC: the daily loss limit's day ends there even with no new fill."""

    def before(self, now: float) -> None:
        """Before the point at market time `now` is decided: a new UTC day ends the daily loss
        limit's day (the checks' own rule, protections/checks.py), before that point's entry."""
        if now >= self._next_day:
            self._judge(now)

    def after(self, now: float) -> None:
        """After the point at `now` was decided and its fills booked: judge the new fills at
        the time they were booked. A fill is booked only at a point the replay takes (never at
        a skipped one: backtest/skip_replay.py), so the skipping replay and the full one judge
        every fill at the same moment and trip the same protections at the same times."""
        if len(self.repo.ledger) != self._ledger:
            self._judge(now)

    def _judge(self, now: float) -> None:
        repo = self.repo
        fills = [self._fill(i, row) for i, row in enumerate(repo.ledger[self._ledger:],
                                                             start=self._ledger + 1)]
        self._ledger = len(repo.ledger)
        closed = [self._closed(at, symbol, j.data) for at, symbol, j in
                  repo.journal[self._journal:] if j.type in CLOSES]
        self.totals.apply(fills, closed, now)
        self._next_day = day_start(now) + DAY_S
        found = [t for check in self.checks for t in check.evaluate(self.totals, now)]
        self.totals.stop_outs_checked()
        for trip in found:
            self.trips.append(TripSeen(at=now, name=trip.name, symbol=trip.symbol,
                                       reason=trip.reason))
            repo.record(trip.symbol or ACCOUNT_SUBJECT, "ProtectionTripped",
                        {"protection": trip.name, "reason": trip.reason},
                        correlation_id=f"protection-{len(self.trips)}", created_at=now)
        self._journal = len(repo.journal)  # its own trip rows too

    @staticmethod
    def _fill(row_id: int, row: tuple[float, str, Any]) -> dict[str, Any]:
        committed, _, fill = row
        return {"id": row_id, "realized_pnl": fill.realized_pnl, "fee": fill.fee,
                "position_id": fill.position_id,
                "created_at": committed if fill.at is None else fill.at}

    @staticmethod
    def _closed(at: float, symbol: str, data: dict[str, Any]) -> dict[str, Any]:
        return {"status": "closed", "position_id": data["position_id"], "closed_at": at,
                "close_reason": data.get("reason"), "symbol": symbol}
