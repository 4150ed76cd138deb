"""An alert raised while the bot builds its accounts reaches Telegram too.

Found by review: the kill switch a start trips because the escalations table already holds
more escalated symbols than `kill_switch_escalations` within the window (a process killed
between an escalation's record and the switch's: README, Supervision) is alerted by the
supervisor's constructor, while the account is built; Telegram's listener was attached to the
account's alerts only afterwards (dashboard/wiring.py), so that alert went to the log and the
hooks but never to a chat. A real `python bot.py` subprocess against the local fake Bot API."""

from __future__ import annotations

import os

import pytest

from storage.repository import Repository
from tests.dashboard.running_bot import SYMBOLS
from tests.e2e.bot_process import start_bot, wait_status, write_config
from tests.notifications.fake_telegram import FakeTelegram

pytestmark = pytest.mark.slow
BOT_TOKEN = "4242:start-alert-telegram-token"
CHAT = 7


def test_the_kill_switch_tripped_at_start_reaches_telegram(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    repo = Repository(data / "bot.sqlite", synchronous="normal")
    try:  # two symbols escalated within the window (bound 1), the switch's own row never written
        for symbol in SYMBOLS[:2]:
            repo.add_escalation(symbol, "restarted 4 times in 60s", 3, "ActorBug")
            repo.resolve_escalations(symbol)  # resumed by a person: counted, not quarantined
    finally:
        repo.close()
    fake = FakeTelegram(BOT_TOKEN)
    try:
        config = write_config(
            tmp_path / "config.toml", SYMBOLS, logging={"console": False},
            supervision={"kill_switch_escalations": 1, "kill_switch_window_s": 600},
            telegram={"enabled": True, "api_url": fake.url, "chat_ids": [CHAT],
                      "poll_timeout_s": 1, "retry_initial_s": 0.1})
        proc = start_bot(config, data, env={**os.environ, "BOT_TELEGRAM_TOKEN": BOT_TOKEN})
        try:
            wait_status(config, data, lambda s: s["bot"]["pid"] == proc.pid and s["kill_switch"],
                        timeout=60, message="the kill switch on in the first status round")
        finally:
            proc.terminate()  # a graceful stop sends what is queued before it exits
            _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        log = (data / "logs" / "bot.log").read_text()
        assert "ALERT kill_switch" in log and "counted at start" in log, log[-3000:]
        assert "not sent" not in log, log[-3000:]
        kill = [t for t in fake.texts(CHAT) if t.startswith("KILL_SWITCH")]
        assert len(kill) == 1 and "counted at start" in kill[0], fake.texts()
    finally:
        fake.stop()
