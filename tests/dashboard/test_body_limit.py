"""A request body over the dashboard's limit (64 KiB, `client_max_size` in dashboard/server.py)
is refused with 413 before it is parsed or acted on (real aiohttp server on 127.0.0.1, real
SQLite control table, urllib client).

The login form and the control endpoint are open to any client that reaches the dashboard (any
web page can make a browser POST to a loopback one): without the bound each such request could
make the trading process hold and parse a body of any size. Found by mutation audit: the bound
raised to 64 MiB passed every dashboard test."""

from __future__ import annotations

from storage import control
from tests.dashboard.test_server import TOKEN, call, repo, serve  # noqa: F401 - a fixture

BEARER = {"Authorization": f"Bearer {TOKEN}"}
OVER = "x" * (256 * 1024)


def test_a_body_over_the_limit_is_refused_and_nothing_is_queued(tmp_path, repo):  # noqa: F811
    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1")
    try:
        code, _ = call(server.url + "/api/login", body={"token": OVER})
        assert code == 413
        code, _ = call(server.url + "/api/control", body={"command": "pause", "pad": OVER},
                       headers=BEARER)
        assert code == 413
        assert control.pending_commands(repo) == []  # the oversized control was not queued
        code, body = call(server.url + "/api/control", body={"command": "pause"},
                          headers=BEARER)
        assert code == 202, body  # a control of ordinary size is served as before
        assert control.pending_commands(repo) == [("pause", "*")]
    finally:
        server.stop()
