"""Building an account's guard from its settings, and the journal line of every control."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from observability.error_text import describe
from protections.guard import ACCOUNT_SUBJECT, AccountGuard, build_checks

FAILING_LINE_S = 60.0
"""A pass that keeps failing: one line per this many seconds at most, per account."""


def capital_base(settings: Any) -> Decimal:
    """Where an account's P&L and equity curve start: `protections.capital_usdt`, or the paper
    balance (a limit in % takes it only in paper and dry-run mode: in live mode the config
    refuses one without `capital_usdt`, config/settings.py `_check_capital`)."""
    return Decimal(settings.protections.capital_usdt or settings.paper.starting_balance_usdt)


def build_guard(settings: Any, repo: Any, sup: Any, alerts: Any, logger: Any) -> AccountGuard:
    base = capital_base(settings)
    return AccountGuard(repo=repo, sup=sup, checks=build_checks(settings.protections, base),
                        base=base,
                        alert=alerts.alert, logger=logger)


def journal_control(repo: Any, control_id: int, command: str, symbol: str,
                    args: dict[str, Any], result: str) -> None:
    """Who asked for what, when it was asked and when and how it was applied."""
    data = {"command": command, "by": args.get("by") or "operator",
            "requested_at": args.get("requested_at"), "applied_at": time.time(),
            "result": result, "control_id": control_id}
    extra = {k: v for k, v in args.items() if k in ("side", "name", "size_usdt")}
    repo.record(symbol or ACCOUNT_SUBJECT, "ControlApplied", {**data, **extra},
                correlation_id=f"control-{control_id}")


class GuardTicks:
    """Each account's protections pass (``AccountGuard.tick``), from the run loop. One that
    fails is one ERROR line (traceback kept: a bug shows where), then at most one line per
    ``FAILING_LINE_S`` with the count while it keeps failing, and one line when it works again
    (found by review: every failed pass was an ERROR with its traceback, once per
    ``bot.status_interval_s``: a database down for ten minutes wrote 600 per account)."""

    def __init__(self, accounts: list[Any], logger: Any,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.accounts, self.log, self.clock = accounts, logger, clock
        self._failing: dict[str, tuple[float, int]] = {}
        """account -> (when its last line was logged, failed passes in a row)"""

    def tick(self) -> None:
        for account in self.accounts:
            try:
                account.guard.tick()
            except Exception as exc:  # noqa: BLE001 - one account's trouble never stops the others
                self._failed(account.name, exc)
                continue
            streak = self._failing.pop(account.name, None)
            if streak is not None:
                self.log.info("protections of account {} work again after {} failed passes",
                              account.name, streak[1])

    def _failed(self, name: str, exc: Exception) -> None:
        now = self.clock()
        last = self._failing.get(name)
        if last is None:
            self._failing[name] = (now, 1)
            self.log.opt(exception=exc).error(
                "protections of account {} failed: {} (while it keeps failing: one line a "
                "minute at most)", name, describe(exc))
            return
        at, count = last[0], last[1] + 1
        if now - at < FAILING_LINE_S:
            self._failing[name] = (at, count)
            return
        self._failing[name] = (now, count)
        self.log.error("protections of account {} still failing: {} ({} failed passes in a "
                       "row)", name, describe(exc), count)
