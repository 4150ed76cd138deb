"""Schema 3: the journal's (symbol, type, id) index. Every actor start looks up its symbol's
signal records (Repository.unhandled_signals); with the symbol index alone that read the whole
journal of the symbol, which is never pruned (1,000,000 rows: 0.4 s a symbol, minutes for a cold
start of 500 symbols). A schema-2 database gets the index when it is opened."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from storage.models import SCHEMA_VERSION
from storage.repository import Repository

SIGNAL_READ = ("EXPLAIN QUERY PLAN SELECT id, type, data FROM events WHERE symbol = ? AND type IN "
               "('SignalReceived', 'SignalHandled', 'SignalSkipped')")  # as unhandled_signals asks


def _plan(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        return " ".join(str(r[-1]) for r in con.execute(SIGNAL_READ, ("BTC/USDT:USDT",)))
    finally:
        con.close()


def test_the_signal_read_uses_the_journal_index_and_a_schema_2_database_gets_it(tmp_path: Path):
    path = tmp_path / "bot.sqlite"
    Repository(path).close()
    assert SCHEMA_VERSION >= 3 and "events_symbol_type_id" in _plan(path)
    con = sqlite3.connect(path)  # back to schema 2: no such index
    con.executescript("DROP INDEX events_symbol_type_id; "
                      "UPDATE meta SET value = '2' WHERE key = 'schema_version';")
    con.close()
    assert "events_symbol_type_id" not in _plan(path)
    Repository(path).close()
    assert "events_symbol_type_id" in _plan(path)
    con = sqlite3.connect(path)
    version = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    assert version == (str(SCHEMA_VERSION),)
    con.close()
