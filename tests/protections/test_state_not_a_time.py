"""A saved protection state whose times are not finite (NaN, Infinity, 1e999: JSON reads
each as a float) is an unreadable row like any other: entries are paused naming the row, and the
protections keep running (defects: a daily-loss trip saved with a NaN time made every tick raise
in `day_start`, so no protection was evaluated again and the row was never replaced; a
stop-loss pause saved with a NaN end refused nothing, failing open).

Real SQLite and the guard built as protections.wiring builds it."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from protections.guard import STATE_KEY
from tests.protections.ledger_rig import BTC, T0, Ledger, protections

ALL = protections(daily_loss_limit_usdt=D(50), max_drawdown_usdt=D(80), stoploss_guard_count=2)
PAUSED = "entries paused by protections: stored meta row 'protections' unreadable"


@pytest.mark.parametrize("state", [
    '{"checks": {"daily_loss_limit": {"tripped_since": NaN, "reason": "daily"}}}',
    '{"checks": {"daily_loss_limit": {"tripped_since": Infinity, "reason": "daily"}}}',
    '{"checks": {"max_drawdown": {"tripped_since": 1e999, "reason": "dd"}}}',
    '{"checks": {"stoploss_guard": {"paused": {"BTC/USDT:USDT": '
    '{"since": 1.0, "until": NaN, "reason": "sl"}}}}}',
    '{"checks": {"stoploss_guard": {"reset_at": {"BTC/USDT:USDT": Infinity}}}}',
    '{"daily_reset_at": NaN}',
])
def test_a_saved_time_that_is_not_a_time_pauses_entries_and_ticks_go_on(tmp_path: Path,
                                                                        state: str):
    ledger = Ledger(tmp_path)
    ledger.repo.set_meta(STATE_KEY, state)
    guard = ledger.guard(ALL, T0)
    assert guard.refuse(BTC, T0) == PAUSED
    assert len(ledger.log.errors) == 1 and "'protections'" in ledger.log.errors[0]
    ledger.closed("btc1", BTC, "signal", T0 + 1, pnl="-60")
    trips = guard.tick(T0 + 10)  # runs, and replaces the damaged row
    assert [t.name for t in trips] == ["daily_loss_limit"]
    guard.apply("unpause", "", {"by": "ops"})
    restarted = ledger.guard(ALL, T0 + 20)
    assert len(ledger.log.errors) == 1  # the row was replaced: read back without a complaint
    assert "daily loss limit" in (restarted.refuse(BTC, T0 + 20) or "")
    ledger.close()
