"""Signal fields over the real HTTP endpoint: an id ending in a newline is refused (it used to
pass the id pattern, `$` matching before a final newline, and split log lines), and a key the
receiver does not know (a misspelled `size_usd`) is refused naming it instead of being ignored
(the signal then traded the default size)."""

from __future__ import annotations

import pytest
from loguru import logger

from signals.http_server import SignalHttpServer
from tests.signals.support import TOKEN, make_router, post

BTC = "BTC/USDT:USDT"


@pytest.fixture
def endpoint():
    router, journal, deliver = make_router()
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0)
    server.start()
    yield server, journal, deliver
    assert server.stop(timeout_s=5)


@pytest.mark.parametrize("sid", ["v4\n", "v4\r\n", "\nv4", "v 4"])
def test_an_id_with_a_newline_is_refused(endpoint, lines, sid):
    server, journal, deliver = endpoint
    status, body = post(server.url, {"id": sid, "symbol": BTC, "side": "exit"})
    assert (status, body["status"]) == (400, "rejected")
    assert body["reason"].startswith("id: must be a string")
    assert deliver.calls == [] and journal.of("SignalAccepted") == []
    assert all(line.count("\n") <= 1 and not line.startswith("v4") for line in lines)


def test_an_unknown_key_is_refused_naming_it(endpoint):
    server, journal, deliver = endpoint
    status, body = post(server.url, {"id": "ty1", "symbol": BTC, "side": "long", "size_usd": 5})
    assert (status, body["status"]) == (400, "rejected")
    assert body["reason"].startswith(
        "unknown key 'size_usd' (accepted: id, symbol, side, size_usdt")
    assert deliver.calls == []
    [(_, _, data, cid)] = journal.of("SignalRejected")
    assert cid == "ty1" and data["reason"] == body["reason"]


def test_every_documented_key_is_still_accepted(endpoint):
    server, _, deliver = endpoint
    signal = {"id": "ok1", "symbol": BTC, "side": "long", "size_usdt": "50", "stop": 90,
              "take_profit": 110, "expires_at": 4_000_000_000, "account": "main"}
    assert post(server.url, signal)[0] == 202
    [(symbol, sent)] = deliver.calls
    assert (symbol, sent.signal_id, str(sent.size_usdt)) == (BTC, "ok1", "50")


@pytest.mark.parametrize("size", [0, "0", "0.00"])
def test_a_zero_size_is_refused_not_traded_at_the_default_size(endpoint, size):
    """Mutation audit: `number <= 0` read as `number < 0` (signals/parsing.py `_positive`) let
    `"size_usdt": 0` through with 202, and the actor sizes an entry `size_usdt or
    risk.order_size_usdt` (trading/decide.py `on_signal`): a zero, a sender's template left
    blank, traded the default order size. It is refused, naming the field, and never
    delivered."""
    server, journal, deliver = endpoint
    status, body = post(server.url, {"id": "z1", "symbol": BTC, "side": "long",
                                      "size_usdt": size})
    assert (status, body["status"]) == (400, "rejected"), body
    assert body["reason"].startswith("size_usdt: must be a finite number > 0"), body
    assert deliver.calls == [] and journal.of("SignalAccepted") == []
    [(_, _, data, cid)] = journal.of("SignalRejected")
    assert cid == "z1" and data["reason"] == body["reason"]
