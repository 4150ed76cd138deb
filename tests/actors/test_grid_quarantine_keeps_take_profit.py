"""Hedge grid, quarantined: README "Kill switch / shutdown / quarantine: pending levels are
cancelled (they would grow a position with nobody watching); stops and take-profits stay on the
exchange." A person must look; until `resume` the bot touches only the protection: a leg whose
size changes gets its stop resized to cover it, but its take-profit is neither cancelled nor
replaced (trading/grid/maintain.py `_take_profit`), and no order that could open or grow a
position is sent. A mutation audit dropped the quarantine from that gate and no test failed;
this one does. After `resume` the take-profit follows the leg again.

The quarantine here is a leg nobody here opened (`adopt_unknown_positions = false`: a person's
short on the flat side of a hedge-mode account); the long, ours, then grows by hand.
Production DecisionLoop, GridCore and a real SQLite repository on the fake hedge-mode venue of
tests/actors/test_cancel_reports_fill.py, given to the bot's constructor."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from actors.messages import OrderActivity, Reconcile, Resume
from exchange.records import PositionSide
from tests.actors.test_cancel_reports_fill import SYM, Bot
from trading.grid.core import GridCore
from trading.grid.model import GridKind
from trading.grid.rules import GridRules
from trading.model import Side
from trading.rules import MarketRules


def _grid(tmp: Path) -> Bot:
    def core(tag: str) -> GridCore:
        market = MarketRules(amount_step=D("0.001"), price_tick=D("0.1"), min_amount=D("0.001"),
                             min_cost=D(5))
        return GridCore(GridRules(
            symbol=SYM, account="acc", id_tag=tag, market=market, order_size_usdt=D(100),
            levels=3, step_pct=D(1), size_multiplier=D(1), take_profit_pct=D("0.5"),
            stop_loss_pct=D(5), recalc_pct=D(2), leverage=5, adopt_unknown_positions=False))
    return Bot(tmp, core)


def _resting(bot: Bot, kind: GridKind, side: Side) -> list[tuple[str, D]]:
    """The venue's open orders of a leg's kind, as the books name them: (client id, amount)."""
    ours = {o.client_order_id for o in bot.loop.state.orders_of(side, kind)}
    return [(o.cid, o.amount) for o in bot.venue.orders.values()
            if o.status == "open" and o.cid in ours]


def test_a_quarantined_grid_keeps_its_take_profit_and_resizes_only_its_stop(tmp_path: Path):
    bot = _grid(tmp_path)
    venue = bot.venue
    try:
        bot.tick("100")  # both legs open (1 each), each with a stop, a take-profit, a level
        ((long_tp, tp_amount),) = _resting(bot, GridKind.TP, Side.LONG)
        assert tp_amount == D(1) and _resting(bot, GridKind.ADD, Side.LONG)
        (short_tp,) = bot.loop.state.orders_of(Side.SHORT, GridKind.TP)

        # the short's take-profit fills: the short leg is flat, its reopen waits for a price
        venue.mark = D("99.5")
        venue.fill(short_tp.client_order_id)
        bot.send(OrderActivity(client_order_ids=(short_tp.client_order_id,)))
        assert not bot.loop.state.short.is_open
        # before it reopens, a person sells a short by hand on that side: not ours, flagged
        venue.create_order(SYM, "market", "sell", D(1), None,
                           {"clientOrderId": "hand-short", "positionIdx": 2})
        bot.send(Reconcile(reason="periodic"))
        assert bot.loop.state.quarantined and bot.journal("UnknownPositionFlagged")
        assert _resting(bot, GridKind.ADD, Side.LONG) == []  # the pending level is cancelled

        # the long grows by hand while quarantined (a person buying into it)
        sent_before = set(venue.orders)
        venue.create_order(SYM, "market", "buy", D("0.5"), None,
                           {"clientOrderId": "hand-long", "positionIdx": 1})
        bot.send(Reconcile(reason="periodic"))
        state = bot.loop.state
        assert state.quarantined and state.long.contracts == D("1.5")
        assert venue.pos[PositionSide.LONG].qty == D("1.5")
        # protection follows the leg: one stop of our long, covering all of it
        assert [a for _, a in _resting(bot, GridKind.STOP, Side.LONG)] == [D("1.5")]
        # the take-profit stays on the exchange as it was: not cancelled, not replaced
        assert _resting(bot, GridKind.TP, Side.LONG) == [(long_tp, D(1))]
        sent = [venue.orders[c] for c in set(venue.orders) - sent_before - {"hand-long"}]
        assert sent and all(o.reduce_only and o.trigger is not None for o in sent), \
            "only a stop may be sent while quarantined"

        # the person closes their short and resumes the symbol: the take-profit follows the leg
        venue.create_order(SYM, "market", "buy", D(1), None,
                           {"clientOrderId": "hand-short-close", "positionIdx": 2,
                            "reduceOnly": True})
        bot.send(Resume(by="test"))
        bot.send(Reconcile(reason="periodic"))
        assert not bot.loop.state.quarantined
        ((replaced_by, resized),) = _resting(bot, GridKind.TP, Side.LONG)
        assert resized == D("1.5") and replaced_by != long_tp
    finally:
        bot.repo.close()
