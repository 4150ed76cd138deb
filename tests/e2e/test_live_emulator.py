"""The whole bot in live mode against a local Bybit emulator: real ccxt.bybit class, real HTTP
on 127.0.0.1, `python bot.py` as a subprocess. A manual signal opens a position that ends up
protected by a reduce-only stop on the (emulated) exchange."""

from __future__ import annotations

import os
import signal

import pytest

from tests.e2e.bot_process import cli, start_bot, wait_status, write_config
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, start_emulator

pytestmark = pytest.mark.slow


def test_live_config_pointed_at_emulator_opens_and_protects_a_position(tmp_path):
    emu = start_emulator("bybit")
    try:
        config = write_config(
            tmp_path / "live.toml", ["BTC/USDT:USDT", "ETH/USDT:USDT"],
            bot={"mode": "live", "status_interval_s": 0.2},
            exchange={"id": "bybit", "api_url": emu.base_url, "poll_interval_s": 0.2,
                      "rate_limit_per_s": 1000.0, "timeout_ms": 5000},
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
            wait_status(config, data, lambda s: all(
                a["state"] == "running" and a["reconciled"] for a in s["actors"]),
                message="live actors running")
            r = cli(config, data, "signal", "BTC/USDT:USDT", "long")
            assert r.returncode == 0, r.stderr
            s = wait_status(config, data, lambda s: s["health"]["open_positions"] == 1
                            and s["health"]["ts_coverage"] == 1.0, message="protected position")
            btc = next(a for a in s["actors"] if a["symbol"] == "BTC/USDT:USDT")
            assert btc["position"]["side"] == "long" and btc["stop_price"]
            creates = emu.hits("/v5/order/create", "POST")
            stops = [c for c in creates if c.params.get("triggerPrice")]
            assert len(stops) == 1
            stop = stops[0].params
            assert str(stop.get("reduceOnly")).lower() == "true"
            assert str(stop.get("triggerDirection")) == "2" and stop.get("orderType") == "Market"
            assert stop.get("orderLinkId", "").startswith("main-")
            # risk.leverage (5) was set on the venue before the entry, for BTC only: lazily,
            # not for every symbol at start (ETH keeps the venue's own)
            assert emu.venue.leverage_of("BTCUSDT") == 5
            assert emu.venue.leverage_of("ETHUSDT") == 10
            posts = [r.path for r in emu.requests if r.method == "POST"]
            assert posts.index("/v5/position/set-leverage") < posts.index("/v5/order/create")
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err[-2000:]
        finally:
            if proc.poll() is None:
                proc.kill()
        logs = (data / "logs" / "bot.log").read_text()
        assert API_SECRET not in logs and API_KEY not in logs
    finally:
        emu.stop()


def test_dry_run_trades_on_live_prices_with_simulated_fills(tmp_path):
    """mode = "dry-run": public tickers from the (emulated) exchange, no keys, fills simulated by
    the paper exchange; no order ever reaches the exchange."""
    emu = start_emulator("bybit")
    try:
        config = write_config(
            tmp_path / "dry.toml", ["BTC/USDT:USDT", "ETH/USDT:USDT"],
            bot={"mode": "dry-run", "status_interval_s": 0.2},
            exchange={"id": "bybit", "api_url": emu.base_url, "poll_interval_s": 0.2,
                      "rate_limit_per_s": 1000.0, "timeout_ms": 5000},
            # manual entries only: a window no run of this test fills, so the strategy never
            # closes the manual position by itself (mean_reverted) before it is seen
            strategy={"window": 10000},
            logging={"console": False},
        )
        data = tmp_path / "data"
        env = {k: v for k, v in os.environ.items() if k not in ("BOT_API_KEY", "BOT_API_SECRET")}
        proc = start_bot(config, data, env=env)
        try:
            wait_status(config, data, lambda s: all(
                a["state"] == "running" and a["last_tick_age_s"] is not None
                for a in s["actors"]), message="dry-run prices flowing")
            assert cli(config, data, "signal", "ETH/USDT:USDT", "short").returncode == 0
            s = wait_status(config, data, lambda s: s["health"]["open_positions"] == 1
                            and s["health"]["ts_coverage"] == 1.0, message="simulated position")
            eth = next(a for a in s["actors"] if a["symbol"] == "ETH/USDT:USDT")
            assert eth["position"]["side"] == "short"
            assert 2900 < float(eth["position"]["entry_price"]) < 3100  # the emulator's live price
            assert emu.hits("/v5/order/create", "POST") == []  # nothing was sent to the exchange
            assert emu.hits("/v5/position/set-leverage") == []  # the paper exchange's leverage
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err[-2000:]
        finally:
            if proc.poll() is None:
                proc.kill()
    finally:
        emu.stop()
