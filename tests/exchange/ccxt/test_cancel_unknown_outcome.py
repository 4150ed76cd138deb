"""Bybit retCode 10000 "Server Timeout" (and 10016 "System error") on a cancel leaves its
outcome unknown, as on a create: the cancel may have happened. The gateway asks again (a cancel
that happened is then "not found", and the caller looks the order up); still unsettled after
its last attempt it is a temporary error (RequestTimeout), never a permanent refusal. Real ccxt
`bybit` against the emulator, the fault answering after the cancel landed."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from loguru import logger

from actors.command_executor import CommandExecutor
from exchange import errors
from exchange.records import VenueOrderStatus
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator
from trading.commands import CancelOrder
from trading.events import OrderCanceled

BTC = "BTC/USDT:USDT"
CANCEL = "/v5/order/cancel"
TIMEOUT = {"retCode": 10000, "retMsg": "Server Timeout", "result": {}, "retExtInfo": {},
           "time": 0}
SYSTEM = {"retCode": 10016, "retMsg": "System error. Please try again later.", "result": {},
          "retExtInfo": {}, "time": 0}


@pytest.fixture
def bybit(tmp_path):
    emu = start_emulator("bybit")
    gw = make_gateway("bybit", emu, tmp_path, fake=FakeTime(), rate_limit_per_s=None)
    gw.load_markets()
    gw.create_order(BTC, "limit", "buy", D("0.01"), D("40000"), {"clientOrderId": "k-1"})
    yield emu, gw
    emu.stop()


def cancelled(gw) -> bool:  # noqa: ANN001
    found = gw.fetch_order(None, BTC, {"clientOrderId": "k-1"})
    return found.status is VenueOrderStatus.CANCELED


@pytest.mark.parametrize("body", [TIMEOUT, SYSTEM], ids=["10000", "10016"])
def test_a_cancel_answered_server_timeout_is_asked_again_and_found_done(bybit, body):
    emu, gw = bybit
    emu.fail_next(CANCEL, body=body, land=True)
    with pytest.raises(errors.OrderNotFound):  # the second cancel: nothing open to cancel
        gw.cancel_order(None, BTC, {"clientOrderId": "k-1"})
    assert cancelled(gw)


def test_a_cancel_that_stays_unanswered_is_temporary_and_the_lookup_finds_it_done(bybit):
    emu, gw = bybit
    emu.fail_next(CANCEL, n=gw.retry.max_attempts, body=TIMEOUT, land=True)
    with pytest.raises(errors.RequestTimeout):
        gw.cancel_order(None, BTC, {"clientOrderId": "k-1"})
    assert len(emu.hits(CANCEL)) == gw.retry.max_attempts
    assert cancelled(gw)


def test_the_actor_books_the_cancel_a_server_timeout_hid(bybit):
    """Before: 'cancel k-1 failed: PermanentError' and nothing booked; the order stayed live
    in the actor's books until a reconciliation cancelled it once more."""
    emu, gw = bybit
    emu.fail_next(CANCEL, body=TIMEOUT, land=True)
    executor = CommandExecutor(BTC, gw, on_escalate=lambda s, e: None, log=logger)
    events = executor.execute(CancelOrder(client_order_id="k-1", exchange_id=None))
    assert events == [OrderCanceled(client_order_id="k-1")]
