"""Issue 12 item 5: the whole bot in live mode against each venue's emulator, the emulator
enforcing the venue's documented limits, with the shipped rate settings (only the poll
interval Binance's REST feed needs): no 429 / 10006, no restart, every signal handled, and
startup measured."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

import pytest

from tests.e2e.bot_process import cli, start_bot, wait_status, write_config
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, start_emulator
from tests.exchange.ccxt.emu_limits import BinanceWeightLimiter, BybitLimiter

pytestmark = pytest.mark.slow
SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
VENUES = {"bybit": (BybitLimiter, 0.5), "binanceusdm": (BinanceWeightLimiter, 5.0)}


@pytest.mark.parametrize("venue", sorted(VENUES))
def test_live_with_default_rate_settings_stays_inside_the_venue_limits(tmp_path, venue):
    limiter_class, poll = VENUES[venue]
    limiter = limiter_class()
    emu = start_emulator(venue, limiter)
    try:
        config = write_config(
            tmp_path / "live.toml", SYMBOLS, bot={"mode": "live", "status_interval_s": 0.5},
            exchange={"id": venue, "api_url": emu.base_url, "poll_interval_s": poll},
            # manual entries only: a window no run of this test fills (the emulator's flat
            # prices would close a manual position at once once the window is full)
            strategy={"window": 10000},
            risk={"order_size_usdt": 200}, logging={"console": False})
        data = tmp_path / "data"
        env = {**os.environ, "BOT_API_KEY": API_KEY, "BOT_API_SECRET": API_SECRET}
        started = time.monotonic()
        proc = start_bot(config, data, env=env)
        try:
            wait_status(config, data, lambda s: all(a["state"] == "running" and a["reconciled"]
                                                    for a in s["actors"]),
                        timeout=90, message="live actors running")
            startup_s = time.monotonic() - started
            startup_requests = Counter(f"{r.method} {r.path}" for r in emu.requests)
            for symbol, side in zip(SYMBOLS, ("long", "short"), strict=True):
                r = cli(config, data, "signal", symbol, side)
                assert r.returncode == 0, r.stderr
            s = wait_status(config, data, lambda s: s["health"]["open_positions"] == 2
                            and s["health"]["ts_coverage"] == 1.0, timeout=90,
                            message="both positions protected")
            assert all(a["restarts"] == 0 for a in s["actors"]), s["actors"]
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err[-2000:]
        finally:
            if proc.poll() is None:
                proc.kill()
        assert limiter.refused == 0
        log = (data / "logs" / "bot.log").read_text()
        assert "actor not running" not in log and "no heartbeat reply" not in log
        print(f"{venue}: startup to reconciled actors {startup_s:.1f}s, requests "
              f"{dict(startup_requests)}")
    finally:
        emu.stop()
