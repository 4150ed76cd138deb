"""A reducing fill that arrives after its position closed (a hedge-grid stop whose cancel had
not landed fills after the take-profit closed the leg: `FillWithoutLeg`; the one-way core's
`FillWithoutPosition`) is booked in the ledger under the closed position's id, with its fee and
the P&L the exchange booked for it. The closed position's row kept the totals it closed with:
only a fee-only entry (a late fee) reached it, so the trades list, the dashboard and the status,
which read the row, disagreed with the ledger by that fill's fee and P&L. The row now follows
the ledger. Production's decision loop, the grid core, real SQLite."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

from storage.repository import Repository
from tests.trading.conftest import make_rules
from tests.trading.test_grid_core import SYMBOL, rules
from tests.trading.test_grid_fill_without_leg_position import loop_sending_nothing
from trading.decide import SymbolCore
from trading.events import OrderAccepted, OrderFilled, PriceTicked, SignalRaised
from trading.grid.core import GridCore
from trading.grid.model import GridKind, GridState, Leg
from trading.model import OrderPurpose, Side, SymbolState
from trading.orders import Order, OrderStatus


def _order(core: GridCore, seq: int, kind: GridKind, price: str, now: float) -> Order:
    return Order(client_order_id=core.rules.client_order_id(seq, kind), leg=Side.LONG,
                 purpose=kind, side="sell", amount=D(1), price=D(price), reduce_only=True,
                 status=OrderStatus.OPEN, exchange_id=f"x{seq}", created_at=now,
                 position_id="P1")


def test_a_stop_fill_after_its_leg_closed_reaches_the_closed_row(tmp_path: Path):
    now = 1000.0
    clock = [now]  # each decision commits at its own time, as in production
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=lambda: clock[0])
    core = GridCore(rules(id_tag=repo.id_tag))
    tp = _order(core, 2, GridKind.TAKE_PROFIT, "100.5", now)
    stop = _order(core, 3, GridKind.STOP, "95", now)
    leg = Leg(side=Side.LONG, position_id="P1", contracts=D(1), entry_price=D(100),
              ref_qty=D(1), stop_price=D(95), opened_at=now)
    loop, paper = loop_sending_nothing(tmp_path, repo, core, lambda: now, hedge_mode=True)
    try:
        loop.incarnation = repo.claim(SYMBOL)
        loop.adopt(GridState(symbol=SYMBOL, long=leg, orders=(tp, stop), order_seq=3))
        for filled, pnl, complete in (("0.5", "0.25", False), ("1", "0.5", True)):
            loop.apply(OrderFilled(client_order_id=tp.client_order_id, exchange_id="x2",
                                   filled=D(filled), average=D("100.5"), fee=D("0.01"),
                                   complete=complete, realized_pnl=D(pnl)))
            clock[0] += 1
        assert not loop.state.long.is_open  # the take-profit closed the leg
        # the stop, its cancel not landed, fills for what the venue still held
        loop.apply(OrderFilled(client_order_id=stop.client_order_id, exchange_id="x3",
                               filled=D("0.2"), average=D(95), fee=D("0.05"), complete=True,
                               realized_pnl=D(-1)))
    finally:
        repo.close()
        paper.close()
    con = sqlite3.connect(f"file:{tmp_path / 'bot.sqlite'}?mode=ro", uri=True)
    try:
        ledger = con.execute("SELECT realized_pnl, fee FROM fills WHERE position_id = 'P1'"
                             ).fetchall()
        (row,) = con.execute("SELECT status, realized_pnl, fees FROM positions "
                             "WHERE position_id = 'P1'").fetchall()
        journaled = con.execute("SELECT count(*) FROM events WHERE type = 'FillWithoutLeg'"
                                ).fetchone()[0]
    finally:
        con.close()
    assert journaled == 1 and len(ledger) == 3
    pnl, fees = sum(D(p) for p, _ in ledger), sum(D(f) for _, f in ledger)
    assert (pnl, fees) == (D("-0.5"), D("0.06"))
    assert row[0] == "closed"
    assert (D(row[1]), D(row[2])) == (pnl, fees), \
        f"the closed row holds pnl {row[1]}, fees {row[2]}; the ledger {pnl}, {fees}"


def test_a_one_way_stop_fill_after_its_position_closed_reaches_the_closed_row(tmp_path: Path):
    clock = [1000.0]
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=lambda: clock[0])
    core = SymbolCore(replace(make_rules(), symbol=SYMBOL, id_tag=repo.id_tag))
    loop, paper = loop_sending_nothing(tmp_path, repo, core, lambda: clock[0])

    def filled(purpose: OrderPurpose, amount: str, price: str, fee: str) -> None:
        (order,) = loop.state.live_orders(purpose)
        loop.apply(OrderFilled(client_order_id=order.client_order_id, exchange_id="x",
                               filled=D(amount), average=D(price), fee=D(fee), complete=True))
        clock[0] += 1

    try:
        loop.incarnation = repo.claim(SYMBOL)
        loop.adopt(SymbolState(symbol=SYMBOL))
        loop.apply(PriceTicked(price=D(100)))
        loop.apply(SignalRaised(side=Side.LONG))
        filled(OrderPurpose.ENTRY, "1", "100", "0.02")
        (stop,) = loop.state.live_orders(OrderPurpose.STOP)
        loop.apply(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="xs"))
        loop.apply(SignalRaised(side=None, reason="strategy_exit"))
        filled(OrderPurpose.CLOSE, "1", "101", "0.02")
        assert loop.state.position is None
        # the stop, its cancel not landed, fills for what the venue still held
        loop.apply(OrderFilled(client_order_id=stop.client_order_id, exchange_id="xs",
                               filled=D("0.2"), average=D(99), fee=D("0.05"), complete=True))
    finally:
        repo.close()
        paper.close()
    con = sqlite3.connect(f"file:{tmp_path / 'bot.sqlite'}?mode=ro", uri=True)
    try:
        (pid,) = {p for (p,) in con.execute("SELECT position_id FROM fills")}
        fees = sum(D(f) for (f,) in con.execute("SELECT fee FROM fills"))
        (row,) = con.execute("SELECT status, fees FROM positions WHERE position_id = ?",
                             (pid,)).fetchall()
        journaled = con.execute("SELECT count(*) FROM events WHERE type = 'FillWithoutPosition'"
                                ).fetchone()[0]
    finally:
        con.close()
    assert journaled == 1 and fees == D("0.09") and row[0] == "closed"
    assert D(row[1]) == fees, f"the closed row holds fees {row[1]}; the ledger {fees}"
