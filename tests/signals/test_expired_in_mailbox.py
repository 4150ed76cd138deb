"""A signal that expires while it waits in a busy actor's mailbox is not traded.

Found by review: `expires_at` was checked only when the signal arrived at the receiver. The
signal then waited behind whatever the actor was doing (a reconciliation held up by a slow
venue, a rate budget wait) and was traded when its turn came, however late: a signal valid for
5 s opened a position a minute after its sender had given it up.

Real parts: HTTP on 127.0.0.1, the router, the real supervisor and pykka actor, SQLite, the
paper exchange on the harness's manual clock (which the router reads too); the actor is held
inside a real exchange call (a reconciliation's fetch_positions) by an event the test
releases."""

from __future__ import annotations

from storage import queries
from tests.signals.support import signal_events, signal_to_a_busy_actor
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


def _events(h: Harness, type_: str, sid: str) -> list[dict]:
    return signal_events(h, BTC, type_, sid)


def _run(tmp_path, *, wait_s: float) -> tuple[Harness, list[dict], str]:
    """Send a long signal valid for 5 s to a busy actor; the clock moves `wait_s` before the
    actor is released. Returns the harness (stopped by the caller), the entry orders sent and
    the signal id."""
    sid = "late-1"
    h, entries = signal_to_a_busy_actor(
        tmp_path, BTC, lambda h: {"id": sid, "symbol": BTC, "side": "long", "size_usdt": 200,
                                  "expires_at": h.clock() + 5},
        wait_s=wait_s, heartbeat_timeout_s=60)
    return h, entries, sid


def test_a_signal_that_expired_in_the_mailbox_opens_nothing(tmp_path):
    h, entries, sid = _run(tmp_path, wait_s=60)
    try:
        assert entries == []
        assert h.exchange_position(BTC) is None
        [skipped] = _events(h, "SignalSkipped", sid)
        assert "expired" in skipped["data"]["reason"], skipped
        assert h.repo.read(queries.signal_received, sid)  # a retry is a duplicate, not a trade
        assert h.repo.unhandled_signals(BTC) == []  # a restart does not report it lost
    finally:
        h.stop()


def test_a_signal_still_valid_when_its_turn_comes_is_traded(tmp_path):
    h, entries, sid = _run(tmp_path, wait_s=1)
    try:
        assert len(entries) == 1
        wait_until(lambda: h.exchange_position(BTC) is not None, message="BTC long open")
        assert _events(h, "SignalSkipped", sid) == []
    finally:
        h.stop()
