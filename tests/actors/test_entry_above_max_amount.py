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
from actors.messages import ExternalSignal, Reconcile, Tick
from exchange.paper.exchange import PaperExchange
from exchange.paper.prices import GeneratorPriceSource
from runtime.wiring import market_rules
from storage.repository import Repository
from tests.support.clock import ManualClock
from tests.support.faulty_exchange import FaultyExchange
from tests.support.harness import seeded_paper
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.model import Phase, Side
from trading.rules import Rules

BTC = "BTC/USDT:USDT"


def _loop(tmp_path: Path) -> tuple[PaperExchange, Repository, DecisionLoop, list[tuple]]:
    """The real decision loop of BTC on the seeded paper exchange (its maximum: 100 BTC) and
    real SQLite; the list gets the arguments of every create_order that reaches the exchange."""
    clock = ManualClock()
    paper = seeded_paper(tmp_path / "paper.sqlite", [BTC], clock)
    sent: list[tuple] = []
    fx = FaultyExchange(paper)
    fx.before["create_order"] = lambda n, a, k: sent.append(a)
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    market = market_rules(paper, BTC)
    assert market.max_amount == paper.market(BTC).max_amount == D(100)
    core = SymbolCore(Rules(symbol=BTC, account="main", id_tag=repo.id_tag, market=market,
                            risk=make_rules().risk))
    loop = DecisionLoop(BTC, core=as_core(core), exchange=fx, repo=repo,
                        log=logger.bind(symbol=BTC), on_escalate=lambda s, e: None, clock=clock)
    return paper, repo, loop, sent


def test_an_entry_of_exactly_the_market_maximum_is_sent(tmp_path: Path):
    """The maximum is the largest amount the venue takes (ccxt's `limits.amount.max`), so an
    entry of exactly it goes (found by the mutation audit: refusing `amount >= max_amount`
    failed no test)."""
    paper, repo, loop, sent = _loop(tmp_path)
    try:
        loop.start()
        price = paper.fetch_tickers([BTC])[BTC].last
        loop.handle(Tick(price=price))
        loop.handle(ExternalSignal(side=Side.LONG, signal_id="max", size_usdt=price * 100))
        assert len(sent) == 1, "the entry of the maximum amount was not sent"
        assert D(str(sent[0][3])) == D(100), sent
    finally:
        repo.close()
        paper.close()


def test_an_entry_above_the_market_maximum_is_refused_before_it_is_sent(tmp_path: Path):
    paper, repo, loop, sent = _loop(tmp_path)
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


def test_a_position_above_the_maximum_gets_a_stop_it_can_hold_and_closes_in_slices(
        tmp_path: Path):
    """A position larger than one order may carry (two buys by hand, adopted): its stop was
    sized for the whole position and refused by the venue at every retry, leaving it with no
    stop at all; its close was refused at every attempt until the symbol escalated. The stop now
    carries the maximum (part of the position covered, the coverage alert still tells a person
    it is not all), and the close goes in slices of the maximum: a slice that filled in full
    sends the next at once, not counted as a failed attempt."""
    clock = ManualClock()
    paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC],
                          price_source=GeneratorPriceSource(
                              seed=11, step_ms=1000, speed=1.0,
                              epoch_ms=int(clock() * 1000) - 10_000),
                          starting_balance=D("100000000"), clock=clock)
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    core = SymbolCore(Rules(symbol=BTC, account="main", id_tag=repo.id_tag,
                            market=market_rules(paper, BTC), risk=make_rules().risk))
    loop = DecisionLoop(BTC, core=as_core(core), exchange=paper, repo=repo,
                        log=logger.bind(symbol=BTC), on_escalate=lambda s, e: None, clock=clock)
    try:
        paper.create_order(BTC, "market", "buy", D(100), None, {})
        paper.create_order(BTC, "market", "buy", D(50), None, {})
        loop.start()
        loop.handle(Tick(price=paper.fetch_tickers([BTC])[BTC].last))
        loop.handle(Reconcile(reason="periodic"))
        assert loop.state.position is not None and loop.state.position.contracts == D(150)
        stops = [o for o in paper.fetch_open_orders(BTC) if o.trigger_price is not None]
        assert [o.amount for o in stops] == [D(100)], "no stop the venue accepts"
        assert not loop.state.protected()  # partly covered: the coverage alert still counts it
        loop.handle(Reconcile(reason="periodic"))  # the stop is as large as it can be: kept
        again = [o for o in paper.fetch_open_orders(BTC) if o.trigger_price is not None]
        assert [o.client_order_id for o in again] == [o.client_order_id for o in stops]
        clock.advance(5)
        loop.handle(ExternalSignal(side=None, signal_id="out"))
        loop.handle(Reconcile(reason="periodic"))
        assert loop.state.position is None and loop.state.phase is Phase.FLAT
        assert not loop.state.quarantined and loop.state.close_attempts == 0
        assert [p for p in paper.fetch_positions([BTC]) if p.contracts > 0] == []
        assert paper.fetch_open_orders(BTC) == []
    finally:
        repo.close()
        paper.close()
    con = sqlite3.connect(f"file:{tmp_path / 'bot.sqlite'}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT type, data FROM events WHERE type IN "
                           "('CloseRequested', 'CloseFailed', 'Escalated') ORDER BY id").fetchall()
        fills = con.execute("SELECT amount FROM fills WHERE side = 'sell'").fetchall()
    finally:
        con.close()
    assert [(t, json.loads(d)["attempt"]) for t, d in rows] == [("CloseRequested", 1)] * 2
    assert sorted(D(a) for (a,) in fills) == [D(50), D(100)]
