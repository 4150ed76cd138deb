from __future__ import annotations

import sqlite3
import threading
from decimal import Decimal

import pytest

from storage import queries
from storage.models import SCHEMA_VERSION
from storage.repository import Fenced, Repository
from storage.commit_sql import ONE_WAY
from storage.restore import CorruptRow
from storage.sql_conn import raw_connection
from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading.decide import SymbolCore
from trading.events import PriceTicked, SignalRaised
from trading.model import Phase, Side, SymbolState, TrailingState

D = Decimal
SYM = "BTC/USDT:USDT"


@pytest.fixture
def repo(tmp_path):
    r = Repository(tmp_path / "bot.sqlite")
    yield r
    r.close()


def play_and_commit(repo: Repository, inc: int, sc: Scenario, event, dt: float = 0.0) -> None:
    before = sc.state
    start = len(sc.decisions)
    sc.send(event, dt)
    prev = before
    for d in sc.decisions[start:]:
        repo.commit(SYM, inc, prev, d, correlation_id="c1", created_at=sc.now)
        prev = d.state


def test_state_round_trips_through_storage(repo):
    inc = repo.claim(SYM)
    sc = Scenario(SymbolCore(make_rules()))
    play_and_commit(repo, inc, sc, PriceTicked(price=D("100")))
    play_and_commit(repo, inc, sc, SignalRaised(side=Side.LONG))
    play_and_commit(repo, inc, sc, PriceTicked(price=D("100.6")))
    loaded = repo.load(SYM)
    assert loaded.phase is Phase.OPEN
    assert loaded.position == sc.state.position
    assert loaded.trailing == sc.state.trailing and loaded.trailing.state is TrailingState.ACTIVE
    assert loaded.orders == sc.state.orders
    assert loaded.order_seq == sc.state.order_seq
    assert loaded.stop_price == sc.state.stop_price
    events = queries.events(SYM)
    assert [e["type"] for e in events][:2] == ["EntryRequested", "PositionOpened"]
    assert all(e["recorded_at"] >= e["created_at"] - 1e-6 for e in events)


def test_replaced_incarnation_is_fenced(repo):
    old = repo.claim(SYM)
    new = repo.claim(SYM)
    assert new == old + 1
    sc = Scenario(SymbolCore(make_rules()))
    with pytest.raises(Fenced):
        play_and_commit(repo, old, sc, PriceTicked(price=D("100")))
        play_and_commit(repo, old, sc, SignalRaised(side=Side.LONG))
    assert queries.events(SYM) == []


def test_legacy_upper_case_enums_are_read(repo, tmp_path):
    inc = repo.claim(SYM)
    sc = Scenario(SymbolCore(make_rules()))
    play_and_commit(repo, inc, sc, PriceTicked(price=D("100")))
    play_and_commit(repo, inc, sc, SignalRaised(side=Side.LONG))
    con = sqlite3.connect(tmp_path / "bot.sqlite")
    con.execute("UPDATE trailing_stops SET state='WAITING'")
    con.execute("UPDATE orders SET status=upper(status), purpose=upper(purpose)")
    con.execute("UPDATE positions SET side='Long', status='OPEN'")
    con.execute("UPDATE actor_state SET phase='OPEN'")
    con.commit()
    con.close()
    loaded = repo.load(SYM)
    assert loaded.trailing.state is TrailingState.WAITING
    assert loaded.position.side is Side.LONG and loaded.phase is Phase.OPEN
    assert len(loaded.orders) == 1


def test_corrupt_row_names_table_row_and_field(repo, tmp_path):
    inc = repo.claim(SYM)
    sc = Scenario(SymbolCore(make_rules()))
    play_and_commit(repo, inc, sc, PriceTicked(price=D("100")))
    play_and_commit(repo, inc, sc, SignalRaised(side=Side.LONG))
    con = sqlite3.connect(tmp_path / "bot.sqlite")
    con.execute("UPDATE trailing_stops SET state='sideways'")
    con.commit()
    con.close()
    with pytest.raises(CorruptRow) as err:
        repo.load(SYM)
    assert "trailing_stops" in str(err.value) and "'state'" in str(err.value) and SYM in str(err.value)
    con = sqlite3.connect(tmp_path / "bot.sqlite")
    con.execute("UPDATE trailing_stops SET state='active', activation_price='12,5'")
    con.commit()
    con.close()
    with pytest.raises(CorruptRow, match="activation_price"):
        repo.load(SYM)


