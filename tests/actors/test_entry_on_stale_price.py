"""An external entry signal is sized from the symbol's last price. That price stops moving when
the feed does (a venue outage, the streams and the REST polls down): a signal that came after a
long outage was sized on the price from before it, as much too large as the market had fallen
meanwhile. An entry now needs a price read within `risk.max_price_age_s` (a tick, or the price
a reconciliation reads); an older one skips the entry with one line naming its age and the key.
Production's decision loop, the one-way core, real SQLite, the paper exchange."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

from loguru import logger

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import ExternalSignal, Reconcile, Tick
from exchange.paper.exchange import PaperExchange
from storage.repository import Repository
from tests.exchange.paper.paper_support import ScriptedPrices
from tests.trading.conftest import make_rules
from tests.trading.test_grid_core import SYMBOL
from trading.decide import SymbolCore
from trading.model import OrderPurpose, Side, SymbolState


def test_an_entry_waits_for_a_fresh_price(tmp_path: Path):
    clock = [1000.0]
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=lambda: clock[0])
    rules = make_rules()
    core = SymbolCore(replace(rules, symbol=SYMBOL, id_tag=repo.id_tag,
                              risk=replace(rules.risk, max_price_age_s=120.0)))
    prices = ScriptedPrices({SYMBOL: D(80)})
    paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[SYMBOL],
                          price_source=prices, clock=lambda: clock[0])
    loop = DecisionLoop(SYMBOL, core=as_core(core), exchange=paper,
                        repo=repo, log=logger.bind(symbol=SYMBOL),
                        on_escalate=lambda s, e: None, clock=lambda: clock[0],
                        execute=lambda command: [])
    try:
        loop.incarnation = repo.claim(SYMBOL)
        loop.adopt(SymbolState(symbol=SYMBOL))
        loop.handle(Tick(price=D(100), sent_at=clock[0]))
        clock[0] += 600  # the feed is silent for 10 minutes; the market fell to 80
        loop.handle(ExternalSignal(side=Side.LONG, signal_id="s-stale"))
        stale = loop.state.live_orders(OrderPurpose.ENTRY)
        assert stale == [], f"an entry of {stale[0].amount} was sized on a 600 s old price"
        loop.handle(Reconcile(reason="periodic"))  # reads the price: 80
        loop.handle(ExternalSignal(side=Side.LONG, signal_id="s-fresh"))
        (entry,) = loop.state.live_orders(OrderPurpose.ENTRY)
        assert entry.amount == D("1.25")  # 100 USDT at 80
    finally:
        repo.close()
        paper.close()
    con = sqlite3.connect(f"file:{tmp_path / 'bot.sqlite'}?mode=ro", uri=True)
    try:
        skipped = [d for (d,) in con.execute(
            "SELECT data FROM events WHERE type = 'SignalSkipped' AND correlation_id = 's-stale'")]
    finally:
        con.close()
    assert len(skipped) == 1
    assert "600s old" in skipped[0] and "risk.max_price_age_s" in skipped[0]
