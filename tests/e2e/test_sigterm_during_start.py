"""Rule 4 at start: a SIGTERM (Ctrl-C, a service manager's stop) that arrives while the bot is
still starting, its venue accepting connections and never answering the markets read, is a
graceful stop. The start's retries of that read went on regardless (5 tries per load, a second
load, each waiting `exchange.timeout_ms`): 119 s with the default 10 s timeout, nothing logged
about the signal, and then exit code 2 ("markets unusable") instead of 0.

Real `python bot.py run` in live mode on the Bybit emulator (127.0.0.1), whose markets endpoint
holds every request unanswered."""

from __future__ import annotations

import os
import signal

import pytest

from tests.e2e.bot_process import start_bot, write_config
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, start_emulator
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

MARKETS = "/v5/market/instruments-info"


def test_sigterm_while_the_markets_read_hangs_at_start_stops_after_that_call(tmp_path):
    emu = start_emulator("bybit")
    emu.fail_next(MARKETS, 50, hold="before")  # accepted, never answered (until emu.stop)
    try:
        config = write_config(
            tmp_path / "live.toml", ["BTC/USDT:USDT"],
            bot={"mode": "live"},
            exchange={"id": "bybit", "api_url": emu.base_url, "timeout_ms": 1000,
                      "rate_limit_per_s": 1000.0},
            logging={"console": False},
        )
        data = tmp_path / "data"
        env = {**os.environ, "BOT_API_KEY": API_KEY, "BOT_API_SECRET": API_SECRET}
        proc = start_bot(config, data, env=env)
        try:
            wait_until(lambda: emu.hits(MARKETS), timeout=60, message="the markets read held")
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        log = (data / "logs" / "bot.log").read_text()
        assert proc.returncode == 0, err[-2000:] + log[-2000:]
        assert len(emu.hits(MARKETS)) == 1, log[-2000:]  # the call in flight, no retry after
        assert "received SIGTERM; stopping gracefully" in log
        assert "stop requested while starting" in log
        assert log.rstrip().endswith("bot stopped")
    finally:
        emu.stop()
