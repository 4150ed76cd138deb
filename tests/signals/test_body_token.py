"""The token in the signal's JSON, for senders that cannot set a header: TradingView's alert
webhooks (named in config.toml) send only the alert's message. Found by review: the endpoint
took the token from headers only, so such a sender could not be let in at all. The field is
checked like the header and taken out before the signal is read, journaled or answered: no
trace of it in the journal, the delivery or the log. Real HTTP on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from loguru import logger

from signals.http_server import SignalHttpServer
from tests.signals.support import TOKEN, make_router, post

BTC = "BTC/USDT:USDT"


@pytest.fixture
def lines():
    seen: list[str] = []
    sink = logger.add(lambda m: seen.append(str(m)), level="DEBUG")
    yield seen
    logger.remove(sink)


def serve():
    router, journal, deliver = make_router()
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0)
    server.start()
    return server, journal, deliver


def test_a_signal_carrying_the_token_in_its_json_is_let_in_and_the_token_kept_nowhere(lines):
    server, journal, deliver = serve()
    try:
        body = {"id": "tv1", "symbol": BTC, "side": "long", "token": TOKEN}
        assert post(server.url, body, token=None) == (202, {"status": "accepted", "id": "tv1"})
        assert len(deliver.calls) == 1
        # a wrong or empty one is refused as a wrong header is: nothing journaled or routed
        for wrong in ("wrong-token-of-some-length", "", 7):
            body = {"id": "tv2", "symbol": BTC, "side": "long", "token": wrong}
            assert post(server.url, body, token=None)[0] == 401
        # with the header as well, the field is still taken out (not refused as an unknown key)
        body = {"id": "tv3", "symbol": BTC, "side": "short", "token": TOKEN}
        assert post(server.url, body)[0] == 202
        # a rejected one (unknown symbol) is journaled without it too
        body = {"id": "tv4", "symbol": "DOGE/USDT:USDT", "side": "long", "token": TOKEN}
        assert post(server.url, body, token=None)[0] == 422
    finally:
        assert server.stop(timeout_s=5)
    assert [c[1].signal_id for c in deliver.calls] == ["tv1", "tv3"]
    assert journal.entries and not any("tv2" in json.dumps(e, default=str)
                                       for e in journal.entries)
    recorded = json.dumps(journal.entries, default=str) + repr(deliver.calls)
    assert TOKEN not in recorded
    assert not any(TOKEN in line for line in lines)
