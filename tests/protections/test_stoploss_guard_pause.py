"""The stop-loss guard pauses a symbol for ``pause_s`` after its LAST stop-out (README,
Protections). Defects (found by review): a stop-out while the symbol was already paused left the
pause ending ``pause_s`` after the earlier one, and a stop-out read in the tick in which the
pause ran out found the stale pause still there and tripped nothing (then the pause was
dropped): entries resumed while the guard should refuse them."""

from __future__ import annotations

from pathlib import Path

from tests.protections.ledger_rig import BTC, T0, Ledger, protections

GUARD = protections(stoploss_guard_count=2, stoploss_guard_window_s=3600.0,
                    stoploss_guard_pause_s=600.0)


def test_a_stop_out_while_paused_extends_the_pause_and_a_restart_keeps_it(tmp_path: Path):
    ledger = Ledger(tmp_path)
    guard = ledger.guard(GUARD, T0)
    guard.tick(T0)
    ledger.closed("btc1", BTC, "stop_loss", T0 + 10)
    ledger.closed("btc2", BTC, "stop_loss", T0 + 100)
    assert [t.symbol for t in guard.tick(T0 + 105)] == [BTC]  # paused until T0 + 700
    ledger.closed("btc3", BTC, "stop_loss", T0 + 500)  # a position open when it tripped
    assert guard.tick(T0 + 505) == []  # no second alert
    assert guard.refuse(BTC, T0 + 800) is not None  # until T0 + 1100: 600 s after the last
    assert guard.refuse(BTC, T0 + 1100) is None
    again = ledger.guard(GUARD, T0 + 800)  # a restart keeps the longer pause
    again.tick(T0 + 800)
    assert again.refuse(BTC, T0 + 900) is not None
    ledger.close()


def test_a_stop_out_read_as_the_pause_runs_out_trips_a_new_pause(tmp_path: Path):
    ledger = Ledger(tmp_path)
    guard = ledger.guard(GUARD, T0)
    guard.tick(T0)
    ledger.closed("btc1", BTC, "stop_loss", T0 + 10)
    ledger.closed("btc2", BTC, "stop_loss", T0 + 100)
    assert [t.symbol for t in guard.tick(T0 + 105)] == [BTC]  # paused until T0 + 700
    guard.tick(T0 + 698)
    ledger.closed("btc3", BTC, "stop_loss", T0 + 699)  # 3 within the window
    trips = guard.tick(T0 + 703)  # the first tick after the old pause ran out
    assert [t.symbol for t in trips] == [BTC]
    assert guard.refuse(BTC, T0 + 1000) is not None  # until T0 + 1299
    ledger.close()
