"""Every status round (each account, every bot.status_interval_s) reads the open escalations;
the escalations table is never pruned, and that read scanned all of it (1,000,000 rows: 217 ms a
round on SQLite). `escalations.resolved_at` is indexed (schema 5), and a version 4 database
gets the index when it is opened."""

from __future__ import annotations

import sqlite3

from storage import queries
from storage.models import SCHEMA_VERSION, EscalationRow
from storage.repository import Repository


def _plan(path) -> str:  # noqa: ANN001
    sql, params = (EscalationRow.select().where(EscalationRow.resolved_at.is_null())
                   .order_by(EscalationRow.id).sql())
    with sqlite3.connect(path) as con:
        return " ".join(row[3] for row in con.execute(f"EXPLAIN QUERY PLAN {sql}", params))


def _escalate(repo: Repository) -> None:
    repo.add_escalation("BTC/USDT:USDT", "close failed", 3, "boom")


def test_open_escalations_read_through_an_index(tmp_path):
    path = tmp_path / "bot.sqlite"
    repo = Repository(path)
    try:
        _escalate(repo)
        assert [e["reason"] for e in repo.read(queries.open_escalations)] == ["close failed"]
    finally:
        repo.close()
    plan = _plan(path)
    assert "USING INDEX escalations_resolved_at" in plan, plan


def test_a_version_4_database_gets_the_index(tmp_path):
    path = tmp_path / "bot.sqlite"
    Repository(path).close()
    with sqlite3.connect(path) as con:
        con.execute("DROP INDEX escalations_resolved_at")
        con.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    assert "USING INDEX" not in _plan(path)
    repo = Repository(path)
    try:
        _escalate(repo)
        assert len(repo.read(queries.open_escalations)) == 1
    finally:
        repo.close()
    assert "USING INDEX escalations_resolved_at" in _plan(path)
    with sqlite3.connect(path) as con:
        version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == (str(SCHEMA_VERSION),) and SCHEMA_VERSION >= 5
