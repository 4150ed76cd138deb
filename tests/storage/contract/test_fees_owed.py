"""Storage contract, owed fees (trading/late_fees.py), on SQLite and on PostgreSQL: an order
that ended with its fee unknown is stored with the state (schema 4: `actor_state.fees_owed` for
a one-way symbol, `fees_owed` in a grid's document), read back as it was, and booked by the
core's reconciliation after the restore; a schema-3 store gets the column with its rows kept;
a stored value that cannot be read quarantines that one symbol (CorruptRow naming the field)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal as D
from typing import Any

import pytest

from storage import queries
from storage.grid_store import HEDGE_GRID
from storage.models import SCHEMA_VERSION
from storage.repository import Repository
from storage.restore import CorruptRow
from tests.storage.contract.backends import Backend
from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from tests.trading.test_grid_core import Book
from trading.decide import SymbolCore
from trading.decision import Decision
from trading.events import (
    ExchangeOrder,
    ExchangePosition,
    OrderFilled,
    PriceTicked,
    Reconciled,
    SignalRaised,
)
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind, GridState
from trading.model import OrderPurpose, Side, SymbolState

SYM = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
FEE = D("0.05")


def commit_all(repo: Repository, inc: int, before: Any, decisions: Iterable[Decision],
               at: float, store: Any = None) -> None:
    for d in decisions:
        kw = {} if store is None else {"store": store}
        repo.commit(SYM, inc, before, d, correlation_id="f", created_at=at, **kw)
        before = d.state


def told(cid: str, filled: D, fee: D = FEE) -> ExchangeOrder:
    """The venue's answer: filled and ended (its fee told), or nothing filled and resting."""
    return ExchangeOrder(client_order_id=cid, exchange_id="x1",
                         status="closed" if filled else "open", filled=filled,
                         average=D(100) if filled else None, fee=fee)


def one_way_owing(repo: Repository) -> Scenario:
    """Long 1 at 100: the entry's fill read before its fee (its stop not answered yet)."""
    inc = repo.claim(SYM)
    sc = Scenario(SymbolCore(make_rules()), auto_exchange=False)
    sc.send(PriceTicked(price=D(100)))
    sc.send(SignalRaised(side=Side.LONG))
    (entry,) = [o for o in sc.state.orders if o.purpose is OrderPurpose.ENTRY]
    sc.send(OrderFilled(client_order_id=entry.client_order_id, exchange_id="x1", filled=D(1),
                        average=D(100), fee=D(0), fee_known=False), dt=1.0)
    assert [o.order.client_order_id for o in sc.state.fees_owed] == [entry.client_order_id]
    commit_all(repo, inc, SymbolState(symbol=SYM), sc.decisions, sc.now)
    return sc


def test_a_one_way_owed_fee_is_stored_and_booked_after_the_restore(backend: Backend):
    repo = backend.open()
    sc = one_way_owing(repo)
    repo.close()
    repo = backend.open()  # a restart: everything below is read from the store
    loaded = repo.load(SYM)
    assert loaded.fees_owed == sc.state.fees_owed and loaded.fees_owed[0].looks == 0
    assert loaded.fees_owed[0].noted_at == sc.now
    entry = loaded.fees_owed[0].order
    assert loaded.position is not None and loaded.position.fees == D(0)

    inc = repo.claim(SYM)
    again = Scenario(SymbolCore(make_rules()), state0=loaded, now=sc.now + 10,
                     auto_exchange=False)
    held = ExchangePosition(side=Side.LONG, contracts=D(1), entry_price=D(100))
    live = {o.client_order_id: told(o.client_order_id, D(0), D(0)) for o in loaded.orders}
    again.send(Reconciled(position=held, orders={**live, entry.client_order_id: told(
        entry.client_order_id, D(1))}))
    commit_all(repo, inc, loaded, again.decisions, again.now)
    late = [f for f in repo.read(queries.fills, SYM) if D(f.amount) == 0]
    assert [(f.client_order_id, D(f.fee)) for f in late] == [(entry.client_order_id, FEE)]
    stored = repo.load(SYM)
    assert stored.fees_owed == () and stored.position is not None
    assert stored.position.fees == FEE


