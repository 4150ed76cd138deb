"""A `status.json` the dashboard cannot read (a hand edit, a damaged disk: not JSON, nested too
deep for json's parser, `bot` not an object, a heartbeat that is no time) raised out of
DashboardSource.status: `/api/status` answered 500 with a traceback in the log, and `/metrics`
and the live stream failed with it. Now `/api/status` is a 503 whose reason names the file and
the problem, one warning line per problem, `/metrics` still answers, and a readable file is
served again at once. Real aiohttp server on 127.0.0.1, real SQLite repository."""

from __future__ import annotations

import json
import sys

import pytest

from storage.repository import Repository
from supervision.status import write_status
from tests.dashboard.test_server import STATUS, call, serve

DEEP = "[" * (sys.getrecursionlimit() * 20) + "]" * (sys.getrecursionlimit() * 20)


@pytest.fixture
def repo(tmp_path):
    r = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    yield r
    r.close()


@pytest.mark.parametrize(("content", "problem"), [
    (DEEP.encode(), "cannot read the status (not valid JSON: nested too deep to read)"),
    (b"{not json", "cannot read the status (not valid JSON: "),
    (b"\xff\xfe{}", "cannot read the status (not valid JSON: "),
    (b'{"bot": [1]}', "not a status ('bot' is not an object)"),
    (b"[1, 2]", "not a status ('bot' is not an object)"),
    (b'{"bot": {"heartbeat_at": "soon"}}', "bot.heartbeat_at 'soon' is not a time"),
    (b'{"bot": {"heartbeat_at": 1e999}}', "bot.heartbeat_at 'inf' is not a time"),
])
def test_an_unreadable_status_file_is_a_503_naming_it_and_the_dashboard_serves_on(
        tmp_path, repo, lines, content, problem):
    server = serve(tmp_path, repo, token="", host="127.0.0.1")
    path = tmp_path / "status.json"
    try:
        path.write_bytes(content)
        for _ in range(3):  # the page polls: one line in the log, not one per request
            code, body = call(server.url + "/api/status")
            assert code == 503, body
            reason = json.loads(body)["reason"]
            assert reason.startswith(f"{path}: ") and problem in reason, reason
        code, text = call(server.url + "/metrics")
        assert code == 200 and "bot_up" in text
        said = [line for line in lines if str(path) in line]
        assert len(said) == 1 and "WARNING" in said[0] and problem in said[0], said
        assert not [line for line in lines if "Traceback" in line or "ERROR" in line], lines
        write_status(tmp_path, json.loads(json.dumps(STATUS)))
        code, body = call(server.url + "/api/status")
        assert code == 200 and json.loads(body)["pnl"]["realized_total"] == "4.25"
    finally:
        server.stop()
