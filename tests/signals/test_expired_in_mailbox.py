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

import threading

from loguru import logger

from actors.messages import Reconcile
from signals.http_server import SignalHttpServer
from signals.router import SignalRouter
from signals.wiring import repository_journal
from storage import queries
from tests.signals.support import TOKEN, post
from tests.support.faulty_exchange import FaultyExchange, params_of
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


def _events(h: Harness, type_: str, sid: str) -> list[dict]:
    return [e for e in h.repo.read(queries.events, BTC, type_) if e["correlation_id"] == sid]


def _run(tmp_path, *, wait_s: float) -> tuple[Harness, list[dict], str]:
    """Send a long signal valid for 5 s to a busy actor; the clock moves `wait_s` before the
    actor is released. Returns the harness (stopped by the caller), the entry orders sent and
    the signal id."""
    box: dict = {}

    def wrap(paper):
        box["fx"] = FaultyExchange(paper)
        return box["fx"]

    h = Harness(tmp_path, [BTC], wrap=wrap, heartbeat_timeout_s=60).start()
    fx = box["fx"]
    router = SignalRouter(symbols=[BTC], deliver=h.sup.deliver_signal,
                          journal=repository_journal(h.repo),
                          seen=lambda sid: h.repo.read(queries.signal_received, sid),
                          logger=logger, clock=h.clock)
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0)
    server.start()
    h.poll()  # the actor has a price: an entry signal would open a position
    h.idle(BTC)
    entered, release = threading.Event(), threading.Event()
    entries: list[dict] = []

    def hold(name, args, kwargs):  # noqa: ANN001
        if not release.is_set():
            entered.set()
            release.wait(30)

    def record(name, args, kwargs):  # noqa: ANN001
        if "stopLossPrice" not in params_of(args, kwargs):
            entries.append(params_of(args, kwargs))

    fx.before["fetch_positions"] = hold
    fx.before["create_order"] = record
    sid = "late-1"
    try:
        assert h.sup.tell(BTC, Reconcile(reason="test: busy"))
        wait_until(entered.is_set, message="the actor is inside fetch_positions")
        status, body = post(server.url, {"id": sid, "symbol": BTC, "side": "long",
                                         "size_usdt": 200, "expires_at": h.clock() + 5})
        assert status == 202, body  # valid when it arrived: routed into the mailbox
        h.clock.advance(wait_s)
    finally:
        release.set()
        server.stop()
    h.idle(BTC)  # the reconciliation, then the queued signal
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
