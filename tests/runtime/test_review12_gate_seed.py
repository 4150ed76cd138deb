"""The account's entry gate counts, from storage before any actor starts, every entry possibly in
flight, and a symbol whose stored state cannot be read holds every slot of its style until a
person resumes it (review 12, defect 1: the seed counted open position rows only, so an entry in
flight at a restart on a symbol whose actor then could not start was not counted: cap 2, three
positions, the third one unprotected).

Real parts: pykka actors, the supervisor, SQLite and the paper exchange (the harness, and the
account runtime itself for the hedge grid)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D
from pathlib import Path

from loguru import logger

from exchange import errors
from runtime.account import AccountRuntime
from runtime.stop_accounts import stop_all
from storage import grid_codec, queries
from storage.repository import Repository
from tests.actors.test_entry_gate import SYMBOLS, enter, open_symbols, skipped_by_cap
from tests.support.configs import opened_account, paper_hedge_grid
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.grid.model import GridState, Leg
from trading.model import OrderStatus, Side
from trading.orders import Order, OrderPurpose


def _sql(path: Path, sql: str, *args: object) -> None:
    con = sqlite3.connect(path)
    try:
        con.execute(sql, args)
        con.commit()
    finally:
        con.close()


# -- one-way, real actors: the reviewer's demo -------------------------------------------------

def test_an_entry_in_flight_on_a_symbol_that_cannot_start_holds_its_slot(tmp_path: Path):
    a, b, c, d = SYMBOLS[:4]
    h = Harness(tmp_path, [a, b, c, d], max_open_positions=2).start()
    h.poll()
    enter(h, a)
    # b's entry reaches the exchange, its answer is lost, and every lookup fails too
    h.paper.faults.fail_next("create_order", 1, errors.RequestTimeout("lost answer"),
                             after_accept=True)
    for call in ("fetch_order", "fetch_open_orders", "fetch_positions"):
        h.paper.faults.fail_next(call, 1000, errors.NetworkError("down"))
    assert h.signal(b, Side.LONG)
    h.idle(b)
    assert h.view(b).phase == "entering"
    h.paper.faults.clear()
    h.stop()
    _sql(tmp_path / "bot.sqlite", "UPDATE actor_state SET cooldown_until='garbage' WHERE symbol=?",
         b)  # b's row cannot be read: its actor never starts

    again = Harness(tmp_path, [a, b, c, d], clock=h.clock, max_open_positions=2).start()
    try:
        assert again.child(b).state.value == "quarantined"
        assert again.gate.held() == {a: 1, b: 1}
        again.poll()
        for s in (c, d):
            assert again.signal(s, Side.LONG)
            again.idle(s)
        assert sorted(open_symbols(again.paper)) == [a, b]  # b's entry did land: 2, not 3
        assert sorted(e["symbol"] for e in skipped_by_cap(again)) == [c, d]
        # a person resumes b with its row still unreadable: it stays quarantined and held
        again.sup.resume(b, "test")
        wait_until(lambda: again.repo.read(queries.events, b, "Quarantined")[1:], timeout=10,
                   message="b quarantined again after the resume")
        assert again.gate.held() == {a: 1, b: 1}
    finally:
        again.stop()


# -- storage's count, rule by rule (real SQLite) -------------------------------------------------

ONE = [f"O{i}/USDT:USDT" for i in range(6)]
GRID = [f"G{i}/USDT:USDT" for i in range(5)]


def _grid(symbol: str, *, long_open: bool, short_entry: bool) -> str:
    """A grid document: the long leg open or flat, a live OPEN order of the flat short leg."""
    long = Leg(side=Side.LONG)
    if long_open:
        long = Leg(side=Side.LONG, position_id=f"{symbol}-p", contracts=D(1), entry_price=D(100))
    entry = Order(client_order_id=f"{symbol}-e", purpose=OrderPurpose.ENTRY, side="sell",
                  amount=D(1), leg=Side.SHORT, status=OrderStatus.PENDING)
    orders = (entry,) if short_entry else ()
    return grid_codec.dumps(GridState(symbol=symbol, long=long, orders=orders))


def test_storage_counts_entries_in_flight_and_unreadable_states(tmp_path: Path):
    path = tmp_path / "bot.sqlite"
    repo = Repository(path, synchronous="normal")
    for s in ONE + GRID:
        repo.claim(s)
    flat, entering, entry_order, garbage, was_unreadable, open_ = ONE
    _sql(path, "UPDATE actor_state SET phase='entering' WHERE symbol=?", entering)
    _sql(path, "INSERT INTO orders (client_order_id, symbol, purpose, side, amount, reduce_only, "
               "status, filled, fee, created_at, updated_at) "
               "VALUES ('x1', ?, 'entry', 'buy', '1', 0, 'pending', '0', '0', 1, 1)",
         entry_order)  # a live entry order (its phase not entering: counted all the same)
    _sql(path, "UPDATE actor_state SET cooldown_until='garbage' WHERE symbol=?", garbage)
    _sql(path, "UPDATE actor_state SET quarantined=1, quarantine_reason=? WHERE symbol=?",
         "unreadable state: actor_state row: field 'phase' = 'x'", was_unreadable)
    _sql(path, "INSERT INTO positions (position_id, symbol, side, contracts, entry_price, "
               "opened_at, status, realized_pnl, fees) "
               "VALUES ('p1', ?, 'long', '1', '100', 1, 'open', '0', '0')", open_)
    g_flat, g_leg_and_entry, g_entry, g_garbage, g_unreadable = GRID
    for s, long_open, short_entry in ((g_flat, False, False), (g_leg_and_entry, True, True),
                                      (g_entry, False, True), (g_unreadable, False, False)):
        _sql(path, "INSERT INTO grid_state (symbol, data, updated_at) VALUES (?,?,1)", s,
             _grid(s, long_open=long_open, short_entry=short_entry))
    _sql(path, "INSERT INTO grid_state (symbol, data, updated_at) VALUES (?,?,1)", g_garbage,
         '{"long": 5}')
    _sql(path, "UPDATE actor_state SET quarantined=1, quarantine_reason=? WHERE symbol=?",
         "unreadable state: grid_state row: data.long not an object", g_unreadable)

    held = repo.read(queries.open_positions_of, ONE + GRID)
    repo.close()
    assert held == {entering: 1, entry_order: 1, garbage: 1, was_unreadable: 1, open_: 1,
                    g_leg_and_entry: 2, g_entry: 1, g_garbage: 2, g_unreadable: 2}


# -- hedge grid, the account runtime: an unreadable grid holds both legs' slots -----------------

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
GRID_CONFIG = paper_hedge_grid([BTC, ETH], risk="max_open_positions = 2")


def _refused(account: AccountRuntime, symbol: str) -> list[dict]:
    assert account.repo is not None
    return [e for e in account.repo.read(queries.events, symbol, "EntryRefused")
            if "max_open_positions" in e["data"]["reason"]]


def test_an_unreadable_grid_holds_both_slots_until_a_person_resumes_it(tmp_path: Path):
    account = opened_account(tmp_path, GRID_CONFIG)
    try:
        assert account.repo is not None
        db = account.repo.path
        account.repo.claim(BTC)
        _sql(db, "INSERT INTO grid_state (symbol, data, updated_at) VALUES (?, '{\"long\": 5}', 1)",
             BTC)  # BTC's document cannot be read: whatever it holds, nobody can see it
        account.build()
        account.start()
        assert account.sup is not None and account.gate is not None
        wait_until(lambda: account.sup.children[BTC].state.value == "quarantined", timeout=30,
                   message="BTC quarantined")
        wait_until(lambda: _refused(account, ETH), timeout=30, message="ETH's legs refused")
        assert account.gate.held() == {BTC: 2}
    finally:
        stop_all([account], logger)
        account.close()

    # the document is fixed by hand and the bot restarted before anyone resumed BTC: its actor
    # starts, still quarantined for the unreadable state, and still holds both slots
    _sql(db, "DELETE FROM grid_state WHERE symbol=?", BTC)
    again = opened_account(tmp_path)
    try:
        again.build()
        assert again.gate is not None and again.gate.held() == {BTC: 2}  # the seed
        again.start()
        sup, gate = again.sup, again.gate
        assert sup is not None
        wait_until(lambda: sup.children[BTC].state.value == "running", timeout=30,
                   message="BTC's actor running")
        assert gate.held() == {BTC: 2}  # settled by BTC's running actor, not only the seed
        refusal = gate.admit(ETH, "grid_leg", reconciled=True, incarnation=999)
        assert refusal is not None and "max_open_positions" in refusal
        assert again.repo.read(queries.events, None, "LegOpened") == []
        # a person resumes BTC: its slots are released once the lift is committed (the lift's
        # own attempt to open legs still met them, and retries after the grid's open_retry_s)
        sup.resume(BTC, "person")
        wait_until(lambda: again.repo.read(queries.events, BTC, "QuarantineLifted"), timeout=30,
                   message="BTC's quarantine lifted")
        wait_until(lambda: len(again.repo.read(queries.events, None, "LegOpened")) == 2,
                   timeout=30, message="two legs open")
        assert sum(gate.held().values()) == 2
        held = [p for p in again.exchange.fetch_positions() if p.contracts > 0]
        assert len(held) == 2, held
    finally:
        stop_all([again], logger)
        again.close()
