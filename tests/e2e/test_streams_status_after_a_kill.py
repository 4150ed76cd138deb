"""`bot.py status` after a live bot on streams was killed (SIGKILL) shows no stream connected
and no age of a last message: nothing receives them any more. Found by review, a sibling of the
actors' settled `last_tick_age_s` (tests/runtime/test_cli_leftovers.py): the killed bot's
last snapshot was shown as it was, `streams: mode stream  connected yes  last message 0.1 s
ago`, a healthy feed for a bot that no longer runs; the connection as last seen stays readable
as `last_connected`.

`python bot.py` in live mode as a subprocess against the Bybit HTTP and WebSocket emulators."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.e2e.bot_process import cli, start_bot, wait_status, write_config
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, PRICES
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.exchange.ccxt.ws_emu_bybit import start_bybit_ws

pytestmark = pytest.mark.slow


def test_a_killed_bots_streams_read_as_gone(tmp_path):
    book = Book(PRICES, now_ms=int(time.time() * 1000))
    http = EmulatorServer(BybitVenue(book)).start()
    ws = start_bybit_ws(book, API_KEY, API_SECRET)
    try:
        config = write_config(
            tmp_path / "live.toml", ["BTC/USDT:USDT"],
            bot={"mode": "live", "status_interval_s": 0.2},
            exchange={"id": "bybit", "api_url": http.base_url, "ws_url": ws.url,
                      "poll_interval_s": 0.2, "rate_limit_per_s": 1000.0, "timeout_ms": 5000},
            strategy={"window": 10000}, logging={"console": False},
            dashboard={"enabled": False})
        data = tmp_path / "data"
        env = {**os.environ, "BOT_API_KEY": API_KEY, "BOT_API_SECRET": API_SECRET}
        proc = start_bot(config, data, env=env)
        try:
            wait_status(config, data, lambda s: (s.get("streams") or {}).get("connected") is True
                        and (s["streams"].get("last_message_age_s") is not None)
                        and all(a["state"] == "running" for a in s["actors"]),
                        message="the streams connected, the actor running")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate(timeout=30)

        r = cli(config, data, "status", "--json")
        assert r.returncode == 0, r.stderr
        dump = json.loads(r.stdout)
        for streams in (dump["streams"], dump["accounts"]["main"]["streams"]):
            assert streams["connected"] is False, streams
            assert streams["last_message_age_s"] is None, streams
            assert streams["last_connected"] is True, streams

        r = cli(config, data, "status")
        assert r.returncode == 0, r.stderr
        line = next(x for x in r.stdout.splitlines() if x.startswith("streams:"))
        assert "connected NO" in line and "last message - ago" in line, line
    finally:
        ws.stop()
        http.stop()
