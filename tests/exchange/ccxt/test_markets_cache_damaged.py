"""A markets cache that is JSON for this exchange but holds markets ccxt cannot take (a hand
edit, a damaged disk: a market that is `null`, a list, a dict without ccxt's fields) is ignored
with one warning naming the file, and the markets are read from the venue (and saved over it).
It raised TypeError / KeyError ('spot') out of load_markets, and being fresh it was never
replaced: every start failed with a traceback until it aged out (24 h). Real gateway, real
ccxt bybit, the emulator on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from loguru import logger

from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator

BTC = "BTC/USDT:USDT"


@pytest.mark.parametrize("markets", [{BTC: None}, {BTC: []}, {BTC: {"id": "BTCUSDT"}},
                                     {BTC: {"symbol": 5}}],
                         ids=["null", "list", "no-fields", "bad-symbol"])
def test_a_damaged_cache_is_ignored_and_replaced(tmp_path, markets):
    emu = start_emulator("bybit")
    fake, cache = FakeTime(), tmp_path / "markets.json"
    cache.write_text(json.dumps({"exchange": "bybit", "saved_at_ms": int(fake.now * 1000),
                                 "markets": markets}))
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        gw = make_gateway("bybit", emu, tmp_path, cache=cache, fake=fake)
        assert BTC in gw.load_markets()
        assert gw.market(BTC).price_tick > 0
        assert [line for line in lines if f"markets cache {cache} unreadable" in line]
        saved = json.loads(cache.read_text())["markets"]
        assert isinstance(saved[BTC], dict) and saved[BTC]["symbol"] == BTC
        gw.close()
    finally:
        logger.remove(sink)
        emu.stop()
