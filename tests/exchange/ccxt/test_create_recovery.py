"""A create that may have landed is looked up, never resent, and after a send no error claims
that nothing was sent: the real gateway (real ccxt classes, real HTTP) against the emulators,
whose faults let the order land before the answer fails (`land=True`, `hold="drop"`)."""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest
from loguru import logger

from exchange.ccxt.gateway import CcxtGateway
from exchange.ccxt.secrets import Credentials
from exchange.errors import OrderOutcomeUnknown
from exchange.fence import CallScope, FenceBoard, call_scope
from tests.exchange.ccxt.ccxt_fixtures import (
    API_KEY,
    API_SECRET,
    HELD_TIMEOUT_MS,
    FakeTime,
    factory_for,
    gateway_on_emulator,
    start_emulator,
    warning_lines,
)

BTC = "BTC/USDT:USDT"
BYBIT_NONE = {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": [],
                                                       "nextPageCursor": ""},
              "retExtInfo": {}, "time": 0}
"""A Bybit order list with nothing in it (the venue's read side lags behind the order)."""
BINANCE_NONE = {"code": -2013, "msg": "Order does not exist."}


def buy(gw: CcxtGateway, cid: str):
    return gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": cid})


def held(gw: CcxtGateway) -> list[tuple[str, D]]:
    return [(p.symbol, p.contracts) for p in gw.fetch_positions([BTC])]


@pytest.fixture
def binance(tmp_path):
    with gateway_on_emulator("binanceusdm", tmp_path) as pair:
        yield pair


@pytest.fixture
def bybit(tmp_path):
    with gateway_on_emulator("bybit", tmp_path, timeout_ms=HELD_TIMEOUT_MS) as pair:
        yield pair


def test_a_5xx_after_the_order_landed_is_never_resent(binance):
    """Binance answered 502 after the order filled, and its read side lags: the old gateway
    called ExchangeNotAvailable retryable, did not find the order twice and resent the same
    client id, which Binance accepts once the first order is no longer open: two fills."""
    gw, emu = binance
    emu.fail_next("/fapi/v1/order", status=502, land=True)
    emu.fail_next("/fapi/v1/order", 2, status=400, body=BINANCE_NONE)  # both lookups
    with pytest.raises(OrderOutcomeUnknown) as info:
        buy(gw, "dup-1")
    assert info.value.client_order_id == "dup-1"
    assert [r.params["newClientOrderId"] for r in emu.hits("/fapi/v1/order", "POST")] == [
        "dup-1"]
    assert held(gw) == [(BTC, D("0.01"))]


def test_a_connection_dropped_after_the_request_is_never_resent(bybit):
    """The connection closed after the request was written (ccxt: NetworkError). Between its
    two lookups the log says the lookup found nothing yet: it said `lookup of drop-1 failed
    (NetworkError: ... /v5/order/create); retry 1/4`, the create's error as the lookup's and
    retries that never come (found reading a live chaos run's log)."""
    gw, emu = bybit
    emu.fail_next("/v5/order/create", hold="drop")
    emu.fail_next("/v5/order/realtime", 2, body=BYBIT_NONE)
    emu.fail_next("/v5/order/history", 2, body=BYBIT_NONE)
    lines, sink = warning_lines()
    try:
        with pytest.raises(OrderOutcomeUnknown) as info:
            buy(gw, "drop-1")
    finally:
        logger.remove(sink)
    assert info.value.client_order_id == "drop-1"
    assert len(emu.hits("/v5/order/create")) == 1
    assert held(gw) == [(BTC, D("0.01"))]
    looks = [line for line in lines if "looking again" in line]
    assert len(looks) == 1 and "create drop-1 failed (NetworkError" in looks[0]
    assert "its lookup by client order id found nothing yet" in looks[0]
    assert not [line for line in lines if "lookup of drop-1 failed" in line]


@pytest.mark.parametrize(("venue", "status", "body"), [
    ("binanceusdm", 503, {"code": -1006, "msg": "An unexpected response was received from the "
                          "message bus. Execution status unknown."}),
    ("binanceusdm", 500, {"code": -1000, "msg": "An unknown error occured while processing the "
                          "request."}),
    ("bybit", 200, {"retCode": 10000, "retMsg": "Server Timeout", "result": {},
                    "retExtInfo": {}, "time": 0}),
    ("bybit", 200, {"retCode": 10016, "retMsg": "System error. Please try again later.",
                    "result": {}, "retExtInfo": {}, "time": 0}),
])
def test_execution_status_unknown_is_looked_up_not_permanent(tmp_path, venue, status, body):
    """ccxt raises OperationFailed (Binance -1000, -1006) or a plain ExchangeError (Bybit 10000,
    10016) for these: the old gateway raised PermanentError at once, though the order filled."""
    with gateway_on_emulator(venue, tmp_path) as (gw, emu):
        path = "/v5/order/create" if venue == "bybit" else "/fapi/v1/order"
        emu.fail_next(path, status=status, body=body, land=True)
        order = buy(gw, "unk-1")
        assert order.client_order_id == "unk-1" and order.filled == D("0.01")
        assert len(emu.hits(path, "POST")) == 1


