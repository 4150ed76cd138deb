"""A signal sent again (same id) while its first request still waits for a starting actor is
never answered "duplicate" unless the first was received: the first may end not traded (still
starting after the wait, the bot stopping), its id freed for a retry, and a sender told
"already received" for the resend would count a signal as traded that nobody traded.

Found in the paper chaos campaign's review of the router (signals/router.py `_await_actor`,
START_WAIT_S = 8 s): the id was claimed in memory before the wait, so a sender whose own answer
timeout is shorter than the wait (a webhook sender's few seconds) and that retries with the same
id got 200 "this signal id was already received"; the first then ended 409 "still starting" and
freed the id: the signal was lost, and its sender believed it delivered.

Real router and HTTP server on 127.0.0.1; actor states and journal are fakes injected through
the router's constructor. No sleeps: waits on conditions with deadlines."""

from __future__ import annotations

import threading
from typing import Any

from loguru import logger

from signals.http_server import SignalHttpServer
from tests.signals.support import TOKEN, make_router, post
from tests.signals.test_signal_for_a_starting_actor import ETH, Lines, States
from tests.support.waiting import wait_until


def _post_in_thread(url: str, body: dict[str, Any], into: dict[str, Any],
                    key: str) -> threading.Thread:
    def send() -> None:
        into[key] = post(url, body)

    thread = threading.Thread(target=send, name=f"post-{key}", daemon=True)
    thread.start()
    return thread


def test_a_resend_during_the_first_requests_wait_is_not_told_duplicate_when_nothing_was_traded():
    states = States()  # ETH starting
    lines = Lines()
    router, journal, deliver = make_router(actor_state=states, start_wait_s=600)
    router.log = lines.log
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0,
                              request_timeout_s=1.0)
    server.start()
    answers: dict[str, Any] = {}
    signal = {"id": "r1", "symbol": ETH, "side": "exit"}
    try:
        first = _post_in_thread(server.url, signal, answers, "first")
        wait_until(lambda: lines.has(f"signal r1 {ETH}: waiting for its actor (starting)"),
                   timeout=10, message="the first request waiting for ETH's actor")
        second = _post_in_thread(server.url, signal, answers, "second")
        # the resend either was answered (the bug: at once, "duplicate") or waits for the first
        wait_until(lambda: "second" in answers or lines.has("r1 from http: an earlier request"),
                   timeout=10, message="the resend reaching the router")
        router.stop_waiting()  # the first ends not traded ("the bot is stopping")
        first.join(15)
        second.join(15)
        status, body = answers["first"]
        assert (status, body["status"]) == (409, "skipped"), body
        assert deliver.calls == [] and journal.of("SignalAccepted") == []
        status, body = answers["second"]
        assert body["status"] != "duplicate", (
            f"the resend was told {body} while its first request traded nothing")
        assert (status, body["status"]) == (409, "skipped"), body
    finally:
        lines.close()
        server.stop(5)


def test_a_resend_during_the_wait_is_a_duplicate_once_the_first_is_delivered():
    states = States()
    lines = Lines()
    router, journal, deliver = make_router(actor_state=states, start_wait_s=600)
    router.log = lines.log
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0,
                              request_timeout_s=1.0)
    server.start()
    answers: dict[str, Any] = {}
    signal = {"id": "r2", "symbol": ETH, "side": "exit"}
    try:
        first = _post_in_thread(server.url, signal, answers, "first")
        wait_until(lambda: lines.has(f"signal r2 {ETH}: waiting for its actor (starting)"),
                   timeout=10, message="the first request waiting for ETH's actor")
        second = _post_in_thread(server.url, signal, answers, "second")
        wait_until(lambda: "second" in answers or lines.has("r2 from http: an earlier request"),
                   timeout=10, message="the resend reaching the router")
        states.states[ETH] = "running"
        first.join(15)
        second.join(15)
        assert answers["first"][0] == 202, answers
        assert (answers["second"][0], answers["second"][1]["status"]) == (200, "duplicate")
        assert len(deliver.calls) == 1 and len(journal.of("SignalAccepted")) == 1
    finally:
        lines.close()
        server.stop(5)


class Clock:
    """The router's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_resend_waits_for_its_actor_no_longer_than_start_wait_s_from_its_own_arrival():
    """A resend that waited for its first request to settle is answered within START_WAIT_S of
    its own arrival, as any signal for a starting actor (the bound is below a sender's usual
    10 s answer timeout). Found by review: after waiting for the first (up to 8 s) it waited
    its own full 8 s again, answering up to 16 s after it arrived: a sender that retried
    within 8 s timed out on the resend too. Real router on the requests' threads; the
    monotonic clock is injected and moved by the test."""
    states, lines, clock = States(), Lines(), Clock()
    router, _journal, deliver = make_router(actor_state=states, start_wait_s=8.0,
                                            monotonic=clock)
    router.log = lines.log
    answers: dict[str, Any] = {}
    signal = {"id": "r3", "symbol": ETH, "side": "exit"}

    def handle(key: str) -> threading.Thread:
        thread = threading.Thread(target=lambda: answers.__setitem__(
            key, router.handle(dict(signal), "http")), name=f"handle-{key}", daemon=True)
        thread.start()
        return thread

    try:
        first = handle("first")
        wait_until(lambda: lines.has(f"signal r3 {ETH}: waiting for its actor (starting)"),
                   timeout=10, message="the first request waiting for ETH's actor")
        clock.now += 5.0  # the sender timed out after 5 s and sends it again
        second = handle("second")
        wait_until(lambda: lines.has("r3 from http: an earlier request"), timeout=10,
                   message="the resend waiting for the first request")
        clock.now += 3.5  # the first's 8 s are over: it is skipped, its id freed
        first.join(10)
        assert answers["first"].status == "skipped", answers
        clock.now += 5.0  # 8.5 s after the resend arrived
        wait_until(lambda: "second" in answers, timeout=10,
                   message="the resend answered 8 s after its arrival (it waited 8 s more "
                           "after its first request settled)")
        assert answers["second"].status == "skipped", answers
        assert deliver.calls == []
        second.join(10)
    finally:
        router.stop_waiting()
        lines.close()
