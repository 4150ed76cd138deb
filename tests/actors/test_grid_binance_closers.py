"""A hedge grid on Binance, whose venue counts a leg's resting closing limit orders against a
new close (-4118 "ReduceOnly Order Failed", tests/exchange/ccxt/emu_book.py `_held_by_closers`):
a grown leg's take-profit is replaced, and a leg through its stop with no stop resting is
closed by the bot, each with the leg's take-profit cancelled first
(tests/trading/test_grid_closers_cancel_first.py). Sent beside the resting take-profit, the
replacement was refused and the old take-profit kept resting for part of the leg, and the
bot's close was refused attempt after attempt until the escalation.
A real grid actor (pykka thread, SQLite), the real ccxt gateway, the Binance emulator in hedge
mode, its WebSocket emulator and the real ccxt.pro streams for the second case."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.actors.live_emulator import Live, live_long, streamed
from tests.support.waiting import wait_until


def _resting(bot: Live, leg: str, closing: bool) -> list[Any]:
    with bot.book.lock:
        return [o for o in bot.book.orders.values()
                if o.trigger is None and o.status == "open" and bot.book.leg_of(o) == leg
                and bot.book.closes(o) == closing]


def _refused(lines: list[str]) -> list[str]:
    return [line for line in lines if "-4118" in line]


def test_a_grown_legs_take_profit_is_replaced_on_binance(tmp_path, lines):
    with live_long(tmp_path, "binanceusdm", grid=True) as bot:
        wait_until(lambda: len(_resting(bot, "long", True)) == 1
                   and len(_resting(bot, "long", False)) == 1,
                   message="the long's take-profit and level resting")
        (old_tp,) = _resting(bot, "long", True)
        (level,) = _resting(bot, "long", False)
        with bot.book.lock:  # the market reaches the level: the venue fills it
            bot.book._fill(level, level.price)
            bot.book.emit("order", level)
        grown = bot.book.position("BTCUSDT", "long")[0]
        assert grown > old_tp.qty
        bot.reconcile(1)  # the level's fill, found by the reconciliation's look

        def replaced() -> bool:
            tps = _resting(bot, "long", True)
            return len(tps) == 1 and tps[0].qty == grown and tps[0] is not old_tp

        wait_until(replaced, timeout=15, message=f"one take-profit of the grown leg ({grown}) "
                   f"resting; refused: {_refused(lines)[:2]}")
        assert old_tp.status == "canceled"
    assert _refused(lines) == []


def test_a_leg_through_its_stop_with_none_resting_is_closed_on_binance(tmp_path, lines):
    with live_long(tmp_path, "binanceusdm", grid=True, wall_time=True) as bot, \
            streamed(bot, "binanceusdm"):
        wait_until(lambda: len(_resting(bot, "long", True)) == 1,
                   message="the long's take-profit resting")
        (stop,) = [o for o in bot.stops() if bot.book.leg_of(o) == "long"]
        assert stop.trigger is not None
        with bot.book.lock:  # the stop is gone (a person cancelled it) and the market falls
            bot.book.cancel(stop)  # through its level: a new stop there would fire at once
            bot.book.set_price("BTCUSDT", stop.trigger - Decimal(200))
        wait_until(lambda: bot.book.position("BTCUSDT", "long")[0] == 0, timeout=20,
                   message=f"the long closed by the bot; refused: {_refused(lines)[:2]}")
        assert bot.book.position("BTCUSDT", "short")[0] != 0  # the short stays
        assert bot.alerts == [], "escalated"
    assert _refused(lines) == []


def test_a_stop_whose_triggered_order_is_refused_beside_the_take_profit_is_made_good(
        tmp_path, lines):
    """Under the other reading of Binance (undocumented): the order a triggered stop sends is
    counted against the resting take-profit too, and expires; the stop ends with nothing done
    (algoStatus FINISHED, its order EXPIRED). The bot then finds the leg through its stop with
    no stop and closes it itself, the take-profit cancelled first."""
    with live_long(tmp_path, "binanceusdm", grid=True, wall_time=True) as bot, \
            streamed(bot, "binanceusdm"):
        bot.book.count_closers_at_trigger = True
        wait_until(lambda: len(_resting(bot, "long", True)) == 1,
                   message="the long's take-profit resting")
        (stop,) = [o for o in bot.stops() if bot.book.leg_of(o) == "long"]
        assert stop.trigger is not None
        bot.book.set_price("BTCUSDT", stop.trigger - Decimal(200))
        child = bot.book.orders[stop.extra["actualOrderId"]]
        assert (stop.status, child.status, child.filled) == ("finished", "expired", 0)
        assert bot.book.position("BTCUSDT", "long")[0] != 0  # the stop did nothing
        wait_until(lambda: bot.book.position("BTCUSDT", "long")[0] == 0, timeout=20,
                   message=f"the long closed by the bot; refused: {_refused(lines)[:2]}")
        assert bot.alerts == [], "escalated"
    assert _refused(lines) == []
