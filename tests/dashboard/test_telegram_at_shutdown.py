"""Telegram outlives the accounts' stop: an alert raised while the bot shuts down (the final
status write, the guard's catch-up, the emergency closer) reaches the chats. Telegram was
stopped first, so such an alert was only logged as 'not sent'."""

from __future__ import annotations

import os

import pytest

from tests.dashboard.running_bot import SYMBOLS
from tests.e2e.bot_process import start_bot, status_now, wait_status, write_config
from tests.notifications.fake_telegram import FakeTelegram

pytestmark = pytest.mark.slow
BOT_TOKEN = "4242:shutdown-telegram-token"
CHAT = 7


def test_an_alert_raised_during_shutdown_reaches_telegram(tmp_path):
    fake = FakeTelegram(BOT_TOKEN)
    try:
        # the first status round is written at start, the next one in 60 s: the next write is
        # the final one, at shutdown
        config = write_config(
            tmp_path / "config.toml", SYMBOLS,
            bot={"status_interval_s": 60},
            logging={"console": False},
            telegram={"enabled": True, "api_url": fake.url, "chat_ids": [CHAT],
                      "poll_timeout_s": 1, "retry_initial_s": 0.1})
        data = tmp_path / "data"
        proc = start_bot(config, data, env={**os.environ, "BOT_TELEGRAM_TOKEN": BOT_TOKEN})
        try:
            wait_status(config, data, lambda s: s["bot"]["pid"] == proc.pid, timeout=60,
                        message="the first status round")
            assert status_now(data) is not None
            (data / "status.json").unlink()
            (data / "status.json").mkdir()  # the final write fails: a status_write_failed alert
        finally:
            proc.terminate()
            _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        log = (data / "logs" / "bot.log").read_text()
        assert "cannot be written" in log, log[-3000:]
        assert "not sent" not in log, log[-3000:]
        assert any(t.startswith("STATUS_WRITE_FAILED") for t in fake.texts(CHAT)), fake.texts()
    finally:
        fake.stop()
