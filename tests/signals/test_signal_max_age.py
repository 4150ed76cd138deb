"""A signal without `expires_at` that waited behind a busy actor longer than signals.max_age_s
is not traded late.

Found by review: only a signal carrying its own `expires_at` was ever judged stale. One
without it (most webhook templates send none) waited in the mailbox behind whatever held the
actor (a reconciliation held up by a slow venue, a rate budget wait) and was traded when its
turn came, however late: a burst sent during a minute-long stall opened positions a minute
after the market that prompted them had moved. Each signal now lives `signals.max_age_s`
(default 30 s) from its arrival unless its own `expires_at` is sooner; an older one is skipped
with one journaled line naming the key.

Real parts: HTTP on 127.0.0.1, the router, the real supervisor and pykka actor, SQLite, the
paper exchange on the harness's manual clock (which the router reads too); the actor is held
inside a real exchange call (a reconciliation's fetch_positions) by an event the test
releases."""

from __future__ import annotations

import threading

from loguru import logger

from signals.http_server import SignalHttpServer
from signals.router import SignalRouter
from signals.wiring import repository_journal
from storage import queries
from tests.signals.support import (
    TOKEN,
    post,
    signal_events,
    signal_to_a_busy_actor,
    stalled_receiver,
)
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


def _events(h: Harness, type_: str, sid: str) -> list[dict]:
    return signal_events(h, BTC, type_, sid)


def _open_long(h: Harness, url: str) -> None:
    """An exit's position: a long opened by a signal before the actor is held."""
    status, body = post(url, {"id": "open-1", "symbol": BTC, "side": "long", "size_usdt": 200})
    assert status == 202, body
    h.idle(BTC)
    wait_until(lambda: h.exchange_position(BTC) is not None, message="BTC long open")


def _run(tmp_path, *, wait_s: float, side: str = "long") -> tuple[Harness, list[dict], str]:
    """Send a signal without `expires_at` (`side`; an exit: to a long opened first) to a busy
    actor; the clock moves `wait_s` before the actor is released. Returns the harness (stopped
    by the caller), the entry or close orders sent while it was held and the signal id."""
    sid = "no-expiry-1"
    signal = {"id": sid, "symbol": BTC, "side": side}
    if side != "exit":
        signal["size_usdt"] = 200
    h, sent = signal_to_a_busy_actor(tmp_path, BTC, lambda h: signal, wait_s=wait_s,
                                     heartbeat_timeout_s=600,
                                     before_hold=_open_long if side == "exit" else None)
    return h, sent, sid


def test_a_signal_older_than_max_age_when_its_turn_comes_opens_nothing(tmp_path):
    h, entries, sid = _run(tmp_path, wait_s=90)
    try:
        assert entries == [], "a 90 s old signal without expires_at was traded"
        assert h.exchange_position(BTC) is None
        [skipped] = _events(h, "SignalSkipped", sid)
        reason = skipped["data"]["reason"]
        assert "signals.max_age_s" in reason and "\n" not in reason, reason
        assert h.repo.unhandled_signals(BTC) == []  # a restart does not report it lost
    finally:
        h.stop()


def test_a_signal_within_max_age_when_its_turn_comes_is_traded(tmp_path):
    h, entries, sid = _run(tmp_path, wait_s=5)
    try:
        assert len(entries) == 1
        wait_until(lambda: h.exchange_position(BTC) is not None, message="BTC long open")
        assert _events(h, "SignalSkipped", sid) == []
    finally:
        h.stop()


def test_an_exit_older_than_max_age_still_closes_the_position(tmp_path):
    """An exit is never stale: skipped, it would leave open the position its sender asked
    closed (and answered 202). Found by review of the bound's first version, which skipped it."""
    h, closes, sid = _run(tmp_path, wait_s=90, side="exit")
    try:
        assert len(closes) == 1 and closes[0].get("reduceOnly"), closes
        wait_until(lambda: h.exchange_position(BTC) is None, message="BTC closed by the exit")
        assert _events(h, "SignalSkipped", sid) == []
    finally:
        h.stop()


def test_a_signal_held_by_a_slow_journal_past_max_age_is_refused_not_delivered(tmp_path):
    """The other wait: the journal write itself (a stalling database). A signal whose
    SignalAccepted row took longer than signals.max_age_s to commit is answered 503 with one
    line naming the key, never delivered, and its id stays free for the sender's retry."""
    h = Harness(tmp_path, [BTC], heartbeat_timeout_s=600).start()
    real = repository_journal(h.repo)
    entered, release = threading.Event(), threading.Event()

    def slow_journal(symbol, type_, data, cid):  # noqa: ANN001 - a stalling database
        if type_ == "SignalAccepted" and not release.is_set():
            entered.set()
            release.wait(30)
        real(symbol, type_, data, cid)

    router = SignalRouter(symbols=[BTC], deliver=h.sup.deliver_signal, journal=slow_journal,
                          seen=lambda sid: h.repo.read(queries.signal_received, sid),
                          logger=logger, clock=h.clock, max_age_s=10.0)
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0)
    server.start()
    answer: dict = {}
    sender = threading.Thread(target=lambda: answer.update(reply=post(
        server.url, {"id": "slow-1", "symbol": BTC, "side": "long", "size_usdt": 200})))
    try:
        sender.start()
        wait_until(entered.is_set, message="the signal's journal write is in progress")
        h.clock.advance(11)  # the write took longer than max_age_s
        release.set()
        sender.join(30)
        status, body = answer["reply"]
        assert status == 503, body
        assert "signals.max_age_s" in body["reason"] and "\n" not in body["reason"], body
        assert _events(h, "SignalReceived", "slow-1") == []  # never reached the actor
        assert not h.repo.read(queries.signal_received, "slow-1")  # a retry is judged again
    finally:
        release.set()
        server.stop()
        h.stop()


def test_a_stalled_database_holds_a_signal_no_longer_than_max_age(tmp_path):
    """The receiver's threads under a stalling database: each signal's writes waited the
    writer's 60 s (twice: its SignalAccepted and SignalReceived rows), so a burst held every
    connection slot for minutes and the next senders were turned away. With the bot's bound
    (`bounded`: storage.writer.writes_within) the writes wait only what is left of
    signals.max_age_s: the answer comes while the database still stalls, a one-line 503."""
    with stalled_receiver(tmp_path, BTC) as url:
        # post's own timeout (30 s) is far below the writer's 60 s
        status, body = post(url, {"id": "stall-1", "symbol": BTC, "side": "long",
                                  "size_usdt": 200}, timeout=30)
        assert status == 503, body
        assert body["reason"].startswith("not traded: the database did not store it"), body
