"""Storage contract, a NULL in a one-way column (a row another tool or a hand edit left; the
bot's own tables say NOT NULL), on SQLite and on PostgreSQL. Found by review: a NULL in a column
whose default is a safe reading quarantined the symbol, while NULL flags (quarantined, an
order's reduce_only) were read as False without a word. Now a safe default is used with one
warning; any other NULL quarantines the symbol with one line naming the column."""

from __future__ import annotations

import re

import pytest

from storage.restore import CorruptRow
from tests.storage.contract.backends import Backend
from tests.storage.contract.test_state import SYM, opened


def null_in(backend: Backend, table: str, column: str) -> None:
    """Drop the column's NOT NULL (as a table another tool made would lack it), set it NULL."""
    if backend.kind == "sqlite":
        [(ddl,)] = backend.sql("SELECT sql FROM sqlite_master WHERE name = ?", (table,))
        loose = re.sub(rf'("{column}" [\w()]+) NOT NULL', r"\1", ddl)
        assert loose != ddl, ddl
        backend.sql("PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = "
                    f"'{loose}' WHERE name = '{table}'; PRAGMA writable_schema = OFF",
                    script=True)
    else:
        backend.sql(f'ALTER TABLE {table} ALTER COLUMN "{column}" DROP NOT NULL')
    backend.sql(f'UPDATE {table} SET "{column}" = NULL')


@pytest.mark.parametrize(("column", "default"), [
    ("cooldown_until", 0.0), ("close_attempts", 0), ("needs_stop", False)])
def test_a_null_whose_default_is_safe_is_read_as_the_default(backend: Backend, lines,
                                                             column: str, default):
    repo = backend.open()
    _, sc = opened(repo)
    repo.close()
    null_in(backend, "actor_state", column)
    loaded = backend.open().load(SYM)
    assert getattr(loaded, column) == default
    assert loaded.position == sc.state.position and loaded.orders == sc.state.orders
    said = [line for line in lines if f"{column} is NULL" in line]
    assert len(said) == 1 and "actor_state" in said[0] and "WARNING" in said[0], lines


@pytest.mark.parametrize(("table", "column"), [
    ("actor_state", "quarantined"), ("actor_state", "order_seq"), ("actor_state", "phase"),
    ("orders", "reduce_only"), ("orders", "filled"), ("positions", "realized_pnl")])
def test_any_other_null_names_its_column(backend: Backend, table: str, column: str):
    repo = backend.open()
    opened(repo)
    repo.close()
    null_in(backend, table, column)
    with pytest.raises(CorruptRow) as err:
        backend.open().load(SYM)
    text = str(err.value)
    assert text.startswith(f"{table} row ") and f"field {column!r} = None: NULL" in text, text
    assert "\n" not in text
