"""risk.max_price_age_s (an entry is sized only on a price read that recently) below the longest
a healthy feed leaves a symbol without a price: a quiet symbol on a working stream gets a REST
price only after exchange.stream_symbol_silent_s, so every external entry on it would be
skipped as stale. Refused in one line naming both keys."""

from __future__ import annotations

from pathlib import Path

from config import load_settings
from tests.config.test_config_loader import config_error, write_config


def test_a_price_age_a_healthy_stream_outlasts_is_refused(tmp_path: Path):
    message = config_error(tmp_path, "[risk]\nmax_price_age_s = 30\n")
    assert "risk.max_price_age_s" in message and "stream_symbol_silent_s" in message
    assert "60.5" in message


def test_without_streams_the_poll_interval_bounds_it(tmp_path: Path):
    settings = load_settings(write_config(
        tmp_path, "[exchange]\nstreams = false\n[risk]\nmax_price_age_s = 30\n"))
    assert settings.risk.max_price_age_s == 30


def test_a_price_age_equal_to_the_feeds_longest_gap_is_refused(tmp_path: Path):
    """config.toml: `> exchange.stream_symbol_silent_s + exchange.poll_interval_s`. Found by a
    mutation audit (`<=` -> `<` passed every test): at exactly 60.5 s a quiet symbol's REST
    price, read at the end of that gap, is already as old as the limit, so an external entry
    arriving then is skipped as stale on a working feed."""
    message = config_error(tmp_path, "[risk]\nmax_price_age_s = 60.5\n")
    assert message.endswith("risk.max_price_age_s: must be > 60.5, the longest a working feed "
                            "leaves a symbol without a price (exchange.stream_symbol_silent_s + "
                            "exchange.poll_interval_s, or the poll interval alone with "
                            "exchange.streams = false) (got 60.5)"), message
    assert load_settings(write_config(
        tmp_path, "[risk]\nmax_price_age_s = 60.51\n")).risk.max_price_age_s == 60.51
