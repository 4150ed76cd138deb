"""A Binance ALGO_UPDATE (a stop on the user data stream) that says FINISHED with an executed
quantity `aq` that is no number >= 0: "NaN" raised decimal.InvalidOperation out of the
converter (the stream's line then read "InvalidOperation: [<class ...>]", naming nothing),
and a negative one was read as a stop that ended unfilled (canceled). Both are unreadable now
(BadResponse naming `aq` and its value): the stream skips the update with one line and has
the stop looked up over REST. The event as the real ccxt.pro binanceusdm class parses it."""

from __future__ import annotations

import ccxt
import ccxt.pro
import pytest

from exchange.ccxt import convert

STOP = "main-t1-stop-1"


def _finished(aq: str) -> dict:
    body = {"caid": STOP, "aid": 2148719, "at": "CONDITIONAL", "o": "STOP_MARKET",
            "s": "BTCUSDT", "S": "SELL", "ps": "BOTH", "f": "GTC", "q": "0.01",
            "X": "FINISHED", "ai": "8886774", "tp": "49000", "p": "0", "V": "EXPIRE_MAKER",
            "wt": "CONTRACT_PRICE", "pm": "NONE", "cp": False, "pP": False, "R": True,
            "tt": 0, "gtd": 0, "rm": "", "T": 1750515742297, "ap": "48890.5", "aq": aq,
            "act": "MARKET"}
    return ccxt.pro.binanceusdm().parse_ws_order(body)


@pytest.mark.parametrize("aq", ["NaN", "-0.004", "-Infinity"])
def test_a_finished_stop_with_a_garbled_executed_quantity_cannot_be_read(aq):
    with pytest.raises(ccxt.BadResponse, match=f"without a readable executed quantity "
                                               f"\\(aq '{aq}'\\)"):
        convert.order(_finished(aq), settle="USDT")
