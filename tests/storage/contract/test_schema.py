"""Storage contract, schema: creation on an empty store, migration from the previous schema
version (1) with its rows, and refusal of a newer one, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from storage.database import StorageError
from storage.models import ALL_MODELS, SCHEMA_VERSION
from tests.storage.contract.backends import Backend
from tests.storage.contract.test_state import SYM
from trading.model import Phase, TrailingState

TABLES = {m._meta.table_name for m in ALL_MODELS}


def tables(backend: Backend, account: str = "main") -> set[str]:
    if backend.kind == "sqlite":
        rows = backend.sql("SELECT name FROM sqlite_master WHERE type='table'", account=account)
    else:
        rows = backend.sql("SELECT table_name FROM information_schema.tables "
                           "WHERE table_schema = ?", (f"bot_{account}",), account=account)
    return {r[0] for r in rows} - {"sqlite_sequence"}


def test_an_empty_store_gets_every_table_and_the_current_version(backend: Backend):
    repo = backend.open()
    assert tables(backend) == TABLES
    assert backend.sql("SELECT value FROM meta WHERE key='schema_version'") == [
        (str(SCHEMA_VERSION),)]
    tag = repo.id_tag
    repo.close()
    assert backend.open().id_tag == tag  # reopening keeps the id tag and the tables
    assert tables(backend) == TABLES


def test_version_1_store_is_migrated_with_its_rows(backend: Backend):
    backend.open().close()
    # the version-1 shape: no orders.replaces, no actor_state.restarts, upper-case enums
    backend.sql("""
        ALTER TABLE orders DROP COLUMN replaces;
        ALTER TABLE actor_state DROP COLUMN restarts;
        UPDATE meta SET value = '1' WHERE key = 'schema_version';
        INSERT INTO actor_state (symbol, incarnation, phase, order_seq, cooldown_until,
          close_attempts, needs_stop, stop_price, quarantined, updated_at)
          VALUES ('BTC/USDT:USDT', 3, 'OPEN', 4, 0, 0, FALSE, '99.0', FALSE, 0);
        INSERT INTO positions (position_id, symbol, side, contracts, entry_price, opened_at,
          status, realized_pnl, fees) VALUES ('p1', 'BTC/USDT:USDT', 'LONG', '1', '100', 1,
          'OPEN', '0', '0.05');
        INSERT INTO trailing_stops VALUES ('BTC/USDT:USDT', 'p1', 'WAITING', '100.5', '0.3',
          NULL, NULL);
        INSERT INTO orders (client_order_id, symbol, position_id, purpose, side, amount,
          stop_price, reduce_only, status, exchange_id, filled, average, fee, last_error,
          created_at, updated_at) VALUES ('main-ab12-BTC1f2-2s', 'BTC/USDT:USDT', 'p1', 'STOP',
          'SELL', '1', '99.0', TRUE, 'OPEN', 'x1', '0', NULL, '0', NULL, 1, 1)
    """, script=True)
    repo = backend.open()
    state = repo.load(SYM)
    assert state.phase is Phase.OPEN and state.trailing.state is TrailingState.WAITING
    assert state.orders[0].replaces is None and state.orders[0].side == "sell"
    assert state.position.position_id == "p1"
    assert backend.sql("SELECT value FROM meta WHERE key='schema_version'") == [
        (str(SCHEMA_VERSION),)]
    assert backend.sql("SELECT state FROM trailing_stops") == [("waiting",)]
    assert backend.sql("SELECT phase, restarts FROM actor_state") == [("open", 0)]
    assert repo.claim(SYM) == 4  # the old incarnation number is kept and fenced


def test_a_newer_schema_version_is_refused_in_one_line(backend: Backend):
    backend.open().close()
    backend.sql("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StorageError) as err:
        backend.open()
    text = str(err.value)
    assert "schema version 99 is newer than this bot" in text and "\n" not in text
    assert ("bot_main" in text) if backend.kind == "postgresql" else ("bot.sqlite" in text)
