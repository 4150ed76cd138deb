"""The emergency close on Binance with a closing order it could not cancel (found by review):
a reduce-only take-profit whose cancel failed was left in place and the close went on, as it
may on a venue that lets both rest. Binance counts a leg's resting closing limit orders against
a new close and refuses it (-4118 "ReduceOnly Order Failed", tests/exchange/ccxt/emu_book.py
`_held_by_closers`): that refusal is no temporary error, so the run ended as a permanent
failure, the close was no longer owed, and nobody closed the escalated position while the
take-profit (cancellable a moment later) held it. Now a close refused after a closing order
was left in place stays owed (run again, cancel first). REAL ccxt.binanceusdm and the gateway
against the Binance emulator, real SQLite."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from loguru import logger

from runtime.emergency import OWED, EmergencyCloser
from storage import queries
from storage.repository import Repository
from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator

BTC = "BTC/USDT:USDT"
REFUSED = {"code": -1102, "msg": "Mandatory parameter 'orderid' was not sent."}
"""A cancel the venue refuses (permanent: ccxt's BadRequest); the take-profit stays."""


@pytest.mark.parametrize("hedge", [True, False], ids=["hedge", "one-way"])
def test_a_close_refused_behind_a_take_profit_left_in_place_stays_owed(tmp_path, hedge):
    emu = start_emulator("binanceusdm")
    emu.venue.book.hedge = hedge
    gw = make_gateway("binanceusdm", emu, tmp_path, hedge_mode=hedge)
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    waits: list[float] = []
    closer = EmergencyCloser(exchange=gw, repo=repo, prefix="acc-", logger=logger,
                             sleep=waits.append)
    try:
        gw.load_markets()
        leg = {"positionIdx": 1} if hedge else {}
        gw.create_order(BTC, "market", "buy", D("0.02"), None, dict(leg))
        gw.create_order(BTC, "limit", "sell", D("0.02"), D("60000"),
                        {**leg, "reduceOnly": True, "clientOrderId": "tp-long"})
        emu.fail_next("/fapi/v1/order", 1, status=400, body=REFUSED)  # the take-profit's cancel
        repo.set_meta(OWED + BTC, "close failed 3 times")  # as the escalation commits it
        closer.close(BTC, "close failed 3 times")
        closer.wait()
        assert emu.venue.book.position("BTCUSDT", "long" if hedge else "net")[0] == D("0.02")
        [failed] = repo.read(queries.events, BTC, "EmergencyCloseFailed")
        assert "-4118" in failed["data"]["error"]
        assert repo.get_meta(OWED + BTC) == "close failed 3 times"  # run again, cancel first
    finally:
        closer.stop()
        closer.wait()
        repo.close()
        gw.close()
        emu.stop()
