"""A kill switch the supervisor trips (escalations) and a person resets before the run loop's
next protections pass lets entries in again.

Found by review: the supervisor tells every actor `BlockEntries` itself when escalations trip
the kill switch, while the guard remembers what it last told each actor and tells only
changes. A reset applied before the guard's next pass (the control applier runs right after
it) found "entries allowed" both remembered and wanted, told nobody, and every actor kept its
kill-switch block: the switch was off and the account never traded again (until a restart).

Real actors and supervisor, the paper exchange, SQLite and the account's guard
(tests/protections/streak_rig.py)."""

from __future__ import annotations

from pathlib import Path

from storage import queries
from tests.exchange.paper.paper_support import BTC, ETH
from tests.protections.ledger_rig import protections
from tests.protections.streak_rig import StreakRig


def test_a_reset_right_after_an_escalation_trip_unblocks_every_actor(tmp_path: Path):
    rig = StreakRig(tmp_path, protections()).start()
    try:
        rig.step(BTC, "100")
        rig.step(ETH, "50")  # the guard's pass: each actor told entries are allowed
        rig.sup.trip_kill_switch("3 symbols escalated within 600s")  # the supervisor's own path
        rig.settle()
        rig.enter_long(BTC)
        assert rig.view(BTC).phase == "flat"  # blocked, as it should be
        assert rig.guard.apply("kill_switch_reset", "*", {"by": "dashboard"}) == "kill switch off"
        rig.settle()
        for symbol in (BTC, ETH):
            rig.enter_long(symbol)
            assert rig.view(symbol).phase != "flat", rig.repo.read(queries.events, symbol,
                                                                   "SignalSkipped")
    finally:
        rig.stop()
