"""The hedge grid's sibling of tests/actors/test_adopted_position_keeps_owner_stop.py: a long leg
opened by hand, with its own stop, is adopted at start. The adopting reconciliation sends the
leg's stop and cancelled the owner's stop (a reduce-only order nobody of ours owns) in the same
breath; with our stop refused, the leg was left without any stop until a retry got through.
The owner's reduce-only orders now stay while an open leg has no acknowledged stop of its own,
and go at the first reconciliation after ours rests.

Real GridActor, supervisor, SQLite and hedge-mode paper exchange (tests/actors/test_grid_actor.py
GridBot); stops are refused through the wrapper the bot already puts around the exchange."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from actors.messages import Reconcile
from tests.actors.test_adopted_position_keeps_owner_stop import RefusingStops
from tests.actors.test_grid_actor import BTC, GridBot
from trading.grid.model import GridKind
from trading.model import Side


def test_an_adopted_leg_keeps_its_owner_stop_until_ours_rests(tmp_path: Path) -> None:
    bot = GridBot(tmp_path)
    venue = RefusingStops(bot.paper)
    bot.exchange.inner = venue  # the bot's exchange wrapper now sends through `venue`
    try:
        bot.paper.create_order(BTC, "market", "buy", D("1"), None,
                               {"positionIdx": 1, "clientOrderId": "hand-1"})
        bot.paper.create_order(BTC, "market", "sell", D("1"), None,
                               {"positionIdx": 1, "clientOrderId": "hand-stop",
                                "stopLossPrice": "90"})
        bot.start()
        bot.move("100")
        assert bot.state().long.contracts == D("1") and venue.refused >= 1
        assert not bot.state().protected(Side.LONG)
        assert "hand-stop" in bot.open_orders(), "the adopted leg's only stop was cancelled"
        venue.refusing = False
        for _ in range(3):  # the stop's retry
            bot.clock.advance(5)
            bot.move("100")
            if bot.state().protected(Side.LONG):
                break
        assert bot.state().protected(Side.LONG)
        bot.sup.children[BTC].ref.tell(Reconcile(reason="test"))
        bot.settle()
        assert "hand-stop" not in bot.open_orders()
        (stop,) = bot.state().orders_of(Side.LONG, GridKind.STOP)
        assert stop.client_order_id in bot.open_orders()
    finally:
        bot.stop()
