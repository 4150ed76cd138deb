"""The shared paper exchange over HTTP: real ccxt bybit clients against a real server process
on 127.0.0.1 (`python -m exchange.paper_server`)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import ccxt
import pytest

from tests.exchange.paper_server.server_support import ServerProcess, bybit_client

BTC = "BTC/USDT:USDT"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(store=tmp_path / "shared_paper.sqlite").start()
    yield proc
    assert proc.stop() == 0


def _stop_price(client: ccxt.bybit) -> float:
    last = Decimal(str(client.fetch_ticker(BTC)["last"]))
    return float(client.price_to_precision(BTC, float(last * Decimal("0.8"))))


def test_market_order_stop_and_fetches_seen_by_two_clients(server: ServerProcess) -> None:
    a, b = bybit_client(server), bybit_client(server)
    markets = a.load_markets()
    assert BTC in markets and markets[BTC]["precision"]["amount"] == 0.001
    entry = a.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "n1-e-1"})
    stop_px = _stop_price(a)
    stop = a.create_order(BTC, "market", "sell", 0.01, None,
                          {"clientOrderId": "n1-s-1", "stopLossPrice": stop_px})
    assert entry["id"] and stop["id"] and stop["clientOrderId"] == "n1-s-1"

    for client in (a, b):  # the second client sees exactly the first one's state
        positions = [p for p in client.fetch_positions([BTC]) if p["contracts"]]
        assert len(positions) == 1
        assert positions[0]["side"] == "long" and positions[0]["contracts"] == 0.01
        opened = client.fetch_open_orders(BTC)
        assert [(o["clientOrderId"], o["side"], o["reduceOnly"]) for o in opened] == \
               [("n1-s-1", "sell", True)]
        assert opened[0]["triggerPrice"] == stop_px
        trades = client.fetch_my_trades(BTC)
        assert [(t["order"], t["amount"], t["side"]) for t in trades] == \
               [(entry["id"], 0.01, "buy")]
        filled = client.fetch_closed_order(entry["id"], BTC)
        assert filled["status"] == "closed" and filled["filled"] == 0.01
    assert a.fetch_balance()["USDT"]["total"] == b.fetch_balance()["USDT"]["total"]

    b.cancel_order(stop["id"], BTC)  # one client cancels, the other sees it gone
    assert a.fetch_open_orders(BTC) == []
    assert a.fetch_canceled_and_closed_orders(BTC, None, None,
                                              {"orderLinkId": "n1-s-1"})[0]["status"] == \
        "canceled"


def test_errors_come_back_as_ccxt_error_classes(server: ServerProcess) -> None:
    client = bybit_client(server)
    client.load_markets()
    client.create_order(BTC, "market", "buy", 0.001, None, {"clientOrderId": "dup-1"})
    with pytest.raises(ccxt.InvalidOrder, match="duplicate"):
        client.create_order(BTC, "market", "buy", 0.001, None, {"clientOrderId": "dup-1"})
    with pytest.raises(ccxt.OrderNotFound):
        client.cancel_order("999999", BTC)
    with pytest.raises(ccxt.InsufficientFunds):
        client.create_order(BTC, "market", "buy", 50, None, {"clientOrderId": "big-1"})
    with pytest.raises(ccxt.BadRequest, match="amend is not supported"):
        client.edit_order("1", BTC, "market", "sell", None, None, {"triggerPrice": 1000})


def test_wrong_secret_is_refused_and_nothing_is_placed(server: ServerProcess) -> None:
    intruder = bybit_client(server, secret="not-the-secret")
    with pytest.raises(ccxt.AuthenticationError, match="error sign"):
        intruder.load_markets()  # with a key set, ccxt reads the (private) coin list too
    intruder.markets = bybit_client(server).load_markets()
    with pytest.raises(ccxt.AuthenticationError, match="error sign"):
        intruder.create_order(BTC, "market", "buy", 0.01, None, {"clientOrderId": "x-1"})
    assert bybit_client(server).fetch_my_trades(BTC) == []


def test_state_survives_a_server_restart(tmp_path: Path) -> None:
    store = tmp_path / "shared_paper.sqlite"
    first = ServerProcess(store=store).start()
    try:
        client = bybit_client(first)
        client.load_markets()
        client.create_order(BTC, "market", "sell", 0.02, None, {"clientOrderId": "r-1"})
    finally:
        assert first.stop() == 0
    second = ServerProcess(store=store).start()
    try:
        positions = [p for p in bybit_client(second).fetch_positions([BTC]) if p["contracts"]]
        assert [(p["side"], p["contracts"]) for p in positions] == [("short", 0.02)]
    finally:
        assert second.stop() == 0


def test_port_zero_binds_a_port_of_its_own_and_names_it_in_its_log(tmp_path: Path) -> None:
    """`--port 0` (what every test here uses, so no other process can take a port between
    the test choosing it and the server binding it): the first log line used to say ':0'."""
    server = ServerProcess(store=tmp_path / "shared_paper.sqlite").start()
    try:
        assert server.port != 0
        assert f"on http://127.0.0.1:{server.port} (store" in server.output
        assert bybit_client(server).fetch_time() > 0
    finally:
        assert server.stop() == 0
