"""An alert queued for Telegram when the bot is killed reaches the chat after the restart.

Found by review: the Telegram sender held its queue in memory only. An alert raised while
Telegram did not take messages (an outage, a slow proxy) and the bot killed meanwhile (kill -9,
the OOM killer, a crash) was gone: the kill switch, an escalation or an ``unprotected``
position never reached the person, and nothing at the next start said so. Now each message is
kept in the data dir's outbox until Telegram took it, and the next start sends what is left.

Real parts: `python bot.py run` subprocesses killed with SIGKILL, the dashboard's HTTP control,
a real HTTP server on 127.0.0.1 standing in for the Bot API."""

from __future__ import annotations

import signal
import sqlite3

import pytest

from tests.dashboard.running_bot import TOKEN, RunningBot
from tests.notifications.fake_telegram import FakeTelegram
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
BOT_TOKEN = "4242:outbox-telegram-token"
CHAT = 7


def _bot(tmp_path, fake: FakeTelegram) -> RunningBot:
    return RunningBot(tmp_path, env={"BOT_TELEGRAM_TOKEN": BOT_TOKEN}, ready=lambda s: True,
                      telegram={"enabled": True, "api_url": fake.url, "chat_ids": [CHAT],
                                "poll_timeout_s": 1, "retry_initial_s": 0.1,
                                "retry_max_s": 0.5})


def kill_switch_done(data) -> bool:  # noqa: ANN001
    """The kill switch row applied and marked done: the restart does not apply it again (and
    so raises no alert of its own)."""
    db = sqlite3.connect(f"file:{data / 'bot.sqlite'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT done_at FROM control WHERE command = 'kill_switch'").fetchall()
    finally:
        db.close()
    return bool(rows) and all(done is not None for (done,) in rows)


def _kill_switch_texts(fake: FakeTelegram) -> list[str]:
    return [t for t in fake.texts(CHAT) if "KILL_SWITCH" in t]


def test_an_alert_unsent_at_a_kill_reaches_the_chat_after_the_restart(tmp_path):
    fake = FakeTelegram(BOT_TOKEN)
    fake.fail_all = 502  # Telegram's side is down: the alert waits in the sender
    try:
        bot = _bot(tmp_path, fake)
        try:
            code, _, _ = bot.request("/api/control", body={"command": "kill_switch"},
                                     headers={"Authorization": f"Bearer {TOKEN}"})
            assert code == 202
            wait_until(lambda: any("KILL_SWITCH" in t for t in fake.attempts), timeout=30,
                       message="the kill switch alert tried (and refused)")
            wait_until(lambda: kill_switch_done(bot.data), timeout=30,
                       message="the kill switch control marked done")
        finally:
            bot.proc.send_signal(signal.SIGKILL)
            bot.proc.communicate(timeout=30)
        assert bot.proc.returncode == -signal.SIGKILL
        assert _kill_switch_texts(fake) == []  # never delivered by the killed bot

        fake.fail_all = None  # Telegram answers again
        again = _bot(tmp_path, fake)
        try:
            wait_until(lambda: _kill_switch_texts(fake), timeout=30,
                       message="the kill switch alert of the killed bot delivered")
        finally:
            code, err = again.stop()
        assert code == 0, err[-2000:]
    finally:
        fake.stop()
    texts = _kill_switch_texts(fake)
    assert len(texts) == 1, texts  # once: the restart does not raise it again
    alert = texts[0]
    assert alert.startswith("(queued at ") and "before a restart) KILL_SWITCH" in alert, alert
    outbox = sqlite3.connect(tmp_path / "data" / "telegram_outbox.db")
    try:  # nothing left for a third start to send again
        assert outbox.execute("SELECT COUNT(*) FROM outbox").fetchone() == (0,)
    finally:
        outbox.close()