def grid_owing(repo: Repository) -> Book:
    """Both legs open at 100, their opening orders' fills read before their fees."""
    book = Book()
    book.send(PriceTicked(price=D(100)))
    for order in book.placed(GridKind.OPEN):
        book.send(OrderFilled(client_order_id=order.client_order_id, exchange_id="x1",
                              filled=order.amount, average=D(100), fee=D(0), fee_known=False))
    assert len(book.state.fees_owed) == 2
    commit_all(repo, repo.claim(SYM), GridState(symbol=SYM), book.repo.decisions, book.now,
               HEDGE_GRID)
    return book


def test_a_grid_owed_fee_is_stored_and_booked_after_the_restore(backend: Backend):
    repo = backend.open()
    book = grid_owing(repo)
    repo.close()
    repo = backend.open()
    loaded = repo.load(SYM, store=HEDGE_GRID)
    assert loaded == book.state and loaded.fees_owed == book.state.fees_owed
    owed = {o.order.client_order_id: o.order for o in loaded.fees_owed}
    assert {o.leg for o in owed.values()} == {Side.LONG, Side.SHORT}

    inc = repo.claim(SYM)
    again = Book()
    again.now = book.now + 10
    again.loop.adopt(loaded)
    positions = {o.leg: ExchangePosition(side=o.leg, contracts=o.filled, entry_price=D(100))
                 for o in owed.values() if o.leg is not None}
    live = {o.client_order_id: told(o.client_order_id, D(0), D(0)) for o in loaded.orders}
    answers = {cid: told(cid, o.filled) for cid, o in owed.items()}
    again.send(GridReconciled(positions=positions, orders={**live, **answers}))
    commit_all(repo, inc, loaded, again.repo.decisions, again.now, HEDGE_GRID)
    late = {f.client_order_id: D(f.fee) for f in repo.read(queries.fills, SYM)
            if D(f.amount) == 0}
    assert late == dict.fromkeys(owed, FEE)
    stored = repo.load(SYM, store=HEDGE_GRID)
    assert stored.fees_owed == () and stored.long.fees == stored.short.fees == FEE


def test_a_schema_3_store_gets_the_column_and_its_rows_load_owing_nothing(backend: Backend):
    repo = backend.open()
    sc = one_way_owing(repo)
    repo.close()
    # the schema-3 shape: no actor_state.fees_owed (the rows as the old bot left them)
    backend.sql("ALTER TABLE actor_state DROP COLUMN fees_owed; "
                "UPDATE meta SET value = '3' WHERE key = 'schema_version'", script=True)
    repo = backend.open()
    assert backend.sql("SELECT value FROM meta WHERE key='schema_version'") == [
        (str(SCHEMA_VERSION),)]
    assert backend.sql("SELECT symbol, fees_owed FROM actor_state") == [(SYM, None)]
    loaded = repo.load(SYM)
    assert loaded.fees_owed == () and loaded.position == sc.state.position
    assert loaded.orders == sc.state.orders
    # and the migrated store is written as a new one
    inc = repo.claim(SYM)
    again = Scenario(SymbolCore(make_rules()), state0=sc.state, now=sc.now + 1,
                     auto_exchange=False)
    again.send(PriceTicked(price=D("100.6")))  # the trailing stop activates: a commit
    commit_all(repo, inc, loaded, again.decisions, again.now)
    assert repo.load(SYM).fees_owed == sc.state.fees_owed


def owed_text(backend: Backend) -> str:
    ((text,),) = backend.sql("SELECT fees_owed FROM actor_state WHERE symbol = ?", (SYM,))
    return str(text)


def spoiled(text: str, spoil: Any) -> str:
    data = json.loads(text)
    spoil(data[0])
    return json.dumps(data)


