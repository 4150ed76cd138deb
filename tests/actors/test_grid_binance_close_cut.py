"""A hedge grid on Binance: the long's close the venue cut to a leg smaller than the books'.
Right before the bot's close of the long goes out, a person's order closes part of the long
(its fill unseen by the bot: no streams in this rig); the venue cuts the bot's close to what is
left and fills that, leaving the long flat (the short stays). That close closed the leg: no
failed attempt, no escalation even at the last attempt allowed (max_close_attempts 1 here;
incident 2 counts failures), and a reconciliation asked for at once books the person's part.
Before: the cut close was a failed attempt and, at the last one, the grid escalated
(quarantine, alert, emergency close) a symbol whose close had worked.
The read is per leg side: the short, still listed, must not keep the long's close a failure.
A real grid actor (pykka thread, SQLite), the real ccxt gateway (the person's order placed
by a wrapper of it, the rig's `port`, as the close goes out), the Binance emulator in hedge
mode. The pure core: tests/trading/test_grid_close_cut.py."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from actors.command_executor import is_close
from tests.actors.live_emulator import live_long
from tests.support.waiting import wait_until


class HandCloseFirst:
    """The gateway, but once armed, right before the bot's first close goes out, a person's
    order (by hand, on the web) closes `part` of the long on the venue's book."""

    def __init__(self, gateway: Any) -> None:
        self._gateway, self.armed = gateway, threading.Event()
        self.book: Any = None
        self.part = Decimal(0)
        self.closes: list[str] = []

    def create_order(self, symbol: str, type: str, side: str, amount: Decimal,
                     price: Decimal | None = None, params: dict[str, Any] | None = None) -> Any:
        cid = str((params or {}).get("clientOrderId") or "")
        if self.armed.is_set() and is_close(cid):
            if not self.closes:
                self.book.place(
                    cid="web_part_by_hand", symbol="BTCUSDT", side="sell", type="market",
                    qty=self.part, price=None, trigger=None, trigger_direction=None,
                    reduce_only=False, extra={"positionSide": "LONG"})
            self.closes.append(cid)
        return self._gateway.create_order(symbol, type, side, amount, price, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gateway, name)


def _long_booked(bot: Any) -> bool:
    position = bot.view().position
    return position is not None and any(leg["side"] == "long" for leg in position["legs"])


def test_a_legs_close_cut_by_the_venue_to_a_leg_closed_in_part_by_hand_is_no_failure(
        tmp_path, lines):
    port: list[HandCloseFirst] = []

    def wrap(gateway: Any) -> HandCloseFirst:
        port.append(HandCloseFirst(gateway))
        return port[0]

    with live_long(tmp_path, "binanceusdm", grid=True, wall_time=True, port=wrap,
                   grid_over={"max_close_attempts": 1}) as bot:
        size = bot.book.position("BTCUSDT", "long")[0]
        short = bot.book.position("BTCUSDT", "short")[0]
        part = (size / 2).quantize(Decimal("0.001"))
        assert 0 < part < size and short != 0
        port[0].book, port[0].part = bot.book, part
        (stop,) = [o for o in bot.stops() if bot.book.leg_of(o) == "long"]
        assert stop.trigger is not None
        port[0].armed.set()
        with bot.book.lock:  # the stop is gone (a person cancelled it) and the market falls
            bot.book.cancel(stop)  # through its level: the bot closes the long itself
            bot.book.set_price("BTCUSDT", stop.trigger - Decimal(200))
        bot.reconcile(1)  # the bot finds the stop gone and the price through it
        wait_until(lambda: port[0].closes, timeout=15, message="the bot's close sent")
        assert bot.book.position("BTCUSDT", "long")[0] == 0  # cut to the rest, and filled
        wait_until(lambda: not _long_booked(bot) or bot.alerts, timeout=30,
                   message="the long booked closed, or an alert")
        assert bot.alerts == [], f"escalated a leg whose close closed it: {bot.alerts}"
        assert not _long_booked(bot)
        assert bot.book.position("BTCUSDT", "short")[0] == short  # the short stays
        assert len(port[0].closes) == 1, f"closed again against a flat leg: {port[0].closes}"
    assert any("CloseRaced" in line for line in lines)
    assert [line for line in lines if "Escalated" in line] == []


def test_a_legs_close_refused_after_a_person_closed_the_whole_leg_raced(tmp_path, lines):
    """The person's order closes the whole long right before the bot's close goes out: the
    venue refuses the close (-2022, nothing to reduce on that side) while it lists the short.
    That close raced with another fill (CloseRaced, the leg's position read per side), not a
    plain failed attempt. Before: grid closes were never read so (the refusal journaled no
    CloseRaced and was backed off as any failure)."""
    port: list[HandCloseFirst] = []

    def wrap(gateway: Any) -> HandCloseFirst:
        port.append(HandCloseFirst(gateway))
        return port[0]

    with live_long(tmp_path, "binanceusdm", grid=True, wall_time=True, port=wrap) as bot:
        size = bot.book.position("BTCUSDT", "long")[0]
        short = bot.book.position("BTCUSDT", "short")[0]
        assert size > 0 and short != 0
        port[0].book, port[0].part = bot.book, size
        (stop,) = [o for o in bot.stops() if bot.book.leg_of(o) == "long"]
        assert stop.trigger is not None
        port[0].armed.set()
        with bot.book.lock:  # the stop is gone (a person cancelled it) and the market falls
            bot.book.cancel(stop)  # through its level: the bot closes the long itself
            bot.book.set_price("BTCUSDT", stop.trigger - Decimal(200))
        bot.reconcile(1)
        wait_until(lambda: port[0].closes, timeout=15, message="the bot's close sent")
        wait_until(lambda: not _long_booked(bot) or bot.alerts, timeout=30,
                   message="the long booked closed, or an alert")
        assert bot.alerts == []
        assert bot.book.position("BTCUSDT", "short")[0] == short  # the short stays
        assert len(port[0].closes) == 1, f"closed again against a flat leg: {port[0].closes}"
    assert any("CloseRaced" in line and "-2022" in line for line in lines), \
        [line for line in lines if "Close" in line]
