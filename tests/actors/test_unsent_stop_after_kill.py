"""After a kill, a position whose stop intent was committed but never sent must not wait
unprotected behind a reconciliation that order reports keep setting aside. Both styles.

Found by a live grid chaos run (seed 4972, kill 9): an open leg's stop was committed (a PENDING
intent) and the process was killed before it was sent. The restarted actor took that intent
for the leg's stop on its way (no new stop is due), and only a reconciliation's lookup by
client id ends it ("never reached the exchange", `lost`: sent again at once). But the start
reconciliation waited for rate budget and every order report of the other orders the streams
delivered after the restart set it aside ("reconciliation (start) set aside"), again and
again: 13 restarts in 5 runs had no stop on the venue for 1.5-4.1 s, one until its price
crossed the stop (`StopCrossedUnprotected`). A reconciliation that alone can tell whether the
position has a stop (the core's `stop_unresolved`) is protective work now: nothing sets it
aside.

Phase one: the production DecisionLoop and core open the position on the fake venue and real
SQLite; the process is "killed" (a BaseException) as the stop's create is called, so its intent
is committed and never sent. Phase two: a real SymbolActor (pykka thread) restarts on the same
database and venue while an order report always waits in its mailbox and the heartbeat ticks.
Each of the venue's reads first waits for rate budget as the gateway's budget meter does
(exchange/budget_meter.py `_hold`): before each wait it asks whether the call is set aside
(`check_preempted`); here every read waits, so a reconciliation that may be set aside is."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from actors.cores import as_core
from actors.inbox import has_waiting
from actors.loop import DecisionLoop
from actors.messages import ExternalSignal, OrderActivity, Tick, Timer
from actors.symbol_actor import ActorDeps, SymbolActor
from exchange.fence import check_preempted, in_preemptible
from storage.repository import Repository
from tests.actors.test_cancel_reports_fill import SYM, Log
from tests.actors.test_stuck_close_escalates import Venue, grid_core
from tests.support.faulty_exchange import FaultyExchange, params_of
from tests.support.waiting import wait_until
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.model import Side
from trading.orders import OrderStatus

READS = ("fetch_positions", "fetch_open_orders", "fetch_order", "fetch_my_trades",
         "fetch_tickers", "fetch_balance")


class Killed(BaseException):
    """The process killed (SIGKILL) between the stop's commit and its send."""


class Rig:
    def __init__(self, tmp: Path, style: str) -> None:
        self.style, self.path = style, tmp / "bot.sqlite"
        self.venue = Venue()
        self.fx = FaultyExchange(self.venue)
        self.killed: str | None = None  # the stop intent committed and never sent
        self.ref: Any = None
        self.said: list[str] = []
        self.reporting = threading.Event()  # set while `Mail` keeps a report waiting

    def core(self, repo: Repository) -> Any:
        if self.style == "one_way":
            return SymbolCore(dataclasses.replace(make_rules(), id_tag=repo.id_tag))
        return grid_core(repo.id_tag)

    def _kill_at_first_stop(self, name: str, args: tuple, kwargs: dict) -> None:
        p = params_of(args, kwargs)
        if "stopLossPrice" in p and self.killed is None:
            self.killed = p["clientOrderId"]
            raise Killed

    def open_and_kill(self) -> None:
        """The first incarnation opens the position (the grid: a leg as it starts) and is
        killed as the stop's create is called."""
        self.fx.before["create_order"] = self._kill_at_first_stop
        repo = Repository(self.path)
        loop = DecisionLoop(SYM, core=as_core(self.core(repo)), exchange=self.fx, repo=repo,
                            log=Log(), on_escalate=lambda s, e: None)
        try:
            with pytest.raises(Killed):
                loop.start()
                if self.style == "one_way":
                    loop.handle(Tick(price=self.venue.mark))
                    loop.handle(ExternalSignal(side=Side.LONG, signal_id="in"))
        finally:
            repo.close()
        del self.fx.before["create_order"]
        assert self.killed is not None and self.killed not in self.venue.orders
        stored = Repository(self.path)
        try:  # what the kill left: an open position whose only stop is the unsent intent
            state = stored.load(SYM, store=as_core(self.core(stored)).store)
        finally:
            stored.close()
        (intent,) = [o for o in state.orders if o.is_stop]
        assert intent.client_order_id == self.killed and intent.status is OrderStatus.PENDING
        assert self.venue_position() > 0

    def _waits_for_budget(self, name: str, args: tuple, kwargs: dict) -> None:
        """Every read waits for rate budget; before the wait the budget asks whether the call
        is set aside (while `Mail` runs, an order report is always waiting by then)."""
        if in_preemptible():
            if self.reporting.is_set():
                wait_until(lambda: self.ref is not None and has_waiting(
                    self.ref.actor_inbox, (OrderActivity,)), message="a report waiting")
            check_preempted()

    def restart(self, repo: Repository) -> None:
        for name in READS:
            self.fx.before[name] = self._waits_for_budget
        core = self.core(repo)
        deps = ActorDeps(exchange=self.fx, repo=repo, core_for=lambda _s: core,
                         strategy_for=None, logger=logger, report=lambda *a: None,
                         on_escalate=lambda s, e: None)
        self.ref = SymbolActor.start(SYM, deps)

    def venue_position(self) -> Any:
        return sum(p.qty for p in self.venue.pos.values())

    def new_stop_rests(self) -> bool:
        return any(o.trigger is not None and o.status == "open" and o.cid != self.killed
                   for o in list(self.venue.orders.values()))


class Mail:
    """The streams after a restart: a report of some other order always waiting in the
    actor's mailbox, and the supervisor's heartbeat (`Timer`, which retries a reconciliation
    set aside) every 0.2 s, while it runs."""

    def __init__(self, rig: Rig) -> None:
        self.rig, self.done = rig, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        beat = 0.0
        while not self.done.wait(0.01):
            ref = self.rig.ref
            if ref is None:
                continue
            if not has_waiting(ref.actor_inbox, (OrderActivity,)):
                ref.tell(OrderActivity(client_order_ids=("main-other-order",)))
            if time.monotonic() - beat >= 0.2 and not has_waiting(ref.actor_inbox, (Timer,)):
                ref.tell(Timer())
                beat = time.monotonic()

    def __enter__(self) -> Mail:
        self.rig.reporting.set()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()
        self.rig.reporting.clear()


@pytest.mark.parametrize("style", ["one_way", "grid"])
def test_an_unsent_stop_is_resolved_by_the_start_reconciliation_while_reports_arrive(
        tmp_path: Path, style: str) -> None:
    rig = Rig(tmp_path, style)
    rig.open_and_kill()
    sink = logger.add(lambda m: rig.said.append(m.record["message"]), level="INFO")
    repo = Repository(rig.path)
    try:
        with Mail(rig):
            rig.restart(repo)
            try:
                wait_until(rig.new_stop_rests, timeout=8, message="a stop while reports arrive")
                while_reports = True
            except AssertionError:
                while_reports = False
        # once the reports stop, the heartbeat's reconciliation is no longer set aside
        rig.ref.tell(Timer())
        wait_until(rig.new_stop_rests, timeout=10, message="a stop once reports stopped")
        assert while_reports, ("the unsent stop was resolved only after the order reports "
                               "stopped: " + "; ".join(m for m in rig.said if "set aside" in m))
        assert not [m for m in rig.said if "reconciliation (start) set aside" in m], rig.said
        assert rig.killed not in rig.venue.orders  # never sent, and never sent later either
    finally:
        import pykka

        pykka.ActorRegistry.stop_all()
        logger.remove(sink)
        repo.close()
