"""A Telegram token urllib cannot put in a URL (a pasted zero-width space, a space inside) stops
the start in one line naming the setting, never the token: a real `python bot.py` subprocess
against the local fake Bot API.

Found by review: such a token failed in urllib before any request was sent (UnicodeEncodeError,
InvalidURL), so the start-up getMe could not be refused by Telegram; the bot started with
"the bot token could not be checked at start" and retried every alert for ever, none delivered."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.dashboard.running_bot import TOKEN, error_lines, fast_config
from tests.e2e.bot_process import start_bot
from tests.notifications.fake_telegram import FakeTelegram

pytestmark = pytest.mark.slow
BOT_TOKEN = "4242:url-telegram-token"


def _refused_start(tmp_path: Path, api_url: str, token: str) -> tuple[Path, str]:
    """`bot.py run` with Telegram at `api_url` and `token`, which must end the start with exit
    code 2 (a bot that ran on is stopped, then checked): the config and the bot's stderr."""
    config = fast_config(tmp_path / "config.toml",
                         telegram={"enabled": True, "api_url": api_url, "chat_ids": [7]})
    proc = start_bot(config, tmp_path / "data",
                     env={**os.environ, "BOT_TELEGRAM_TOKEN": token, "BOT_DASHBOARD_TOKEN": TOKEN})
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:  # it ran on (the defect): stopped, then checked
        proc.kill()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2, err[-2000:]
    return config, err


@pytest.mark.parametrize("pasted", ["4242:url-telegram\u200b-token", "4242:url-telegram -token"])
def test_a_token_that_cannot_be_in_a_url_stops_the_start_in_one_line(tmp_path, pasted):
    fake = FakeTelegram(BOT_TOKEN)
    try:
        config, err = _refused_start(tmp_path, fake.url, pasted)
        lines = error_lines(err, config, "telegram")
        assert len(lines) == 1 and lines[0].startswith(
            "bot.py: error: telegram.token_env: the token holds a space"), err[-2000:]
        assert "url-telegram" not in err
    finally:
        fake.stop()


def test_an_api_url_that_redirects_stops_the_start_in_one_line(tmp_path):
    # found by review: urllib followed a 301 to a POST as a GET without the body; the start-up
    # getMe (no body needed) passed, then every alert became "chat_id is empty" (refused for
    # good, dropped): the bot ran with a Telegram that never delivered anything
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    fake = FakeTelegram(BOT_TOKEN)

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(301)
            self.send_header("Location", fake.url + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    moved = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    Thread(target=moved.serve_forever, daemon=True).start()
    try:
        config, err = _refused_start(
            tmp_path, f"http://127.0.0.1:{moved.server_address[1]}", BOT_TOKEN)
        lines = error_lines(err, config, "telegram")
        assert lines == ["bot.py: error: telegram.api_url: getMe: HTTP 301 Moved Permanently "
                         "(a redirect: set telegram.api_url to the address it redirects to)"
                         ], err[-2000:]
        assert "url-telegram" not in err
    finally:
        moved.shutdown()
        moved.server_close()
        fake.stop()
