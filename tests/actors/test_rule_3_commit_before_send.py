"""Rule 3 (write-ahead): a state change and its event are committed in one transaction before
the order it implies is sent. A repository wrapper and an exchange wrapper, both given to the
production decision loop's constructor, append to one shared list: every create_order and
cancel_order must come after the commit (finished) of the decision whose command it carries.

Production DecisionLoop, one-way core and command executor, real SQLite repository, the paper
exchange on a manual clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loguru import logger

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import ExternalSignal, Reconcile, Tick
from runtime.wiring import market_rules
from storage.repository import Repository
from tests.support.clock import ManualClock
from tests.support.faulty_exchange import FaultyExchange, params_of
from tests.support.harness import seeded_paper
from tests.trading.conftest import make_rules
from trading.commands import CancelOrder, PlaceOrder
from trading.decide import SymbolCore
from trading.model import Side
from trading.rules import Rules

BTC = "BTC/USDT:USDT"


class RecordingRepository:
    """The real repository; each commit is appended to `trail` once it has returned."""

    def __init__(self, inner: Repository, trail: list[tuple[str, str]]) -> None:
        self.inner = inner
        self.trail = trail

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def commit(self, symbol: str, incarnation: int, before: Any, decision: Any, **kw: Any) -> None:
        self.inner.commit(symbol, incarnation, before, decision, **kw)
        for command in decision.commands:
            if isinstance(command, PlaceOrder):
                self.trail.append(("committed place", command.order.client_order_id))
            elif isinstance(command, CancelOrder):
                self.trail.append(("committed cancel", command.client_order_id))


def test_every_order_sent_or_cancelled_follows_the_commit_of_its_decision(tmp_path: Path):
    clock = ManualClock()
    paper = seeded_paper(tmp_path / "paper.sqlite", [BTC], clock)
    trail: list[tuple[str, str]] = []
    fx = FaultyExchange(paper)
    fx.before["create_order"] = lambda n, a, k: trail.append(
        ("create_order", params_of(a, k).get("clientOrderId")))
    fx.before["cancel_order"] = lambda n, a, k: trail.append(  # (id, symbol, params)
        ("cancel_order", ((a[2] if len(a) > 2 else k.get("params")) or {}).get("clientOrderId")))
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    base = make_rules(cooldown_after_loss_s=0)
    core = SymbolCore(Rules(symbol=BTC, account="main", id_tag=repo.id_tag,
                            market=market_rules(paper, BTC), risk=base.risk))
    loop = DecisionLoop(BTC, core=as_core(core), exchange=fx,
                        repo=RecordingRepository(repo, trail), log=logger.bind(symbol=BTC),
                        on_escalate=lambda s, e: None, clock=clock)
    try:
        loop.start()
        loop.handle(Tick(price=paper.fetch_tickers([BTC])[BTC].last))
        loop.handle(ExternalSignal(side=Side.LONG, signal_id="in"))  # entry, then its stop
        assert loop.state.position is not None and loop.view.protected
        clock.advance(5)
        loop.handle(ExternalSignal(side=None, signal_id="out"))  # close, cancel the stop
        loop.handle(Reconcile(reason="periodic"))
        assert loop.state.position is None and paper.fetch_open_orders(BTC) == []
    finally:
        repo.close()
        paper.close()
    sends = [(i, kind, cid) for i, (kind, cid) in enumerate(trail)
             if kind in ("create_order", "cancel_order")]
    kinds = {kind for _, kind, _ in sends}
    assert kinds == {"create_order", "cancel_order"} and len(sends) >= 4, trail
    for i, kind, cid in sends:
        wanted = ("committed place" if kind == "create_order" else "committed cancel", cid)
        assert cid and wanted in trail[:i], f"{kind} {cid} sent before its commit: {trail}"
