"""A dashboard control the database is slow to store is answered "not confirmed ... may still
be carried out", not "database error".

Found by review: POST /api/control queued its row with the writer's 60 s bound, and the
TimeoutError was a 503 "database error: database commit did not finish in time". But a write
that timed out stays queued and commits once the database answers: the kill switch a person
was told had failed tripped a moment later (and a second click queued it twice). Now the
answer says so, within the dashboard's own bound.

Real aiohttp server on 127.0.0.1, a real SQLite repository whose writer thread is held inside
a unit (HeldWriter)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from storage import control
from storage.repository import Repository
from tests.dashboard.test_server import TOKEN, serve
from tests.protections.test_guard_writes_bounded import HeldWriter


@pytest.fixture
def repo(tmp_path):
    r = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    yield r
    r.close()


def _post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # far below the writer's 60 s
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_control_not_stored_in_time_is_answered_unconfirmed(tmp_path, repo):
    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1")
    try:
        held = HeldWriter(repo)
        try:
            code, body = _post(server.url + "/api/control", {"command": "kill_switch"})
        finally:
            held.release()  # the database answers again: the queued row commits
    finally:
        server.stop()
    assert control.pending_commands(repo) == [("kill_switch", "*")]  # carried out after all
    assert code == 503, body
    assert body["status"] == "unconfirmed", body
    assert "may still be carried out" in body["reason"] and "\n" not in body["reason"], body
