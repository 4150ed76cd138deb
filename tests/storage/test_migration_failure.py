"""A schema migration that fails on an existing database leaves it as it was (the steps run in
the opening transaction) and says so in one line naming the step. It read "cannot open
database: <the SQL error>", as if the file were damaged. The failure here is a real one: a view
the operator keeps on actor_state makes SQLite's rebuild of that table (the v1 -> v2 step adds
a NOT NULL column) fail."""

from __future__ import annotations

import sqlite3

import pytest

from storage.errors import StorageError
from storage.models import SCHEMA_VERSION
from storage.repository import Repository

SYM = "BTC/USDT:USDT"

VERSION_1 = """
    ALTER TABLE orders DROP COLUMN replaces;
    ALTER TABLE actor_state DROP COLUMN restarts;
    UPDATE meta SET value = '1' WHERE key = 'schema_version';
    INSERT INTO actor_state (symbol, incarnation, phase, order_seq, cooldown_until,
      close_attempts, needs_stop, quarantined, updated_at)
      VALUES ('BTC/USDT:USDT', 3, 'OPEN', 4, 0, 0, 0, 0, 0);
    INSERT INTO positions (position_id, symbol, side, contracts, entry_price, opened_at,
      status, realized_pnl, fees) VALUES ('p1', 'BTC/USDT:USDT', 'LONG', '1.50', '100', 1,
      'OPEN', '0', '0.05');
    CREATE VIEW operator_view AS SELECT symbol, phase FROM actor_state;
"""


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in con.execute(f"PRAGMA table_info({table})")}


def test_a_failed_migration_is_one_line_and_leaves_the_database_as_it_was(tmp_path):
    path = tmp_path / "bot.sqlite"
    Repository(path).close()
    with sqlite3.connect(path) as con:
        con.executescript(VERSION_1)

    with pytest.raises(StorageError) as err:
        Repository(path)
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{path}: schema migration 1 -> 2 failed (")
    assert "operator_view" in text
    assert text.endswith(f"the database is left as it was, at schema version 1 "
                         f"(this bot needs {SCHEMA_VERSION})")

    with sqlite3.connect(path) as con:  # nothing of the migration stayed
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() \
            == [("1",)]
        assert "replaces" not in _columns(con, "orders")
        assert "restarts" not in _columns(con, "actor_state")
        assert con.execute("SELECT phase FROM actor_state").fetchall() == [("OPEN",)]
        con.execute("DROP VIEW operator_view")  # the operator's fix

    repo = Repository(path)  # the file is usable: it migrates now, its rows kept
    try:
        state = repo.load(SYM)
        assert state.position is not None and str(state.position.contracts) == "1.50"
        assert repo.claim(SYM) == 4
    finally:
        repo.close()
