"""The status round reads the open escalations through `Repository.read_bounded`. On PostgreSQL
a read that fails is answered with the last answer and why; on SQLite it raised, and the run
loop then left the whole account out of the status: a single account's status.json read
all-clear (no actors, no open positions, no escalations) and its stop coverage was not looked
at, round after round, while the read kept failing. SQLite now answers as PostgreSQL does."""

from __future__ import annotations

import sqlite3

from storage import queries
from storage.repository import Repository

SYM = "BTC/USDT:USDT"


def test_a_failing_status_read_on_sqlite_gives_the_last_answer_and_why(tmp_path):
    path = tmp_path / "bot.sqlite"
    repo = Repository(path)
    try:
        repo.add_escalation(SYM, "close failed", 3, "boom")
        first, why = repo.read_bounded(queries.open_escalations)
        assert why is None and [e["reason"] for e in first] == ["close failed"]

        with sqlite3.connect(path) as con:  # the table unreadable under the running bot
            con.execute("ALTER TABLE escalations RENAME TO escalations_away")
        last, why = repo.read_bounded(queries.open_escalations)
        assert last == first
        assert why == "database error: no such table: escalations"
        assert repo.unreachable == why

        with sqlite3.connect(path) as con:
            con.execute("ALTER TABLE escalations_away RENAME TO escalations")
        again, why = repo.read_bounded(queries.open_escalations)
        assert again == first and why is None and repo.unreachable is None
    finally:
        repo.close()


def test_a_first_status_read_that_fails_says_so_with_no_answer(tmp_path):
    path = tmp_path / "bot.sqlite"
    repo = Repository(path)
    try:
        with sqlite3.connect(path) as con:
            con.execute("DROP TABLE escalations")
        assert repo.read_bounded(queries.open_escalations) == (
            None, "database error: no such table: escalations")
    finally:
        repo.close()
