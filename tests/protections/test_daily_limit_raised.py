"""A daily loss limit trip is judged again against a limit the user raised: the guard is built
from the config at start (protections/wiring.py), so a raised limit reaches it by a restart,
which restored the saved trip as it was: entries stayed refused until the next UTC day
although the day's loss was within the new limit. The trip now records the limit it stands
against; a restart with a higher one clears it when the day's loss is within it. The same
limit, or a raised one the loss still reaches, keeps it; a profit after the trip never clears
it (only the next UTC day or a person does).

Real SQLite and the guard built as protections.wiring builds it; the restart is a new guard over
the same database file."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

from protections.guard import STATE_KEY
from tests.protections.ledger_rig import BTC, ETH, T0, Ledger, protections


def _tripped(ledger: Ledger, limit: str) -> None:
    guard = ledger.guard(protections(daily_loss_limit_usdt=D(limit)), T0)
    ledger.closed("btc1", BTC, "signal", T0 - 60, pnl="-6", fee="0.05")
    ledger.closed("eth1", ETH, "signal", T0 - 30, pnl="-5", fee="0.05")
    assert [t.name for t in guard.tick(T0)] == ["daily_loss_limit"]  # -11.10 today
    assert guard.refuse(BTC, T0) is not None


def test_a_restart_with_a_raised_limit_judges_the_trip_again(tmp_path: Path):
    ledger = Ledger(tmp_path)
    _tripped(ledger, "10")
    same = ledger.guard(protections(daily_loss_limit_usdt=D(10)), T0 + 60)
    assert same.tick(T0 + 60) == [] and same.refuse(BTC, T0 + 60) is not None

    still = ledger.guard(protections(daily_loss_limit_usdt=D(11)), T0 + 90)  # raised, reached
    assert still.tick(T0 + 90) == [] and still.refuse(BTC, T0 + 90) is not None

    raised = ledger.guard(protections(daily_loss_limit_usdt=D(20)), T0 + 120)
    assert raised.refuse(BTC, T0 + 120) is not None  # restored as saved, until judged again
    assert raised.tick(T0 + 120) == []
    assert raised.refuse(BTC, T0 + 120) is None
    assert raised.status_fields(T0 + 120)["protections"] == []
    saved = json.loads(ledger.repo.get_meta(STATE_KEY) or "{}")
    assert saved["checks"]["daily_loss_limit"]["tripped_since"] is None

    ledger.closed("btc2", BTC, "signal", T0 + 150, pnl="-9", fee="0.05")  # -20.15: trips again
    trips = raised.tick(T0 + 180)
    assert [t.name for t in trips] == ["daily_loss_limit"] and "limit -20.00" in trips[0].reason
    ledger.close()


def test_a_profit_after_the_trip_does_not_clear_it(tmp_path: Path):
    ledger = Ledger(tmp_path)
    _tripped(ledger, "10")
    guard = ledger.guard(protections(daily_loss_limit_usdt=D(10)), T0 + 60)
    ledger.closed("btc2", BTC, "take_profit", T0 + 30, pnl="5", fee="0.05")  # -6.15 today
    guard.tick(T0 + 60)
    assert guard.totals.day_net == D("-6.15") and guard.refuse(BTC, T0 + 60) is not None
    ledger.close()


def test_a_trip_saved_without_its_limit_is_judged_against_the_configured_one(tmp_path: Path):
    """State saved by a version that did not record the limit."""
    ledger = Ledger(tmp_path)
    _tripped(ledger, "10")
    saved = json.loads(ledger.repo.get_meta(STATE_KEY) or "{}")
    saved["checks"]["daily_loss_limit"].pop("limit", None)
    ledger.repo.set_meta(STATE_KEY, json.dumps(saved))
    raised = ledger.guard(protections(daily_loss_limit_usdt=D(20)), T0 + 60)
    raised.tick(T0 + 60)
    assert raised.refuse(BTC, T0 + 60) is None
    ledger.close()


def test_a_limit_raised_to_exactly_the_days_loss_keeps_the_trip_without_a_second_alert(
        tmp_path: Path):
    """A loss at the limit trips it (`>=`), so a limit raised to exactly the day's loss is
    still reached: the trip stands as it was, since the same moment, and nothing is alerted
    again. Found by a mutation audit: clearing it there (`<=`) passed every test; the same
    tick tripped it anew, a second alert and journal entry for the one loss."""
    ledger = Ledger(tmp_path)
    _tripped(ledger, "10")  # -11.10 today
    exact = ledger.guard(protections(daily_loss_limit_usdt=D("11.10")), T0 + 60)
    assert exact.tick(T0 + 60) == []
    assert exact.refuse(BTC, T0 + 60) is not None
    saved = json.loads(ledger.repo.get_meta(STATE_KEY) or "{}")
    assert saved["checks"]["daily_loss_limit"]["tripped_since"] == T0
    assert saved["checks"]["daily_loss_limit"]["limit"] == "11.10"
    ledger.close()
