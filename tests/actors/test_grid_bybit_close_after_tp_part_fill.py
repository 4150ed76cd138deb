"""A hedge grid on Bybit: the long's stop is gone and the market falls through its level, so the
bot closes the leg itself, its take-profit cancelled first (trading/grid/maintain.py `_protect`).
The take-profit filled in part just before that cancel landed: the cancel's answer (looked up
after it, actors/command_executor.py `_look_up_after_cancel`) tells the fill and the leg shrinks.
Before (review s49, hypothesis 2) the close, decided for the leg as it was and queued behind the
cancel, went out for the old size: a close larger than the leg (Bybit cuts a reduce-only order
to the position; a venue that does not would open the other way). Now it is taken back unsent
and the close goes out for what the leg holds.
A real grid actor (pykka thread, SQLite), the real ccxt gateway (a wrapper fills the take-profit
in part as its cancel arrives, and notes each close's amount), the Bybit emulator in hedge mode."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from tests.actors.live_emulator import Live, live_long
from tests.support.waiting import wait_until


class PartFillBeforeCancel:
    """The gateway, but once armed the first cancel of a take-profit (client id ending in 't')
    finds it filled in part first (the venue matched part of it as the cancel arrived)."""

    def __init__(self, gateway: Any, books: list[Any]) -> None:
        self._gateway, self._books = gateway, books
        self.armed = threading.Event()
        self.part_filled: list[str] = []
        self.closes: list[Decimal] = []

    def cancel_order(self, id: Any, symbol: str, params: dict[str, Any] | None = None) -> Any:
        cid = str((params or {}).get("clientOrderId") or "")
        if self.armed.is_set() and cid.endswith("t") and not self.part_filled:
            book = self._books[0]
            with book.lock:
                (tp,) = [o for o in book.orders.values() if o.cid == cid]
                whole = tp.qty
                tp.qty = whole / 2
                book._fill(tp, tp.price)  # half of it trades at its limit
                tp.qty, tp.status = whole, "open"
            self.part_filled.append(cid)
        return self._gateway.cancel_order(id, symbol, params)

    def create_order(self, symbol: str, type: str, side: str, amount: Any, price: Any = None,
                     params: dict[str, Any] | None = None) -> Any:
        if str((params or {}).get("clientOrderId") or "").endswith("c"):
            self.closes.append(Decimal(str(amount)))
        return self._gateway.create_order(symbol, type, side, amount, price, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gateway, name)


def _long_tps(bot: Live) -> list[Any]:
    with bot.book.lock:
        return [o for o in bot.book.orders.values() if o.trigger is None and o.status == "open"
                and bot.book.leg_of(o) == "long" and bot.book.closes(o)]


def test_a_close_after_a_take_profit_filled_in_part_goes_out_for_the_rest(tmp_path):
    port: list[PartFillBeforeCancel] = []
    books: list[Any] = []

    def wrap(gateway: Any) -> PartFillBeforeCancel:
        port.append(PartFillBeforeCancel(gateway, books))
        return port[0]

    with live_long(tmp_path, "bybit", grid=True, wall_time=True, port=wrap) as bot:
        books.append(bot.book)
        wait_until(lambda: len(_long_tps(bot)) == 1, message="the long's take-profit resting")
        bot.sync()
        (stop,) = [o for o in bot.stops() if bot.book.leg_of(o) == "long"]
        assert stop.trigger is not None
        whole = bot.book.position("BTCUSDT", "long")[0]
        port[0].armed.set()
        with bot.book.lock:  # the stop is gone (a person cancelled it) and the market falls
            bot.book.cancel(stop)  # through its level: a new stop there would fire at once
            bot.book.set_price("BTCUSDT", stop.trigger - Decimal(200))
        bot.reconcile(1)  # the stop found gone: the bot closes the leg
        assert port[0].part_filled, "the take-profit's cancel never came"
        assert port[0].closes, "no close was sent"
        assert port[0].closes[0] == whole / 2, (
            f"closes sent {port[0].closes} for a leg of {whole / 2} (it was {whole})")
        wait_until(lambda: bot.book.position("BTCUSDT", "long")[0] == 0,
                   message="the long closed")
        assert bot.alerts == []
