"""A replaced incarnation that wakes after its successor claimed the symbol: its commit is
refused by the database fence (the incarnation moved on at the successor's claim). That is the
expected end of a replaced actor, as its exchange call refused by the exchange fence is: one
WARNING line, no "crashed" ERROR with a traceback, and no new failure of the symbol.

Found by review: the README's own case (a hung actor whose successor started while it was stuck,
"in a soak: a stop move it could no longer send") logged `crashed: Fenced: ... incarnation 1 was
replaced` at ERROR with a traceback in the symbol's log and bot.log, because the actor only knew
the exchange fence's exception. Real pykka actors, the real supervisor on a manual monotonic
clock, real SQLite (tests/supervision/test_heartbeat_progress.py's rig)."""

from __future__ import annotations

from tests.supervision.test_heartbeat_progress import BTC, Rig, hung_after_a_backlog
from tests.support.waiting import wait_until


def test_a_replaced_incarnation_whose_commit_meets_the_fence_is_one_line(tmp_path):
    rig = Rig(tmp_path)
    try:
        old = hung_after_a_backlog(rig)
        child = rig.child
        # the successor starts (claims a new incarnation) while the old one is still stuck
        rig.beat()
        wait_until(lambda: child.state.value == "running" and child.ref is not old,
                   message="the new incarnation running")
        rig.work.release.set()  # the old one wakes: its entry's commit meets the database fence
        wait_until(lambda: old.actor_stopped.is_set(), message="the replaced actor ended")
        wait_until(lambda: any("its commit was refused" in line for line in rig.lines),
                   message="the replaced incarnation's line")
        rig.h.idle(BTC)
        rig.beat()
        replaced = [line for line in rig.lines if "was replaced" in line]
        assert replaced == ["incarnation 1 was replaced; its commit was refused"]
        assert not [line for line in rig.lines if "crashed" in line or "+traceback" in line]
        assert child.restarts == 1 and len(child.history.failures) == 1
        assert not rig.sup.escalations and child.state.value == "running"
    finally:
        rig.stop()
