"""Storage contract, hedge-grid rows that cannot be read (INCIDENTS.md rule 7), on SQLite and
on PostgreSQL: a value the grid cannot trade on quarantines that one symbol with one line
naming the table, symbol and field, instead of being read as something else. Found by review:
an order without a client order id was read with the id "None" (its stop then looked gone and
was replaced while a level was added to the leg), and `"orders": {}` as no orders at all (every
live order cancelled as an orphan). One more meta row: a schema version that is not a number."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from storage import queries
from storage.database import StorageError
from storage.grid_store import HEDGE_GRID
from storage.restore import CorruptRow
from tests.storage.contract.backends import Backend
from tests.storage.contract.test_state import grid_with_both_legs

SYM = "BTC/USDT:USDT"


def stored_grid(backend: Backend) -> dict[str, Any]:
    repo = backend.open()
    book = grid_with_both_legs(repo)
    assert repo.load(SYM, store=HEDGE_GRID) == book.state
    ((text,),) = backend.sql("SELECT data FROM grid_state WHERE symbol = ?", (SYM,))
    data: dict[str, Any] = json.loads(text)
    assert data["orders"], "the grid has live orders to spoil"
    return data


def first_order(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def spoil(data: dict[str, Any]) -> None:
        if value is ...:
            del data["orders"][0][key]
        else:
            data["orders"][0][key] = value
    return spoil


CASES = [
    ("no client order id", first_order("client_order_id", ...), "orders[0].client_order_id"),
    ("a null client order id", first_order("client_order_id", None),
     "orders[0].client_order_id"),
    ("an empty client order id", first_order("client_order_id", " "),
     "orders[0].client_order_id"),
    ("orders as an object", lambda d: d.update(orders={}), "data.orders"),
    ("a NaN order time", first_order("created_at", "NaN"), "orders[0].created_at"),
    ("an infinite leg time", lambda d: d["long"].update(retry_at="Infinity"), "long.retry_at"),
    # kept as they were, a list or an object failed every later commit of the symbol (binding a
    # parameter, hashing the leg's id), a number matched none of the leg's orders
    ("a leg position id that is a list", lambda d: d["long"].update(position_id=[]),
     "long.position_id"),
    ("an order position id that is an object", first_order("position_id", {}),
     "orders[0].position_id"),
    ("an exchange id that is a number", first_order("exchange_id", 7), "orders[0].exchange_id"),
    ("a replaced id that is a list", first_order("replaces", ["x"]), "orders[0].replaces"),
    ("an order error that is an object", first_order("last_error", {"a": 1}),
     "orders[0].last_error"),
    # counts were truncated (3.5 read 3: an order_seq read short reuses placed orders' ids)
    ("a fractional order_seq", lambda d: d.update(order_seq=3.5), "data.order_seq"),
    ("a negative price_seq", lambda d: d.update(price_seq=-1), "data.price_seq"),
    ("a leg level that is true", lambda d: d["long"].update(level=True), "long.level"),
    ("a fractional order level", first_order("level", 1.5), "orders[0].level"),
]


@pytest.mark.parametrize(("what", "spoil", "field"), CASES, ids=[c[0] for c in CASES])
def test_an_unreadable_grid_value_names_its_field(
        backend: Backend, what: str, spoil: Callable[[dict[str, Any]], None], field: str):
    data = stored_grid(backend)
    spoil(data)
    backend.sql("UPDATE grid_state SET data = ? WHERE symbol = ?", (json.dumps(data), SYM))
    with pytest.raises(CorruptRow) as err:
        backend.open().load(SYM, store=HEDGE_GRID)
    text = str(err.value)
    assert "grid_state" in text and field in text and "\n" not in text, text


@pytest.mark.parametrize("value", ["3.0", "", "three"])
def test_a_schema_version_that_is_not_a_number_is_one_line(backend: Backend, value: str):
    backend.open().close()
    backend.sql("UPDATE meta SET value = ? WHERE key = 'schema_version'", (value,))
    with pytest.raises(StorageError) as err:
        backend.open()
    text = str(err.value)
    assert f"meta.schema_version = {value!r} is not a whole number" in text and "\n" not in text


def test_a_document_nested_too_deep_is_unreadable_not_a_crash(backend: Backend):
    """json.loads raises RecursionError on a deeply nested document (found by review): the
    entry gate's seed let it out and the whole bot stopped at start (exit 2, no symbol ran);
    the actor's own restore crash-looped instead of quarantining. It is a CorruptRow now, and
    the seed holds the symbol's slots."""
    stored_grid(backend)
    deep = "[" * 200_000 + "]" * 200_000
    backend.sql("UPDATE grid_state SET data = ? WHERE symbol = ?", (deep, SYM))
    repo = backend.open()
    with pytest.raises(CorruptRow, match="grid_state"):
        repo.load(SYM, store=HEDGE_GRID)
    assert repo.read(queries.open_positions_of, [SYM], True) == {SYM: 2}
    repo.record(SYM, "SignalReceived", {"signal_id": "s1"}, correlation_id="s1")
    backend.sql("UPDATE events SET data = ? WHERE correlation_id = 's1'", (deep,))
    with pytest.raises(CorruptRow, match="events row"):
        repo.unhandled_signals(SYM)


def test_a_grid_order_side_that_is_not_buy_or_sell_says_what_is_allowed(backend: Backend):
    data = stored_grid(backend)
    first_order("side", "short")(data)
    backend.sql("UPDATE grid_state SET data = ? WHERE symbol = ?", (json.dumps(data), SYM))
    with pytest.raises(CorruptRow) as err:
        backend.open().load(SYM, store=HEDGE_GRID)
    assert "'short' is not an order side (allowed: buy, sell)" in str(err.value), err.value
