"""A reducing grid order filled with no leg open is booked under a position id, never under an
empty one. An order stored before grid orders recorded their position (its `position_id` reads
None) was booked by `FillWithoutLeg` under "" while its fee told later (`book_late_fee`) went
under the order's own id, as the one-way core books a fill without a position: one order's
fill and fee under two ids, and "" a bucket shared by every such fill of every symbol. Both now
go under the order's id. Production's decision loop, the grid core, real SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from loguru import logger

from actors.cores import as_core
from actors.loop import DecisionLoop
from exchange.paper.exchange import PaperExchange
from storage.repository import Repository
from tests.exchange.paper.paper_support import ScriptedPrices
from tests.trading.test_grid_core import SYMBOL, rules
from trading.events import OrderFilled
from trading.grid.core import GridCore
from trading.grid.model import GridKind, GridState
from trading.model import Side
from trading.orders import Order, OrderStatus


def loop_sending_nothing(tmp_path: Path, repo: Repository, core: Any,
                         clock: Callable[[], float],
                         **paper: Any) -> tuple[DecisionLoop, PaperExchange]:
    """Production's decision loop of `core` on `repo`, its commands never sent (the test tells
    it what the venue did), beside a paper exchange priced at 100 on `clock` (`paper`: its own
    arguments, e.g. hedge_mode); the caller closes both."""
    exchange = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[SYMBOL],
                             price_source=ScriptedPrices({SYMBOL: D(100)}), clock=clock,
                             **paper)
    loop = DecisionLoop(SYMBOL, core=as_core(core), exchange=exchange,
                        repo=repo, log=logger.bind(symbol=SYMBOL),
                        on_escalate=lambda s, e: None, clock=clock,
                        execute=lambda command: [])
    return loop, exchange


def test_a_fill_without_leg_of_an_order_naming_no_position_is_booked_under_its_id(tmp_path: Path):
    now = 1000.0
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=lambda: now)
    core = GridCore(rules(id_tag=repo.id_tag))
    cid = core.rules.client_order_id(7, GridKind.STOP)
    legacy = Order(client_order_id=cid, leg=Side.LONG, purpose=GridKind.STOP, side="sell",
                   amount=D(1), price=D(95), reduce_only=True, status=OrderStatus.OPEN,
                   exchange_id="x7", created_at=now)  # no position id: stored before them
    assert legacy.position_id is None
    loop, paper = loop_sending_nothing(tmp_path, repo, core, lambda: now, hedge_mode=True)
    try:
        loop.incarnation = repo.claim(SYMBOL)
        loop.adopt(GridState(symbol=SYMBOL, orders=(legacy,), order_seq=7))  # both legs flat
        loop.apply(OrderFilled(client_order_id=cid, exchange_id="x7", filled=D(1),
                               average=D(95), fee=D(0), complete=False, fee_known=False))
        loop.apply(OrderFilled(client_order_id=cid, exchange_id="x7", filled=D(1),
                               average=D(95), fee=D("0.05")))  # its fee, told later
    finally:
        repo.close()
        paper.close()
    con = sqlite3.connect(f"file:{tmp_path / 'bot.sqlite'}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT position_id, amount, fee FROM fills WHERE client_order_id = ? "
                           "ORDER BY id", (cid,)).fetchall()
        journaled = con.execute("SELECT count(*) FROM events WHERE type = 'FillWithoutLeg'"
                                ).fetchone()[0]
    finally:
        con.close()
    assert journaled == 1
    assert [(p, D(a), D(f)) for p, a, f in rows] == [(cid, D(1), D(0)), (cid, D(0), D("0.05"))]
