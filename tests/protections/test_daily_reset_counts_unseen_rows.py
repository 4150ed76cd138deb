"""A person's reset of the daily loss limit forgives the losses booked before it (those the
status showed), not a loss booked after it that the venue dated earlier. Found by review: since
fills are dated by the venue's fill time, a stop that filled at 14:04 but was booked after a
reset at 14:05 (found by a reconciliation, or by the start of a bot that was down, which applies
a queued reset before its actors book anything) carried a time before the reset, and the reset
(counting rows by time) never counted it: a -60 loss against a 50 USDT limit left entries open.

The real guard over a real SQLite ledger (tests/protections/ledger_rig.py)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.protections.ledger_rig import BTC, ETH, T0, Ledger, protections

CFG = protections(daily_loss_limit_usdt=Decimal(50))
RESET = T0 + 300


def test_a_loss_booked_after_a_daily_reset_counts_though_dated_before_it(
        tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    try:
        led.closed("p1", BTC, "stop_loss", T0 + 100, pnl="-60", fee="0.05")
        guard = led.guard(CFG, RESET)  # its clock: the person's reset happens at RESET
        guard.tick(T0 + 200)
        assert guard.refuse(BTC, T0 + 200) is not None  # -60.05 today: tripped
        assert guard.apply("reset_protection", "*", {"name": "daily_loss_limit"}) \
            == "daily_loss_limit reset"
        assert guard.refuse(BTC, RESET) is None  # what the status showed is forgiven
        led.closed("p2", ETH, "stop_loss", RESET - 60, pnl="-60", fee="0.05")  # booked after
        guard.tick(RESET + 100)
        assert guard.totals.day_net == Decimal("-60.05")  # what the limit counts
        assert guard.status_fields(RESET + 100)["pnl"]["realized_today"] == "-120.10"  # the day
        assert guard.refuse(BTC, RESET + 100) is not None
        restarted = led.guard(CFG, RESET + 200)  # a restart's replay counts the same
        restarted.tick(RESET + 200)
        assert restarted.totals.day_net == Decimal("-60.05")
        assert restarted.refuse(BTC, RESET + 200) is not None
    finally:
        led.close()
