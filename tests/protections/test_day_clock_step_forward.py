"""The daily loss limit over a wall clock stepped FORWARD across midnight and back again (a bad
NTP answer, a VM host clock fixed under a running guest).

Found by review: `LedgerTotals.roll_day` moves the day forward only (a step back over midnight
must not zero the count: test_day_clock_step.py). A step forward over midnight zeroed the day's
count, as a new day does; the step back then left the count on the future day, and every row
of the real day, dated before it, went to "yesterday" (`prev_day_net`), counted toward no limit.
For the rest of the real day the running bot let the day lose past its limit, while a restart
(replaying the ledger by the fills' times) counted every loss and tripped. A step back to the
day it left now takes that day's count back, with what was booked meanwhile.

Real SQLite and the guard built as protections.wiring builds it; the restart is a new guard over
the same database file."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from protections.ledger_feed import DAY_S
from tests.protections.ledger_rig import BTC, ETH, Ledger, protections

MIDNIGHT = 1_796_169_600.0  # 2026-12-02T00:00:00Z
DAILY = protections(daily_loss_limit_usdt=D(10))


def test_a_clock_stepped_forward_over_midnight_and_back_keeps_counting_the_day(tmp_path: Path):
    ledger = Ledger(tmp_path)
    noon = MIDNIGHT + 12 * 3600
    guard = ledger.guard(DAILY, noon)
    ledger.closed("btc1", BTC, "signal", noon + 30, pnl="-6", fee="0.05")
    assert guard.tick(noon + 60) == []
    assert guard.totals.day_net == D("-6.05")

    assert guard.tick(noon + DAY_S) == []  # the wall clock stepped a day forward
    assert guard.tick(noon + 90) == []  # and back to the real time

    ledger.closed("eth1", ETH, "signal", noon + 100, pnl="-5", fee="0.05")
    trips = guard.tick(noon + 120)
    assert [t.name for t in trips] == ["daily_loss_limit"], guard.totals.day_net
    assert guard.refuse(BTC, noon + 120) is not None
    assert guard.totals.day_total == D("-11.10")

    restarted = ledger.guard(DAILY, noon + 130)  # what a restart counts: the same
    restarted.tick(noon + 130)
    assert restarted.totals.day_net == guard.totals.day_net == D("-11.10")
    ledger.close()


def test_rows_booked_while_the_clock_was_ahead_count_today(tmp_path: Path):
    """A row booked during the step is dated by the clock ahead (the booking time): the restart's
    replay counts it today (a row dated after today's start), so does the running count."""
    ledger = Ledger(tmp_path)
    noon = MIDNIGHT + 12 * 3600
    guard = ledger.guard(DAILY, noon)
    ledger.closed("btc1", BTC, "signal", noon + 30, pnl="-4", fee="0.05")
    guard.tick(noon + 60)
    ledger.closed("eth1", ETH, "signal", noon + DAY_S + 10, pnl="-3", fee="0.05")
    assert guard.tick(noon + DAY_S + 20) == []
    assert guard.totals.day_net == D("-3.05")  # the clock's day, as far as the guard knows
    assert guard.tick(noon + 90) == []  # the clock back to the real time
    assert guard.totals.day_net == D("-7.10")
    ledger.closed("btc2", BTC, "signal", noon + 100, pnl="-3", fee="0.05")
    trips = guard.tick(noon + 120)
    assert [t.name for t in trips] == ["daily_loss_limit"], guard.totals.day_net

    restarted = ledger.guard(DAILY, noon + 130)
    restarted.tick(noon + 130)
    assert restarted.totals.day_net == guard.totals.day_net == D("-10.15")
    ledger.close()


def test_a_clock_stepped_back_over_midnight_sends_no_summary_of_the_day_not_ended(tmp_path: Path):
    """The day is the clock's now, also backwards: a step back over midnight is no new day, and
    the summary of the day it left is sent once, when that day really ends."""
    ledger = Ledger(tmp_path)
    guard, notices = ledger.replayed_guard(MIDNIGHT - 60)
    ledger.closed("btc1", BTC, "signal", MIDNIGHT - 50, pnl="-2", fee="0.05")
    guard.tick(MIDNIGHT - 40)
    guard.tick(MIDNIGHT + 60)  # midnight: the summary of 2026-12-01
    guard.tick(MIDNIGHT - 20)  # the clock stepped back over midnight
    ledger.closed("eth1", ETH, "signal", MIDNIGHT + 100, pnl="-1", fee="0.05")
    guard.tick(MIDNIGHT + 120)  # and forward again
    guard.tick(MIDNIGHT + DAY_S + 60)  # the next midnight: the summary of 2026-12-02
    summaries = [n.split(":")[0] + ": " + n.split(": ")[1].split(";")[0]
                 for n in notices if n.startswith("daily summary")]
    assert summaries == ["daily summary 2026-12-01: realized -2.05 USDT",
                         "daily summary 2026-12-02: realized -1.05 USDT"]
    ledger.close()
