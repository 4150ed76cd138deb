"""A live start refused because a listed symbol is no market on the venue names the config file
and the line of symbols.list (its key: `accounts[1].symbols.list` with [[accounts]]), as the
loader's refusals do. Found by review: 'bot.py: error: symbols.list: 'NOPE/USDT:USDT' is not a
market on bybit' named no file and no line - a typo in the file, the line to go to unsaid.
Real ccxt classes against the Bybit emulator on 127.0.0.1, `python bot.py` as a subprocess."""

from __future__ import annotations

import os

from tests.e2e.bot_process import start_bot, write_config
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, start_emulator


def test_a_symbol_the_venue_does_not_list_is_refused_naming_the_file_and_line(tmp_path):
    emu = start_emulator("bybit")
    try:
        config = write_config(
            tmp_path / "live.toml", ["BTC/USDT:USDT", "NOPE/USDT:USDT"], bot={"mode": "live"},
            exchange={"id": "bybit", "api_url": emu.base_url, "timeout_ms": 5000,
                      "poll_interval_s": 5.0},
            logging={"console": False})
        env = {**os.environ, "BOT_API_KEY": API_KEY, "BOT_API_SECRET": API_SECRET}
        proc = start_bot(config, tmp_path / "data", env=env)
        try:
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    finally:
        emu.stop()
    assert proc.returncode == 2, err[-2000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-2000:]
    assert lines[0] == (f"bot.py: error: {config}:2: symbols.list: 'NOPE/USDT:USDT' is not a "
                        "market on bybit"), lines[0]
