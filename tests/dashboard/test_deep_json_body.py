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
