"""`python bot.py` in live mode against the shared paper server (both real subprocesses): the
bot's ccxt bybit gateway opens a position that ends up protected by a reduce-only stop on the
server, and an independent ccxt client sees exactly that."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.e2e.bot_process import cli, start_bot, status_now, wait_status, write_config
from tests.exchange.paper_server.server_support import (
    API_KEY,
    API_SECRET,
    ServerProcess,
    bybit_client,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
BTC = "BTC/USDT:USDT"


def test_bot_trades_on_the_shared_paper_server(tmp_path: Path) -> None:
    server = ServerProcess(store=tmp_path / "shared_paper.sqlite").start()
    try:
        config = write_config(
            tmp_path / "node.toml", [BTC, "ETH/USDT:USDT"],
            bot={"mode": "live", "status_interval_s": 0.2, "account": "n1"},
            exchange={"id": "bybit", "api_url": server.base_url, "poll_interval_s": 0.2,
                      "rate_limit_per_s": 1000.0, "timeout_ms": 5000,
                      "api_key_env": "PAPER_SERVER_API_KEY",
                      "api_secret_env": "PAPER_SERVER_API_SECRET"},
            # no strategy entries and no strategy exits (|z| < 0 never): only the manual signal
            # trades, and its position stays open (CI: a 'mean_reverted' exit 8 s after the
            # entry closed it before a loaded machine's status polls saw it protected)
            strategy={"entry_z": 50.0, "exit_z": 0.0},
            risk={"order_size_usdt": 100},
            logging={"console": False},
        )
        data = tmp_path / "node"
        env = {**os.environ, "PAPER_SERVER_API_KEY": API_KEY,
               "PAPER_SERVER_API_SECRET": API_SECRET}
        proc = start_bot(config, data, env=env)
        try:
            wait_status(config, data, lambda s: all(
                a["state"] == "running" and a["reconciled"] for a in s["actors"]),
                message="actors running against the paper server")
            assert cli(config, data, "signal", BTC, "long").returncode == 0
            wait_status(config, data, lambda s: s["health"]["open_positions"] == 1
                        and s["health"]["ts_coverage"] == 1.0, message="protected position")
            client = bybit_client(server)

            def agreed() -> tuple[dict, list, list] | None:
                """The bot's status and the server, read until they agree: the trailing stop
                (armed at +0.5 %) may move the exchange stop between two reads."""
                s = status_now(data)
                actor = next((a for a in (s or {}).get("actors", []) if a["symbol"] == BTC), None)
                if actor is None:  # the status unreadable for a moment (status_now: None)
                    return None
                stops = client.fetch_open_orders(BTC)
                if (actor["stop_price"] is None or len(stops) != 1
                        or stops[0]["triggerPrice"] != float(actor["stop_price"])):
                    return None
                return actor, [p for p in client.fetch_positions([BTC]) if p["contracts"]], stops

            actor, positions, stops = wait_until(agreed, timeout=30,
                                                 message="the server's stop is the bot's")
            assert [p["side"] for p in positions] == ["long"]
            assert positions[0]["contracts"] == float(actor["position"]["contracts"])
            assert len(stops) == 1 and stops[0]["reduceOnly"] and stops[0]["side"] == "sell"
            assert stops[0]["clientOrderId"].startswith("n1-")
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err[-2000:]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
        # the stop stays on the exchange while the bot is down
        assert len(bybit_client(server).fetch_open_orders(BTC)) == 1
        assert API_SECRET not in (data / "logs" / "bot.log").read_text()
    finally:
        assert server.stop() == 0
