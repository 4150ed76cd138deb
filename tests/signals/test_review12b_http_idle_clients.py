"""The HTTP endpoint against idle clients: connections that send a request line and nothing
more no longer lock senders out (before, 128 of them held every slot for 10 s, and a holder
that reopened them held them for ever): the request line and headers must arrive within a
short head deadline, one address may hold only so many connections, and over a cap the oldest
idle connection makes room; a connection that cannot be admitted, and http.server's own
refusals (431, 400, 501), are answered in one line of JSON, not closed silently or in HTML."""

from __future__ import annotations

import json
import socket
import time

from loguru import logger

from signals.http_server import SignalHttpServer
from tests.signals.support import TOKEN, make_router, post
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"
REQUEST_LINE = b"POST /signals HTTP/1.1\r\n"


def connect(port: int, source: str) -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))  # any 127.x address is this host's: several clients, one machine
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    return sock


def answer(sock: socket.socket) -> tuple[str, list[str], bytes]:
    """(status line, header lines, body) of what the server sent before closing."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status, *headers = head.decode("latin-1").split("\r\n")
    return status, headers, body


def one_line_json(body: bytes) -> dict:
    assert b"\n" not in body and body.startswith(b"{"), body
    return json.loads(body)


def test_idle_connections_at_the_cap_make_room_for_a_sender(lines):
    router, _, deliver = make_router()
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0,
                              max_connections=4)  # 2 per address by default
    server.start()
    port = server.address[1]
    idle = [connect(port, f"127.0.0.{n}") for n in (2, 2, 3, 3)]
    opened = time.monotonic()
    for sock in idle:
        sock.sendall(REQUEST_LINE)  # and nothing more
    try:
        wait_until(lambda: time.monotonic() - opened >= 0.6, message="the holders idle 0.6 s")
        status, body = post(server.url, {"id": "legit", "symbol": BTC, "side": "exit"})
        assert (status, body["status"]) == (202, "accepted")
        status_line, headers, evicted = answer(idle[0])  # the oldest idle one made room
        assert status_line == "HTTP/1.0 503 Service Unavailable" and "Retry-After: 1" in headers
        assert one_line_json(evicted)["reason"].startswith("closed: no request in time")
    finally:
        for sock in idle:
            sock.close()
        assert server.stop(timeout_s=5)
    assert [sig.signal_id for _, sig in deliver.calls] == ["legit"]
    assert any("closed a connection from 127.0.0.2 with no request" in line for line in lines)


def test_connections_over_a_cap_are_answered_503_in_json():
    router, _, _ = make_router()
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0,
                              max_connections=2, max_connections_per_ip=1,
                              evict_idle_after_s=30.0)
    server.start()
    port = server.address[1]
    first = connect(port, "127.0.0.2")
    try:
        same_address = connect(port, "127.0.0.2")
        status_line, _, body = answer(same_address)
        assert status_line == "HTTP/1.0 503 Service Unavailable"
        assert one_line_json(body) == {
            "status": "rejected",
            "reason": "too many connections from 127.0.0.2 (limit 1); retry shortly"}
        second = connect(port, "127.0.0.3")
        third = connect(port, "127.0.0.4")  # the total cap: 2
        status_line, _, body = answer(third)
        assert status_line == "HTTP/1.0 503 Service Unavailable"
        assert one_line_json(body)["reason"] == "too many connections (limit 2); retry shortly"
        for sock in (first, second, same_address, third):
            sock.close()
        after = {"id": "after", "symbol": BTC, "side": "exit"}
        wait_until(lambda: post(server.url, after)[0] == 202, timeout=5,
                   message="a slot once the clients left")
    finally:
        first.close()
        assert server.stop(timeout_s=5)


def test_the_head_has_a_short_deadline_the_body_the_request_deadline():
    router, _, deliver = make_router()
    head_s, request_s = 1.0, 30.0  # the deadlines under test, far apart: wide slack both ways
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0,
                              head_timeout_s=head_s, request_timeout_s=request_s)
    server.start()
    port = server.address[1]
    try:
        started = time.monotonic()  # before the connection: its deadline counts from later
        idle = connect(port, "127.0.0.1")
        idle.sendall(REQUEST_LINE)
        assert idle.recv(1) == b""  # cut at the head deadline, not at the request's 30 s
        assert head_s - 0.05 <= time.monotonic() - started < request_s * 2 / 3
        idle.close()
        body = json.dumps({"id": "slow-body", "symbol": BTC, "side": "exit"}).encode()
        sender = connect(port, "127.0.0.1")
        sender.sendall(REQUEST_LINE + b"Authorization: Bearer " + TOKEN.encode()
                       + b"\r\nContent-Length: %d\r\n\r\n" % len(body))
        sent_head = time.monotonic()
        wait_until(lambda: time.monotonic() - sent_head >= head_s + 0.5, timeout=10,
                   message="past the head deadline")
        sender.sendall(body)
        status_line, _, reply = answer(sender)
        sender.close()
        assert status_line.startswith("HTTP/1.0 202") and json.loads(reply)["id"] == "slow-body"
    finally:
        assert server.stop(timeout_s=5)
    assert [sig.signal_id for _, sig in deliver.calls] == ["slow-body"]


def raw(port: int, data: bytes) -> tuple[str, bytes]:
    sock = connect(port, "127.0.0.1")
    try:
        sock.sendall(data)
        status_line, _, body = answer(sock)
    finally:
        sock.close()
    return status_line, body


def test_http_servers_own_errors_are_one_line_json():
    router, _, _ = make_router()
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0)
    server.start()
    port = server.address[1]
    try:
        cases = [
            (REQUEST_LINE + b"X-A: " + b"a" * 66000 + b"\r\n\r\n", 431, "Line too long"),
            (REQUEST_LINE + b"X-A: a\r\n" * 120 + b"\r\n", 431, "Too many headers"),
            (b"NONSENSE\r\n\r\n", 400, "Bad request syntax ('NONSENSE')"),
            (b"PUT /signals HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 501,
             "Unsupported method ('PUT')"),
        ]
        for data, code, reason in cases:
            status_line, body = raw(port, data)
            assert status_line.startswith(f"HTTP/1.0 {code} "), (reason, status_line)
            assert one_line_json(body) == {"status": "rejected", "reason": reason}
    finally:
        assert server.stop(timeout_s=5)
