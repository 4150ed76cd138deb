"""A bot-wide alert reaches Telegram once, not once per account: a real `python bot.py` with two
paper accounts against the local fake Bot API, its status file made unwritable.

Found by review: the run loop hands a bot-wide fault (status_write_failed, account_lock_lost)
to every account's alerts, and each account's alerts has the Telegram listener: with two
accounts each chat got the alert twice, each copy naming an account it was not about."""

from __future__ import annotations

import os

import pytest

from tests.e2e.bot_process import start_bot, status_now, wait_status
from tests.notifications.fake_telegram import FakeTelegram
from tests.notifications.test_status_unreadable_reply import make_status_a_directory
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
BOT_TOKEN = "4242:bot-wide-alert-token"
CHAT = 7
CONFIG = """
[bot]
status_interval_s = 0.2
[exchange]
poll_interval_s = 0.1
[paper]
latency_ms = 1
[logging]
console = false
[dashboard]
enabled = false
[telegram]
enabled = true
api_url = "{url}"
chat_ids = [{chat}]
poll_timeout_s = 1
retry_initial_s = 0.1
[[accounts]]
name = "alpha"
symbols.list = ["BTC/USDT:USDT"]
[[accounts]]
name = "beta"
symbols.list = ["ETH/USDT:USDT"]
"""


def test_a_bot_wide_alert_reaches_each_chat_once(tmp_path):
    fake = FakeTelegram(BOT_TOKEN)
    try:
        config = tmp_path / "config.toml"
        config.write_text(CONFIG.format(url=fake.url, chat=CHAT))
        data = tmp_path / "data"
        proc = start_bot(config, data, env={**os.environ, "BOT_TELEGRAM_TOKEN": BOT_TOKEN})
        try:
            wait_status(config, data, lambda s: s["bot"]["pid"] == proc.pid, timeout=60,
                        message="the first status round")
            assert status_now(data) is not None
            wait_until(lambda: make_status_a_directory(data), timeout=20,
                       message="status.json replaced by a directory")
            wait_until(lambda: [t for t in fake.texts(CHAT) if t.startswith("STATUS_WRITE")],
                       timeout=20, message="the status_write_failed alert")
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        # every message sent by now (Telegram is stopped last, after its queue is sent)
        alerts = [t for t in fake.texts(CHAT) if t.startswith("STATUS_WRITE")]
        assert len(alerts) == 1, alerts
        assert alerts[0].startswith("STATUS_WRITE_FAILED: status snapshot "), alerts
    finally:
        fake.stop()
