"""A request whose body was still arriving when the receiver stopped (the bot is stopping) is
answered 503 and not routed: before, it was journaled and delivered after stop() had returned,
i.e. after the bot closed its repository and stopped its actors (found by review)."""

from __future__ import annotations

import json
import socket

from loguru import logger

from signals.http_server import SignalHttpServer
from tests.signals.support import TOKEN, make_router
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


def test_a_body_arriving_after_stop_is_refused_not_routed():
    router, journal, deliver = make_router()
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0)
    server.start()
    body = json.dumps({"id": "late", "symbol": BTC, "side": "long"}).encode()
    sock = socket.create_connection(server.address, timeout=10)
    try:
        sock.sendall(b"POST /signals HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + TOKEN.encode()
                     + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:5])
        conns = server._server.conns
        wait_until(lambda: any(c.head_done for c in list(conns._open.values())),
                   message="the request's head read")
        assert server.stop(timeout_s=5)
        sock.sendall(body[5:])
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    finally:
        sock.close()
    head, _, reply = data.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"503", data
    answer = json.loads(reply)
    assert answer["status"] == "rejected" and "stopping" in answer["reason"]
    assert journal.entries == [] and deliver.calls == []
