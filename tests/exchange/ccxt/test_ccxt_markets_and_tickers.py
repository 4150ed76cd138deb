"""Markets cache (atomic, fresh/stale policy) and the LiveTickerSource."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal as D

import pytest
from loguru import logger

from exchange import errors
from exchange.ccxt import markets_cache
from exchange.ccxt.tickers import LiveTickerSource
from exchange.records import VenueTicker
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "sub" / "m.json"
    markets_cache.save(path, "bybit", {"A": {"id": "a"}}, 5)
    markets_cache.save(path, "bybit", {"B": {"id": "b"}}, 6)
    assert json.loads(path.read_text()) == {"exchange": "bybit", "saved_at_ms": 6,
                                            "markets": {"B": {"id": "b"}}}
    assert [p.name for p in path.parent.iterdir()] == ["m.json"]
    assert markets_cache.read(path, "binanceusdm") is None  # other exchange's cache ignored


def test_fresh_cache_skips_fetch_and_stale_cache_refetches():
    calls = []
    x = {"X": {"precision": {"amount": 0.001, "price": 0.1}}}  # a market the bot can trade
    old_ = {"OLD": {"precision": {"amount": 0.001, "price": 0.1}}}
    fetch = lambda: calls.append(1) or x  # noqa: E731
    import tempfile
    from pathlib import Path

    path = Path(tempfile.mkdtemp()) / "m.json"
    markets_cache.save(path, "bybit", old_, now_ms=1_000)
    got = markets_cache.load_or_fetch(path, "bybit", fetch, max_age_s=10, now_ms=lambda: 5_000)
    assert got == old_ and calls == []
    got = markets_cache.load_or_fetch(path, "bybit", fetch, max_age_s=1, now_ms=lambda: 5_000)
    assert got == x and calls == [1]
    assert markets_cache.read(path, "bybit") == (5_000, x)


def test_unreachable_exchange_falls_back_to_stale_cache_with_warning(tmp_path):
    emu = start_emulator("bybit")
    cache = tmp_path / "m.json"
    fake = FakeTime()
    make_gateway("bybit", emu, tmp_path, cache=cache, fake=fake).load_markets()
    fake.now += 10 * 86_400  # the cache is now 10 days old
    emu.clear()
    emu.fail_next("/v5/asset/coin/query-info", 5, status=503, body="Service Unavailable")
    lines: list[str] = []
    sink = logger.add(lines.append, level="WARNING")
    try:
        gw = make_gateway("bybit", emu, tmp_path, cache=cache, fake=fake)
        assert "BTC/USDT:USDT" in gw.load_markets()
    finally:
        logger.remove(sink)
        emu.stop()
    assert any("using cache" in line for line in lines)
    assert len(emu.hits("/v5/asset/coin/query-info")) == 1  # one try when a cache exists


def test_no_cache_and_unreachable_exchange_raises(tmp_path):
    emu = start_emulator("bybit")
    emu.fail_next("/v5/asset/coin/query-info", 10, status=503, body="Service Unavailable")
    try:
        gw = make_gateway("bybit", emu, tmp_path, max_attempts=2)
        with pytest.raises(errors.ExchangeUnavailable):
            gw.load_markets()
    finally:
        emu.stop()


class _Tickers:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.price = D("100")
        self.stamp: int | None = None
        """The venue's timestamp of the next answers (None: 1000 ms a poll)."""

    def fetch_tickers(self, symbols=None):
        self.calls.append(list(symbols))
        at = self.stamp if self.stamp is not None else 1_000 * len(self.calls)
        return {s: VenueTicker(symbol=s, last=self.price, timestamp=at) for s in symbols}


def test_ticker_source_protocol_and_single_call_for_all_symbols():
    src = LiveTickerSource(_Tickers(), ["A", "B"], interval_s=60)
    assert src.last("A") is None
    assert src.initial_price("A") == D("100")  # polls once on demand
    assert src._fetcher.calls == [["A", "B"]]
    assert src.last("B") == (1_000, D("100"))
    assert src.path("A", 0, 1_000) == [(1_000, D("100"))]
    assert src.path("A", 1_000, 2_000) == []  # (from, to] excludes from
    assert src.path("A", 0, 999) == []


def test_an_answer_older_than_the_price_held_does_not_replace_it():
    """A poll answered from before the last one (a lagging edge of the venue's API) is an older
    price, not the latest: taken, the dry run's paper exchange went back to it, filling and
    triggering at a price the market had left, and a `path` from the newer one on found no
    price at all (found by the conversion audit: with the timestamp check
    dropped from poll_once no test failed)."""
    fetcher = _Tickers()
    src = LiveTickerSource(fetcher, ["A"], interval_s=60)
    fetcher.stamp, fetcher.price = 2_000, D("101")
    src.poll_once()
    fetcher.stamp, fetcher.price = 1_500, D("99")  # answered from 500 ms before
    src.poll_once()
    assert src.last("A") == (2_000, D("101"))
    assert src.path("A", 1_000, 3_000) == [(2_000, D("101"))]
    fetcher.stamp, fetcher.price = 2_500, D("102")  # a newer one is taken
    src.poll_once()
    assert src.last("A") == (2_500, D("102"))


def test_ticker_thread_polls_live_bybit_tickers_without_keys(tmp_path):
    emu = start_emulator("bybit")
    try:
        gw = make_gateway("bybit", emu, tmp_path, credentials=None)
        src = LiveTickerSource(gw, ["BTC/USDT:USDT", "ETH/USDT:USDT"], interval_s=0.01,
                               clock_ms=lambda: 42).start()
        deadline = time.monotonic() + 10
        while src.polls < 2 and time.monotonic() < deadline:
            threading.Event().wait(0.01)
        src.stop()
        assert src.polls >= 2
        assert src.last("ETH/USDT:USDT") == (42, D("3000"))  # no exchange ts -> local clock
        ticker_calls = emu.hits("/v5/market/tickers")
        assert len(ticker_calls) == src.polls  # one request per poll for both symbols
        assert all("X-BAPI-API-KEY" not in r.headers for r in emu.requests)
        gw.close()
    finally:
        emu.stop()
