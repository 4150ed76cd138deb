"""The HTTP endpoint over real HTTP on 127.0.0.1 (router fakes injected)."""

from __future__ import annotations

import http.client
import socket
import threading
import time

from loguru import logger

from signals.http_server import SignalHttpServer
from signals.limits import OpenPositionGate, WaveLimiter
from tests.signals.support import TOKEN, Clock, Positions, make_router, post

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"


def serve(**router_kwargs):
    router, journal, deliver = make_router(**router_kwargs)
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0)
    server.start()
    return server, journal, deliver


def test_token_is_required_and_checked():
    server, journal, deliver = serve()
    try:
        body = {"id": "t1", "symbol": BTC, "side": "long"}
        assert post(server.url, body, token=None)[0] == 401
        status, reply = post(server.url, body, token="wrong")
        assert status == 401 and reply["status"] == "unauthorized"
        assert journal.entries == [] and deliver.calls == []
        assert post(server.url, body, header="x-signal-token") == (
            202, {"status": "accepted", "id": "t1"})
    finally:
        assert server.stop(timeout_s=5)


def test_bad_requests_are_rejected_with_a_reason():
    clock = Clock()
    server, journal, deliver = serve(clock=clock)
    try:
        status, reply = post(server.url, b"{oops")
        assert status == 400 and reply["status"] == "rejected"
        assert "malformed JSON" in reply["reason"]
        status, reply = post(server.url, {"id": "u1", "symbol": "DOGE/USDT:USDT", "side": "long"})
        assert status == 422 and "unknown symbol" in reply["reason"]
        status, reply = post(server.url, {"id": "x1", "symbol": BTC, "side": "short",
                                          "expires_at": clock.now - 1})
        assert status == 409 and "expired" in reply["reason"]
        assert len(journal.of("SignalRejected")) == 3 and deliver.calls == []
        assert post(server.url + "/other", {"id": "o"})[0] == 404
    finally:
        assert server.stop(timeout_s=5)


def test_duplicate_id_is_ignored_and_journaled_once():
    server, journal, deliver = serve()
    try:
        body = {"id": "d1", "symbol": BTC, "side": "long"}
        assert post(server.url, body)[0] == 202
        assert post(server.url, body) == (200, {"status": "duplicate", "id": "d1",
                                               "reason": "this signal id was already received"})
        assert len(deliver.calls) == 1 and len(journal.of("SignalAccepted")) == 1
        assert len(journal.of("SignalDuplicate")) == 1
    finally:
        assert server.stop(timeout_s=5)


def test_concurrent_duplicates_deliver_once():
    server, journal, deliver = serve()
    results: list[int] = []
    barrier = threading.Barrier(10)

    def send() -> None:
        barrier.wait(timeout=10)
        results.append(post(server.url, {"id": "same", "symbol": BTC, "side": "long"})[0])

    threads = [threading.Thread(target=send) for _ in range(10)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=15)
        assert sorted(results) == [200] * 9 + [202]
        assert len(deliver.calls) == 1 and len(journal.of("SignalAccepted")) == 1
    finally:
        assert server.stop(timeout_s=5)


def test_wave_limit_and_max_open_positions_over_http():
    server, journal, deliver = serve(wave=WaveLimiter(3, 60.0))
    try:
        keys = [(BTC, "long"), (ETH, "long"), (BTC, "short"), (ETH, "short"), (BTC, "long")]
        codes = [post(server.url, {"id": f"w{i}", "symbol": symbol, "side": side})[0]
                 for i, (symbol, side) in enumerate(keys)]
        assert codes == [202, 202, 202, 429, 202]  # a repeat of a counted entry takes no place
        reasons = [d["reason"] for _, _, d, _ in journal.of("SignalRejected")]
        assert len(reasons) == 1 and all("wave limit" in r for r in reasons)
    finally:
        assert server.stop(timeout_s=5)
    server, journal, deliver = serve(positions=OpenPositionGate(2, Positions(2)))
    try:
        status, reply = post(server.url, {"id": "m1", "symbol": BTC, "side": "long"})
        assert status == 409 and "max open positions" in reply["reason"]
        assert post(server.url, {"id": "m2", "symbol": BTC, "side": "exit"})[0] == 202  # exits pass
        assert [c[1].signal_id for c in deliver.calls] == ["m2"]
    finally:
        assert server.stop(timeout_s=5)


