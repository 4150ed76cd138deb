"""supervision/liveness.py `judge`: an overdue heartbeat reply is a hang only without progress."""

from __future__ import annotations

from exchange.fence import BusyBoard
from supervision.liveness import Liveness, judge
from tests.support.clock import ManualClock

S = "BTC/USDT:USDT"


def test_overdue_reply_is_slow_while_in_a_call_or_progressing_and_hung_after_neither():
    clock = ManualClock(start=100.0)
    board = BusyBoard(clock=clock)
    assert judge(board, S, None, 5.0) is Liveness.ALIVE  # no ping out
    assert judge(board, S, 5.0, 5.0) is Liveness.ALIVE  # not overdue yet
    assert judge(board, S, 6.0, 5.0) is Liveness.HUNG  # overdue, nothing ever reported
    board.mark(S, 10.0)  # in a bounded exchange call
    clock.advance(9.0)
    assert judge(board, S, 9.0, 5.0) is Liveness.SLOW
    board.clear(S)  # the message ended: in no call, but that was progress
    clock.advance(4.0)
    assert board.busy_for(S) == 0.0
    assert judge(board, S, 13.0, 5.0) is Liveness.SLOW
    board.progressed(S)  # the next message began; stuck in it from here on
    clock.advance(5.0)
    assert judge(board, S, 18.0, 5.0) is Liveness.SLOW
    clock.advance(0.5)
    assert judge(board, S, 18.5, 5.0) is Liveness.HUNG


def test_a_call_returning_just_after_its_bound_is_slow_and_a_hang_after_it_needs_a_whole_timeout():
    """Found by a live chaos run: a close's answer was held past the gateway's 5 s timeout; the
    call returned a few ms after the bound it announced, and the heartbeat judged the actor hung
    in that gap (idle since the announcement, 5.008 s > 5 s), so its lookup was fenced."""
    clock = ManualClock(start=100.0)
    board = BusyBoard(clock=clock)
    board.mark(S, 5.0)  # the request announced: at most its 5 s timeout
    clock.advance(5.01)  # timed out; the thread is on its way back
    assert board.busy_for(S) == 0.0
    assert judge(board, S, 5.5, 5.0) is Liveness.SLOW
    clock.advance(4.98)  # no progress since, but within a timeout of the bound's end
    assert judge(board, S, 10.5, 5.0) is Liveness.SLOW
    clock.advance(0.03)  # a whole timeout past the bound without progress: stuck
    assert judge(board, S, 10.53, 5.0) is Liveness.HUNG
