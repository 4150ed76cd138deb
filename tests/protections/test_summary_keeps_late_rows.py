"""The daily summary counts a row dated in the day it sums even when it is booked after
midnight. Found by review: since fills are dated by the venue's fill time, a stop that filled at
23:59:50 and was booked at 00:00:30 carries yesterday's time; the summary at the first pass of
the new day took the day's net from before that pass's rows, and today's count rightly leaves
the row out, so that loss was in no day the summary told (yesterday's said only -1.05).

The real guard over a real SQLite ledger (tests/protections/ledger_rig.py)."""

from __future__ import annotations

from pathlib import Path

from tests.protections.ledger_rig import BTC, ETH, T0, Ledger, protections

DAY = 86_400.0
MIDNIGHT = T0 - 3600 + DAY  # 2026-12-02T00:00:00Z


def test_a_loss_dated_yesterday_booked_after_midnight_is_in_yesterdays_summary(
        tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    try:
        guard, notices = led.replayed_guard(T0)
        led.closed("p1", BTC, "stop_loss", T0 + 100, pnl="-1", fee="0.05")
        guard.tick(T0 + 200)
        assert guard.status_fields(T0 + 200)["pnl"]["realized_today"] == "-1.05"
        # ETH's stop filled at 23:59:50, booked at 00:00:30 (dated by the venue's fill time)
        led.closed("p2", ETH, "stop_loss", MIDNIGHT - 10, pnl="-5", fee="0.05")
        guard.tick(MIDNIGHT + 40)
        [summary] = [n for n in notices if n.startswith("daily summary")]
        assert summary.startswith("daily summary 2026-12-01: realized -6.10 USDT;"), summary
        assert guard.status_fields(MIDNIGHT + 40)["pnl"]["realized_today"] == "0"
        restarted = led.guard(protections(), MIDNIGHT + 50)  # a restart's replay agrees
        restarted.tick(MIDNIGHT + 50)
        assert restarted.status_fields(MIDNIGHT + 50)["pnl"]["realized_today"] == "0"
    finally:
        led.close()


def test_the_summary_realizes_the_days_net_and_totals_every_day(tmp_path: Path) -> None:
    """`realized` is the day's own net; the ledger's total since the start is `total`. Mutation
    audit: the summary's `realized` printed from the total instead of the day's net survived
    every test (each summed up a ledger of one day, where both are the same)."""
    led = Ledger(tmp_path)
    try:
        guard, notices = led.replayed_guard(T0)
        led.closed("p1", BTC, "stop_loss", T0 + 100, pnl="-5", fee="0.05")
        guard.tick(T0 + 200)
        guard.tick(MIDNIGHT + 30)  # 2026-12-01 summed up
        led.closed("p2", ETH, "take_profit", MIDNIGHT + 100, pnl="3", fee="0.05")
        guard.tick(MIDNIGHT + 200)
        guard.tick(MIDNIGHT + DAY + 30)  # 2026-12-02 summed up
        summaries = [n for n in notices if n.startswith("daily summary")]
        assert summaries == [
            "daily summary 2026-12-01: realized -5.05 USDT; total -5.05, equity (capital + "
            "realized) 9994.95, 0W/0D/1L",
            "daily summary 2026-12-02: realized 2.95 USDT; total -2.10, equity (capital + "
            "realized) 9997.90, 1W/0D/1L"], notices
    finally:
        led.close()
