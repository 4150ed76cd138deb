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


def _signals(path: Path, symbol: str, first: int, count: int, *, handled: bool) -> None:
    """`count` signals journaled as the bot does (received, then handled when `handled`)."""
    import json

    rows = []
    for i in range(first, first + count):
        sid = f"tv-{i}"
        rows.append((symbol, "SignalReceived", json.dumps({"signal_id": sid, "side": "long"}),
                     sid))
        if handled:
            rows.append((symbol, "SignalHandled", json.dumps({"signal_id": sid}), sid))
    con = sqlite3.connect(path)
    con.executemany("INSERT INTO events (symbol, type, data, correlation_id, created_at, "
                    "recorded_at) VALUES (?, ?, ?, ?, 1, 1)", rows)
    con.commit()
    con.close()


def test_an_actor_start_reads_its_recent_signals_not_every_signal_the_symbol_had(tmp_path):
    """Found by review: every actor start read every signal record the symbol ever had (the
    journal is never pruned): 5 s a start at 100,000 signals, growing for ever. Each start
    journals the lost ones skipped, so only the newest SIGNAL_WINDOW received are looked at:
    a damaged record of a signal handled long ago is not even read (it quarantined the symbol
    at every start), and the lost ones among the recent are found as before."""
    from storage.restore import CorruptRow

    window = 1000  # storage/repository.py SIGNAL_WINDOW (a literal: the test predates it)

    btc = "BTC/USDT:USDT"
    path = tmp_path / "bot.sqlite"
    Repository(path).close()
    _signals(path, btc, 0, 1, handled=True)
    con = sqlite3.connect(path)  # the oldest record damaged by hand, long since handled
    con.execute("UPDATE events SET data = '{torn' WHERE correlation_id = 'tv-0' "
                "AND type = 'SignalReceived'")
    con.commit()
    con.close()
    _signals(path, btc, 1, window, handled=True)
    _signals(path, btc, window + 1, 2, handled=False)  # lost in the last mailbox
    _signals(path, "ETH/USDT:USDT", 0, 3, handled=False)
    repo = Repository(path)
    try:
        lost = repo.unhandled_signals(btc)
        assert [d["signal_id"] for d in lost] == [f"tv-{window + 1}", f"tv-{window + 2}"]
        repo.record(btc, "SignalReceived", {"signal_id": "recent"}, correlation_id="recent")
        con = sqlite3.connect(path)  # a damaged recent record is read: it names its row
        con.execute("UPDATE events SET data = '{torn' WHERE correlation_id = 'recent'")
        con.commit()
        con.close()
        try:
            repo.unhandled_signals(btc)
        except CorruptRow as exc:
            assert "events row" in str(exc)
        else:
            raise AssertionError("a damaged recent signal record was not read")
    finally:
        repo.close()
