"""An entry the venue answers as filled in part (status open, `partially_filled` first) has its
stop for the part sent at once, before the entry ends, and the stop grows to the whole position
once the rest is known. Before, the part had no stop until the entry ended (INCIDENTS rule 5).
Real decision loop, real paper exchange (the create's answer is reported as the first part
only: the venue's `partially_filled`), real SQLite."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from loguru import logger

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import ExternalSignal, Reconcile, Tick
from exchange.records import VenueOrder, VenueOrderStatus
from runtime.wiring import market_rules
from storage.repository import Repository
from tests.support.clock import ManualClock
from tests.support.faulty_exchange import FaultyExchange
from tests.support.harness import seeded_paper
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.model import OrderPurpose, Phase, Side
from trading.rules import Rules

BTC = "BTC/USDT:USDT"


class PartFirst(FaultyExchange):
    """Answers a market entry's create as filled in half, still open (the paper exchange
    filled it all: a later lookup tells the rest)."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.creates: list[tuple[str, D, bool]] = []  # (type, amount, is a stop)

    def create_order(self, symbol: str, type: str, side: str, amount: D,
                     price: D | None = None, params: dict | None = None) -> VenueOrder:
        answer = self.inner.create_order(symbol, type, side, amount, price, params)
        self.creates.append((type, amount, answer.is_stop))
        if type == "market" and not answer.reduce_only:
            return dataclasses.replace(answer, status=VenueOrderStatus.OPEN,
                                       filled=answer.filled / 2)
        return answer


def test_an_entry_answered_in_part_has_its_stop_for_the_part_at_once(tmp_path: Path):
    clock = ManualClock()
    paper = seeded_paper(tmp_path / "paper.sqlite", [BTC], clock)
    fx = PartFirst(paper)
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    core = SymbolCore(Rules(symbol=BTC, account="main", id_tag=repo.id_tag,
                            market=market_rules(paper, BTC), risk=make_rules().risk))
    loop = DecisionLoop(BTC, core=as_core(core), exchange=fx, repo=repo,
                        log=logger.bind(symbol=BTC), on_escalate=lambda s, e: None, clock=clock)
    try:
        loop.start()
        price = paper.fetch_tickers([BTC])[BTC].last
        loop.handle(Tick(price=price))
        size = (price * D("0.01")).quantize(D(1)) + 1  # 0.01 BTC: its half fits the minimum
        loop.handle(ExternalSignal(side=Side.LONG, signal_id="s1", size_usdt=size))
        (entry_type, amount, _), *rest = fx.creates
        assert entry_type == "market"
        pos = loop.state.position
        assert loop.state.phase is Phase.ENTERING and pos is not None
        assert pos.contracts == amount / 2
        assert [(a, stop) for _, a, stop in rest] == [(amount / 2, True)], \
            f"the part filled has no stop sent: {fx.creates}"
        assert loop.state.protected()
        loop.handle(Reconcile())  # the lookup tells the rest: the entry ended filled in full
        assert loop.state.phase is Phase.OPEN and loop.state.position.contracts == amount
        assert loop.state.protected()
        stops = loop.state.live_orders(OrderPurpose.STOP)
        assert [o.remaining for o in stops if o.cancel_requested_at is None][-1] == amount
        resting = [o for o in paper.fetch_open_orders(BTC) if o.is_stop]
        assert [o.amount for o in resting] == [amount], resting  # the part's stop is gone
    finally:
        repo.close()
        paper.close()
