"""A daily loss limit trip over a wall clock stepped forward over midnight and back (a bad NTP
answer, a VM host clock fixed under a running guest), and one taken while the clock was ahead.

Found by review: the step forward ended the trip (a new UTC day), and the step back tripped it
anew from the same loss: a second `protection` alert and a second `ProtectionTripped` row
(README: a trip is alerted once). The trip a new day ends is now kept as lapsed: a clock
stepped back into its day puts it in force again, silently, in a running bot and after a
restart taken while the clock was ahead alike.

Real SQLite and the guard built as protections.wiring builds it; the restart is a new guard over
the same database file."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D
from pathlib import Path

from protections.ledger_feed import DAY_S
from tests.protections.ledger_rig import BTC, ETH, Ledger, protections

MIDNIGHT = 1_796_169_600.0  # 2026-12-02T00:00:00Z
NOON = MIDNIGHT + 12 * 3600
DAILY = protections(daily_loss_limit_usdt=D(10))


def _alerted(ledger: Ledger, now: float) -> tuple[object, list[str]]:
    guard = ledger.guard(DAILY, now)
    alerts: list[str] = []
    guard.alert = lambda symbol, kind, reason, **k: alerts.append(f"{kind}: {reason}")
    return guard, alerts


def _journaled(ledger: Ledger) -> list[str]:
    con = sqlite3.connect(ledger.path)
    try:
        return [r[0] for r in con.execute("SELECT data FROM events WHERE type = "
                                          "'ProtectionTripped' ORDER BY id")]
    finally:
        con.close()


def test_a_clock_stepped_forward_and_back_keeps_the_trip_alerted_once(tmp_path: Path):
    ledger = Ledger(tmp_path)
    guard, alerts = _alerted(ledger, NOON)
    ledger.closed("btc1", BTC, "signal", NOON + 30, pnl="-11", fee="0.05")
    assert [t.name for t in guard.tick(NOON + 60)] == ["daily_loss_limit"]

    assert guard.tick(NOON + DAY_S) == []  # the clock a day ahead: its day has no loss
    assert guard.refuse(ETH, NOON + DAY_S) is None
    assert guard.tick(NOON + 90) == []  # back to the real time: the same trip, not a new one
    assert guard.refuse(ETH, NOON + 90) == "daily loss limit: -11.05 USDT today (limit -10.00)"
    assert alerts == ["protection: daily loss limit: -11.05 USDT today (limit -10.00)"]
    assert len(_journaled(ledger)) == 1

    assert guard.tick(MIDNIGHT + DAY_S + 60) == []  # the real next day: it ends
    assert guard.refuse(ETH, MIDNIGHT + DAY_S + 60) is None
    ledger.close()


def test_a_restart_while_the_clock_is_ahead_keeps_the_trip_alerted_once(tmp_path: Path):
    ledger = Ledger(tmp_path)
    guard, alerts = _alerted(ledger, NOON)
    ledger.closed("btc1", BTC, "signal", NOON + 30, pnl="-11", fee="0.05")
    guard.tick(NOON + 60)
    guard.tick(NOON + DAY_S)  # the clock a day ahead; saved

    restarted, again = _alerted(ledger, NOON + DAY_S + 30)  # restarted meanwhile
    assert restarted.tick(NOON + DAY_S + 30) == []
    assert restarted.tick(NOON + 120) == []  # the clock back to the real time
    assert restarted.refuse(BTC, NOON + 120) is not None
    assert alerts + again == ["protection: daily loss limit: -11.05 USDT today (limit -10.00)"]
    assert len(_journaled(ledger)) == 1
    ledger.close()


def test_a_reset_while_the_clock_is_ahead_is_not_undone_by_the_step_back(tmp_path: Path):
    ledger = Ledger(tmp_path)
    guard, alerts = _alerted(ledger, NOON)
    ledger.closed("btc1", BTC, "signal", NOON + 30, pnl="-11", fee="0.05")
    guard.tick(NOON + 60)
    guard.tick(NOON + DAY_S)
    guard.clock = lambda: NOON + DAY_S + 10
    assert guard.apply("reset_protection", "", {"name": "daily_loss_limit"}) == (
        "daily_loss_limit reset")
    assert guard.tick(NOON + 90) == []
    assert guard.refuse(BTC, NOON + 90) is None
    ledger.close()


def test_a_trip_taken_while_the_clock_was_ahead_lasts_to_the_end_of_the_day_its_loss_is_dated(
        tmp_path: Path):
    """The rule README states: a loss booked while the clock was ahead is dated by that clock,
    counts toward that day (and toward today until then), as a restart's replay counts it; its
    trip lasts to the end of that day (a person's reset lifts it sooner)."""
    ledger = Ledger(tmp_path)
    real = MIDNIGHT - 2 * 3600  # 2026-12-01T22:00Z
    guard, alerts = _alerted(ledger, real)
    guard.tick(real)
    ahead = real + 3 * 3600  # the clock reads 2026-12-02T01:00Z
    ledger.closed("btc1", BTC, "signal", ahead - 600, pnl="-11", fee="0.05")
    assert [t.name for t in guard.tick(ahead)] == ["daily_loss_limit"]
    assert guard.tick(real + 1800) == []  # the clock back to 22:30 of 2026-12-01
    assert guard.refuse(BTC, real + 1800) is not None
    assert guard.tick(MIDNIGHT + 600) == []  # 2026-12-02: the day the loss is dated
    assert guard.refuse(BTC, MIDNIGHT + 600) is not None
    restarted, again = _alerted(ledger, MIDNIGHT + 700)  # a restart judges it so too
    restarted.tick(MIDNIGHT + 700)
    assert restarted.totals.day_net == D("-11.05")
    assert restarted.refuse(BTC, MIDNIGHT + 700) is not None
    assert guard.tick(MIDNIGHT + DAY_S + 60) == []  # 2026-12-03: over
    assert guard.refuse(BTC, MIDNIGHT + DAY_S + 60) is None
    assert len(alerts) == 1 and again == []
    ledger.close()
