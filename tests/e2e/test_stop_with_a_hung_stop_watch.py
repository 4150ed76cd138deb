"""Rule 4 with a venue that hangs one kind of request: the account's background loops (stop
watch, sweep, funding, market feed) are told to stop together, not one after the other. Found
by review: each stop joined its thread up to 10 s before the next loop was even told, so a stop
watch hung in its order lookup kept the market feed polling 10 s after SIGTERM, and with every
loop hung up to 40 s of the account's 60 s went by before an actor heard of the stop (then
'actors did not stop in time'). Now the actors hear of it after at most the longest of
those joins (10 s).

Real `python bot.py run` in live mode on the Bybit emulator: a protected position, then every
order lookup held unanswered (the stop watch's), SIGTERM; the market feed's ticker polls after
the signal are counted."""

from __future__ import annotations

import os
import signal

import pytest

from tests.e2e.bot_process import cli, start_bot, wait_status, write_config
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, start_emulator
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

LOOKUP, TICKERS = "/v5/order/realtime", "/v5/market/tickers"


def test_a_hung_stop_watch_does_not_hold_the_other_loops_stop(tmp_path):
    emu = start_emulator("bybit")
    try:
        config = write_config(
            tmp_path / "live.toml", ["BTC/USDT:USDT"],
            bot={"mode": "live", "status_interval_s": 0.2},
            exchange={"id": "bybit", "api_url": emu.base_url, "poll_interval_s": 0.1,
                      "rate_limit_per_s": 1000.0, "timeout_ms": 60000},
            risk={"order_size_usdt": 100},
            # manual entries only: a window no run of this test fills, so the strategy never
            # closes the manual position by itself (mean_reverted) before it is seen
            strategy={"window": 10000},
            logging={"console": False},
        )
        data = tmp_path / "data"
        env = {**os.environ, "BOT_API_KEY": API_KEY, "BOT_API_SECRET": API_SECRET}
        proc = start_bot(config, data, env=env)
        try:
            wait_status(config, data, lambda s: all(a["state"] == "running" for a in s["actors"]),
                        message="actors running")
            assert cli(config, data, "signal", "BTC/USDT:USDT", "long").returncode == 0
            wait_status(config, data, lambda s: s["health"]["ts_coverage"] == 1.0
                        and s["health"]["open_positions"] == 1, message="protected position")
            emu.fail_next(LOOKUP, 1000, hold="before")  # held until emu.stop()
            held = len(emu.hits(LOOKUP))
            wait_until(lambda: len(emu.hits(LOOKUP)) > held, timeout=30,
                       message="the stop watch's lookup held")
            proc.send_signal(signal.SIGTERM)
            polled = len(emu.hits(TICKERS))
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        after = len(emu.hits(TICKERS)) - polled
        log = (data / "logs" / "bot.log").read_text()
        assert proc.returncode == 0, err[-2000:]
        assert after <= 3, f"{after} ticker polls after SIGTERM\n{log[-3000:]}"
        assert log.rstrip().endswith("bot stopped")
    finally:
        emu.stop()
