"""A stop that filled on the venue while the bot was down is learned only by the restart's
reconciliation (the private streams do not replay it). That reconciliation used to be set aside
for every order report waiting in the mailbox (actors/loop.py `reconcile`, "reconciliation
(start) set aside"), and after a restart the streams deliver reports of the symbol's other
orders. Meanwhile the actor decided on its books, which still held the position the venue had
closed: the hedge grid placed a new level (a limit buy that grows the leg) for a long leg
already stopped out, which fills into a new position that no stop of ours protects (the books'
stop is the one that filled), and neither style journaled the exit (no `LegClosed` /
`PositionClosed`, no ledger row) for as long as reports kept coming. Until its first
reconciliation, an incarnation whose restored books hold a position now reconciles without
being set aside: the reports it gives way to are of the orders it looks up anyway.

Phase one: the production DecisionLoop and core open the position on the fake venue and real
SQLite, then the process is gone (nothing more runs). While it is down the venue fills the
position's stop (the grid: the long leg's) and the price comes back. Phase two: a real
SymbolActor (pykka thread) restarts on the same database and venue while an order report always
waits in its mailbox, the heartbeat ticks and prices arrive; each of the venue's reads waits for
rate budget and asks whether it is set aside first (tests/actors/test_unsent_stop_after_kill.py
`Rig`)."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import ExternalSignal, Tick, Timer
from actors.symbol_actor import ActorDeps, SymbolActor
from storage.repository import Repository
from tests.actors.test_cancel_reports_fill import SYM, Log
from tests.actors.test_unsent_stop_after_kill import READS, Mail, Rig
from tests.support.faulty_exchange import params_of
from tests.support.waiting import wait_until
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.grid.core import GridCore
from trading.grid.model import GridKind
from trading.grid.rules import GridRules
from trading.model import OrderPurpose, Side
from trading.rules import MarketRules


def _grid(tag: str) -> GridCore:
    market = MarketRules(amount_step=D("0.001"), price_tick=D("0.1"), min_amount=D("0.001"),
                         min_cost=D(5))
    return GridCore(GridRules(
        symbol=SYM, account="acc", id_tag=tag, market=market, order_size_usdt=D(100), levels=3,
        step_pct=D(1), size_multiplier=D(1), take_profit_pct=D("0.5"), stop_loss_pct=D(5),
        recalc_pct=D(2), leverage=5, retry_s=0.2, close_backoff_initial_s=0.2))


def _refuse_long_levels(name: str, args: tuple, kwargs: dict) -> None:
    """Phase one only: the long leg's level (a limit buy that is not reduce-only) is refused,
    so none rests when the process goes; its retry is due by the restart."""
    p = params_of(args, kwargs)
    if args[1] == "limit" and args[2] == "buy" and not p.get("reduceOnly"):
        from exchange import errors
        raise errors.InvalidOrder("margin is insufficient")


RECONCILE_READS = tuple(r for r in READS if r not in ("fetch_balance", "fetch_tickers"))
"""The reads that wait for rate budget: the reconciliation's dozen (positions, open orders, a
lookup per live order, trades), each of which must get through with no report arriving; a
level's one balance read does not wait here (a budget short enough to hold a dozen reads back
lets one through between reports)."""


class Down(Rig):
    def core(self, repo: Repository) -> Any:
        if self.style == "one_way":
            return SymbolCore(dataclasses.replace(make_rules(), id_tag=repo.id_tag))
        return _grid(repo.id_tag)

    def open_and_go_down(self) -> str:
        """Opens the position (the grid: both legs), then the process is gone; while it is down
        the venue fills the (long) stop at 95 and the price comes back to 100. Its client id."""
        if self.style == "grid":
            self.fx.before["create_order"] = _refuse_long_levels
        repo = Repository(self.path)
        try:
            loop = DecisionLoop(SYM, core=as_core(self.core(repo)), exchange=self.fx, repo=repo,
                                log=Log(), on_escalate=lambda s, e: None)
            loop.start()
            if self.style == "one_way":
                loop.handle(Tick(price=self.venue.mark))
                loop.handle(ExternalSignal(side=Side.LONG, signal_id="in"))
                (stop,) = loop.state.live_orders(OrderPurpose.STOP)
            else:
                assert loop.state.long.is_open and not loop.state.orders_of(Side.LONG, GridKind.ADD)
                (stop,) = loop.state.orders_of(Side.LONG, GridKind.STOP)
        finally:
            repo.close()
        self.fx.before.pop("create_order", None)
        self.venue.mark = D(94)
        self.venue.fill(stop.client_order_id, price=D(95))
        self.venue.mark = D(100)
        self.sent_before = set(self.venue.orders)
        return stop.client_order_id

    def restart(self, repo: Repository) -> None:
        for name in RECONCILE_READS:
            self.fx.before[name] = self._waits_for_budget
        core = self.core(repo)
        self.views: dict[str, Any] = {}
        deps = ActorDeps(exchange=self.fx, repo=repo, core_for=lambda _s: core,
                         strategy_for=None, logger=logger, report=lambda *a: None,
                         on_escalate=lambda s, e: None, views=self.views)
        self.ref = SymbolActor.start(SYM, deps)

    def closed_in_books(self) -> bool:
        published = self.views.get(SYM)
        state = None if published is None else published.state
        if state is None:
            return False
        return not state.long.is_open if self.style == "grid" else state.position is None

    def long_levels_sent(self) -> list[str]:
        return [o.cid for o in list(self.venue.orders.values())
                if o.cid not in self.sent_before and o.side == "buy" and o.price is not None
                and not o.reduce_only]


class Prices:
    """The market feed after the restart: the price, 100, every 0.1 s (no price slot: `Tick`)."""

    def __init__(self, rig: Down) -> None:
        self.rig, self.done = rig, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.done.wait(0.1):
            if self.rig.ref is not None:
                self.rig.ref.tell(Tick(price=D(100)))

    def __enter__(self) -> Prices:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()


def _count(path: Path, sql: str, arg: str) -> int:
    with sqlite3.connect(path) as c:
        return c.execute(sql, (arg,)).fetchone()[0]


@pytest.mark.parametrize("style", ["one_way", "grid"])
def test_a_stop_filled_while_down_is_learned_while_reports_arrive(tmp_path: Path,
                                                                   style: str) -> None:
    rig = Down(tmp_path, style)
    stop = rig.open_and_go_down()
    sink = logger.add(lambda m: rig.said.append(m.record["message"]), level="INFO")
    repo = Repository(rig.path)
    try:
        with Mail(rig), Prices(rig):
            rig.restart(repo)
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline and not rig.closed_in_books() \
                    and not rig.long_levels_sent():
                time.sleep(0.05)
            learned, levels = rig.closed_in_books(), rig.long_levels_sent()
        rig.ref.tell(Timer())  # the reports stopped: whatever was set aside runs now
        wait_until(rig.closed_in_books, timeout=10, message="the stop fill booked at last")
        aside = [m for m in rig.said if "reconciliation (start) set aside" in m]
        assert not levels, (f"a level {levels} was sent for a long leg the venue closed while "
                            f"the bot was down (its stop {stop} filled); {len(aside)} set aside")
        assert learned, f"the exit was not learned while reports arrived: {aside[:3]}"
        closed = "LegClosed" if style == "grid" else "PositionClosed"
        assert _count(rig.path, "SELECT COUNT(*) FROM events WHERE type = ?", closed) == 1
        assert _count(rig.path, "SELECT COUNT(*) FROM fills WHERE client_order_id = ?", stop) == 1
    finally:
        import pykka

        pykka.ActorRegistry.stop_all()
        logger.remove(sink)
        repo.close()
