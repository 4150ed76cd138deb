"""Telegram wired into a running paper bot (a real `python bot.py` subprocess) talking to a
local fake Bot API: alerts, trade notices, /status and /pause from the allow-listed chat."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.dashboard.running_bot import TOKEN, RunningBot, error_lines, fast_config
from tests.e2e.bot_process import start_bot
from tests.notifications.fake_telegram import FakeTelegram
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
BOT_TOKEN = "4242:process-telegram-token"
CHAT = 7


def test_telegram_in_a_running_bot(tmp_path):
    fake = FakeTelegram(BOT_TOKEN)
    try:
        bot = RunningBot(tmp_path, env={"BOT_TELEGRAM_TOKEN": BOT_TOKEN},
                         telegram={"enabled": True, "api_url": fake.url, "chat_ids": [CHAT],
                                   "poll_timeout_s": 1, "retry_initial_s": 0.1,
                                   "notify_trades": True})
        try:
            wait_until(lambda: any(t.startswith("opened ") for t in fake.texts(CHAT)), timeout=30,
                       message="a position-opened notice")
            fake.add_update(CHAT, "/status")
            wait_until(lambda: any(t.startswith("main: open ") for t in fake.texts(CHAT)),
                       timeout=20, message="the /status reply")
            fake.add_update(99, "/pause")  # not allow-listed: ignored
            fake.add_update(CHAT, "/pause")
            wait_until(lambda: (s := bot.get("/api/status")).get("entries_paused") and s,
                       timeout=20, message="paused from Telegram")
            assert bot.get("/api/status")["entries_paused"]["by"] == f"telegram chat {CHAT}"
            # journaled like any control: who, when asked (it had requested_at null), applied
            applied = [e["data"] for e in bot.get("/api/journal?symbol=*&limit=200")["events"]
                       if e["type"] == "ControlApplied" and e["data"]["command"] == "pause"]
            assert applied and applied[0]["by"] == f"telegram chat {CHAT}", applied
            assert applied[0]["requested_at"] is not None, applied
            assert applied[0]["requested_at"] <= applied[0]["applied_at"], applied
            bot.request("/api/control", body={"command": "kill_switch"},
                        headers={"Authorization": f"Bearer {TOKEN}"})
            wait_until(lambda: any(t.startswith("KILL_SWITCH") for t in fake.texts(CHAT)),
                       timeout=20, message="the kill switch alert")
            assert fake.texts(99) == [] and fake.bad_token_calls == 0
        finally:
            code, err = bot.stop()
        assert code == 0, err[-2000:]
        for path in bot.data.rglob("*"):
            if path.is_file():
                assert BOT_TOKEN.encode() not in path.read_bytes(), path
    finally:
        fake.stop()


def test_a_token_telegram_refuses_stops_the_start_in_one_line(tmp_path):
    """Started with a wrong token, the bot ran on and every alert was refused (401) and
    dropped: escalations never reached the chat. Telegram's getMe at start tells it."""
    fake = FakeTelegram(BOT_TOKEN)
    try:
        config = fast_config(tmp_path / "config.toml",
                             telegram={"enabled": True, "api_url": fake.url, "chat_ids": [CHAT]})
        proc = start_bot(config, tmp_path / "data",
                         env={**os.environ, "BOT_TELEGRAM_TOKEN": "4242:not-the-token",
                              "BOT_DASHBOARD_TOKEN": TOKEN})
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 2, err[-2000:]
        lines = error_lines(err, config, "telegram")
        assert lines == ["bot.py: error: telegram.token_env: Telegram refused the bot token "
                         "(getMe: HTTP 401 Unauthorized)"], err[-2000:]
        assert "not-the-token" not in err and fake.bad_token_calls == 1
    finally:
        fake.stop()


def test_a_token_file_with_a_second_line_stops_the_start_without_showing_the_token(tmp_path):
    """A token file holding the token and a second line (a comment, the chat id) gave a token
    with a line break inside: urllib refused the URL with an InvalidURL quoting it as a repr
    ('/bot4242:...\\n...'), which the scrubber (looking for the raw token) did not match, so
    the token's secret part reached the startup warning and every failed alert's line."""
    fake = FakeTelegram(BOT_TOKEN)
    try:
        token_file = tmp_path / "telegram.token"
        token_file.write_text(f"{BOT_TOKEN}\n# chat 7\n")
        token_file.chmod(0o600)
        config = fast_config(tmp_path / "config.toml",
                             telegram={"enabled": True, "api_url": fake.url, "chat_ids": [CHAT],
                                       "token_file": str(token_file)})
        proc = start_bot(config, tmp_path / "data",
                         env={**os.environ, "BOT_DASHBOARD_TOKEN": TOKEN})
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:  # it ran on: what it logged meanwhile is checked
            proc.kill()
            _, err = proc.communicate(timeout=30)
        secret = BOT_TOKEN.split(":", 1)[1]
        assert secret not in err
        for path in (tmp_path / "data").rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
        assert proc.returncode == 2, err[-2000:]
        lines = error_lines(err, config, "telegram")
        assert len(lines) == 1 and lines[0].startswith(
            "bot.py: error: telegram.token_file: "), err[-2000:]
        assert "line break" in lines[0]
    finally:
        fake.stop()
