"""A kept-alive connection that sends nothing after its answer is dropped at the request
deadline (dashboard/connections.py: the next request must arrive whole within
``request_timeout_s`` of the previous answer), so idle connections cannot hold the
dashboard's capped slots (real aiohttp server on 127.0.0.1, a raw socket).

aiohttp's own keep-alive timer is far longer (75 s and more), so without the deadline being
armed again after each answer, a client that sends one request per connection and then holds
it open fills the 64 slots and plain requests are refused. Found by mutation audit: the re-arm
after a handled request left out passed every dashboard test."""

from __future__ import annotations

import socket

from loguru import logger

from dashboard.auth import Auth
from dashboard.server import DashboardServer
from tests.dashboard.test_hostile_clients import closed_by_peer, serve_source
from tests.dashboard.test_server import TOKEN, call
from tests.support.waiting import wait_until


def answer(s: socket.socket) -> bytes:
    """One whole HTTP answer (head and a Content-Length body) read from ``s``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, "the connection closed before the answer"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += s.recv(65536)
    return head.split(b"\r\n", 1)[0]


def test_an_idle_connection_after_its_answer_is_dropped_at_the_deadline(tmp_path):
    server = DashboardServer(source=serve_source(tmp_path), auth=Auth(token=TOKEN,
                             host="127.0.0.1"), logger=logger, max_connections=2,
                             request_timeout_s=1.0)
    server.start()
    port = server.address[1]
    idle = []
    try:
        for _ in range(2):  # both slots: one answered request each, then kept open, silent
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            idle.append(s)
            s.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port)
            assert answer(s) == b"HTTP/1.1 200 OK"
        # the deadline is 1 s; 30 s is far below aiohttp's own keep-alive timer, so the
        # generous bound tells the two apart without timing the server on a busy machine
        wait_until(lambda: all(closed_by_peer(s) for s in idle), timeout=30,
                   message="idle kept-alive connections dropped at the request deadline")
        assert call(server.url + "/api/status")[0] == 200  # the slots are free again
    finally:
        for s in idle:
            s.close()
        server.stop()
