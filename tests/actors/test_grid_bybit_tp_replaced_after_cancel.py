"""A hedge grid on Bybit: the long's level fills, the leg grows, and its take-profit is replaced,
the old one cancelled first (trading/grid/maintain.py `_take_profit`). Here that cancel times out
(the gateway gives up: actors/command_executor.py `_cancel` answers nothing, the old one rests
on). Before (review s49, hypothesis 1) the new take-profit went out anyway: two take-profits
of the long rested at once, together larger than the leg. Now the new one goes once the old
one's cancel is answered (its retry, after retry_s).
A real grid actor (pykka thread, SQLite), the real ccxt gateway (the cancel failure injected by
a wrapper of it), the Bybit emulator in hedge mode, its WebSocket emulator and the real ccxt.pro
streams (their prices drive the cancel's retry)."""

from __future__ import annotations

import threading
from typing import Any

from exchange import errors
from tests.actors.live_emulator import Live, live_long, streamed
from tests.support.waiting import wait_until


class TakeProfitCancelFails:
    """The gateway, but the first cancel of a take-profit (client id ending in 't') times out
    once armed; each take-profit create notes the long take-profits resting at that moment."""

    def __init__(self, gateway: Any, book: list[Any]) -> None:
        self._gateway, self._book = gateway, book
        self.armed = threading.Event()
        self.failed: list[str] = []
        self.beside: list[list[str]] = []

    def cancel_order(self, id: Any, symbol: str, params: dict[str, Any] | None = None) -> Any:
        cid = str((params or {}).get("clientOrderId") or "")
        if self.armed.is_set() and cid.endswith("t") and not self.failed:
            self.failed.append(cid)
            raise errors.RequestTimeout(f"cancel_order {cid}: timed out (injected)")
        return self._gateway.cancel_order(id, symbol, params)

    def create_order(self, symbol: str, type: str, side: str, amount: Any, price: Any = None,
                     params: dict[str, Any] | None = None) -> Any:
        cid = str((params or {}).get("clientOrderId") or "")
        if self.armed.is_set() and cid.endswith("t") and self._book:
            book = self._book[0]
            with book.lock:
                resting = [o.cid for o in book.orders.values() if o.trigger is None
                           and o.status == "open" and book.leg_of(o) == "long"
                           and book.closes(o)]
            if resting:
                self.beside.append(resting + [cid])
        return self._gateway.create_order(symbol, type, side, amount, price, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gateway, name)


def _long_tps(bot: Live) -> list[Any]:
    with bot.book.lock:
        return [o for o in bot.book.orders.values() if o.trigger is None and o.status == "open"
                and bot.book.leg_of(o) == "long" and bot.book.closes(o)]


def test_no_second_take_profit_rests_while_the_old_ones_cancel_failed(tmp_path):
    port: list[TakeProfitCancelFails] = []
    books: list[Any] = []

    def wrap(gateway: Any) -> TakeProfitCancelFails:
        port.append(TakeProfitCancelFails(gateway, books))
        return port[0]

    with live_long(tmp_path, "bybit", grid=True, wall_time=True, port=wrap) as bot, \
            streamed(bot, "bybit"):
        books.append(bot.book)

        def level() -> list[Any]:
            with bot.book.lock:
                return [o for o in bot.book.orders.values() if o.trigger is None
                        and o.status == "open" and bot.book.leg_of(o) == "long"
                        and not bot.book.closes(o)]

        wait_until(lambda: len(_long_tps(bot)) == 1 and len(level()) == 1,
                   message="the long's take-profit and level resting")
        (old,) = _long_tps(bot)
        (add,) = level()
        port[0].armed.set()
        with bot.book.lock:  # the market reaches the level: the venue fills it
            bot.book._fill(add, add.price)
            bot.book.emit("order", add)
        grown = bot.book.position("BTCUSDT", "long")[0]
        assert grown > old.qty
        bot.reconcile(1)  # the level's fill, found by the reconciliation's look
        wait_until(lambda: port[0].failed, message="the old take-profit's cancel failed")

        def replaced() -> bool:
            tps = _long_tps(bot)
            return len(tps) == 1 and tps[0].qty == grown and tps[0] is not old

        wait_until(replaced, timeout=20,
                   message=f"one take-profit of the grown leg ({grown}) resting; "
                           f"resting: {[(o.cid, o.qty) for o in _long_tps(bot)]}")
        assert port[0].beside == [], (
            f"a take-profit went out while another of the long rested: {port[0].beside}")
        assert old.status == "canceled"
        assert bot.alerts == []
