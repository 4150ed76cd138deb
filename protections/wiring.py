"""Building an account's guard from its settings, and the journal line of every control."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from protections.guard import ACCOUNT_SUBJECT, AccountGuard, build_checks


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
