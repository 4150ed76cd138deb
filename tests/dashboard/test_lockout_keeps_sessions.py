"""Wrong tokens lock their peer out; behind a reverse proxy every client is one peer, so anyone
sending wrong tokens locked the operator's logged-in page out too, kill switch included. A
request with a valid session cookie is not a guess: the lockout never refuses it (real aiohttp
server on 127.0.0.1, urllib client)."""

from __future__ import annotations

import pytest

from storage.repository import Repository
from tests.dashboard.test_server import TOKEN, call, serve, session_cookie


@pytest.fixture
def repo(tmp_path):
    r = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    yield r
    r.close()


def test_a_valid_session_is_not_locked_out_by_other_clients_wrong_tokens(tmp_path, repo):
    server = serve(tmp_path, repo, token=TOKEN, host="192.0.2.10")  # reads need a login too
    try:
        cookie = session_cookie(server.url)
        assert cookie.startswith(server.auth.cookie + "=")
        codes = [call(server.url + "/api/login", body={"token": f"guess-{i}"})[0]
                 for i in range(6)]  # someone else, from the same (proxy) address
        assert codes == [401] * 6
        assert call(server.url + "/api/login", body={"token": "guess-7"})[0] == 429
        assert call(server.url + "/api/status")[0] == 429  # no session: still waits
        code, body = call(server.url + "/api/status", headers={"Cookie": cookie})
        assert code == 200, body
        code, body = call(server.url + "/api/control", body={"command": "kill_switch"},
                          headers={"Cookie": cookie, "Origin": server.url})
        assert code == 202, body
    finally:
        server.stop()
