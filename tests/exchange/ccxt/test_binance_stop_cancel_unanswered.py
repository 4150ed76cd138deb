"""A Binance stop's cancel whose algo-book DELETE landed but went unanswered (the client timed
out) is asked again in the algo book only. Seen in a live one-way chaos review on the emulator:
the retry found the stop gone from the algo book and went on to the plain order book
(`DELETE /fapi/v1/order?origClientOrderId=<stop>`), which timed out too: the start cancel of a
stop took 12.6 s, holding the actor's start and the signal endpoint waiting for it. A stop this
bot places lives in the algo book only (ccxt 4.5.90 sends every conditional order of a swap to
`/fapi/v1/algoOrder`), so once its algo DELETE was sent, not found there means cancelled or
ended: the lookup after the cancel decides which. Real ccxt `binanceusdm` against the emulator on
127.0.0.1; the fault holds the answer after the DELETE landed."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchange import errors
from exchange.records import VenueOrderStatus
from tests.exchange.ccxt.ccxt_fixtures import (
    HELD_TIMEOUT_MS,
    FakeTime,
    make_gateway,
    start_emulator,
)

BTC = "BTC/USDT:USDT"
ALGO, PLAIN = "/fapi/v1/algoOrder", "/fapi/v1/order"


@pytest.fixture
def binance(tmp_path):
    emu = start_emulator("binanceusdm")
    gw = make_gateway("binanceusdm", emu, tmp_path, fake=FakeTime(), rate_limit_per_s=None,
                      timeout_ms=HELD_TIMEOUT_MS)
    try:
        gw.load_markets()
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e-1"})
        gw.place_stop(BTC, "sell", D("0.01"), D("49000"), "s-1")
        emu.clear()
        yield emu, gw
    finally:
        gw.close()
        emu.stop()


UNANSWERED = {
    "timeout": {"hold": "after"},  # the DELETE lands; its answer never comes
    "-1006": {"land": True, "status": 503, "body": {  # lands; "execution status unknown"
        "code": -1006, "msg": "An unexpected response was received from the message bus. "
                              "Execution status unknown."}},
}


@pytest.mark.parametrize("fault", sorted(UNANSWERED))
def test_a_stop_cancel_unanswered_after_landing_never_asks_the_plain_book(binance, fault):
    emu, gw = binance
    emu.fail_next(ALGO, **UNANSWERED[fault])
    with pytest.raises(errors.OrderNotFound):  # asked again: no longer open in the algo book
        gw.cancel_order(None, BTC, {"clientOrderId": "s-1", "trigger": True})
    assert len(emu.hits(ALGO, "DELETE")) == 2  # the landed one and the one asked again
    assert emu.hits(PLAIN, "DELETE") == []  # was 1: a stop is never in the plain book
    found = gw.fetch_order(None, BTC, {"clientOrderId": "s-1", "trigger": True})
    assert found.status is VenueOrderStatus.CANCELED  # the lookup after decides


def test_a_stop_cancel_answered_not_found_still_asks_the_plain_book(binance):
    """Unchanged: with no unanswered DELETE, a hinted cancel the algo book does not know goes on
    to the plain book (the hint only orders the books)."""
    emu, gw = binance
    gw.create_order(BTC, "limit", "buy", D("0.01"), D("40000"), {"clientOrderId": "k-1"})
    emu.clear()
    gw.cancel_order(None, BTC, {"clientOrderId": "k-1", "trigger": True})
    assert len(emu.hits(ALGO, "DELETE")) == 1 and len(emu.hits(PLAIN, "DELETE")) == 1
