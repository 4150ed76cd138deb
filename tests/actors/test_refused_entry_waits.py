"""An entry the venue refuses (the account's balance too low for `order_size_usdt`, a market in
reduce-only mode, a network error) is not sent again on every price. The strategy's signal
holds for as long as the z-score stays beyond entry_z, and a refused entry left the symbol flat
at once, so the next price sent the same entry again: one refused order per price (every
0.25-0.5 s), each journaled, eating the account's order rate limit that the other symbols' stop
moves need. Now the symbol's entries wait a retry delay after a refused entry (doubling while
the venue keeps refusing), journaled once; the next entry after the wait is sent.

Real decision loop, real paper exchange (which refuses an order its free margin cannot carry),
real SQLite; the strategy is scripted through the loop's constructor."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal as D
from pathlib import Path

from loguru import logger

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import Tick
from runtime.wiring import market_rules
from storage.repository import Repository
from tests.support.clock import ManualClock
from tests.support.faulty_exchange import FaultyExchange
from tests.support.harness import seeded_paper
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.events import SignalRaised
from trading.model import Phase, Side
from trading.rules import Rules

BTC = "BTC/USDT:USDT"


class AlwaysLong:
    """A strategy whose entry signal holds on every price (a z-score that stays beyond entry_z)."""

    name = "always_long"

    def on_price(self, price, volume, now, position):  # noqa: ANN001, ANN201
        return SignalRaised(side=Side.LONG, reason="z=-2.50") if position is None else None


def test_a_refused_entry_is_not_sent_again_on_every_price(tmp_path: Path):
    clock = ManualClock()
    paper = seeded_paper(tmp_path / "paper.sqlite", [BTC], clock,
                         starting_balance=D("10"))  # 1,000 USDT at 5x needs 200 of margin
    sent: list[object] = []
    fx = FaultyExchange(paper)
    fx.before["create_order"] = lambda n, a, k: sent.append(a)
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    core = SymbolCore(Rules(symbol=BTC, account="main", id_tag=repo.id_tag,
                            market=market_rules(paper, BTC),
                            risk=make_rules(order_size_usdt=D("1000")).risk))
    loop = DecisionLoop(BTC, core=as_core(core), exchange=fx, repo=repo,
                        log=logger.bind(symbol=BTC), on_escalate=lambda s, e: None, clock=clock,
                        strategy=AlwaysLong())
    try:
        loop.start()
        price = paper.fetch_tickers([BTC])[BTC].last
        for _ in range(10):  # 5 s of prices, two a second
            loop.handle(Tick(price=price))
            clock.advance(0.5)
        assert len(sent) == 1, f"a refused entry was sent again on every price: {len(sent)}"
        assert loop.state.phase is Phase.FLAT and loop.state.position is None
        clock.advance(60.0)  # the wait is over: the signal is acted on again
        loop.handle(Tick(price=price))
        assert len(sent) == 2
    finally:
        repo.close()
        paper.close()
    con = sqlite3.connect(f"file:{tmp_path / 'bot.sqlite'}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT data FROM events WHERE type = 'SignalSkipped'").fetchall()
    finally:
        con.close()
    reasons = [json.loads(r[0])["reason"] for r in rows]
    assert len(reasons) == 1 and "refused" in reasons[0], reasons
