"""A hedge grid on Bybit: the long's level fills, the leg grows, its take-profit is replaced,
and the new take-profit's create times out before it reaches the venue (the gateway gives up;
the lookup by client id finds no such order: `OrderFailed.lost`). Before (review s49,
hypothesis 3) that counted as a venue refusal: the take-profit waited retry_s (and a decision
after it), the grown leg without one meanwhile. Now it is placed again at once, in the same
message, under a new client order id.
A real grid actor (pykka thread, SQLite), the real ccxt gateway (the lost create injected by a
wrapper of it), the Bybit emulator in hedge mode. No price feed: nothing but the test's own
reconciliation makes the actor decide, so a take-profit held back for retry_s stays missing."""

from __future__ import annotations

import threading
from typing import Any

from exchange import errors
from tests.actors.live_emulator import Live, live_long
from tests.support.waiting import wait_until


class TakeProfitCreateLost:
    """The gateway, but the first take-profit create of the long (client id ending in 't',
    positionIdx 1) once armed never reaches the venue and times out."""

    def __init__(self, gateway: Any) -> None:
        self._gateway = gateway
        self.armed = threading.Event()
        self.lost: list[str] = []

    def create_order(self, symbol: str, type: str, side: str, amount: Any, price: Any = None,
                     params: dict[str, Any] | None = None) -> Any:
        cid = str((params or {}).get("clientOrderId") or "")
        long = str((params or {}).get("positionIdx")) == "1"
        if self.armed.is_set() and cid.endswith("t") and long and not self.lost:
            self.lost.append(cid)
            raise errors.RequestTimeout(f"create_order {cid}: timed out (injected)")
        return self._gateway.create_order(symbol, type, side, amount, price, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gateway, name)


def _long(bot: Live, closing: bool, leg: str = "long") -> list[Any]:
    with bot.book.lock:
        return [o for o in bot.book.orders.values() if o.trigger is None and o.status == "open"
                and bot.book.leg_of(o) == leg and bot.book.closes(o) == closing]


def test_a_lost_take_profit_is_placed_again_in_the_same_message(tmp_path):
    port: list[TakeProfitCreateLost] = []

    def wrap(gateway: Any) -> TakeProfitCreateLost:
        port.append(TakeProfitCreateLost(gateway))
        return port[0]

    with live_long(tmp_path, "bybit", grid=True, wall_time=True, port=wrap) as bot:
        wait_until(lambda: len(_long(bot, True)) == 1 and len(_long(bot, False)) == 1
                   and len(_long(bot, True, "short")) == 1,
                   message="the long's take-profit and level, the short's take-profit resting")
        bot.sync()
        (old,) = _long(bot, True)
        (add,) = _long(bot, False)
        port[0].armed.set()
        with bot.book.lock:  # the market reaches the level: the venue fills it
            bot.book._fill(add, add.price)
            bot.book.emit("order", add)
        grown = bot.book.position("BTCUSDT", "long")[0]
        bot.reconcile(1)  # the level's fill found; the old take-profit cancelled, the new lost
        assert port[0].lost, "no take-profit create was lost"
        tps = _long(bot, True)
        assert [o.qty for o in tps] == [grown], (
            f"after the message that lost {port[0].lost}: long take-profits resting "
            f"{[(o.cid, o.qty) for o in tps]} for a leg of {grown}")
        assert tps[0].cid not in port[0].lost and old.status == "canceled"
        assert bot.alerts == []
