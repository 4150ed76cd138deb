"""A dry run's paper exchange is priced by the venue (its ticker stream, REST while that is
down). With the venue unreachable (both down) the paper book kept answering its last price,
stamped now, at every poll of the account's feed: each symbol's actor took it as a fresh
price, so `risk.max_price_age_s` never applied and a manual signal opened a position at a
price more than two minutes old (seen in a dry run on the Bybit emulator: entry at 14:07:06 on
the venue's price of 14:04:47, the status showing a price age of 0.1 s). The live price source
now says a price not heard from the venue for `stale_after_s` is stale, and the paper exchange
leaves it out of its tickers, as a venue outage gives no price live.
Production's decision loop and market feed, the paper exchange, real SQLite, the real ccxt
gateway on the Bybit emulator."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from loguru import logger

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.market_feed import MarketFeed
from actors.messages import ExternalSignal
from exchange.ccxt.tickers import LiveTickerSource
from exchange.paper.exchange import PaperExchange
from storage.repository import Repository
from tests.exchange.ccxt.ccxt_fixtures import gateway_on_emulator
from tests.trading.conftest import make_rules
from tests.trading.test_grid_core import SYMBOL
from trading.decide import SymbolCore
from trading.model import OrderPurpose, Side, SymbolState


def test_a_dry_run_opens_nothing_on_a_venue_price_from_before_an_outage(tmp_path: Path, lines):
    clock = [1_800_000_000.0]
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=lambda: clock[0])
    rules = make_rules()
    core = SymbolCore(replace(rules, symbol=SYMBOL, id_tag=repo.id_tag,
                              risk=replace(rules.risk, max_price_age_s=120.0)))
    with gateway_on_emulator("bybit", tmp_path, credentials=None) as (gateway, emu):
        source = LiveTickerSource(gateway, [SYMBOL], clock_ms=lambda: int(clock[0] * 1000),
                                  stale_after_s=30.0)  # polled by hand
        source.poll_once()
        paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[SYMBOL],
                              price_source=source, clock=lambda: clock[0])
        loop = DecisionLoop(SYMBOL, core=as_core(core), exchange=paper,
                            repo=repo, log=logger.bind(symbol=SYMBOL),
                            on_escalate=lambda s, e: None, clock=lambda: clock[0],
                            execute=lambda command: [])

        def deliver(symbol: str, message: object) -> bool:
            loop.handle(message)
            return True

        feed = MarketFeed(exchange=paper, symbols=[SYMBOL], deliver=deliver, interval_s=0.5,
                          own_prefix="main-", logger=logger, clock=lambda: clock[0],
                          pace_quiet=False)
        try:
            loop.incarnation = repo.claim(SYMBOL)
            loop.adopt(SymbolState(symbol=SYMBOL))
            feed.poll_once()  # the venue's price, fresh
            emu.fail_next("/v5/market/tickers", 1000, status=503, body="down")  # the outage
            for _ in range(6):  # ten minutes of polls, none answered
                clock[0] += 100
                with pytest.raises(Exception):  # noqa: B017,PT011 - whatever ccxt raises
                    source.poll_once()
                feed.poll_once()
            loop.handle(ExternalSignal(side=Side.LONG, signal_id="s-stale"))
            stale = loop.state.live_orders(OrderPurpose.ENTRY)
            assert stale == [], f"an entry of {stale[0].amount} was sized on a 600 s old price"
        finally:
            repo.close()
            paper.close()
    con = sqlite3.connect(f"file:{tmp_path / 'bot.sqlite'}?mode=ro", uri=True)
    try:
        skipped = [d for (d,) in con.execute(
            "SELECT data FROM events WHERE type = 'SignalSkipped' AND correlation_id = 's-stale'")]
    finally:
        con.close()
    assert len(skipped) == 1 and "risk.max_price_age_s" in skipped[0], skipped
    assert [line for line in lines if f"no price for {SYMBOL}" in line], lines[-20:]
