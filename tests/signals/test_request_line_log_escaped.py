"""Security review: http.server's own request log (the request line of every request, a
client's without a token too) went to our DEBUG line as sent: control characters such as a
terminal escape (ESC[2J...) reached bot.log and the console raw. They are escaped now, as
http.server's own log_message does (real server on 127.0.0.1, raw socket client)."""

from __future__ import annotations

import socket

from signals.http_server import SignalHttpServer
from tests.signals.support import TOKEN, make_router
from tests.support.waiting import wait_until


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def debug(self, text: str, *args: object) -> None:
        self.lines.append(text.format(*args))

    info = warning = error = debug


def test_control_characters_of_a_request_line_are_escaped_in_the_log():
    router, _, _ = make_router()
    log = Lines()
    server = SignalHttpServer(router=router, token=TOKEN, logger=log, port=0)
    server.start()
    try:
        with socket.create_connection(server.address, timeout=5) as s:
            s.sendall(b"GET /\x1b[2J\x1b]0;owned\x07 HTTP/1.0\r\n\r\n")
            while s.recv(65536):
                pass
        wait_until(lambda: any("signal endpoint: " in line and "GET /" in line
                               for line in log.lines), message="the request logged")
    finally:
        server.stop()
    logged = [line for line in log.lines if "GET /" in line]
    assert logged and not any(ch in line for line in logged for ch in "\x1b\x07"), logged
    assert any("\\x1b[2J" in line for line in logged), logged


def test_a_query_string_is_not_logged():
    """Found by review: the request line went to the DEBUG log with its query, so a token put
    in the URL (`?token=...`) reached bot.log."""
    router, _, _ = make_router()
    log = Lines()
    server = SignalHttpServer(router=router, token=TOKEN, logger=log, port=0)
    server.start()
    try:
        with socket.create_connection(server.address, timeout=5) as s:
            s.sendall(b"GET /signals?token=" + TOKEN.encode() + b"&x=1 HTTP/1.0\r\n\r\n")
            while s.recv(65536):
                pass
        wait_until(lambda: any("signal endpoint: " in line and "GET /signals" in line
                               for line in log.lines), message="the request logged")
    finally:
        server.stop()
    logged = [line for line in log.lines if "GET /signals" in line]
    assert not any(TOKEN in line for line in log.lines), logged
    assert any("GET /signals?(query not logged) HTTP/1.0" in line for line in logged), logged


def test_an_empty_token_header_does_not_hide_a_valid_bearer():
    """Found by review: an empty X-Signal-Token (a client template's blank) won over a valid
    `Authorization: Bearer`, and the signal was refused with 401."""
    router, _, _ = make_router()
    server = SignalHttpServer(router=router, token=TOKEN, logger=Lines(), port=0)
    server.start()
    try:
        with socket.create_connection(server.address, timeout=5) as s:
            body = b'{"symbol": "BTC/USDT:USDT", "side": "long"}'
            s.sendall(b"POST /signals HTTP/1.0\r\nX-Signal-Token: \r\nAuthorization: Bearer "
                      + TOKEN.encode() + b"\r\nContent-Type: application/json\r\n"
                      + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
    finally:
        server.stop()
    status = answer.split(b"\r\n", 1)[0]
    assert b" 401 " not in status, answer[:300]
