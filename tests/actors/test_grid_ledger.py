"""Issue 16 item 3: every fill of every hedge-grid order is booked exactly once with the P&L the
exchange booked for it, including fills the exchange applied in another order than we learn of
them and a leg closed while the bot was down. Real GridActors, real SQLite, the paper exchange in
hedge mode."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from decimal import Decimal as D
from pathlib import Path

from tests.actors.test_grid_actor import BTC, GridBot
from trading.grid.model import GridKind
from trading.model import Side


def _per_order(rows) -> dict[str, tuple[D, D, D]]:
    out: dict[str, list[D]] = defaultdict(lambda: [D(0), D(0), D(0)])
    for cid, pnl, fee, amount in rows:
        o = out[cid]
        o[0] += D(pnl)
        o[1] += D(fee)
        o[2] += D(amount)
    return {k: tuple(v) for k, v in out.items()}


def _assert_ledger_is_the_exchanges(bot: GridBot) -> dict[str, tuple[D, D, D]]:
    with sqlite3.connect(bot.tmp / "bot.sqlite") as c:
        ledger = _per_order(c.execute("SELECT client_order_id, realized_pnl, fee, amount FROM fills"))
    exchange = _per_order((t.client_order_id or "manual", t.realized_pnl, t.fee.cost if t.fee else 0,
                           t.amount) for t in bot.paper.fetch_my_trades(BTC, 0))
    assert ledger == exchange
    return ledger


def _restarted(bot: GridBot) -> GridBot:
    """The bot started again on its data, at the time and prices it stopped at, settled."""
    again = GridBot(bot.tmp)
    again.clock.t = bot.clock.t
    again.prices.points = bot.prices.points
    try:
        again.start()
        again.settle()
    except BaseException:
        again.stop()
        raise
    return again


def test_a_level_and_the_old_stop_filling_in_one_poll_are_booked_as_the_exchange_booked_them(tmp_path: Path):
    bot = GridBot(tmp_path).start()
    try:
        _level_and_stop_in_one_poll(bot)
    finally:
        bot.stop()


def _level_and_stop_in_one_poll(bot: GridBot) -> None:
    bot.move("100")
    stop = bot.state().orders_of(Side.LONG, GridKind.STOP)[0].client_order_id
    level = bot.state().orders_of(Side.LONG, GridKind.ADD)[0].client_order_id
    # one poll: the long's level (99.0) fills and its old stop (95.0, covering only the opening
    # contract) triggers in the gap; we learn of both at once, after the exchange booked them
    bot.move("94.5")
    ledger = _assert_ledger_is_the_exchanges(bot)
    assert ledger[level][2] > 0 and ledger[stop][2] > 0  # the race this test is about happened
    assert not bot.state().long.is_open  # the rest was closed by the bot (the stop was short)


def test_a_leg_closed_while_the_bot_was_down_is_booked_from_the_exchanges_fill(tmp_path: Path):
    bot = GridBot(tmp_path).start()
    bot.move("100")
    bot.end_actors()
    bot.sup.stop(timeout_s=10)
    bot.repo.close()
    # while the bot is down a person closes the long on the exchange at 99.8
    bot.market.move(BTC, "99.8")
    bot.paper.create_order(BTC, "market", "sell", D(1), None,
                           {"positionIdx": 1, "reduceOnly": True, "clientOrderId": "by-hand-1"})
    bot.paper.close()
    bot.clock.advance(3600)  # the bot is back an hour later

    again = _restarted(bot)
    try:
        closed = [e for e in again.events("LegClosedOnExchange") if e["leg"] == "long"]
        assert len(closed) == 1 and closed[0]["fills"] == 1
        with sqlite3.connect(tmp_path / "bot.sqlite") as c:
            (pnl,) = c.execute("SELECT realized_pnl FROM fills WHERE client_order_id='by-hand-1'").fetchone()
            row = c.execute("SELECT realized_pnl, close_reason, closed_at FROM positions "
                            "WHERE side='long' AND status='closed'").fetchone()
        trade = next(t for t in again.paper.fetch_my_trades(BTC, 0) if t.client_order_id == "by-hand-1")
        assert D(pnl) == trade.realized_pnl == D("-0.2")  # (99.8 - 100) * 1, booked once
        assert row is not None and D(row[0]) == D("-0.2") and row[1] == "closed_on_exchange"
        # closed when the exchange closed it, not an hour later when the restart learnt of it
        # (the protections count stop-outs and losses in a window of closed_at)
        assert trade.timestamp is not None and row[2] == trade.timestamp / 1000 < again.clock()
        again.settle()
        with sqlite3.connect(tmp_path / "bot.sqlite") as c:
            assert c.execute("SELECT count(*) FROM fills WHERE client_order_id='by-hand-1'").fetchone()[0] == 1
    finally:
        again.stop()


def test_a_level_that_fills_while_the_bot_is_down_is_inside_the_resting_stop(tmp_path: Path):
    """Found by a chaos review: a leg's stop was sized to the leg alone, so a level that filled
    while the bot was down (crash, restart) grew the leg past it; the stop then closed only the
    old size and the level's part sat without a stop until the bot was back. The stop now covers
    the leg and its resting level: the exchange closes all of it with nobody watching."""
    bot = GridBot(tmp_path).start()
    bot.move("100")
    state = bot.state()
    [stop] = state.orders_of(Side.LONG, GridKind.STOP)
    [level] = state.orders_of(Side.LONG, GridKind.ADD)
    assert stop.amount == state.long.contracts + level.amount  # 1 + 1 (size_multiplier 1)
    bot.end_actors()
    bot.sup.stop(timeout_s=10)
    bot.repo.close()
    # while the bot is down the price falls through the level (99.0), then through the stop
    bot.market.move(BTC, "98.5")
    assert bot.positions().get("long") == D(2)  # the level filled into the leg (short: its TP)
    bot.market.move(BTC, "94.5")
    assert "long" not in bot.positions()  # the resting stop closed the whole leg
    bot.paper.close()

    again = _restarted(bot)
    try:
        assert not again.state().long.is_open
        _assert_ledger_is_the_exchanges(again)
    finally:
        again.stop()
