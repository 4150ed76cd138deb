"""A hedge-grid level is never recalculated on a price older than the fill it was computed from.

The market falls through the long's level; the fill is reported before the next price, so the
bot's last price is still the one before the fall. The next level is computed from the fill;
before the fix, its acknowledgement compared that older price with the fill, found a move past
recalc_pct, re-anchored the level at the older price, above the market, where it filled at
once, and so on for every level, inside one message. A level is recalculated only on a price
that arrived after its anchor was set, and never placed on the market's side of a fill that is
newer than the last price. The anchor's price number is stored with the grid state; a row
written before it restores.

Production classes: DecisionLoop with the grid core and its GridExecutor, a real SQLite
Repository and the paper exchange in hedge mode (scripted prices, a manual clock)."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal as D
from pathlib import Path

from loguru import logger

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import OrderActivity, Tick
from exchange.paper.exchange import PaperExchange
from runtime.wiring import market_rules
from storage.repository import Repository
from tests.exchange.paper.paper_support import BTC, FakeClock, Market, ScriptedPrices
from trading.grid.core import GridCore
from trading.grid.model import GridKind
from trading.grid.rules import GridRules
from trading.model import Side


class Bot:
    """One grid symbol on the paper exchange; `restart` starts a new loop on the same files."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.clock = FakeClock()
        self.prices = ScriptedPrices({BTC: D("100")})
        self.market = Market(self.clock, self.prices)
        self.paper = PaperExchange(store_path=tmp / "paper.sqlite", symbols=[BTC],
                                   price_source=self.prices, clock=self.clock, hedge_mode=True,
                                   starting_balance=D(10000), slippage_bps=D(0))
        self.repo: Repository | None = None
        self.seen = 0
        self.restart()

    def restart(self) -> None:
        if self.repo is not None:
            self.repo.close()
        self.repo = Repository(self.tmp / "bot.sqlite", synchronous="normal", clock=self.clock)
        rules = GridRules(
            symbol=BTC, account="acc", id_tag=self.repo.id_tag,
            market=market_rules(self.paper, BTC), order_size_usdt=D(100), levels=3,
            step_pct=D(1), size_multiplier=D(1), take_profit_pct=D(5), stop_loss_pct=D(10),
            recalc_pct=D(2), leverage=5)
        self.loop = DecisionLoop(BTC, core=as_core(GridCore(rules)), exchange=self.paper,
                                 repo=self.repo, log=logger, clock=self.clock,
                                 on_escalate=lambda symbol, escalation: None)
        self.loop.start()

    def close(self) -> None:
        if self.repo is not None:
            self.repo.close()
        self.paper.close()

    def tick(self, price: str) -> None:
        """The market moves to `price` and the feed delivers it."""
        self.market.move(BTC, price)
        self.loop.handle(Tick(price=self.paper.fetch_tickers([BTC])[BTC].last))

    def report_fills(self) -> None:
        """The exchange's fill stream reports the fills it made since the last report."""
        new = [t.client_order_id for t in self.paper.fetch_my_trades(BTC, 0)][self.seen:]
        self.seen += len(new)
        if new:
            self.loop.handle(OrderActivity(client_order_ids=tuple(new)))

    def long_buys(self) -> list[tuple[D, D]]:
        return [(t.price, t.amount) for t in self.paper.fetch_my_trades(BTC, 0)
                if t.side == "buy" and str(t.position_side) == "long"]

    def long_levels(self) -> list[D]:
        return [o.price for o in self.loop.state.orders_of(Side.LONG, GridKind.ADD)
                if o.cancel_requested_at is None and o.price is not None]

    def journal(self, type_: str) -> list[dict]:
        with sqlite3.connect(self.tmp / "bot.sqlite") as c:
            rows = c.execute("SELECT data FROM events WHERE type=?", (type_,)).fetchall()
        return [json.loads(r[0]) for r in rows]


def _fall_through_the_first_level(bot: Bot) -> None:
    """Both legs open at 100 (the long's level 1 rests at 99); the bot's last price is 100.99;
    the market falls to 98.9, filling level 1, and the fill is reported before that price."""
    bot.tick("100")
    bot.report_fills()
    bot.tick("100.99")
    bot.report_fills()
    assert bot.loop.state.last_price == D("100.99") and bot.long_levels() == [D("99.00")]
    bot.market.move(BTC, "98.9")
    bot.report_fills()


def test_a_fill_reported_before_the_next_price_is_not_recalculated_from_the_older_price(
        tmp_path: Path) -> None:
    bot = Bot(tmp_path)
    try:
        _fall_through_the_first_level(bot)
        long = bot.loop.state.long
        # one level filled, one more rests one step below that fill; the stale price moved
        # nothing, and no level went above the market
        assert bot.long_buys() == [(D("100.00"), D(1)), (D("99.00"), D(1))]
        assert (long.contracts, long.level, long.anchor) == (D(2), 1, D("99.00"))
        assert bot.journal("LevelRecalculated") == []
        assert bot.long_levels() == [D("98.01")]
        assert all(p < D("99.00") for p in bot.long_levels())
        # the next price is 0.1 % from the fill: the level stays
        bot.tick("98.9")
        assert bot.journal("LevelRecalculated") == [] and bot.long_levels() == [D("98.01")]
        # a newer price past recalc_pct recalculates from that price, as before
        bot.tick("101.1")
        moves = bot.journal("LevelRecalculated")
        assert [(D(m["anchor"]), D(m["price"])) for m in moves] == [(D(99), D("101.1"))]
        assert bot.long_levels() == [D("100.08")]
        assert len(bot.long_buys()) == 2
    finally:
        bot.close()


def test_the_anchors_price_number_is_stored_and_a_row_without_it_restores(
        tmp_path: Path) -> None:
    bot = Bot(tmp_path)
    try:
        _fall_through_the_first_level(bot)
        before = bot.loop.state
        with sqlite3.connect(tmp_path / "bot.sqlite") as c:
            (text,) = c.execute("SELECT data FROM grid_state WHERE symbol=?", (BTC,)).fetchone()
        row = json.loads(text)
        assert row["price_seq"] == before.price_seq > 0
        assert row["long"]["anchor_seq"] == before.long.anchor_seq == before.price_seq
        # a row written before these fields: every price after the restart is newer
        for key in ("price_seq",):
            del row[key]
        for side in ("long", "short"):
            del row[side]["anchor_seq"]
        with sqlite3.connect(tmp_path / "bot.sqlite") as c:
            c.execute("UPDATE grid_state SET data=? WHERE symbol=?", (json.dumps(row), BTC))
        bot.restart()  # restores the row, then reconciles with a fresh price
        state = bot.loop.state
        assert (state.long.contracts, state.long.anchor, state.long.anchor_seq) == (
            D(2), D("99.00"), 0)
        assert state.price_seq == 1  # the reconciliation's price, newer than the anchor
        bot.tick("101.1")  # so a move past recalc_pct recalculates the level
        moves = bot.journal("LevelRecalculated")
        assert [(D(m["anchor"]), D(m["price"])) for m in moves] == [(D(99), D("101.1"))]
    finally:
        bot.close()
