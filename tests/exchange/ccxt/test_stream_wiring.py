"""`[exchange] streams`: which modes run on streams, and the settings' one-line errors."""

from __future__ import annotations

import pytest
from loguru import logger

from actors.market_feed import MarketFeed
from actors.stream_feed import StreamFeed
from config.errors import ConfigError
from config.loader import load_settings
from runtime.stream_wiring import with_streams
from tests.e2e.bot_process import write_config
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET

ENV = {"BOT_API_KEY": API_KEY, "BOT_API_SECRET": API_SECRET}


def _settings(tmp_path, mode="live", **exchange):
    ex = {"id": "bybit", **exchange}
    return load_settings(write_config(tmp_path / "c.toml", ["BTC/USDT:USDT"],
                                      bot={"mode": mode}, exchange=ex))


def _rest(settings):
    return MarketFeed(exchange=None, symbols=list(settings.symbol_list),  # type: ignore[arg-type]
                      deliver=lambda s, m: True, interval_s=1, own_prefix="main-x-",
                      logger=logger, fetch_fills=lambda since: [])


def test_live_runs_on_streams_with_private_topics_when_keys_are_there(tmp_path):
    s = _settings(tmp_path, ws_url="ws://127.0.0.1:9", api_url="http://127.0.0.1:9")
    feed = with_streams(s, tmp_path, _rest(s), logger, environ=ENV)
    assert isinstance(feed, StreamFeed)
    assert feed.streams is not None and feed.streams.private  # type: ignore[attr-defined]
    assert feed.stale_s == 10.0  # the documented default


@pytest.mark.parametrize("mode,exchange", [
    ("dry-run", {}),
    ("live", {"streams": False}),
    ("live", {"api_url": "http://127.0.0.1:9"}),  # a proxy without a stream host: not bypassed
])
def test_modes_and_settings_that_keep_rest_polling(tmp_path, mode, exchange):
    s = _settings(tmp_path, mode, **exchange)
    rest = _rest(s)
    assert with_streams(s, tmp_path, rest, logger, environ=ENV) is rest


@pytest.mark.parametrize("key,value,needle", [
    ("stream_stale_s", 0, "exchange.stream_stale_s"),
    ("ws_url", "http://127.0.0.1:9", "exchange.ws_url"),
    ("streams", "yes", "exchange.streams"),
    ("stream_symbol_silent_s", 0.5, "exchange.stream_symbol_silent_s"),
    ("stream_symbol_silent_s", 5, "must be >= exchange.stream_stale_s (10.0)"),
])
def test_bad_stream_settings_name_the_key(tmp_path, key, value, needle):
    with pytest.raises(ConfigError) as err:
        _settings(tmp_path, **{key: value})
    assert needle in str(err.value)