def test_the_lookup_waits_out_the_venues_block_and_finds_the_order(tmp_path):
    """The create timed out after landing; the lookup's venue says "too many" until 40 s from
    now. The lookup is protective (its answer decides the landed entry's stop), so it waits
    the block out and finds the order; at reconcile priority the budget refused it (beyond the
    30 s bound), and before that the refusal escaped from create_order as BudgetRefused,
    saying nothing was sent."""
    fake = FakeTime()
    with gateway_on_emulator("bybit", tmp_path, fake=fake,
                             timeout_ms=HELD_TIMEOUT_MS) as (gw, emu):
        emu.fail_next("/v5/order/create", hold="after")
        emu.fail_next("/v5/order/realtime", body={"retCode": 10006, "retMsg": "Too many visits!",
                                                  "result": {}, "retExtInfo": {}},
                      headers={"X-Bapi-Limit-Status": "0", "X-Bapi-Limit": "10",
                               "X-Bapi-Limit-Reset-Timestamp": str(int(fake.now + 40) * 1000)})
        start = fake.now
        order = buy(gw, "b-1")
        assert order.client_order_id == "b-1" and order.filled == D("0.01")
        assert fake.now - start >= 39  # waited for the venue's reset (40 s on), asked again
        assert len(emu.hits("/v5/order/create")) == 1


def test_a_fence_lost_during_the_lookup_ends_in_outcome_unknown(tmp_path):
    """The supervisor replaces the actor while the gateway waits between its two lookups:
    Fenced ("nothing was sent") used to escape though the create had gone out."""
    fake, fences = FakeTime(), FenceBoard()
    emu = start_emulator("bybit")

    def sleep(seconds: float) -> None:
        fake.sleep(seconds)
        if seconds >= 0.5:  # the backoff between the lookups
            fences.issue(BTC)

    try:
        gw = CcxtGateway(factory_for("bybit", emu), markets_cache=tmp_path / "m.json",
                         credentials=Credentials(API_KEY, API_SECRET, source="test"),
                         clock=fake.clock, monotonic=fake.clock, sleep=sleep,
                         rng=random.Random(7), timeout_ms=HELD_TIMEOUT_MS)
        gw.load_markets()
        emu.fail_next("/v5/order/create", hold="before")
        with call_scope(CallScope(fence=fences.issue(BTC))), \
                pytest.raises(OrderOutcomeUnknown, match="Fenced") as info:
            buy(gw, "f-1")
        assert info.value.client_order_id == "f-1"
        assert len(emu.hits("/v5/order/create")) == 1
        assert len(emu.hits("/v5/order/realtime")) == 1  # the second lookup was fenced
    finally:
        emu.stop()


@pytest.mark.parametrize(("reset_s", "status", "filled"), [
    (4, "closed", D("0.01")),  # waits out the reset at protective priority: the full order
    (40, "closed", D("0.01")),  # past a reconcile's bound too: still waited out (protective)
])
def test_a_sparse_answers_refetch_never_fails_the_sent_order(tmp_path, reset_s, status, filled):
    """Bybit answers a create with ids only; the re-fetch's venue says "too many" for a few
    seconds. The re-fetch ran at the entry's priority (2 s bound) and its BudgetRefused escaped
    from create_order, saying nothing was sent; then at reconcile priority, where a longer
    block returned the order as sent (its fill unknown, so its stop waited). Its answer
    decides the entry's stop: protective, it waits the venue's block out."""
    fake = FakeTime()
    with gateway_on_emulator("bybit", tmp_path, fake=fake) as (gw, emu):
        reset_ms = int((fake.now + reset_s) * 1000)
        emu.fail_next("/v5/order/realtime", body={"retCode": 10006, "retMsg": "Too many visits!",
                                                  "result": {}, "retExtInfo": {}},
                      headers={"X-Bapi-Limit-Status": "0", "X-Bapi-Limit": "10",
                               "X-Bapi-Limit-Reset-Timestamp": str(reset_ms)})
        order = buy(gw, "s-1")
        assert (order.client_order_id, order.status, order.filled) == ("s-1", status, filled)
        assert order.amount == D("0.01") and len(emu.hits("/v5/order/create")) == 1


def test_a_refused_fee_read_returns_the_filled_order_without_its_fee(tmp_path):
    """Binance's create answer says the IP's minute is spent (the budget then sends nothing for
    the 40 s to the minute's turn). A fee read of the filled order (userTrades) then was
    refused, and that BudgetRefused used to escape from create_order after the order had
    filled; a create no longer reads its fee at all (a later lookup does)."""
    fake = FakeTime()  # 40 s before the minute turns
    with gateway_on_emulator("binanceusdm", tmp_path, fake=fake,
                             rate_limit_per_s=None) as (gw, emu):
        emu.fail_next("/fapi/v1/order", land=True, headers={"X-MBX-USED-WEIGHT-1M": "2400"})
        order = buy(gw, "fee-1")
        assert (order.client_order_id, order.filled, order.fee) == ("fee-1", D("0.01"), None)
        assert len(emu.hits("/fapi/v1/order", "POST")) == 1
        assert emu.hits("/fapi/v1/userTrades") == []  # refused locally, never sent
