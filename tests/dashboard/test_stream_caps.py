"""Live event streams (`/api/events`) against the connection cap (real aiohttp server on
127.0.0.1, raw sockets, several loopback source addresses).

Found by review: 64 open streams from one local client filled the dashboard's 64 connections,
and `/api/status` was refused (`dashboard: 64 connections open, refusing more`). Streams now
leave the shared count, are capped per peer (a new one closes that peer's oldest, which is
told why) and in all (over it a new one gets 503): plain requests stay answerable."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from loguru import logger

from dashboard.auth import Auth
from dashboard.server import DashboardServer
from tests.dashboard.test_hostile_clients import closed_by_peer, serve_source
from tests.dashboard.test_server import TOKEN, call
from tests.support.waiting import wait_until


class Sse:
    """One raw event-stream client: the answer's status line, then its events one by one."""

    def __init__(self, port: int, source: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5,
                                             source_address=(source, 0))
        self.sock.sendall(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        self.file = self.sock.makefile("rb")
        self.status = self.file.readline().decode()
        self.headers = {}
        while (line := self.file.readline()) not in (b"\r\n", b""):
            key, _, value = line.decode().partition(":")
            self.headers[key.strip().lower()] = value.strip()

    def event(self) -> tuple[str, dict]:
        """The next event's name and data (chunked transfer: size lines are skipped)."""
        name = None
        while True:
            line = self.file.readline()
            if line == b"":
                raise EOFError("the stream ended")
            text = line.decode().rstrip("\r\n")
            if text.startswith("event: "):
                name = text[len("event: "):]
            elif text.startswith("data: ") and name is not None:
                return name, json.loads(text[len("data: "):])

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def streams() -> Iterator[list[Sse]]:
    opened: list[Sse] = []
    yield opened
    for s in opened:
        s.close()


def open_live(port: int, opened: list[Sse], source: str = "127.0.0.1") -> Sse:
    s = Sse(port, source)
    opened.append(s)
    assert s.status.startswith("HTTP/1.1 200"), s.status
    assert s.event()[0] == "status"
    return s


def test_streams_of_one_peer_never_take_the_slots_of_plain_requests(tmp_path, streams, lines):
    # 4 connections in all (the review's 64, made small); 8 streams from one peer (the cap)
    server = DashboardServer(source=serve_source(tmp_path), auth=Auth(token=TOKEN,
                             host="127.0.0.1"), logger=logger, max_connections=4,
                             push_interval_s=0.1)
    server.start()
    port = server.address[1]
    try:
        for _ in range(8):
            open_live(port, streams)
        for _ in range(6):  # plain requests are still answered, one after another
            assert call(server.url + "/api/status")[0] == 200
        # a 9th stream from the same peer: its oldest is told why and closed, the rest stay
        newest = open_live(port, streams)
        name, data = streams[0].event()
        while name == "status":
            name, data = streams[0].event()
        assert name == "closed" and "more than 8 live streams from your address" in data["reason"]
        wait_until(lambda: closed_by_peer(streams[0].sock), timeout=5,
                   message="the evicted stream's connection closed")
        for s in (*streams[1:8], newest):
            assert s.event()[0] == "status"
        assert server.streams.open == 8
        assert call(server.url + "/api/status")[0] == 200
    finally:
        server.stop()
    assert any("opened more than 8 live streams, closed its oldest" in line for line in lines)
    assert not any("connections open, refusing more" in line for line in lines)


def test_over_the_total_stream_cap_a_new_stream_is_refused_and_reads_still_work(
        tmp_path, streams):
    server = DashboardServer(source=serve_source(tmp_path), auth=Auth(token=TOKEN,
                             host="127.0.0.1"), logger=logger, max_connections=4,
                             push_interval_s=0.1, max_streams=4, max_streams_per_peer=2)
    server.start()
    port = server.address[1]
    try:
        for source in ("127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.2"):
            open_live(port, streams, source)
        refused = Sse(port, "127.0.0.3")  # other peers cannot push those out: refused
        streams.append(refused)
        assert refused.status.startswith("HTTP/1.1 503"), refused.status
        assert refused.headers["retry-after"] == "30"
        assert call(server.url + "/api/status")[0] == 200
        # a peer at its own cap still replaces its oldest stream
        open_live(port, streams, "127.0.0.2")
        wait_until(lambda: closed_by_peer(streams[2].sock), timeout=5,
                   message="127.0.0.2's oldest stream closed")
        # streams that end give their place back
        for s in streams[:2]:
            s.close()
        wait_until(lambda: server.streams.open == 2, timeout=5, message="two streams ended")
        open_live(port, streams, "127.0.0.3")
    finally:
        server.stop()
