"""A restart in a trending market: the start decides the prices waiting in its slot once, then
reports started. While an actor starts, the supervisor delivers no price wake to it (supervision/
child.py `open_for`), so the feed's wake fails and the price waits in the slot with no wake
pending; the start's `sync_band` took every such price outside the new quiet band and decided it
at once. With a trailing stop in a trend each decision moved the stop (a new band), and by the
time the move was answered the next price had left that band too: the loop went on for as long
as the trend did. A live Binance chaos run (seed 4962) saw one start move its trailing stop 7
times over 19 s (two of the calls held 5 s) before it reported started, with the account's
signal endpoint refusing every signal meanwhile (it listens once every actor started). Now the
start decides one round of waiting prices; the later ones wait in the slot for the running
actor's wake (the feed's next price) or its next `Timer`. Real decision loop, one-way core,
paper exchange, SQLite and price slot; the feed's part is played in the exchange calls' hook."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal as D
from pathlib import Path

from loguru import logger

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import ExternalSignal, Tick
from actors.price_slots import PriceSlot
from exchange.paper.exchange import PaperExchange
from runtime.wiring import market_rules
from storage.repository import Repository
from tests.exchange.paper.paper_support import ScriptedPrices
from tests.support.clock import ManualClock
from tests.support.faulty_exchange import FaultyExchange
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.model import Phase, Side
from trading.rules import Rules

BTC = "BTC/USDT:USDT"
TREND = 30
"""Prices the feed brings while order calls are answered (each a new high)."""


def test_a_start_in_a_trend_decides_one_round_of_prices_then_reports_started(tmp_path: Path):
    clock = ManualClock()
    prices = ScriptedPrices({BTC: D(100)})
    paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC],
                          price_source=prices, clock=clock)
    fx = FaultyExchange(paper)
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    core = SymbolCore(Rules(symbol=BTC, account="main", id_tag=repo.id_tag,
                            market=market_rules(paper, BTC), risk=make_rules().risk))
    slot = PriceSlot()
    price = [D(100)]

    def new_high(*_: object) -> None:
        """The market rises while an order call is answered; the feed offers the price (the
        actor starting: its wake is refused, as the supervisor refuses it)."""
        if len(slot_prices) >= TREND:
            return
        clock.advance(1)
        price[0] = (price[0] * D("1.003")).quantize(D("0.1"))
        prices.add(BTC, int(clock() * 1000), price[0])
        slot_prices.append(price[0])
        if slot.offer(Tick(price=price[0], sent_at=clock()), clock(), None):
            slot.wake_failed()

    slot_prices: list[D] = []
    try:
        first = DecisionLoop(BTC, core=as_core(core), exchange=fx, repo=repo,
                             log=logger.bind(symbol=BTC), on_escalate=lambda s, e: None,
                             clock=clock)
        first.start()
        first.handle(Tick(price=D(100), sent_at=clock()))
        first.handle(ExternalSignal(side=Side.LONG, signal_id="s1"))
        assert first.state.phase is Phase.OPEN and first.state.protected()
        # the bot is killed and restarted; while its start reads the venue, the market rises
        # past the trailing stop's activation (100.5), and on while each order call is answered
        price[0] = D("100.7")
        for call in ("fetch_positions", "create_order", "edit_order", "cancel_order"):
            fx.after[call] = lambda *a: new_high()
        second = DecisionLoop(BTC, core=as_core(core), exchange=fx, repo=repo,
                              log=logger.bind(symbol=BTC), on_escalate=lambda s, e: None,
                              clock=clock, slot=slot)
        second.start()
        moves = stop_moves(tmp_path / "bot.sqlite")
        assert len(moves) == 1, (
            f"the start moved its stop {len(moves)} times before it reported started, each "
            f"move on a price brought while the previous one was answered: {moves}")
        assert second.state.phase is Phase.OPEN and second.state.protected()
        left = slot.take_all(slot.generation)
        assert left and left[-1].price == slot_prices[-1], \
            "the prices the start did not decide are left in the slot for the running actor"
    finally:
        repo.close()
        paper.close()


def stop_moves(db: Path) -> list[str]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [json.loads(d)["new_stop"] for (d,) in con.execute(
            "SELECT data FROM events WHERE type = 'StopMoveRequested' ORDER BY id")]
    finally:
        con.close()
