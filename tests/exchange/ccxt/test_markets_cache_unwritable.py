"""A markets cache that cannot be written (its directory is a file, a read-only mount, a full
disk) leaves the markets the venue just answered in use, with one warning naming the file:
the cache only spares a later start a slow venue. The write's OSError left load_markets after
the markets had been read, so the start failed on the cache alone. Real gateway, real ccxt
bybit, the emulator on 127.0.0.1."""

from __future__ import annotations

from loguru import logger

from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator

BTC = "BTC/USDT:USDT"


def test_an_unwritable_cache_leaves_the_fetched_markets_in_use(tmp_path):
    (tmp_path / "taken").write_text("a file where the cache's directory would be")
    cache = tmp_path / "taken" / "markets.json"
    emu = start_emulator("bybit")
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        gw = make_gateway("bybit", emu, tmp_path, cache=cache)
        assert BTC in gw.load_markets()
        assert gw.market(BTC).price_tick > 0
        assert [line for line in lines if f"markets cache {cache} could not be written" in line]
        gw.close()
    finally:
        logger.remove(sink)
        emu.stop()
