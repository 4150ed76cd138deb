"""A dry run as a user starts it: `bot.py run` with `mode = "dry-run"` on the Bybit emulator, no
keys in the environment, a manual signal. Its first line named the paper exchange its fills
are simulated on (`bot starting: pid N mode dry-run exchange paper ...`), not the venue the
config names and its prices come from, while the status said `exchange: bybit`; it now names
the configured venue, as does the status. The entry opens on the venue's price, and the
venue sees nothing but public market reads: a dry run never sends an order."""

from __future__ import annotations

import os
import re
import signal

from tests.e2e.bot_process import cli, start_bot, write_config
from tests.exchange.ccxt.ccxt_fixtures import start_emulator
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


def test_a_dry_run_names_its_venue_and_sends_it_no_order(tmp_path):
    emu = start_emulator("bybit")
    try:
        config = write_config(
            tmp_path / "dry.toml", [BTC], bot={"mode": "dry-run"},
            exchange={"id": "bybit", "api_url": emu.base_url, "poll_interval_s": 0.5},
            logging={"console": False})
        data = tmp_path / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOT_")}  # no keys
        proc = start_bot(config, data, env=env)
        log_file = data / "logs" / "bot.log"
        try:
            wait_until(lambda: log_file.exists() and "started (incarnation" in
                       log_file.read_text(), timeout=60, message="the dry run started")
            assert cli(config, data, "signal", BTC, "long").returncode == 0
            wait_until(lambda: "PositionOpened" in log_file.read_text(), timeout=60,
                       message="the manual entry opened")
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    finally:
        emu.stop()
    log = log_file.read_text()
    assert proc.returncode == 0, err[-2000:] + log[-3000:]
    start = re.search(r"bot starting: pid \d+ mode (\S+) exchange (\S+)", log)
    assert start is not None and start.groups() == ("dry-run", "bybit"), log[:2000]
    entry = re.search(r"PositionOpened .*'entry_price': '([0-9.]+)'", log)
    assert entry is not None and abs(float(entry.group(1)) / 50000 - 1) < 0.001, log[-2000:]
    sent = {(r.method, r.path) for r in emu.requests}
    assert all(m == "GET" and p.startswith("/v5/market/") for m, p in sent), sent
