"""Storage contract, state: both trading styles' state, their orders and positions round-trip
through `Repository.commit` / `Repository.load` the same on SQLite and on PostgreSQL."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from storage import queries
from storage.grid_store import HEDGE_GRID
from storage.repository import Repository
from storage.restore import CorruptRow
from tests.storage.contract.backends import Backend
from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from tests.trading.test_grid_core import Book
from trading.decide import SymbolCore
from trading.events import OrderFilled, PriceTicked, SignalRaised
from trading.grid.model import GridKind, GridState
from trading.model import Phase, Side, SymbolState, TrailingState

SYM = "BTC/USDT:USDT"


def play(repo: Repository, inc: int, sc: Scenario, event, dt: float = 0.0) -> None:  # noqa: ANN001
    before, start = sc.state, len(sc.decisions)
    sc.send(event, dt)
    for d in sc.decisions[start:]:
        repo.commit(SYM, inc, before, d, correlation_id="c1", created_at=sc.now)
        before = d.state


def opened(repo: Repository) -> tuple[int, Scenario]:
    inc = repo.claim(SYM)
    sc = Scenario(SymbolCore(make_rules()))
    play(repo, inc, sc, PriceTicked(price=D("100")))
    play(repo, inc, sc, SignalRaised(side=Side.LONG))
    return inc, sc


def test_one_way_state_round_trips(backend: Backend):
    repo = backend.open()
    inc, sc = opened(repo)
    play(repo, inc, sc, PriceTicked(price=D("100.6")))  # the trailing stop activates
    loaded = repo.load(SYM)
    assert loaded.phase is Phase.OPEN and loaded.position == sc.state.position
    assert loaded.trailing == sc.state.trailing and loaded.trailing.state is TrailingState.ACTIVE
    assert loaded.orders == sc.state.orders and loaded.order_seq == sc.state.order_seq
    assert loaded.stop_price == sc.state.stop_price and loaded.needs_stop == sc.state.needs_stop
    # times keep their sub-second digits (a 4-byte float column would round them to minutes)
    assert loaded.position.opened_at == sc.state.position.opened_at
    row = repo.read(queries.positions, SYM)[0]
    assert row.opened_at == sc.state.position.opened_at


def test_upserts_overwrite_and_a_closed_position_keeps_its_totals(backend: Backend):
    repo = backend.open()
    inc, sc = opened(repo)
    pid = sc.state.position.position_id
    play(repo, inc, sc, PriceTicked(price=D("100.6")))
    play(repo, inc, sc, PriceTicked(price=D("101.5")))  # trailing moves: its row is rewritten
    assert repo.load(SYM).trailing == sc.state.trailing
    stop = sc.state.active_stop()
    assert stop is not None
    play(repo, inc, sc, OrderFilled(client_order_id=stop.client_order_id, exchange_id="x",
                                    filled=stop.amount, average=stop.stop_price, fee=D("0.02")))
    assert sc.state.position is None
    loaded = repo.load(SYM)
    assert loaded.position is None and loaded.trailing is None and loaded.orders == sc.state.orders
    rows = repo.read(queries.positions, SYM)
    closed = next(p for p in rows if p.position_id == pid)
    assert closed.status == "closed" and closed.closed_at is not None
    booked = [f for f in repo.read(queries.fills, SYM) if f.position_id == pid]
    assert D(closed.realized_pnl) == sum((D(f.realized_pnl) for f in booked), D(0))
    assert D(closed.fees) == sum((D(f.fee) for f in booked), D(0))
    assert len(booked) >= 2  # the entry and the close are both in the ledger
    statuses = {o.client_order_id: o.status for o in repo.read(queries.orders, SYM)}
    assert set(statuses) >= {o.client_order_id for o in sc.state.orders}
    assert all(s in ("pending", "open", "filled", "canceled", "failed") for s in statuses.values())


def grid_with_both_legs(repo: Repository) -> Book:
    """A hedge grid with both legs open and their orders, every decision committed to `repo`."""
    book = Book()
    book.open_both("100")
    inc = repo.claim(SYM)
    before: GridState = GridState(symbol=SYM)
    for d in book.repo.decisions:
        repo.commit(SYM, inc, before, d, correlation_id="g", created_at=book.now, store=HEDGE_GRID)
        before = d.state
    return book


def test_hedge_grid_state_round_trips(backend: Backend):
    repo = backend.open()
    book = grid_with_both_legs(repo)
    loaded = repo.load(SYM, store=HEDGE_GRID)
    assert loaded == book.state
    assert loaded.long.is_open and loaded.short.is_open
    assert {o.kind for o in loaded.orders} >= {GridKind.STOP, GridKind.TP}
    legs = {p.position_id: p for p in repo.read(queries.positions, SYM)}
    assert set(legs) == {book.state.long.position_id, book.state.short.position_id}
    assert all(p.status == "open" for p in legs.values())


def test_a_new_symbol_loads_flat(backend: Backend):
    repo = backend.open()
    assert repo.load("ETH/USDT:USDT") == SymbolState(symbol="ETH/USDT:USDT")
    assert repo.load("ETH/USDT:USDT", store=HEDGE_GRID) == GridState(symbol="ETH/USDT:USDT")


def test_restore_reads_legacy_casing_and_names_a_corrupt_field(backend: Backend):
    repo = backend.open()
    opened(repo)
    backend.sql("UPDATE trailing_stops SET state='WAITING'")
    backend.sql("UPDATE orders SET status=upper(status), purpose=upper(purpose)")
    backend.sql("UPDATE positions SET side='Long', status='OPEN'")
    backend.sql("UPDATE actor_state SET phase='OPEN'")
    loaded = repo.load(SYM)
    assert loaded.trailing.state is TrailingState.WAITING and loaded.phase is Phase.OPEN
    assert loaded.position.side is Side.LONG and len(loaded.orders) == 1
    backend.sql("UPDATE trailing_stops SET state='waiting', activation_price='12,5'")
    with pytest.raises(CorruptRow, match="trailing_stops row .*'activation_price'"):
        repo.load(SYM)


def test_quarantine_and_restart_counts(backend: Backend):
    repo = backend.open()
    repo.quarantine(SYM, "unreadable row", correlation_id="q")
    repo.count_restart(SYM)
    repo.count_restart(SYM)
    state = repo.load(SYM)
    assert state.quarantined and state.quarantine_reason == "unreadable row"
    assert repo.read(queries.actor_rows)[SYM].restarts == 2
    assert [e["type"] for e in repo.read(queries.events, SYM)] == ["Quarantined"]
    grid = repo.load(SYM, store=HEDGE_GRID)
    assert grid.quarantined and grid.quarantine_reason == "unreadable row"