ONE_WAY_CASES = [
    ("not JSON", lambda t: "[{", "'fees_owed'"),
    ("an object", lambda t: "{}", "'fees_owed'"),
    ("an item not an object", lambda t: "[1]", "'fees_owed[0]'"),
    ("a NaN time", lambda t: spoiled(t, lambda d: d.update(noted_at="NaN")),
     "'fees_owed[0].noted_at'"),
    ("no time", lambda t: spoiled(t, lambda d: d.pop("noted_at")), "'fees_owed[0].noted_at'"),
    ("negative looks", lambda t: spoiled(t, lambda d: d.update(looks=-1)),
     "'fees_owed[0].looks'"),
    ("looks as text", lambda t: spoiled(t, lambda d: d.update(looks="2")),
     "'fees_owed[0].looks'"),
    ("no order", lambda t: spoiled(t, lambda d: d.pop("order")), "'fees_owed[0].order'"),
    ("an order without id", lambda t: spoiled(t, lambda d: d["order"].pop("client_order_id")),
     "'fees_owed[0].order.client_order_id'"),
    ("an unreadable fee", lambda t: spoiled(t, lambda d: d["order"].update(fee="x")),
     "'fees_owed[0].order.fee'"),
]


@pytest.mark.parametrize(("what", "spoil", "field"), ONE_WAY_CASES,
                         ids=[c[0] for c in ONE_WAY_CASES])
def test_an_unreadable_one_way_owed_fee_names_its_field_and_only_that_symbol(
        backend: Backend, what: str, spoil: Any, field: str):
    repo = backend.open()
    sc = one_way_owing(repo)
    good = owed_text(backend)
    repo.claim(ETH)  # another symbol owing the same fees, readable
    backend.sql("UPDATE actor_state SET fees_owed = ? WHERE symbol = ?", (good, ETH))
    backend.sql("UPDATE actor_state SET fees_owed = ? WHERE symbol = ?", (spoil(good), SYM))
    repo.close()
    repo = backend.open()
    with pytest.raises(CorruptRow) as err:
        repo.load(SYM)
    text = str(err.value)
    assert err.value.table == "actor_state" and err.value.key == SYM, text
    assert field in text and "\n" not in text, text
    assert repo.load(ETH).fees_owed == sc.state.fees_owed


GRID_CASES = [
    ("an object", lambda d: d.update(fees_owed={}), "data.fees_owed"),
    ("negative looks", lambda d: d["fees_owed"][0].update(looks=-2), "data.fees_owed[0].looks"),
    ("an infinite time", lambda d: d["fees_owed"][0].update(noted_at="Infinity"),
     "data.fees_owed[0].noted_at"),
    ("an order of no leg", lambda d: d["fees_owed"][0]["order"].update(leg=None),
     "data.fees_owed[0].order.leg"),
]


@pytest.mark.parametrize(("what", "spoil", "field"), GRID_CASES, ids=[c[0] for c in GRID_CASES])
def test_an_unreadable_grid_owed_fee_names_its_field(
        backend: Backend, what: str, spoil: Any, field: str):
    repo = backend.open()
    grid_owing(repo)
    ((text,),) = backend.sql("SELECT data FROM grid_state WHERE symbol = ?", (SYM,))
    data = json.loads(text)
    spoil(data)
    backend.sql("UPDATE grid_state SET data = ? WHERE symbol = ?", (json.dumps(data), SYM))
    repo.close()
    with pytest.raises(CorruptRow) as err:
        backend.open().load(SYM, store=HEDGE_GRID)
    text = str(err.value)
    assert err.value.table == "grid_state" and field in text and "\n" not in text, text


def test_a_grid_document_written_before_owed_fees_were_stored_owes_nothing(backend: Backend):
    repo = backend.open()
    book = grid_owing(repo)
    ((text,),) = backend.sql("SELECT data FROM grid_state WHERE symbol = ?", (SYM,))
    data = json.loads(text)
    del data["fees_owed"]
    backend.sql("UPDATE grid_state SET data = ? WHERE symbol = ?", (json.dumps(data), SYM))
    loaded = backend.open().load(SYM, store=HEDGE_GRID)
    assert loaded == book.state and loaded.fees_owed == ()
