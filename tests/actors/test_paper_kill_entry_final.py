"""On the in-process paper exchange an opening order killed before its send is not found, and
that is final at once: the restarted actor ends it as never sent at its start reconciliation.

Found by the paper chaos review (250 kills, seed 4981): the send grace (trading/
order_evidence.py, 60 s for a venue whose lookup may lag a send that timed out) kept such an
intent pending on the paper exchange too, where a create is synchronous inside our process
and a lookup consistent at once, so after a kill -9 an intent not in the paper store never
will be. 55 entries were held 60.1-66.9 s after kills, entry signals skipped as "already
entering"; the grid run had 145 such orders, a flat leg unable to reopen for ~60 s. The grace
is now a fact of the exchange port (`send_grace_s`: 0 for PaperExchange), reaching the core as
data through the runtime's core factories (runtime/wiring.py).

Real parts: production's core factories build the cores from a paper config file and the port;
the first incarnation is production's DecisionLoop on the paper exchange and real SQLite,
"killed" (a BaseException) as the opening order's create is called, so its intent is committed
and never sent. The second is a real SymbolActor (pykka thread) on the same databases, a new
PaperExchange on the same store, as a restarted process. Both styles."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pykka
import pytest
from loguru import logger

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import ExternalSignal, Tick
from actors.symbol_actor import ActorDeps, SymbolActor
from config.loader import load_settings
from exchange.counting import CountingPort
from exchange.paper.exchange import PaperExchange
from runtime import wiring
from storage.repository import Repository
from tests.exchange.paper.paper_support import ScriptedPrices
from tests.support.faulty_exchange import FaultyExchange, params_of
from tests.support.waiting import wait_until
from trading.model import Side
from trading.orders import OrderStatus

SYM = "BTC/USDT:USDT"
STYLE = {  # the [strategy] and [exchange] lines of each style
    "one_way": "[exchange]\nid = \"paper\"\n",
    "grid": "[exchange]\nid = \"paper\"\nhedge_mode = true\n[strategy]\nname = \"hedge_grid\"\n",
}


class Killed(BaseException):
    """The process killed (SIGKILL) between the opening order's commit and its send."""


class Rig:
    def __init__(self, tmp: Path, style: str) -> None:
        self.tmp, self.style = tmp, style
        config = tmp / "config.toml"
        config.write_text(f"""
[bot]
mode = "paper"
account = "acc"
{STYLE[style]}
[symbols]
list = ["{SYM}"]
[risk]
order_size_usdt = 100
stop_loss_pct = 5
""")
        self.settings = load_settings(config)
        self.killed: str | None = None

    def paper(self) -> PaperExchange:
        return PaperExchange(store_path=self.tmp / "paper.sqlite", symbols=[SYM],
                             price_source=ScriptedPrices({SYM: D(100)}),
                             hedge_mode=self.style == "grid")

    def core(self, exchange: Any, repo: Repository) -> Any:
        """As runtime/account.py builds it: the style's factory, from the config and the port."""
        grid = self.style == "grid"
        factory = wiring.grid_core_factory if grid else wiring.core_factory
        return factory(self.settings, exchange, repo.id_tag)(SYM)

    def _kill_at_first_opening(self, name: str, args: tuple, kwargs: dict) -> None:
        p = params_of(args, kwargs)
        if not p.get("reduceOnly") and "stopLossPrice" not in p and self.killed is None:
            self.killed = p["clientOrderId"]
            raise Killed

    def open_and_kill(self) -> None:
        """The first incarnation sends its opening order (one-way: an external entry signal;
        the grid: a leg as it starts) and is killed as its create is called."""
        paper = self.paper()
        port = FaultyExchange(CountingPort(paper))  # as production wraps it (runtime/exchanges)
        port.before["create_order"] = self._kill_at_first_opening
        repo = Repository(self.tmp / "bot.sqlite")
        loop = DecisionLoop(SYM, core=as_core(self.core(port, repo)), exchange=port, repo=repo,
                            log=logger.bind(symbol=SYM), on_escalate=lambda s, e: None)
        try:
            with pytest.raises(Killed):
                loop.start()
                if self.style == "one_way":
                    loop.handle(Tick(price=D(100)))
                    loop.handle(ExternalSignal(side=Side.LONG, signal_id="first"))
        finally:
            repo.close()
            paper.close()
        assert self.killed is not None
        stored = Repository(self.tmp / "bot.sqlite")
        try:  # what the kill left: the opening order's intent, committed, never sent
            state = stored.load(SYM, store=as_core(self.core(self.paper(), stored)).store)
        finally:
            stored.close()
        (intent,) = [o for o in state.orders if o.client_order_id == self.killed]
        assert intent.status is OrderStatus.PENDING

    def events(self, kind: str) -> list[str]:
        con = sqlite3.connect(f"file:{self.tmp / 'bot.sqlite'}?mode=ro", uri=True)
        try:
            return [d for (d,) in con.execute("SELECT data FROM events WHERE type = ?", (kind,))]
        finally:
            con.close()


def restarted(rig: Rig, paper: PaperExchange, repo: Repository,
              views: dict[str, Any]) -> pykka.ActorRef:
    port = CountingPort(paper)
    core = rig.core(port, repo)
    deps = ActorDeps(exchange=port, repo=repo, core_for=lambda _s: core,  # type: ignore[arg-type]
                     strategy_for=None, logger=logger, report=lambda *a: None,
                     on_escalate=lambda s, e: None, views=views)
    return SymbolActor.start(SYM, deps)


def intent_of(views: dict[str, Any], cid: str) -> Callable[[], Any]:
    def read() -> Any:
        published = views.get(SYM)
        if published is None or not published.reconciled:
            return None  # the start reconciliation has not been decided yet
        return next((o for o in published.state.orders if o.client_order_id == cid), "gone")
    return read


@pytest.mark.parametrize("style", ["one_way", "grid"])
def test_an_opening_order_killed_before_its_send_is_ended_by_the_start_reconciliation(
        tmp_path: Path, style: str) -> None:
    rig = Rig(tmp_path, style)
    rig.open_and_kill()
    paper, repo, views = rig.paper(), Repository(tmp_path / "bot.sqlite"), {}
    assert rig.killed is not None
    try:
        ref = restarted(rig, paper, repo, views)
        after_start = wait_until(intent_of(views, rig.killed), timeout=30,
                                 message="the start reconciliation")
        if style == "one_way":  # a new entry signal right after the start is taken at once
            ref.tell(ExternalSignal(side=Side.LONG, signal_id="again"))

            def decided() -> bool:
                return bool(paper.fetch_positions([SYM]) or rig.events("SignalSkipped"))

            wait_until(decided, timeout=30, message="the new signal decided")
            assert rig.events("SignalSkipped") == [], (
                f"the new entry signal was skipped: {rig.events('SignalSkipped')}")
            (position,) = paper.fetch_positions([SYM])
            assert position.contracts == D(1)  # 100 USDT at 100
            assert len(rig.events("IntentNotOnExchange")) == 1
        # decided by the start reconciliation itself, from the paper store's not-found
        assert after_start == "gone" or not after_start.status.live, (
            f"the intent the kill left is still {after_start.status.value} after the start "
            f"reconciliation: {rig.events('OrderReportDeferred')}")
        assert rig.events("OrderReportDeferred") == []
        assert all(o.client_order_id != rig.killed for o in paper.fetch_open_orders(SYM))
    finally:
        pykka.ActorRegistry.stop_all()
        repo.close()
        paper.close()
