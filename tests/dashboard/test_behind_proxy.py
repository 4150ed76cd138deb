"""Behind a reverse proxy (the README's "any Host is then served, e.g. behind a proxy"), the
page's login and controls work: a proxy that terminates HTTPS, or that sends its own Host, says
what the browser saw in X-Forwarded-Proto / X-Forwarded-Host, and the Origin check compares with
that. A page from another site still cannot act: a browser never lets a page set those headers
on a cross-site request (they need a CORS preflight, which the dashboard refuses), and its
Origin names its own site anyway. Real aiohttp server on 127.0.0.1, urllib as the proxy.

Found by review: over HTTPS the page's Origin is https://..., the request reaching the
dashboard is http, so every login from the page was 403 "cross-origin request refused"."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from storage import control
from tests.dashboard.test_server import TOKEN, call, serve

PUBLIC = "bot.example.com"


@pytest.fixture
def repo(tmp_path):
    from storage.repository import Repository

    r = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    yield r
    r.close()


def login_then_pause(url: str, proxy: dict[str, str], origin: str) -> tuple[int, int]:
    """(the login's status, the cookie-authenticated pause's status, 0 when not logged in)."""
    req = urllib.request.Request(url + "/api/login", data=json.dumps({"token": TOKEN}).encode(),
                                 headers={**proxy, "Origin": origin,
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            cookie = resp.headers["Set-Cookie"].split(";", 1)[0]
    except urllib.error.HTTPError as exc:
        return exc.code, 0
    code, _ = call(url + "/api/control", body={"command": "pause"},
                   headers={**proxy, "Origin": origin, "Cookie": cookie})
    return 200, code


def test_the_page_logs_in_and_acts_behind_an_https_proxy(tmp_path, repo):
    server = serve(tmp_path, repo, token=TOKEN, host="192.0.2.10")  # off-loopback policy
    try:
        proxy = {"Host": PUBLIC, "X-Forwarded-Proto": "https"}
        assert login_then_pause(server.url, proxy, f"https://{PUBLIC}") == (200, 202)
        assert [c[1] for c in control.take_pending(repo)] == ["pause"]
        # another site's page: its own Origin, whatever the proxy adds
        assert login_then_pause(server.url, proxy, "https://evil.example")[0] == 403
    finally:
        server.stop()


def test_the_page_logs_in_behind_a_local_proxy_that_sends_its_own_host(tmp_path, repo):
    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1")
    port = server.address[1]
    try:  # nginx's default: Host is the upstream's, the public name in X-Forwarded-Host
        proxy = {"Host": f"127.0.0.1:{port}", "X-Forwarded-Host": PUBLIC,
                 "X-Forwarded-Proto": "https"}
        assert login_then_pause(server.url, proxy, f"https://{PUBLIC}") == (200, 202)
        assert login_then_pause(server.url, proxy, "https://evil.example")[0] == 403
        # without the proxy's headers the Origin must name the dashboard itself, as before
        assert login_then_pause(server.url, {}, f"https://{PUBLIC}")[0] == 403
    finally:
        server.stop()


def login_cookie(url: str, proxy: dict[str, str], origin: str) -> str:
    req = urllib.request.Request(url + "/api/login", data=json.dumps({"token": TOKEN}).encode(),
                                 headers={**proxy, "Origin": origin,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return str(resp.headers["Set-Cookie"])


def test_the_session_cookie_is_secure_when_the_browser_came_over_https(tmp_path, repo):
    """Found by review: behind an HTTPS proxy the session cookie had no Secure flag, so a
    browser would also send it over a plain-HTTP link to the same name."""
    server = serve(tmp_path, repo, token=TOKEN, host="192.0.2.10")
    try:
        proxied = login_cookie(server.url, {"Host": PUBLIC, "X-Forwarded-Proto": "https"},
                               f"https://{PUBLIC}")
        assert "secure" in [p.strip().lower() for p in proxied.split(";")]
        plain = login_cookie(server.url, {"Host": PUBLIC}, f"http://{PUBLIC}")
        assert "secure" not in [p.strip().lower() for p in plain.split(";")]  # http still works
    finally:
        server.stop()
