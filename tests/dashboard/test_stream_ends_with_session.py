"""Off loopback a live stream (`/api/events`) needs a login, as every data view. It was checked
once, when the stream opened: after logout (or the session's expiry) the stream went on pushing
the whole status for as long as the connection stayed open. It now ends with its session, with a
last `closed` event saying why (real aiohttp server on 127.0.0.1, raw socket client)."""

from __future__ import annotations

import json
import socket

import pytest

from storage.repository import Repository
from supervision.status import write_status
from tests.dashboard.test_server import STATUS, TOKEN, call, serve, session_cookie


@pytest.fixture
def repo(tmp_path):
    r = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    yield r
    r.close()


def events(port: int, cookie: str):  # noqa: ANN201 - a generator of (name, data)
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(f"GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}"
                 "\r\n\r\n".encode())
    file = sock.makefile("rb")
    try:
        assert file.readline().startswith(b"HTTP/1.1 200")
        name = None
        while (line := file.readline()) != b"":
            text = line.decode().rstrip("\r\n")
            if text.startswith("event: "):
                name = text[len("event: "):]
            elif text.startswith("data: ") and name is not None:
                yield name, json.loads(text[len("data: "):])
    finally:
        file.close()
        sock.close()


def test_a_live_stream_ends_when_its_session_ends(tmp_path, repo):
    server = serve(tmp_path, repo, token=TOKEN, host="192.0.2.10")  # reads need a login
    try:
        cookie = session_cookie(server.url)
        stream = events(server.address[1], cookie)
        assert next(stream)[0] == "status"
        code, _ = call(server.url + "/api/logout", body={},
                       headers={"Cookie": cookie, "Origin": server.url})
        assert code == 200
        # the status from here on has another heartbeat: an event carrying it was read after
        # the logout was answered (the events pushed before it, one per 0.1 s however long
        # the logout took on a loaded machine, carry the old one)
        write_status(tmp_path, {**STATUS, "bot": {**STATUS["bot"], "heartbeat_at": 6.0}})
        after = []
        for name, data in stream:  # pushed every 0.1 s: 50 status events is 5 s past logout
            after.append((name, data))
            if name == "closed" or len(after) > 50:
                break
        assert after[-1] == ("closed", {"reason": "session ended (logged out or expired)"}), \
            after[-3:]
        late = [d for n, d in after if n == "status" and d["bot"]["heartbeat_at"] == 6.0]
        assert len(late) <= 1, late  # at most the one already being written
        assert call(server.url + "/api/events", headers={"Cookie": cookie})[0] == 401
    finally:
        server.stop()
