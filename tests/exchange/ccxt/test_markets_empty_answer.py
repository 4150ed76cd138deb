"""A markets answer that lists no market at all (Bybit retCode 0 with an empty list, Binance
exchangeInfo without symbols) is unreadable, like a network failure: the stale cache is used
and kept. It was saved over the cache as the venue's markets: the bot read no market at all
(every symbol unknown) and the good cache was gone. Real gateway, real ccxt, emulators."""

from __future__ import annotations

import json

import pytest

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator

EMPTY = {
    "bybit": ("/v5/market/instruments-info",
              {"retCode": 0, "retMsg": "OK", "time": 0, "retExtInfo": {},
               "result": {"category": "linear", "list": [], "nextPageCursor": ""}}),
    "binanceusdm": ("/fapi/v1/exchangeInfo", {"timezone": "UTC", "serverTime": 0,
                                              "rateLimits": [], "symbols": []}),
}


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
def test_an_empty_markets_answer_keeps_the_stale_cache(tmp_path, venue):
    emu = start_emulator(venue)
    cache, fake = tmp_path / "markets.json", FakeTime()
    try:
        first = make_gateway(venue, emu, tmp_path, cache=cache, fake=fake)
        listed = set(first.load_markets())
        first.close()
        assert "BTC/USDT:USDT" in listed
        fake.now += 2 * 86_400  # the cache is older than its 24 h: the venue is asked
        path, body = EMPTY[venue]
        emu.fail_next(path, 20, body=body)
        again = make_gateway(venue, emu, tmp_path, cache=cache, fake=fake)
        assert set(again.load_markets()) == listed
        again.close()
        assert set(json.loads(cache.read_text())["markets"]) >= listed
    finally:
        emu.stop()


def test_an_empty_markets_answer_without_a_cache_is_an_error(tmp_path):
    emu = start_emulator("bybit")
    try:
        path, body = EMPTY["bybit"]
        emu.fail_next(path, 20, body=body)
        gw = make_gateway("bybit", emu, tmp_path, cache=tmp_path / "none.json")
        with pytest.raises(errors.TemporaryError, match="answered no markets at all"):
            gw.load_markets()
        gw.close()
    finally:
        emu.stop()


@pytest.mark.parametrize("strip", ["filters", "values"])
def test_markets_without_their_precision_keep_the_stale_cache(tmp_path, strip):
    """Found by review: an answer whose markets all lack their precision (Bybit rows with empty
    filters) was saved over a good cache; the start then refused every symbol until that cache
    aged out (24 h). Rows without the filters made ccxt's parser raise a TypeError, which ended
    the start though the cache was there. Both are unreadable answers, like an empty one."""
    emu = start_emulator("bybit")
    cache, fake = tmp_path / "markets.json", FakeTime()
    try:
        first = make_gateway("bybit", emu, tmp_path, cache=cache, fake=fake)
        listed = set(first.load_markets())
        first.close()
        fake.now += 2 * 86_400
        if strip == "filters":  # ccxt's parser raises on these (TypeError)
            bare = [{k: v for k, v in row.items() if k not in ("priceFilter", "lotSizeFilter")}
                    for row in emu.venue.instruments]
        else:  # read, with no precision
            bare = [{**row, "priceFilter": {}, "lotSizeFilter": {}}
                    for row in emu.venue.instruments]
        path, body = EMPTY["bybit"]
        emu.fail_next(path, 20, body={**body, "result": {**body["result"], "list": bare}})
        again = make_gateway("bybit", emu, tmp_path, cache=cache, fake=fake)
        markets = again.load_markets()
        again.close()
        assert set(markets) == listed
        assert all(m.price_tick > 0 for m in markets.values())
        saved = json.loads(cache.read_text())["markets"]
        assert all(m["precision"]["price"] is not None for m in saved.values())
    finally:
        emu.stop()
