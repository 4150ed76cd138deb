"""Settings whose feed alone would exhaust the venue's rate budget never start: one line that
names the keys and the value that works."""

from __future__ import annotations

import pytest

from config.loader import load_settings
from exchange.budget_venues import feed_shortfall
from runtime.exchanges import build_live
from runtime.wiring import StartupError
from tests.e2e.bot_process import write_config


def test_binance_feed_too_fast_for_the_budget_is_refused_in_one_line(tmp_path):
    config = write_config(tmp_path / "c.toml", ["BTC/USDT:USDT"], bot={"mode": "live"},
                          exchange={"id": "binanceusdm", "poll_interval_s": 0.5})
    with pytest.raises(StartupError) as err:
        build_live(load_settings(config), tmp_path)
    line = str(err.value)
    assert "\n" not in line
    assert "exchange.poll_interval_s" in line and "exchange.rate_budget_share" in line
    assert ">= 4.50" in line  # (40 + 5) weight per poll / 10 weight/s for polling


def test_settings_that_fit_pass():
    assert feed_shortfall("binanceusdm", 5.0, 0.5) is None
    assert feed_shortfall("bybit", 0.5, 0.5) is None  # 4 requests/s of 30 for polling
    assert feed_shortfall("bybit", 0.05, 0.1) is not None  # 40/s against 6/s
    assert feed_shortfall("okx", 0.05, 0.1) is None  # no documented profile: not judged
