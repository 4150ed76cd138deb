"""An entry sized above the market's maximum order amount is refused before it is sent, with a
journaled reason naming the maximum. The market rules the one-way core gets (runtime/wiring.py
`market_rules`) left the maximum out and `on_signal` checked only the minimums, so such an entry
(a large `size_usdt`, or `order_size_usdt` on a market with a small maximum) was committed and
sent, refused by the venue, and sent again at the next signal, and the next. Real decision loop,
real paper exchange (which refuses amounts above its maximum as the venues do), real SQLite."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal as D
from pathlib import Path

from loguru import logger

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import ExternalSignal, Tick
from exchange.paper.exchange import PaperExchange
from exchange.paper.prices import GeneratorPriceSource
from runtime.wiring import market_rules
from storage.repository import Repository
from tests.support.clock import ManualClock
from tests.support.faulty_exchange import FaultyExchange
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.model import Phase, Side
from trading.rules import Rules

BTC = "BTC/USDT:USDT"


def test_an_entry_above_the_market_maximum_is_refused_before_it_is_sent(tmp_path: Path):
    clock = ManualClock()
    paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC],
                          price_source=GeneratorPriceSource(
                              seed=11, step_ms=1000, speed=1.0,
                              epoch_ms=int(clock() * 1000) - 10_000),
                          clock=clock)
    sent: list[object] = []
    fx = FaultyExchange(paper)
    fx.before["create_order"] = lambda n, a, k: sent.append(a)
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    market = market_rules(paper, BTC)
    assert market.max_amount == paper.market(BTC).max_amount == D(100)
    core = SymbolCore(Rules(symbol=BTC, account="main", id_tag=repo.id_tag, market=market,
                            risk=make_rules().risk))
    loop = DecisionLoop(BTC, core=as_core(core), exchange=fx, repo=repo,
                        log=logger.bind(symbol=BTC), on_escalate=lambda s, e: None, clock=clock)
    try:
        loop.start()
        price = paper.fetch_tickers([BTC])[BTC].last
        loop.handle(Tick(price=price))
        size = (price * 150).quantize(D(1))  # 150 BTC: the paper market's maximum is 100
        for n in range(3):
            loop.handle(ExternalSignal(side=Side.LONG, signal_id=f"big-{n}", size_usdt=size))
        assert sent == [], f"an entry above the maximum was sent: {sent}"
        assert loop.state.phase is Phase.FLAT and loop.state.position is None
    finally:
        repo.close()
        paper.close()
    con = sqlite3.connect(f"file:{tmp_path / 'bot.sqlite'}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT data FROM events WHERE type = 'SignalSkipped'").fetchall()
        orders = con.execute("SELECT count(*) FROM orders").fetchone()[0]
    finally:
        con.close()
    reasons = [json.loads(r[0])["reason"] for r in rows]
    assert len(reasons) == 3 and orders == 0
    assert all("above the market maximum of 100" in r and str(size) in r for r in reasons), reasons
