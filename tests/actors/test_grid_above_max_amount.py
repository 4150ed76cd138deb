"""The hedge grid and the market's maximum order amount: a leg's opening order, and a level that
would make the leg larger than one order may carry, are refused before they are sent, with a
journaled reason naming the maximum. The grid checked only the minimums (`tradable`): an opening
order above the maximum was sent and refused every open_retry_s, and a level of reference x
multiplier^level was covered by the leg's stop before it was placed, so the stop (the leg and
the level) was above the maximum, refused at every retry, and the leg had no stop at all. Real
GridActor under the real supervisor, the paper exchange in hedge mode (BTC at 100: its maximum
is 100,000), real SQLite."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from loguru import logger

from actors.messages import Reconcile
from runtime.wiring import market_rules
from tests.actors.test_grid_actor import GridBot
from tests.exchange.paper.paper_support import BTC
from tests.support.waiting import wait_until
from trading.grid.core import GridCore
from trading.grid.model import GridKind
from trading.grid.rules import GridRules
from trading.model import Side


class BigGrid(GridBot):
    size = D(4_000_000)

    def core_for(self, symbol: str) -> GridCore:
        return GridCore(GridRules(symbol=symbol, account="acc", id_tag=self.repo.id_tag,
                                  market=market_rules(self.paper, symbol),
                                  order_size_usdt=self.size, levels=3, step_pct=D(1),
                                  size_multiplier=D(2), take_profit_pct=D("0.5"),
                                  stop_loss_pct=D(5), recalc_pct=D(2), leverage=5))


def test_a_level_that_would_make_the_leg_larger_than_the_maximum_is_refused(tmp_path: Path):
    bot = BigGrid(tmp_path, balance="10000000")
    try:
        assert bot.paper.market(BTC).max_amount == D(100_000)
        bot.start()
        bot.move("100")
        for _ in range(4):  # past the stop's retry: a refused stop would be sent again
            bot.clock.advance(5)
            bot.move("100")
        s = bot.state()
        # each leg 40,000; its first level 80,000 would make it 120,000
        assert s.long.contracts == s.short.contracts == D(40_000)
        assert bot.events("OrderFailed") == [], "an order above the maximum was sent"
        for side in (Side.LONG, Side.SHORT):
            assert s.protected(side), f"the {side.value} leg has no stop"
            assert [o.amount for o in s.orders_of(side, GridKind.STOP)] == [D(40_000)]
            assert s.orders_of(side, GridKind.ADD) == []
        skipped = bot.events("LevelSkipped")
        assert sorted(e["leg"] for e in skipped) == ["long", "short"]  # once each
        assert all(e["level"] == 1 and D(e["amount"]) == D(80_000)
                   and "above the market maximum of 100000" in e["reason"] for e in skipped)
    finally:
        bot.stop()


def test_an_opening_order_above_the_maximum_is_refused_before_it_is_sent(tmp_path: Path):
    bot = BigGrid(tmp_path, balance="10000000")
    bot.size = D(20_000_000)  # 200,000 BTC at 100
    try:
        bot.start()
        bot.move("100")
        bot.clock.advance(30)  # past open_retry_s: a refused open would be sent again
        bot.move("100")
        assert bot.events("OrderFailed") == [], "an opening order above the maximum was sent"
        assert bot.positions() == {} and bot.open_orders() == {}
        reasons = [e["reason"] for e in bot.events("OpenSkipped")]
        assert reasons and all("size 200000 is above the market maximum of 100000" in r
                               for r in reasons), reasons
    finally:
        bot.stop()


def test_a_leg_above_the_maximum_gets_a_stop_of_the_maximum_and_closes_in_slices(tmp_path: Path):
    """A long of 150,000 BTC bought by hand (two orders) and adopted: its stop and take-profit
    were sized for the whole leg and refused at every retry (every 2 s, for ever: no stop at
    all), and its close was refused at every attempt. The stop and the take-profit now carry
    the maximum (part of the leg covered: not `protected`), and the close goes in slices of the
    maximum (a slice that fills in full is no failed attempt: the next goes at once)."""
    bot = GridBot(tmp_path, balance="10000000")
    try:
        for n, amount in enumerate((D(100_000), D(50_000))):
            bot.paper.create_order(BTC, "market", "buy", amount, None,
                                   {"positionIdx": 1, "clientOrderId": f"hand{n}"})
        bot.start()
        bot.move("100")
        for _ in range(3):  # past the stop's retry: a refused stop would be sent again
            bot.clock.advance(5)
            bot.move("100")
        s = bot.state()
        assert s.long.contracts == D(150_000)
        assert bot.events("OrderFailed") == [], "an order above the maximum was sent"
        resting = {o.client_order_id: o for o in bot.paper.fetch_open_orders(BTC)}
        for kind in (GridKind.STOP, GridKind.TP):
            (order,) = s.orders_of(Side.LONG, kind)
            assert order.amount == D(100_000) and order.client_order_id in resting, kind
        assert not s.protected(Side.LONG)  # a person is told: part of it is covered
        # the stop goes away (cancelled by hand) and the price falls through its level (95)
        (stop,) = s.orders_of(Side.LONG, GridKind.STOP)
        bot.paper.cancel_order(resting[stop.client_order_id].id, BTC)
        bot.market.move(BTC, "94")
        failed = len(bot.events("OrderFailed"))
        bot.sup.children[BTC].ref.tell(Reconcile(reason="test"))  # the bot learns it all
        for _ in range(5):  # a slice that ended short would wait its backoff
            bot.feed.poll_once()
            bot.settle()
            if "long" not in bot.positions():
                break
            bot.clock.advance(5)
        assert "long" not in bot.positions(), "the leg above the maximum was not closed"
        assert len(bot.events("OrderFailed")) == failed, "a close above the maximum was sent"
        closes = [D(c["amount"]) for c in bot.paper.submissions()
                  if c["clientOrderId"].endswith("c")]
        assert closes == [D(100_000), D(50_000)]
    finally:
        bot.stop()


def test_a_leg_too_small_to_open_is_a_warning_once_per_leg(tmp_path: Path):
    """Found by a user run of examples/hedge_grid.toml live on the Binance emulator: the order
    size rounded below the venue's minimum, every leg was skipped with an INFO line, and the
    bot traded nothing for minutes with no warning."""
    lines: list[tuple[str, str]] = []
    sink = logger.add(lambda m: lines.append((m.record["level"].name, m.record["message"])),
                      level="INFO")
    bot = BigGrid(tmp_path, balance="10000000")
    bot.size = D("0.0001")  # 0.000001 BTC at 100: below the market's minimums
    try:
        bot.start()
        for _ in range(3):  # past open_retry_s twice: skipped again, said once
            bot.move("100")
            bot.clock.advance(30)
        bot.move("100")
        wait_until(lambda: bot.events("OpenSkipped"), timeout=10, message="a leg skipped")
        skipped = bot.events("OpenSkipped")  # the first leg's (the other waits behind it)
        warned = [m for level, m in lines if level == "WARNING" and "OpenSkipped" in m]
        assert len(skipped) == 1 and len(warned) == 1, lines
        assert "below the market minimum amount" in warned[0]
        assert bot.positions() == {} and bot.events("OrderFailed") == []
    finally:
        bot.stop()
        logger.remove(sink)
