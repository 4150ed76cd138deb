"""A signal for a symbol whose actor is still starting: over HTTP it waits for the actor
(bounded) and is then delivered, or answered `skipped` in one line naming the symbol and that
it is still starting (journaled, its id free for a retry); a feed's message is never held (the
feed's messages are handled one at a time) and is answered so at once; a receiver stopping
answers a waiting one at once. The bot serves the receiver from its start (found in session 49:
it waited for EVERY actor, so one symbol's slow start held all signals:
tests/runtime/test_signal_while_one_symbol_starts.py runs that in a real bot).

Real router and HTTP server on 127.0.0.1; the actor states and the journal are fakes injected
through the router's constructor. No sleeps: waits on conditions with deadlines."""

from __future__ import annotations

import threading
from typing import Any

from loguru import logger

from signals.http_server import SignalHttpServer
from tests.signals.support import TOKEN, make_router, post
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


class States:
    """Actor states the test sets; counts the reads."""

    def __init__(self, **states: str) -> None:
        self.states = {BTC: "running", ETH: "starting", **states}
        self.reads = 0

    def __call__(self, symbol: str) -> str | None:
        self.reads += 1
        return self.states.get(symbol)


class Lines:
    """The router's log lines (a loguru sink on a test-bound logger)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.log = logger.bind(test_sink=id(self))
        self._id = logger.add(self.lines.append, format="{message}",
                              filter=lambda r: r["extra"].get("test_sink") == id(self))

    def close(self) -> None:
        logger.remove(self._id)

    def has(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))


def test_an_http_signal_for_a_starting_actor_waits_then_is_refused_naming_it():
    states = States()
    # the wait outlasts the request's read deadline: the answer still goes out
    router, journal, deliver = make_router(actor_state=states, start_wait_s=1.5)
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0,
                              request_timeout_s=1.0)
    server.start()
    try:
        status, body = post(server.url, {"id": "e1", "symbol": ETH, "side": "exit"})
        assert (status, body["status"]) == (409, "skipped"), body
        assert ETH in body["reason"] and "still starting" in body["reason"], body
        assert "\n" not in body["reason"] and "send it again" in body["reason"], body
        assert deliver.calls == []
        [(sym, _, data, cid)] = journal.of("SignalSkipped")
        assert (sym, cid, data["reason"]) == (ETH, "e1", body["reason"])
        # the running symbol is delivered at once, whatever ETH does
        status, body = post(server.url, {"id": "b1", "symbol": BTC, "side": "exit"})
        assert (status, body["status"]) == (202, "accepted"), body
        # the refused id is free: sent again once ETH runs, it is delivered
        states.states[ETH] = "running"
        status, body = post(server.url, {"id": "e1", "symbol": ETH, "side": "exit"})
        assert (status, body["status"]) == (202, "accepted"), body
        assert [s for s, _ in deliver.calls] == [BTC, ETH]
    finally:
        server.stop(5)


def test_a_waiting_signal_is_delivered_once_its_actor_runs():
    states = States()
    lines = Lines()
    router, _, deliver = make_router(actor_state=states, start_wait_s=60)
    router.log = lines.log
    answers: dict[str, Any] = {}
    try:
        sender = threading.Thread(target=lambda: answers.update(
            out=router.handle({"id": "e2", "symbol": ETH, "side": "long"}, "http")))
        sender.start()
        wait_until(lambda: lines.has(f"signal e2 {ETH}: waiting for its actor (starting)"),
                   timeout=10, message="the signal waiting")
        assert "out" not in answers and deliver.calls == []
        states.states[ETH] = "running"
        sender.join(10)
        assert answers["out"].status == "accepted", answers
        assert [s for s, _ in deliver.calls] == [ETH]
    finally:
        lines.close()


def test_a_feed_message_for_a_starting_actor_is_answered_at_once():
    states = States(**{ETH: "restarting"})
    router, journal, deliver = make_router(actor_state=states, start_wait_s=600)
    out = router.handle({"id": "w1", "symbol": ETH, "side": "exit"}, "websocket")
    assert (out.status, out.http_status) == ("skipped", 409), out
    assert out.reason is not None and ETH in out.reason and "still restarting" in out.reason
    assert "not held" in out.reason
    assert states.reads == 1  # read once, never waited on
    assert deliver.calls == [] and len(journal.of("SignalSkipped")) == 1


def test_a_receiver_stopping_answers_a_waiting_signal_at_once():
    states = States()
    lines = Lines()
    router, _, deliver = make_router(actor_state=states, start_wait_s=600)
    router.log = lines.log
    answers: dict[str, Any] = {}
    try:
        sender = threading.Thread(target=lambda: answers.update(
            out=router.handle({"id": "e3", "symbol": ETH, "side": "exit"}, "http")))
        sender.start()
        wait_until(lambda: lines.has("signal e3"), timeout=10, message="the signal waiting")
        router.stop_waiting()
        sender.join(10)
        assert not sender.is_alive()
        out = answers["out"]
        assert out.status == "skipped" and "the bot is stopping" in out.reason, out
        assert deliver.calls == []
    finally:
        lines.close()


def test_an_entry_waits_no_longer_than_its_age():
    states = States()
    router, _, deliver = make_router(actor_state=states, start_wait_s=600, max_age_s=0.2)
    out = router.handle({"id": "e4", "symbol": ETH, "side": "long"}, "http")
    assert out.status == "skipped" and "still starting" in out.reason, out
    assert deliver.calls == []
