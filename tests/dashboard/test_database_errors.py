"""A database the dashboard cannot read or write (locked past the busy timeout, an I/O error, a
table missing) is a JSON 503 naming the database error and one throttled WARNING, not a
text/plain 500 and an ERROR traceback in bot.log for every view the page polls (real aiohttp
server on 127.0.0.1, a real SQLite file whose tables are renamed away under it)."""

from __future__ import annotations

import json
import sqlite3

import pytest
from loguru import logger

from storage import control
from storage.repository import Repository
from tests.dashboard.test_server import TOKEN, call, serve


@pytest.fixture
def repo(tmp_path):
    r = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    yield r
    r.close()


def test_a_database_error_is_a_json_503_and_one_line(tmp_path, repo):
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO", format="{level} {message}")
    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1")
    con = sqlite3.connect(tmp_path / "bot.sqlite")
    for table in ("events", "fills", "positions", "control"):
        con.execute(f"ALTER TABLE {table} RENAME TO {table}_gone")
    con.commit()
    try:
        answers = [call(server.url + path) for path in
                   ("/api/journal", "/api/trades", "/api/equity", "/api/journal")]
        answers.append(call(server.url + "/api/control", body={"command": "pause"},
                            headers={"Authorization": f"Bearer {TOKEN}"}))
    finally:
        server.stop()
        logger.remove(sink)
        con.close()
    for code, body in answers:
        assert code == 503, (code, body[:300])
        reason = json.loads(body)["reason"]
        assert reason.startswith("database error: ") and "no such table" in reason, reason
    assert not any("Traceback" in line or line.startswith("ERROR") for line in lines), lines
    warnings = [line for line in lines if "database error" in line]
    assert warnings and all(line.startswith("WARNING dashboard: ") for line in warnings)
    assert len(warnings) < len(answers)  # throttled


def test_the_views_still_answer_once_the_database_reads_again(tmp_path, repo):
    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1")
    try:
        assert call(server.url + "/api/journal")[0] == 200
        code, body = call(server.url + "/api/control", body={"command": "pause"},
                          headers={"Authorization": f"Bearer {TOKEN}"})
        assert code == 202, body
        assert [c[1] for c in control.take_pending(repo)] == ["pause"]
    finally:
        server.stop()
