"""An actor waiting for its own commit is in a bounded call, not hung: a database that is slow
for a moment (a disk stalled by a backup, throttled IOPS, a PostgreSQL call within its 10 s
deadline) must not get every actor that was committing restarted.

Found by review: the heartbeat forgave a late reply only for announced exchange calls
(supervision/liveness.py), so an actor blocked in `Repository.commit` behind a stalled writer
was failed as hung after `heartbeat_timeout_s`; its successor's claim then waited behind the
same writer, and the restart only dropped its mailbox (order reports) and cost a full
reconciliation. A commit is bounded (the writer's submit times out), so it is announced like an
exchange call; an actor stuck without progress after its commit returned is still failed.

Real pykka actor, the real supervisor on a manual monotonic clock, the real group-commit writer
and SQLite; the writer is held by a unit of work that waits (as a slow disk would)."""

from __future__ import annotations

import threading
from decimal import Decimal

from tests.supervision.test_heartbeat_progress import BTC, INTERVAL, TIMEOUT, Rig
from tests.support.waiting import wait_until
from trading.events import SignalRaised
from trading.model import Side


def test_an_actor_waiting_for_a_slow_commit_is_not_restarted(tmp_path):
    rig = Rig(tmp_path)
    stall = threading.Event()
    stalled = threading.Event()

    def slow_unit() -> None:
        stalled.set()
        assert stall.wait(30), "never released"

    holder = threading.Thread(target=lambda: rig.h.repo.writer.submit(slow_unit))
    try:
        rig.start()
        child = rig.child
        holder.start()
        assert stalled.wait(10), "the writer is held"
        rig.work.release.set()
        rig.work.armed = True
        rig.strategy.then = SignalRaised(side=Side.LONG, reason="entry committed slowly")
        assert rig.h.tick(BTC, Decimal("50000"))  # decides an entry, then waits for its commit
        assert rig.work.entered.wait(10), "the entry decided"
        wait_until(lambda: rig.h.repo.writer._queue.qsize() > 0,  # noqa: SLF001
                   message="the actor's commit queued behind the held writer")
        rig.beat(done=lambda: child.ping_sent_at == rig.mono())  # a Timer, then the Ping
        forgiven = rig.sup.busy_waits
        rig.beat(TIMEOUT + INTERVAL, done=lambda: rig.sup.busy_waits > forgiven
                 or child.last_failure is not None)
        assert child.last_failure is None, child.last_failure
        stall.set()  # the disk answers again
        rig.h.idle(BTC)
        rig.beat()
        assert child.last_failure is None and child.restarts == 0
        assert child.state.value == "running" and rig.h.view(BTC).position is not None
    finally:
        stall.set()
        holder.join(10)
        rig.stop()


def test_a_commit_leaves_an_earlier_exchange_calls_mark_as_it_was():
    """The commit's own mark ends with it; a bounded exchange call announced earlier in the same
    message is still honoured until the message ends, as before commits were announced."""
    from actors.symbol_actor import AnnouncedCommits
    from exchange.fence import BusyBoard
    from tests.support.clock import ManualClock

    class Committed:
        def commit(self, *args: object, **kwargs: object) -> str:
            assert board.busy_for(BTC) >= 60  # the commit is announced while it waits
            return "committed"

    clock = ManualClock(start=100.0)
    board = BusyBoard(clock=clock)
    repo = AnnouncedCommits(Committed(), board, BTC, lambda: True)
    assert repo.commit() == "committed" and board.busy_for(BTC) == 0  # no call before it
    board.mark(BTC, 10.0)  # an exchange call's bound, announced earlier in the message
    clock.advance(1.0)
    assert repo.commit() == "committed"
    assert board.busy_for(BTC) == 9.0 and board.idle_for(BTC) == 0
