"""Damaged stored rows: an unreadable protection state or pause row starts the account with
entries paused (naming the row) and keeps whatever else was readable; an unreadable ledger row is
skipped, said once, and the rest of the ledger still counts (defects: a damaged state row
dropped the operator's pause and every trip, and a bad ledger row made every tick raise)."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from protections.guard import PAUSE_KEY, STATE_KEY
from tests.protections.ledger_rig import BTC, T0, Ledger, protections

DAILY = protections(daily_loss_limit_usdt=D(50))
TRIPPED = json.dumps({"checks": {"daily_loss_limit": {"tripped_since": T0, "reason": "daily"}}})


@pytest.mark.parametrize("state", [
    '{"checks": {"daily_loss_limit": {"tripped_since": 1.0, "reason": "x"',  # a torn write
    '{"checks": {"daily_loss_limit": {"tripped_since": "yesterday"}}}',
    '["not", "an", "object"]',
    '{"peak_reset_fill_id": 1e999}',  # found by review: OverflowError stopped the whole start
    "[" * 100_000 + "]" * 100_000,  # nested too deep: json's RecursionError, the same
])
def test_an_unreadable_state_row_pauses_entries_until_a_person_unpauses(tmp_path: Path,
                                                                        state: str):
    ledger = Ledger(tmp_path)
    ledger.repo.set_meta(PAUSE_KEY, json.dumps({"by": "ops", "at": T0}))
    ledger.repo.set_meta(STATE_KEY, state)
    guard = ledger.guard(DAILY, T0)
    assert guard.refuse(BTC, T0) == (
        "entries paused by protections: stored meta row 'protections' unreadable")
    assert len(ledger.log.errors) == 1 and "'protections'" in ledger.log.errors[0]
    guard.tick(T0)  # the checks run (nothing half restored) and the state row is replaced
    assert guard.refuse(BTC, T0) is not None
    assert ledger.guard(DAILY, T0).refuse(BTC, T0) is not None  # a restart: still paused
    guard.apply("unpause", "", {"by": "ops"})
    assert guard.refuse(BTC, T0) is None
    assert ledger.guard(DAILY, T0).refuse(BTC, T0) is None  # and a restart keeps it allowed
    assert len(ledger.log.errors) == 1  # said once: the first tick replaced the damaged row
    ledger.close()


@pytest.mark.parametrize("pause", ["{by: ops", "[" * 100_000 + "]" * 100_000])
def test_an_unreadable_pause_row_pauses_and_keeps_the_saved_trips(tmp_path: Path, pause: str):
    ledger = Ledger(tmp_path)
    ledger.repo.set_meta(PAUSE_KEY, pause)
    ledger.repo.set_meta(STATE_KEY, TRIPPED)
    guard = ledger.guard(DAILY, T0)
    assert guard.refuse(BTC, T0) == (
        "entries paused by protections: stored meta row 'entries_paused' unreadable")
    assert guard.checks[0].tripped_since == T0 and guard.checks[0].reason == "daily"
    guard.apply("unpause", "", {"by": "ops"})
    assert guard.refuse(BTC, T0) == "daily"  # the saved trip still refuses
    ledger.close()


def test_an_unreadable_ledger_row_is_skipped_once_and_the_rest_count(tmp_path: Path):
    ledger = Ledger(tmp_path)
    guard = ledger.guard(DAILY, T0)
    guard.tick(T0)
    ledger.fills([("p1", BTC, T0, "0", ""), ("p2", BTC, T0 + 1, "-500", "0.1"),
                  ("p3", BTC, "soon", "0", "0"), ("p4", BTC, T0 + 2, "nan", "0")])
    trips = guard.tick(T0 + 10)
    assert [t.name for t in trips] == ["daily_loss_limit"]
    assert str(guard.totals.day_net) == "-500.1"
    assert [e.split("ledger row: ", 1)[1] for e in ledger.log.errors] == [
        "fills row id 1 (client order id 'p1-c'): fee '' is not a number",
        "fills row id 3 (client order id 'p3-c'): could not convert string to float: 'soon'",
        "fills row id 4 (client order id 'p4-c'): realized_pnl 'nan' is not a finite number"]
    ledger.fills([("p5", BTC, T0 + 20, "-1", "0")])
    guard.tick(T0 + 30)
    assert len(ledger.log.errors) == 3 and str(guard.totals.day_net) == "-501.1"
    ledger.close()


def test_a_drawdown_reset_at_a_skipped_row_survives_a_restart(tmp_path: Path):
    ledger = Ledger(tmp_path)
    cfg = protections(max_drawdown_usdt=D(5))
    guard = ledger.guard(cfg, T0)
    ledger.fills([("p1", BTC, T0, "10", "0"), ("p2", BTC, T0 + 1, "-8", "0")])
    assert [t.name for t in guard.tick(T0 + 10)] == ["max_drawdown"]
    ledger.fills([("p3", BTC, T0 + 2, "1", "bad")])
    guard.tick(T0 + 20)
    guard.apply("reset_protection", "", {"name": "max_drawdown"})
    assert guard.refuse(BTC, T0 + 20) is None
    again = ledger.guard(cfg, T0 + 30)  # a restart replays the ledger: the same peak
    assert again.tick(T0 + 30) == [] and again.refuse(BTC, T0 + 30) is None
    assert again.totals.drawdown == 0
    ledger.close()
