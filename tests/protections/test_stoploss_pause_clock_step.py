"""The stop-loss guard's pause over a wall clock stepped forward and back again (a bad NTP
answer, a VM host clock corrected under a running guest).

Found by review: each pass dropped a pause whose end the clock had passed, so one pass with
the clock ahead of the pause's end removed it for good (and saved that): once the clock came
back the symbol took entries again, although its pause ran on in real time, while a restart
(replaying the ledger's stop-outs) paused it again. A pause that ran out is now only not in
force (`refuse` and the status compare its end with the time asked); it stays until the next
trip replaces it or a person resets it.

Real SQLite and the guard built as protections.wiring builds it; the restart is a new guard over
the same database file."""

from __future__ import annotations

from pathlib import Path

from protections.ledger_feed import DAY_S
from tests.protections.ledger_rig import BTC, T0, Ledger, protections

GUARD = protections(stoploss_guard_count=2, stoploss_guard_window_s=3600.0,
                    stoploss_guard_pause_s=3600.0)


def test_a_clock_stepped_forward_and_back_keeps_the_pause(tmp_path: Path):
    ledger = Ledger(tmp_path)
    guard = ledger.guard(GUARD, T0)
    guard.tick(T0)
    ledger.closed("btc1", BTC, "stop_loss", T0 + 10)
    ledger.closed("btc2", BTC, "stop_loss", T0 + 100)
    assert [t.symbol for t in guard.tick(T0 + 105)] == [BTC]  # paused until T0 + 3700
    assert guard.tick(T0 + 105 + DAY_S) == []  # the wall clock a day ahead for one pass
    assert guard.tick(T0 + 200) == []  # and back to the real time
    assert guard.refuse(BTC, T0 + 200) is not None
    assert [r["symbol"] for r in guard.status_fields(T0 + 200)["protections"]] == [BTC]

    restarted = ledger.guard(GUARD, T0 + 300)  # what a restart holds: the same
    restarted.tick(T0 + 300)
    assert restarted.refuse(BTC, T0 + 300) is not None
    assert guard.refuse(BTC, T0 + 3700) is None  # the pause still ends when it ends
    assert guard.status_fields(T0 + 3700)["protections"] == []
    ledger.close()
