"""Security review: ``GET /api/session`` must not be a way round the wrong-token backoff.

It answers whether the request is authenticated, so with a bearer token it tells a guesser
whether the guess was right: it must count wrong tokens against the peer like every other door
and refuse (429) while the peer waits (real aiohttp server on 127.0.0.1, urllib client)."""

from __future__ import annotations

import json

import pytest

from dashboard.throttle import LoginThrottle
from tests.dashboard.test_server import TOKEN, call, serve


@pytest.fixture
def repo(tmp_path):
    from storage.repository import Repository

    r = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    yield r
    r.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "192.0.2.10"])
def test_the_session_view_is_no_token_oracle(tmp_path, repo, host):
    # the throttle's clock stands still: the back-off cannot run out while a loaded machine
    # sends the requests below (at 2 s it did not have to be slow for that)
    server = serve(tmp_path, repo, token=TOKEN, host=host,
                   logins=LoginThrottle(clock=lambda: 1000.0))
    try:
        answers = [call(server.url + "/api/session",
                        headers={"Authorization": f"Bearer guess-{i}"}) for i in range(6)]
        assert [code for code, _ in answers] == [200] * 6
        assert not any(json.loads(body)["authenticated"] for _, body in answers)
        # the peer now waits: a right token is not even checked, wherever it is sent
        code, body = call(server.url + "/api/session", headers={"Authorization": f"Bearer {TOKEN}"})
        assert code == 429 and "try again in" in body, (code, body)
        code, _ = call(server.url + "/api/login", body={"token": TOKEN})
        assert code == 429
    finally:
        server.stop()


def test_the_session_view_without_a_token_still_answers(tmp_path, repo):
    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1")
    try:
        for _ in range(10):  # the page asks on every load: no token, no count
            code, body = call(server.url + "/api/session")
            assert code == 200 and json.loads(body)["authenticated"] is False
        code, body = call(server.url + "/api/session", headers={"Authorization": f"Bearer {TOKEN}"})
        assert code == 200 and json.loads(body)["authenticated"] is True
    finally:
        server.stop()