def test_many_writer_threads_commit_without_lock_errors(repo):
    symbols = [f"S{i}/USDT:USDT" for i in range(100)]
    errors: list[BaseException] = []

    def actor(sym: str) -> None:
        try:
            inc = repo.claim(sym)
            core = SymbolCore(make_rules())
            state = SymbolState(symbol=sym)
            for k in range(5):
                before = state
                d = core.decide(state, PriceTicked(price=D(100 + k)), 1000.0 + k)
                state = d.state
                repo.record(sym, "Tick", {"k": k}, correlation_id=f"{sym}-{k}")
                repo.commit(sym, inc, before, d, correlation_id="x", created_at=1000.0 + k)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=actor, args=(s,)) for s in symbols]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(queries.events()) == 500
    assert repo.writer.commits < repo.writer.units  # group commit batched units together


def test_v1_database_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE actor_state (symbol VARCHAR PRIMARY KEY, incarnation INTEGER, phase VARCHAR,
          order_seq INTEGER, cooldown_until REAL, close_attempts INTEGER, next_close_at REAL,
          close_reason TEXT, last_close_error TEXT, needs_stop INTEGER, stop_price TEXT,
          take_profit_price TEXT, quarantined INTEGER, quarantine_reason TEXT, updated_at REAL);
        CREATE TABLE trailing_stops (symbol VARCHAR PRIMARY KEY, position_id VARCHAR, state VARCHAR,
          activation_price TEXT, callback_pct TEXT, best_price TEXT, trigger_price TEXT);
        CREATE TABLE positions (position_id VARCHAR PRIMARY KEY, symbol VARCHAR, side VARCHAR,
          contracts TEXT, entry_price TEXT, opened_at REAL, closed_at REAL, status VARCHAR,
          realized_pnl TEXT, fees TEXT, close_reason TEXT);
        CREATE TABLE orders (client_order_id VARCHAR PRIMARY KEY, symbol VARCHAR, position_id VARCHAR,
          purpose VARCHAR, side VARCHAR, amount TEXT, stop_price TEXT, reduce_only INTEGER,
          status VARCHAR, exchange_id VARCHAR, filled TEXT, average TEXT, fee TEXT, last_error TEXT,
          created_at REAL, updated_at REAL);
        INSERT INTO actor_state VALUES ('BTC/USDT:USDT', 3, 'OPEN', 4, 0, 0, NULL, NULL, NULL, 0,
          '99.0', NULL, 0, NULL, 0);
        INSERT INTO positions VALUES ('p1', 'BTC/USDT:USDT', 'LONG', '1', '100', 1, NULL, 'OPEN', '0', '0.05', NULL);
        INSERT INTO trailing_stops VALUES ('BTC/USDT:USDT', 'p1', 'WAITING', '100.5', '0.3', NULL, NULL);
        INSERT INTO orders VALUES ('main-ab12-BTC1f2-2s', 'BTC/USDT:USDT', 'p1', 'STOP', 'SELL', '1',
          '99.0', 1, 'OPEN', 'x1', '0', NULL, '0', NULL, 1, 1);
    """)
    con.commit()
    con.close()
    repo = Repository(path)
    try:
        state = repo.load(SYM)
        assert state.phase is Phase.OPEN and state.trailing.state is TrailingState.WAITING
        assert state.orders[0].replaces is None and state.orders[0].side == "sell"
        con = sqlite3.connect(path)
        assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert con.execute("SELECT state FROM trailing_stops").fetchone() == ("waiting",)
        con.close()
    finally:
        repo.close()


def test_two_repositories_in_one_process_keep_their_rows_apart(tmp_path):
    """One SQLite file per account: each repository's writer thread and reads reach its own file,
    whichever was opened last, even when both write the same symbol at the same time."""
    a = Repository(tmp_path / "a" / "bot.sqlite", synchronous="normal")
    b = Repository(tmp_path / "b" / "bot.sqlite", synchronous="normal")
    try:
        assert a.claim(SYM) == 1 and b.claim(SYM) == 1 and a.claim(SYM) == 2

        def write(repo: Repository, tag: str) -> None:
            for i in range(50):
                repo.record(SYM, "Note", {"by": tag, "i": i}, correlation_id=tag)

        threads = [threading.Thread(target=write, args=(r, t)) for r, t in ((a, "a"), (b, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        a.set_meta("kill_switch", "1")
        assert {e["data"]["by"] for e in a.read(queries.events, SYM, "Note")} == {"a"}
        assert {e["data"]["by"] for e in b.read(queries.events, SYM, "Note")} == {"b"}
        assert len(b.read(queries.events, SYM, "Note")) == 50
        assert a.get_meta("kill_switch") == "1" and b.get_meta("kill_switch") is None
        assert a.read(queries.actor_rows)[SYM].incarnation == 2 and b.read(queries.actor_rows)[SYM].incarnation == 1
        assert a.id_tag and b.id_tag
    finally:
        a.close()
        b.close()
    for name, count in (("a", 50), ("b", 50)):
        con = sqlite3.connect(tmp_path / name / "bot.sqlite")
        try:
            rows = con.execute("SELECT data FROM events WHERE type='Note'").fetchall()
        finally:
            con.close()
        assert len(rows) == count and all(f'"by": "{name}"' in r[0] for r in rows)


def test_restore_finds_live_rows_through_the_symbol_status_index(repo, tmp_path):
    """Incident 6: restoring a symbol reads its live rows by the (symbol, status) index, not its
    whole history (a LOWER(status) filter could not use the index: 111 ms a start after 500k
    closed rows). Each statement the restore runs is checked with SQLite's own query plan."""
    inc = repo.claim(SYM)
    sc = Scenario(SymbolCore(make_rules()))
    play_and_commit(repo, inc, sc, PriceTicked(price=D("100")))
    play_and_commit(repo, inc, sc, SignalRaised(side=Side.LONG))
    statements: list[str] = []

    def traced_load():  # the store's own load, on the repository's reading connection
        conn = raw_connection(repo.db)
        conn.set_trace_callback(statements.append)
        try:
            return ONE_WAY.load(conn, SYM)
        finally:
            conn.set_trace_callback(None)

    loaded = repo.read(traced_load)
    assert loaded.position is not None and len(loaded.orders) == 1
    con = sqlite3.connect(tmp_path / "bot.sqlite")
    plans = {}
    for table in ("positions", "orders"):
        [sql] = [s for s in statements if f'FROM "{table}"' in s and "status" in s
                 and "NOT IN" not in s]
        plans[table] = " ".join(row[3] for row in con.execute(f"EXPLAIN QUERY PLAN {sql}"))
    # the check for order rows of an unknown status: the symbol's index entries only
    [sql] = [s for s in statements if 'FROM "orders"' in s and "NOT IN" in s]
    plans["unknown"] = " ".join(row[3] for row in con.execute(f"EXPLAIN QUERY PLAN {sql}"))
    con.close()
    assert "(symbol=? AND status=?)" in plans["positions"], plans
    assert "(symbol=? AND status=?)" in plans["orders"], plans
    assert "USING INDEX orders_symbol_status (symbol=?)" in plans["unknown"], plans


def test_open_position_rows_in_any_legacy_casing_are_counted(repo, tmp_path):
    inc = repo.claim(SYM)
    sc = Scenario(SymbolCore(make_rules()))
    play_and_commit(repo, inc, sc, PriceTicked(price=D("100")))
    play_and_commit(repo, inc, sc, SignalRaised(side=Side.LONG))
    for casing in ("open", "OPEN", "Open"):
        con = sqlite3.connect(tmp_path / "bot.sqlite")
        con.execute("UPDATE positions SET status=?", (casing,))
        con.commit()
        con.close()
        assert repo.read(queries.open_positions_of, [SYM]) == {SYM: 1}, casing
        assert repo.load(SYM).position is not None, casing
