"""A person's reset of the daily loss limit forgives the day's losses for the limit only: the
day's P&L the status (`realized_today`: the dashboard, `bot.py status`, /metrics'
`bot_realized_pnl_today_usdt`, "since 00:00 UTC") and the daily summary report stays the day's
whole net. Found by review: the reset zeroed the one figure all of them read, so a day that
lost 60.05, was reset, and lost 10.05 more showed "today -10.05" and was summed up at midnight
as "realized -10.05 USDT" while the total said -70.10.

The real guard over a real SQLite ledger (tests/protections/ledger_rig.py)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.protections.ledger_rig import BTC, ETH, T0, Ledger, protections

CFG = protections(daily_loss_limit_usdt=Decimal(50))
MIDNIGHT = T0 - 3600 + 86_400.0  # 2026-12-02T00:00:00Z


def test_a_daily_reset_changes_the_limit_not_the_days_pnl(tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    try:
        guard = led.guard(CFG, T0 + 300)  # its clock: the person's reset happens at T0 + 300
        notices: list[str] = []
        guard.on_trade = notices.append
        led.closed("p1", BTC, "stop_loss", T0 + 100, pnl="-60", fee="0.05")
        guard.tick(T0 + 200)
        assert guard.refuse(BTC, T0 + 200) is not None  # -60.05 today: tripped
        guard.apply("reset_protection", "*", {"name": "daily_loss_limit"})
        led.closed("p2", ETH, "stop_loss", T0 + 400, pnl="-10", fee="0.05")
        guard.tick(T0 + 500)
        assert guard.refuse(BTC, T0 + 500) is None  # the limit counts -10.05 since the reset
        assert guard.status_fields(T0 + 500)["pnl"]["realized_today"] == "-70.10"
        restarted = led.guard(CFG, T0 + 600)  # a restart's replay: the same figures
        restarted.tick(T0 + 600)
        assert restarted.refuse(BTC, T0 + 600) is None
        assert restarted.status_fields(T0 + 600)["pnl"]["realized_today"] == "-70.10"
        guard.tick(MIDNIGHT + 30)
        [summary] = [n for n in notices if n.startswith("daily summary")]
        assert summary.startswith("daily summary 2026-12-01: realized -70.10 USDT;"), summary
    finally:
        led.close()
