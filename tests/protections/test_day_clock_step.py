"""The daily loss limit over a wall clock stepped back across midnight (NTP, a VM restore).

Found by review: `LedgerTotals.roll_day` reset the day's count whenever the day of `now`
differed from the one it counted, also backwards. A step back over midnight zeroed today's
losses, and the step forward again zeroed them once more: the running bot let the day lose
past its limit, while a restart (replaying the ledger by the fills' times) counted the losses
and tripped. The day now only moves forward, so the running count is the replay's.

Real SQLite and the guard built as protections.wiring builds it; the restart is a new guard over
the same database file."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from tests.protections.ledger_rig import BTC, ETH, Ledger, protections

MIDNIGHT = 1_796_169_600.0  # 2026-12-02T00:00:00Z
DAILY = protections(daily_loss_limit_usdt=D(10))


def test_a_clock_stepped_back_over_midnight_forgets_none_of_the_days_losses(tmp_path: Path):
    ledger = Ledger(tmp_path)
    guard = ledger.guard(DAILY, MIDNIGHT + 60)
    ledger.closed("btc1", BTC, "signal", MIDNIGHT + 30, pnl="-6", fee="0.05")
    assert guard.tick(MIDNIGHT + 60) == []
    assert guard.totals.day_net == D("-6.05")

    assert guard.tick(MIDNIGHT - 20) == []  # the wall clock stepped back 80 s, over midnight
    assert guard.tick(MIDNIGHT + 90) == []  # and forward again
    assert guard.totals.day_net == D("-6.05")

    ledger.closed("eth1", ETH, "signal", MIDNIGHT + 100, pnl="-5", fee="0.05")
    trips = guard.tick(MIDNIGHT + 120)
    assert [t.name for t in trips] == ["daily_loss_limit"], guard.totals.day_net
    assert guard.refuse(BTC, MIDNIGHT + 120) is not None

    restarted = ledger.guard(DAILY, MIDNIGHT + 130)  # what a restart counts: the same
    restarted.tick(MIDNIGHT + 130)
    assert restarted.totals.day_net == guard.totals.day_net == D("-11.10")
    ledger.close()


def test_the_next_day_still_starts_at_zero(tmp_path: Path):
    ledger = Ledger(tmp_path)
    guard = ledger.guard(DAILY, MIDNIGHT - 60)
    ledger.closed("btc1", BTC, "signal", MIDNIGHT - 90, pnl="-9", fee="0.05")
    guard.tick(MIDNIGHT - 60)
    assert guard.totals.day_net == D("-9.05")
    ledger.closed("eth1", ETH, "signal", MIDNIGHT + 30, pnl="-2", fee="0.05")
    assert guard.tick(MIDNIGHT + 60) == []
    assert guard.totals.day_net == D("-2.05")
    ledger.close()
