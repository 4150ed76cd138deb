"""Two bots on one machine (a paper and a live one, say) each with its dashboard on its own
port: a browser keeps a login to each. Cookies are scoped by host, not by port, so with one
cookie name the second login replaced the first one's cookie: back on the first dashboard,
a press of "kill switch" answered "missing or bad token". Real aiohttp servers on 127.0.0.1,
one urllib cookie jar as the browser."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.request

import pytest

from storage.repository import Repository
from tests.dashboard.test_server import TOKEN, serve


@pytest.fixture
def repos(tmp_path):
    made = [Repository(tmp_path / f"{n}.sqlite", synchronous="normal") for n in ("a", "b")]
    yield made
    for r in made:
        r.close()


def test_a_login_to_each_of_two_dashboards_on_one_host_holds(tmp_path, repos):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = serve(tmp_path / "a", repos[0], token=TOKEN, host="127.0.0.1")
    second = serve(tmp_path / "b", repos[1], token=TOKEN + "-2", host="127.0.0.1")
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def post(url: str, body: dict) -> int:
        req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={
            "Content-Type": "application/json", "Origin": url.rsplit("/api/", 1)[0]})
        with browser.open(req, timeout=5) as resp:
            return resp.status

    def authenticated(server) -> bool:
        with browser.open(server.url + "/api/session", timeout=5) as resp:
            return json.loads(resp.read())["authenticated"]

    try:
        assert post(first.url + "/api/login", {"token": TOKEN}) == 200
        assert post(second.url + "/api/login", {"token": TOKEN + "-2"}) == 200
        assert authenticated(second) and authenticated(first)
        assert post(first.url + "/api/control", {"command": "kill_switch"}) == 202
    finally:
        first.stop()
        second.stop()
