"""The max-drawdown protection judges the equity curve, not only its last point.

Found by review: `MaxDrawdown` compared the drawdown at the pass's moment (peak minus the last
point) with the limit. A fall past the limit that the curve recovered from before the next pass
(a loss and a profit booked within one status interval), or before a restart (a loss booked,
the bot killed, a take-profit that filled while it was down booked by the restart's
reconciliation: the first pass replays the whole ledger and sees its end only) never tripped,
although the equity fell past the limit and only a person may lift that. The check now takes
the deepest fall of the curve since the last person's reset (`protections/peak.py`).

Real SQLite and the guard built as protections.wiring builds it; the restart is a new guard over
the same database file."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from tests.protections.ledger_rig import BTC, ETH, T0, Ledger, protections

DRAWDOWN = protections(max_drawdown_usdt=D(15))


def _fall_and_recover(ledger: Ledger) -> None:
    ledger.closed("btc1", BTC, "take_profit", T0 + 10, pnl="100", fee="0")
    ledger.closed("btc2", BTC, "stop_loss", T0 + 20, pnl="-120", fee="0")  # 120 below the peak
    ledger.closed("eth1", ETH, "take_profit", T0 + 30, pnl="110", fee="0")  # back to 10 below


def test_a_fall_past_the_limit_recovered_within_one_pass_trips(tmp_path: Path):
    ledger = Ledger(tmp_path)
    guard = ledger.guard(DRAWDOWN, T0)
    guard.tick(T0)
    _fall_and_recover(ledger)
    trips = guard.tick(T0 + 40)
    assert [t.name for t in trips] == ["max_drawdown"]
    assert "120.00" in trips[0].reason
    assert guard.refuse(BTC, T0 + 40) is not None
    ledger.close()


def test_a_fall_past_the_limit_recovered_before_a_restart_trips_at_the_first_pass(tmp_path: Path):
    ledger = Ledger(tmp_path)
    _fall_and_recover(ledger)  # booked by the last run (killed before its pass judged them)
    restarted = ledger.guard(DRAWDOWN, T0 + 60)
    assert [t.name for t in restarted.tick(T0 + 60)] == ["max_drawdown"]
    assert restarted.refuse(ETH, T0 + 60) is not None
    ledger.close()


def test_a_persons_reset_forgets_the_fall_before_it(tmp_path: Path):
    ledger = Ledger(tmp_path)
    guard = ledger.guard(DRAWDOWN, T0)
    _fall_and_recover(ledger)
    guard.tick(T0 + 40)
    assert guard.apply("reset_protection", "", {"name": "max_drawdown"}) == "max_drawdown reset"
    ledger.closed("btc3", BTC, "stop_loss", T0 + 50, pnl="-5", fee="0")
    assert guard.tick(T0 + 60) == [] and guard.refuse(BTC, T0 + 60) is None
    restarted = ledger.guard(DRAWDOWN, T0 + 70)  # the reset holds over a restart too
    assert restarted.tick(T0 + 70) == [] and restarted.refuse(BTC, T0 + 70) is None
    ledger.close()
