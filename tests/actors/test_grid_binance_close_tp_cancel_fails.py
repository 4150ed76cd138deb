"""A hedge grid on Binance: a long through its stop with no stop resting is closed by the bot,
its take-profit cancelled first (Binance refuses a close while a closing limit of the leg
rests, -4118: tests/exchange/ccxt/emu_book.py `_held_by_closers`). Here the take-profit's
cancel fails twice in a row (the venue times out: the gateway gives up, actors/
command_executor.py `_cancel` answers nothing). Each close attempt must ask again for that
cancel: before (review g1) only the cancel retry every retry_s (2 s) asked, the close
attempts 2 and 3 (1 s and 2 s of backoff) went out beside the resting take-profit, were
refused and counted, and the leg escalated after 3 (the rig's max_close_attempts) while the
venue would have accepted the close after one more cancel.
A real grid actor (pykka thread, SQLite), the real ccxt gateway (the cancel failures injected
by a wrapper of it, the rig's `port`), the Binance emulator in hedge mode, its WebSocket
emulator and the real ccxt.pro streams."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from exchange import errors
from tests.actors.live_emulator import live_long, streamed
from tests.support.waiting import wait_until


class TakeProfitCancelsFail:
    """The gateway, but the next `fails` cancels of a take-profit (client id ending in 't')
    time out once armed."""

    def __init__(self, gateway: Any, fails: int) -> None:
        self._gateway, self.fails, self.armed = gateway, fails, threading.Event()
        self.failed: list[str] = []

    def cancel_order(self, id: Any, symbol: str, params: dict[str, Any] | None = None) -> Any:
        cid = str((params or {}).get("clientOrderId") or "")
        if self.armed.is_set() and cid.endswith("t") and len(self.failed) < self.fails:
            self.failed.append(cid)
            raise errors.RequestTimeout(f"cancel_order {cid}: timed out (injected)")
        return self._gateway.cancel_order(id, symbol, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gateway, name)


def test_a_close_refused_beside_a_take_profit_whose_cancel_failed_is_not_escalated(
        tmp_path, lines):
    port: list[TakeProfitCancelsFail] = []

    def wrap(gateway: Any) -> TakeProfitCancelsFail:
        port.append(TakeProfitCancelsFail(gateway, fails=2))
        return port[0]

    with live_long(tmp_path, "binanceusdm", grid=True, wall_time=True, port=wrap) as bot, \
            streamed(bot, "binanceusdm"):
        def long_tps() -> list[Any]:
            with bot.book.lock:
                return [o for o in bot.book.orders.values() if o.trigger is None
                        and o.status == "open" and bot.book.leg_of(o) == "long"
                        and bot.book.closes(o)]

        wait_until(lambda: len(long_tps()) == 1, message="the long's take-profit resting")
        (stop,) = [o for o in bot.stops() if bot.book.leg_of(o) == "long"]
        assert stop.trigger is not None
        port[0].armed.set()
        with bot.book.lock:  # the stop is gone (a person cancelled it) and the market falls
            bot.book.cancel(stop)  # through its level: a new stop there would fire at once
            bot.book.set_price("BTCUSDT", stop.trigger - Decimal(200))
        wait_until(lambda: bot.book.position("BTCUSDT", "long")[0] == 0 or bot.alerts,
                   timeout=30, message="the long closed by the bot, or an escalation")
        refused = [line for line in lines if "-4118" in line]
        assert bot.alerts == [], f"escalated: {bot.alerts}; refusals: {refused[:4]}"
        assert bot.book.position("BTCUSDT", "long")[0] == 0
        assert len(port[0].failed) == 2  # both injected cancel failures happened
