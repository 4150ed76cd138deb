"""Security review: JSON nested too deeply in a POST body (the login form is open to anyone
who reaches the dashboard) is a one-line 400, not a 500 with a RecursionError traceback on
stderr (real aiohttp server on 127.0.0.1, urllib client)."""

from __future__ import annotations

import json

import pytest

from tests.dashboard.test_server import TOKEN, serve


@pytest.fixture
def repo(tmp_path):
    from storage.repository import Repository

    r = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    yield r
    r.close()


def post_raw(url: str, data: bytes, headers: dict[str, str]) -> tuple[int, str, str]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json",
                                                          **headers})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


def test_deeply_nested_json_is_a_one_line_400(tmp_path, repo, capfd):
    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1")
    deep = b"[" * 60000  # within the 64 KiB body cap
    try:
        for path, headers in (("/api/login", {}),
                              ("/api/control", {"Authorization": f"Bearer {TOKEN}"})):
            code, kind, body = post_raw(server.url + path, deep, headers)
            assert code == 400, (path, code, body[:200])
            assert kind.startswith("application/json")
            reason = json.loads(body)["reason"]
            assert "nested too deeply" in reason and "\n" not in reason
    finally:
        server.stop()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "RecursionError" not in err


def test_errors_raised_by_handlers_and_the_router_carry_the_security_headers(tmp_path, repo):
    # a 400 a handler raises (bad JSON, a bad integer) and the router's 404 skipped the header
    # step: those answers went out without the CSP, nosniff and frame headers
    import urllib.error
    import urllib.request

    from dashboard.server import SECURITY_HEADERS

    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        answers, seen = [], []
        for path in ("/api/trades?limit=-1", "/api/no-such-thing", "/api/control"):
            req = urllib.request.Request(server.url + path, headers=auth,
                                         data=b"[" * 600 if path == "/api/control" else None)
            try:
                with urllib.request.urlopen(req, timeout=5) as resp:
                    answers.append(resp.status)
                    seen.append(resp.headers)
            except urllib.error.HTTPError as exc:
                answers.append(exc.code)
                seen.append(exc.headers)
    finally:
        server.stop()
    assert answers == [400, 404, 400], answers
    for headers in seen:
        for name, value in SECURITY_HEADERS.items():
            assert headers.get(name) == value, (name, dict(headers))


def test_a_body_in_an_unknown_charset_is_a_one_line_400(tmp_path, repo, capfd):
    # `Content-Type: application/json; charset=bogus` made aiohttp's decode raise LookupError,
    # which is no ValueError: a 500 and an ERROR traceback in the log for each request, on the
    # login form anyone who reaches the dashboard may post to
    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1")
    try:
        for path, headers in (("/api/login", {}),
                              ("/api/control", {"Authorization": f"Bearer {TOKEN}"})):
            code, kind, body = post_raw(server.url + path, b'{"command": "pause"}',
                                        {**headers,
                                         "Content-Type": "application/json; charset=bogus"})
            assert code == 400, (path, code, body[:200])
            assert kind.startswith("application/json")
            reason = json.loads(body)["reason"]
            assert reason.startswith("body: expected") and "\n" not in reason
    finally:
        server.stop()
    err = capfd.readouterr().err
    assert "Traceback" not in err and "LookupError" not in err