def test_oversized_body_and_stop_within_bound_with_an_idle_client_connected():
    router, _, _ = make_router()
    # the idle client's deadlines are 60 s: a stop that waited for its connection would take
    # that long, far past the 5 s bound checked below (with the default 2 s head deadline the
    # check could not tell waiting from not waiting)
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0, max_body_bytes=100,
                              head_timeout_s=60.0, request_timeout_s=60.0)
    server.start()
    idle = http.client.HTTPConnection(*server.address, timeout=5)
    idle.connect()  # a client that never sends its request
    try:
        assert post(server.url, {"id": "big", "pad": "x" * 200})[0] == 413
    finally:
        started = time.monotonic()
        assert server.stop(timeout_s=5)
        assert time.monotonic() - started < 30  # not the idle connection's 60 s
        idle.close()


def test_stop_waits_for_a_signal_being_handled_within_its_bound():
    entered, release = threading.Event(), threading.Event()

    def slow_deliver(symbol, signal):
        entered.set()
        release.wait(timeout=10)
        return True

    router, journal, _ = make_router(deliver=slow_deliver)
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0)
    server.start()
    replies: list[int] = []
    sender = threading.Thread(target=lambda: replies.append(
        post(server.url, {"id": "slow", "symbol": BTC, "side": "long"})[0]))
    sender.start()
    try:
        assert entered.wait(timeout=10)
        assert server.stop(timeout_s=0.2) is False  # bounded: it does not hang on the request
    finally:
        release.set()
    sender.join(timeout=10)
    assert server.stop(timeout_s=5) is True
    assert replies == [202] and len(journal.of("SignalAccepted")) == 1


class KeptLines:
    """A logger that keeps its lines (formatted as loguru would)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def _add(self, message: str, *args: object) -> None:
        self.lines.append(message.format(*args))

    info = debug = warning = error = _add

    def opt(self, **_: object) -> KeptLines:
        return self


def test_an_oversized_or_unsized_body_is_said_in_the_log_not_only_to_the_sender():
    """Found by review: a body over max_body_bytes (a TradingView alert whose message template
    grew) or one without Content-Length was answered 413 / 411 and nothing reached the bot's
    log, so the operator, who does not see the webhook's answers, saw signals vanish. Every
    other refusal is logged (at most a line a second); these now are too, naming the size."""
    router, journal, deliver = make_router()
    lines = KeptLines()
    server = SignalHttpServer(router=router, token=TOKEN, logger=lines, port=0, max_body_bytes=100)
    server.start()
    try:
        assert post(server.url, {"id": "big", "pad": "x" * 200})[0] == 413
    finally:
        assert server.stop(timeout_s=5)
    said = [line for line in lines.lines if "bytes" in line and "refused" in line]
    assert len(said) == 1 and "over 100" in said[0], lines.lines
    lines.lines.clear()
    server = SignalHttpServer(router=router, token=TOKEN, logger=lines, port=0)
    server.start()
    try:
        with socket.create_connection(server.address, timeout=5) as raw:
            raw.sendall(f"POST /signals HTTP/1.0\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
                        .encode())
            assert raw.recv(100).startswith(b"HTTP/1.0 411")
    finally:
        assert server.stop(timeout_s=5)
    assert [line for line in lines.lines if "no Content-Length" in line], lines.lines
    assert deliver.calls == []


def test_a_wrong_token_is_neither_echoed_in_the_answer_nor_logged(lines):
    """Mutation audit: the 401's reason carrying the Authorization header the sender gave
    survived every test (they checked the status only). A token sent to the wrong bot, or the
    old token of a rotated pair (a near miss of the real one), must not come back in an answer
    a proxy or a webhook's history keeps, nor reach the bot's log. Each way of giving one."""
    given = "old-rotated-s3cret-token"
    server, journal, deliver = serve()
    try:
        answers = [
            post(server.url, {"id": "w1", "symbol": BTC, "side": "long"}, token=given),
            post(server.url, {"id": "w2", "symbol": BTC, "side": "long"}, token=given,
                 header="x-signal-token"),
            post(server.url, {"id": "w3", "symbol": BTC, "side": "long", "token": given},
                 token=None),
        ]
    finally:
        assert server.stop(timeout_s=5)
    assert answers == [(401, {"status": "unauthorized", "reason": "missing or bad token"})] * 3
    assert journal.entries == [] and deliver.calls == []
    assert lines and not [line for line in lines if given in line or TOKEN in line], lines
