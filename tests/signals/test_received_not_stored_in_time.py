"""A signal whose SignalReceived row the database did not store in time is judged again when
it is sent again, not answered "duplicate".

Found by review: `deliver_signal` journals SignalReceived, then tells the actor. A database
stalling past the write's bound raised TimeoutError there (the sender got a 500 "internal
error: TimeoutError" and the log a traceback), the actor was never told, but the unit stayed
queued and committed once the database answered: the signal's id was then "received", and the
sender's retry was answered 200 "duplicate: this signal id was already received". The signal
was never traded, and nothing said so until a restart. Now a SignalSkipped (not delivered) row
is queued right behind it, so the id is free once both commit, and the sender is answered 503
"not traded: the database did not store it in time (...); send it again" with one log line.

Real parts: HTTP on 127.0.0.1, the router, the real supervisor and pykka actor, SQLite whose
writer thread the test holds (HeldWriter) while the signal is delivered; the delivery's wait
for its row is bounded at 0.3 s by the test (the bot's bound is the writer's 60 s)."""

from __future__ import annotations

from loguru import logger

from signals.http_server import SignalHttpServer
from signals.router import SignalRouter
from signals.wiring import repository_journal
from storage import queries
from storage.writer import writes_within
from tests.protections.test_guard_writes_bounded import HeldWriter
from tests.signals.support import TOKEN, post
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


def test_a_signal_not_stored_in_time_is_not_a_duplicate_when_sent_again(tmp_path, lines):
    h = Harness(tmp_path, [BTC], heartbeat_timeout_s=600).start()
    real = repository_journal(h.repo)
    held: list[HeldWriter] = []

    def journal(symbol, type_, data, cid):  # noqa: ANN001
        real(symbol, type_, data, cid)
        if type_ == "SignalAccepted" and not held:
            held.append(HeldWriter(h.repo))  # the database stalls from here

    def deliver(symbol, signal):  # noqa: ANN001
        with writes_within(0.3):
            return h.sup.deliver_signal(symbol, signal)

    router = SignalRouter(symbols=[BTC], deliver=deliver, journal=journal,
                          seen=lambda sid: h.repo.read(queries.signal_received, sid),
                          logger=logger, clock=h.clock)
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0)
    server.start()
    signal = {"id": "stalled-1", "symbol": BTC, "side": "long", "size_usdt": 200}
    try:
        h.poll()  # the actor has a price
        h.idle(BTC)
        status, body = post(server.url, signal)
        assert status == 503, body  # not delivered: said in one line, not "internal error"
        assert body["reason"].startswith("not traded: the database did not store it in time")
        held[0].release()  # the database answers: the queued rows commit
        status, body = post(server.url, signal)  # the sender's retry
        assert status == 202, body  # judged again and delivered, not "duplicate"
        wait_until(lambda: h.exchange_position(BTC) is not None, message="BTC long open")
        traces = [line[:300] for line in lines if "Traceback" in line]
        assert traces == [], traces  # one line, no traceback
    finally:
        for writer in held:
            writer.release()
        server.stop()
        h.stop()
