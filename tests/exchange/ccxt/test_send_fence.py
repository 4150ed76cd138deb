"""The last check before the wire: a request ccxt has signed is fenced again just before it is
sent, and the venue is told to refuse a signed request older than our own request timeout
(recvWindow), so a process held up between the two (SIGSTOP, a frozen VM) cannot act late.
Real ccxt classes against the Bybit emulator on 127.0.0.1. The venue's side (a request signed
longer than its recv_window ago is refused with 10002) is Bybit's rule as the paper server
enforces it: tests/exchange/paper_server/test_paper_server_auth.py."""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest

from cluster.lease import LeaseLost
from exchange.ccxt.instances import bound_recv_window
from exchange.fence import CallScope, FenceBoard, call_scope
from tests.exchange.ccxt.ccxt_fixtures import factory_for, make_gateway, start_emulator

BTC = "BTC/USDT:USDT"


def test_the_lease_lost_after_signing_stops_the_request_before_the_wire(tmp_path):
    emu = start_emulator("bybit")
    try:
        gw = make_gateway("bybit", emu, tmp_path)
        gw.load_markets()
        lost = threading.Event()
        board = FenceBoard()

        def lease() -> None:
            if lost.is_set():
                raise LeaseLost("acct", 3, "node-a")

        board.account_check = lease
        inst = gw._pool.get()  # noqa: SLF001 - the calling thread's ccxt instance
        signing = inst.sign

        def sign_then_lose(path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            request = signing(path, *args, **kwargs)
            if path == "v5/order/create":
                lost.set()  # the node's deadline passes right after ccxt signed the order
            return request

        inst.sign = sign_then_lose
        with call_scope(CallScope(fence=board.issue(BTC))), pytest.raises(LeaseLost):
            gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "w-1"})
        assert lost.is_set() and emu.hits("/v5/order/create") == []
    finally:
        emu.stop()


@pytest.mark.parametrize(("exchange_id", "timeout_ms", "window"), [
    ("bybit", 1000, 1000), ("bybit", 10_000, 5000),
    ("binanceusdm", 2500, 2500), ("binanceusdm", 30_000, 10_000)])
def test_recv_window_never_exceeds_the_request_timeout(exchange_id, timeout_ms, window):
    emu = start_emulator(exchange_id)
    try:
        inst = factory_for(exchange_id, emu)()
        inst.timeout = timeout_ms
        bound_recv_window(inst)
        assert inst.options["recvWindow"] == window
    finally:
        emu.stop()

