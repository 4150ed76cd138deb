"""Selects whose SQL is built once (storage/prepared.py) answer as peewee's own select would, on
SQLite and on PostgreSQL, for every value they are run with; one whose SQL cannot be reused
fails naming itself instead of running wrong SQL."""

from __future__ import annotations

from decimal import Decimal

import pytest

from storage.models import EventRow, OrderRow
from storage.prepared import Prepared
from storage.repository import Repository
from tests.support.postgres import pg_url  # noqa: F401 - the fixture

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")


def _orders(symbol: str) -> object:
    return (OrderRow.select().where((OrderRow.symbol == symbol)
                                    & OrderRow.status.in_(("open", "pending")))
            .order_by(OrderRow.created_at, OrderRow.client_order_id))


ORDERS = Prepared("test orders", OrderRow, (str,),
                  lambda symbol: (OrderRow.symbol == symbol)
                  & OrderRow.status.in_(("open", "pending")),
                  shape=lambda query: query.order_by(OrderRow.created_at,
                                                     OrderRow.client_order_id))
SINCE = Prepared("test events since", EventRow, (str, int),
                 lambda symbol, since: (EventRow.symbol == symbol) & (EventRow.id >= since),
                 fields=(EventRow.id, EventRow.type),
                 shape=lambda query: query.order_by(EventRow.id))


def _fill(repo: Repository) -> None:
    with repo.reading():
        for n, symbol in enumerate(SYMBOLS):
            for i in range(n + 2):
                OrderRow.create(
                    client_order_id=f"c-{n}-{i}", symbol=symbol, purpose="entry", side="buy",
                    amount=Decimal("0.5") + i, status=("open", "closed", "pending")[i % 3],
                    created_at=1_700_000_000.0 + 10 - i, updated_at=1_700_000_000.0,
                    filled=Decimal(0), fee=Decimal(0))
    for symbol in SYMBOLS:
        for i in range(3):
            repo.record(symbol, f"Thing{i}", {"i": i}, correlation_id=f"{symbol}-{i}")


def _same_answers(repo: Repository) -> None:
    answered = 0
    with repo.reading():
        for symbol in SYMBOLS + ("NONE/USDT:USDT",):
            expected = [(o.client_order_id, o.amount, o.status, o.created_at, o.reduce_only)
                        for o in _orders(symbol)]
            got = [(o.client_order_id, o.amount, o.status, o.created_at, o.reduce_only)
                   for o in ORDERS(symbol)]
            assert got == expected, symbol  # each field read by its own converter, as peewee's
            answered += bool(got)
            first = EventRow.select(EventRow.id).where(EventRow.symbol == symbol).first()
            since = first.id + 1 if first is not None else 0
            expected_ids = [(e.id, e.type) for e in EventRow.select(EventRow.id, EventRow.type)
                            .where((EventRow.symbol == symbol) & (EventRow.id >= since))
                            .order_by(EventRow.id)]
            assert [(e.id, e.type) for e in SINCE(symbol, since)] == expected_ids, symbol
    assert answered == len(SYMBOLS)  # each symbol had rows to compare


def test_prepared_selects_answer_as_peewee_on_sqlite(tmp_path) -> None:  # noqa: ANN001
    repo = Repository(tmp_path / "bot.sqlite")
    try:
        _fill(repo)
        _same_answers(repo)
    finally:
        repo.close()


def test_prepared_selects_answer_as_peewee_on_postgres(pg_url) -> None:  # noqa: ANN001, F811
    repo = Repository(url=pg_url, schema="acct_prepared")
    try:
        _fill(repo)
        _same_answers(repo)  # the same objects, now with PostgreSQL's spelling (%s, not ?)
    finally:
        repo.close()


def test_a_select_whose_sql_depends_on_its_value_is_refused(tmp_path) -> None:  # noqa: ANN001
    varying = Prepared("varying", OrderRow, (str,), lambda symbol: (
        (OrderRow.symbol == symbol) & (OrderRow.status == "open")
        if symbol.endswith("a-0\x00") else OrderRow.symbol == symbol))
    unused = Prepared("unused", OrderRow, (str, int),
                      lambda symbol, n: OrderRow.symbol == symbol)
    repo = Repository(tmp_path / "bot.sqlite")
    try:
        with repo.reading():
            with pytest.raises(TypeError, match="prepared select varying: its SQL depends"):
                varying("BTC/USDT:USDT")
            with pytest.raises(TypeError, match="prepared select unused: a value reaches no"):
                unused("BTC/USDT:USDT", 3)
    finally:
        repo.close()
    with pytest.raises(TypeError, match="prepared select floats: values must be str or int"):
        Prepared("floats", OrderRow, (float,), lambda price: OrderRow.amount == price)
