"""Storage contract, one-way rows a person (or an older bot) left in an unusual shape, on SQLite
and on PostgreSQL (INCIDENTS.md rule 7). Found by review:
- a status spelled 'oPEN' or ' open' was not found by restore's indexed lookup: the position
  was adopted again from the exchange under a new id (P&L and fees reset) and its row stayed
  open for ever, its stop cancelled as an orphan. Statuses are normalised when the store opens.
- a NaN time ('NaN' text in a float column) was read as float NaN; SQLite stores a NaN as NULL,
  so every later commit failed (NOT NULL) and the symbol crash-looped with its position open.
  Such a time now quarantines the symbol with one line naming the field."""

from __future__ import annotations

import pytest

from storage.restore import CorruptRow
from tests.storage.contract.backends import Backend
from tests.storage.contract.test_state import SYM, opened
from trading.model import Phase


@pytest.mark.parametrize("spelling", ["oPEN", " open", "Open "])
def test_a_status_spelled_unusually_is_still_found(backend: Backend, spelling: str):
    repo = backend.open()
    _, sc = opened(repo)
    assert sc.state.position is not None and sc.state.orders
    repo.close()
    backend.sql("UPDATE positions SET status = ? WHERE status = 'open'", (spelling,))
    backend.sql("UPDATE orders SET status = ? WHERE status = 'open'", (spelling,))
    loaded = backend.open().load(SYM)
    assert loaded.phase is Phase.OPEN and loaded.position == sc.state.position
    assert [o.client_order_id for o in loaded.orders] == [
        o.client_order_id for o in sc.state.orders]
    assert backend.sql("SELECT DISTINCT status FROM positions") == [("open",)]


@pytest.mark.parametrize(("table", "column"), [
    ("actor_state", "cooldown_until"), ("actor_state", "next_close_at"),
    ("positions", "opened_at"), ("orders", "created_at")])
def test_a_time_that_is_not_finite_names_its_field(backend: Backend, table: str, column: str):
    repo = backend.open()
    opened(repo)
    repo.close()
    value = "NaN" if backend.kind == "sqlite" else "Infinity"
    cast = "" if backend.kind == "sqlite" else "::double precision"
    backend.sql(f"UPDATE {table} SET {column} = ?{cast}", (value,))
    with pytest.raises(CorruptRow) as err:
        backend.open().load(SYM)
    assert f"{table} row" in str(err.value) and repr(column) in str(err.value)


@pytest.mark.parametrize("column", ["order_seq", "close_attempts"])
def test_a_count_that_is_not_finite_names_its_field(backend: Backend, column: str):
    """Found by review: SQLite keeps '1e999' written to an INTEGER column as the REAL
    infinity, and peewee's int() of it raised OverflowError while building the row, before
    restore's field reader: not a CorruptRow, so the symbol was restarted into the same error
    until the crash-loop escalation instead of being quarantined at once with one line.
    (PostgreSQL's integer columns refuse such a value.)"""
    repo = backend.open()
    opened(repo)
    repo.close()
    if backend.kind != "sqlite":  # what the docstring relies on: PostgreSQL refuses the value
        import psycopg

        with pytest.raises(psycopg.errors.DataError):
            backend.sql(f"UPDATE actor_state SET {column} = ?", ("1e999",))
        return
    backend.sql(f"UPDATE actor_state SET {column} = ?", ("1e999",))
    with pytest.raises(CorruptRow) as err:
        backend.open().load(SYM)
    assert "actor_state row" in str(err.value) and repr(column) in str(err.value)


@pytest.mark.parametrize("spelling", ["SELL", " sell", "Sell "])
def test_an_order_side_in_any_casing_or_padding_is_read(backend: Backend, spelling: str):
    repo = backend.open()
    _, sc = opened(repo)
    repo.close()
    backend.sql("UPDATE orders SET side = ? WHERE side = 'sell'", (spelling,))
    loaded = backend.open().load(SYM)
    assert loaded.orders == sc.state.orders


def test_an_order_side_that_is_not_buy_or_sell_says_what_is_allowed(backend: Backend):
    """Found by review: the side was looked up in a dict, and the quarantine reason read
    "field 'side' = 'long': 'long'" (a position's side written as an order's)."""
    repo = backend.open()
    opened(repo)
    repo.close()
    backend.sql("UPDATE orders SET side = 'long' WHERE side = 'sell'")
    with pytest.raises(CorruptRow) as err:
        backend.open().load(SYM)
    assert str(err.value).endswith(
        "field 'side' = 'long': 'long' is not an order side (allowed: buy, sell)"), err.value


@pytest.mark.parametrize("column", ["order_seq", "close_attempts"])
@pytest.mark.parametrize("value", [3.5, -1])
def test_a_count_that_is_not_whole_or_is_negative_names_its_field(
        backend: Backend, column: str, value: float):
    """Found by review: peewee's int() truncated a REAL 3.5 that SQLite kept in the INTEGER
    column to 3 (an order_seq read short gives the next orders the client ids of orders already
    placed: a live stop replaced in the state by its namesake), and a negative count was read
    as it was. (PostgreSQL's integer columns refuse 3.5.)"""
    repo = backend.open()
    _, sc = opened(repo)
    repo.close()
    if backend.kind != "sqlite" and value == 3.5:
        return
    backend.sql(f"UPDATE actor_state SET {column} = ?", (value,))
    with pytest.raises(CorruptRow) as err:
        backend.open().load(SYM)
    assert str(err.value).startswith(f"actor_state row {SYM!r}: field {column!r} = "), err.value
