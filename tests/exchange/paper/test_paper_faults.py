"""Fault injection through the port, and the submissions log."""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest

from exchange import errors
from exchange.paper import PaperExchange
from tests.exchange.paper.paper_support import BTC, ETH


def test_fault_before_accept_leaves_no_order(ex: PaperExchange) -> None:
    ex.faults.fail_next("create_order", 1, errors.NetworkError("connection reset"))
    with pytest.raises(errors.NetworkError, match="connection reset"):
        ex.create_order(BTC, "market", "buy", D("0.01"), params={"clientOrderId": "n1"})
    with pytest.raises(errors.OrderNotFound):
        ex.fetch_order(None, BTC, {"clientOrderId": "n1"})
    assert ex.fetch_positions() == []
    # the id was never accepted, so a retry with it goes through
    retry = ex.create_order(BTC, "market", "buy", D("0.01"), params={"clientOrderId": "n1"})
    assert retry.status == "closed"
    assert [s["outcome"] for s in ex.submissions("n1")] == ["fault", "accepted"]
    assert "NetworkError" in ex.submissions("n1")[0]["error"]


def test_timeout_after_accept_order_exists(ex: PaperExchange) -> None:
    ex.faults.fail_next("create_order", 1, errors.RequestTimeout("timed out"), after_accept=True)
    with pytest.raises(errors.RequestTimeout):
        ex.create_order(BTC, "market", "buy", D("0.01"), params={"clientOrderId": "t1"})
    found = ex.fetch_order(None, BTC, {"clientOrderId": "t1"})
    assert found.status == "closed" and found.filled == D("0.01")
    assert ex.fetch_positions()[0].contracts == D("0.01")
    # a naive retry with the same id is refused: the exchange already has it
    with pytest.raises(errors.InvalidOrder, match="duplicate clientOrderId"):
        ex.create_order(BTC, "market", "buy", D("0.01"), params={"clientOrderId": "t1"})
    subs = ex.submissions("t1")
    assert [s["outcome"] for s in subs] == ["accepted", "rejected"]
    assert subs[0]["orderId"] == found.id and "RequestTimeout" in subs[0]["error"]


def test_after_accept_resting_order_can_be_canceled(ex: PaperExchange) -> None:
    ex.faults.fail_next("create_order", 1, errors.RequestTimeout("lost"), after_accept=True)
    with pytest.raises(errors.RequestTimeout):
        ex.create_order(ETH, "limit", "buy", D("1"), D("2500"), {"clientOrderId": "r1"})
    assert [o.client_order_id for o in ex.fetch_open_orders(ETH)] == ["r1"]
    assert ex.cancel_order(None, ETH, {"clientOrderId": "r1"}).status == "canceled"


def test_match_count_and_clear(ex: PaperExchange) -> None:
    ex.faults.fail_next("create_order", 2, errors.ExchangeUnavailable("maintenance"),
                        match=lambda call: call["symbol"] == ETH)
    ex.create_order(BTC, "market", "buy", D("0.01"))  # does not match: passes
    for _ in range(2):
        with pytest.raises(errors.ExchangeUnavailable):
            ex.create_order(ETH, "market", "buy", D("1"))
    ex.create_order(ETH, "market", "buy", D("1"))  # the two are used up
    ex.faults.fail_next("fetch_balance", 5, errors.NetworkError("x"))
    ex.faults.clear()
    assert ex.fetch_balance().funds("USDT").total > 0


def test_faults_on_read_methods(ex: PaperExchange) -> None:
    ex.faults.fail_next("fetch_positions", 1, errors.RequestTimeout("slow"))
    with pytest.raises(errors.RequestTimeout):
        ex.fetch_positions()
    assert ex.fetch_positions() == []
    order = ex.create_order(ETH, "limit", "buy", D("1"), D("2500"))
    ex.faults.fail_next("cancel_order", 1, errors.RequestTimeout("lost"), after_accept=True)
    with pytest.raises(errors.RequestTimeout):
        ex.cancel_order(order.id, ETH)
    assert ex.fetch_order(order.id, ETH).status == "canceled"


def test_fault_injection_is_thread_safe(ex: PaperExchange) -> None:
    ex.faults.fail_next("fetch_tickers", 50, errors.NetworkError("flaky"))
    failures = []

    def worker() -> None:
        for _ in range(10):
            try:
                ex.fetch_tickers([BTC])
            except errors.NetworkError:
                failures.append(1)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(failures) == 50 and ex.faults.pending() == 0


def test_every_attempt_is_recorded(ex: PaperExchange) -> None:
    with pytest.raises(errors.BadSymbol):
        ex.create_order("NOPE/USDT:USDT", "market", "buy", D(1), params={"clientOrderId": "z"})
    with pytest.raises(errors.InvalidOrder):
        ex.create_order(BTC, "market", "buy", D("0.0001"), params={"clientOrderId": "z"})
    ex.create_order(BTC, "market", "buy", D("0.001"), params={"clientOrderId": "z", "x": D("1.5")})
    subs = ex.submissions()
    assert [s["outcome"] for s in subs] == ["rejected", "rejected", "accepted"]
    assert subs[-1]["params"] == {"clientOrderId": "z", "x": "1.5"}
    assert subs[-1]["amount"] == D("0.001") and subs[-1]["symbol"] == BTC
