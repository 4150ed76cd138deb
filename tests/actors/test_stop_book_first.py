"""A stop of ours is cancelled and looked up in the venue's stop book first. Binance keeps
stops apart (algo orders); the gateway asked the plain order book first unless told, and the
actor never told it, so a live soak saw every stop replacement cost a DELETE and a GET of the
plain book (each a miss) before the algo ones: weight spent while reconciliations waited for
it. A real SymbolActor, the real ccxt gateway, the Binance emulator's request log."""

from __future__ import annotations

from actors.messages import ExternalSignal
from tests.actors.live_emulator import live_long
from tests.support.waiting import wait_until


def test_closing_cancels_the_stop_in_the_stop_book_without_asking_the_order_book(tmp_path):
    with live_long(tmp_path, "binanceusdm") as bot:
        (stop,) = bot.stops()
        bot.emu.clear()
        bot.ref.tell(ExternalSignal(side=None))  # exit: close, then cancel the stop
        wait_until(lambda: not bot.stops() and bot.position() == 0, message="flat, no stop")
        bot.sync()
        about_stop = [(r.method, r.path) for r in bot.emu.requests
                      if stop.cid in (r.params.get("origClientOrderId"),
                                      r.params.get("clientAlgoId"))]
        assert ("DELETE", "/fapi/v1/algoOrder") in about_stop, about_stop
        assert [p for _, p in about_stop if p == "/fapi/v1/order"] == [], about_stop
