"""Orders a person placed on a one-way Binance account, as the gateway reads them and as the
emergency close treats them: a "close all" stop set in the app (closePosition true; Binance
lists it reduceOnly false) only reduces, so it is kept as the position's protection; a limit
buy and a conditional buy (STOP_MARKET without reduceOnly) could open a position and are
cancelled. Nothing but `closePosition` tells the first apart from the third (a review question:
no test read that field). REAL ccxt.binanceusdm and the gateway against the emulator, real
SQLite."""

from __future__ import annotations

from decimal import Decimal as D

from loguru import logger

from runtime.emergency import OWED, EmergencyCloser
from storage.repository import Repository
from tests.exchange.ccxt.ccxt_fixtures import gateway_on_emulator, rest_by_hand

BTC = "BTC/USDT:USDT"


def _stop_by_hand(book, cid: str, side: str, trigger: str, *, close_all: bool) -> None:
    book.place(cid=cid, symbol="BTCUSDT", side=side, type="market",
               qty=D(0) if close_all else D("0.01"), price=None, trigger=D(trigger),
               trigger_direction=None, reduce_only=False,
               extra={"positionSide": "BOTH", "type": "STOP_MARKET",
                      "closePosition": close_all})


def test_a_close_all_stop_by_hand_is_kept_and_the_orders_that_open_go(tmp_path):
    with gateway_on_emulator("binanceusdm", tmp_path) as (gw, emu):
        book = emu.venue.book
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "entry-1"})
        _stop_by_hand(book, "app-close-all", "sell", "45000", close_all=True)
        _stop_by_hand(book, "app-buy-stop", "buy", "52000", close_all=False)
        rest_by_hand(book, "app-limit-buy", "BTCUSDT", "49000")
        listed = {o.client_order_id: (o.reduce_only, o.is_stop) for o in gw.fetch_open_orders(BTC)}
        assert listed == {"app-close-all": (True, True), "app-buy-stop": (False, True),
                          "app-limit-buy": (False, False)}
        repo = Repository(tmp_path / "bot.sqlite", synchronous="normal")
        closer = EmergencyCloser(exchange=gw, repo=repo, prefix="acc-", logger=logger,
                                 sleep=lambda s: None)
        try:
            repo.set_meta(OWED + BTC, "close failed 3 times")
            closer.close(BTC, "close failed 3 times")
            closer.wait()
            assert repo.get_meta(OWED + BTC) == ""
        finally:
            closer.stop()
            closer.wait()
            repo.close()
        assert book.position("BTCUSDT")[0] == 0
        assert [o.client_order_id for o in gw.fetch_open_orders(BTC)] == ["app-close-all"]
