"""Telegram replies that break mid-way (dropped connection, a JSON reply that is not an object,
a non-numeric retry_after) are failures to retry: the sender and the command poller live on."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from loguru import logger

from notifications.telegram import SendFailed, TelegramApi
from notifications.telegram_bot import TelegramBot
from tests.support.waiting import wait_until

TOKEN = "123456:failure-test-token"


class BrokenTelegram:
    """A real HTTP server on 127.0.0.1; each method answers from its ``script`` (then 'ok')."""

    def __init__(self) -> None:
        self.script: dict[str, list[str]] = {"sendMessage": [], "getUpdates": []}
        self.sent: list[str] = []
        self.polls = 0
        self.updates: list[object] = []
        self.nudge = threading.Event()
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.reply(self, self.path.rsplit("/", 1)[-1], body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def reply(self, handler: BaseHTTPRequestHandler, method: str, body: dict) -> None:
        steps = self.script.get(method, [])
        step = steps.pop(0) if steps else "ok"
        if method == "getUpdates":
            self.polls += 1
        if step == "drop":  # promises 100 bytes, sends 9, closes
            raw, status = b'{"ok": tr', 200
            length = 100
        elif step == "list":
            raw, status = b"[1, 2]", 200
            length = len(raw)
        elif step == "200-not-ok":  # an answer of 200 that is no success (a proxy's)
            raw = b'{"ok": false, "description": "Bad Request: chat not found"}'
            status, length = 200, len(raw)
        elif step == "429-text":
            raw = b'{"ok": false, "parameters": {"retry_after": "soon"}}'
            status, length = 429, len(raw)
        else:
            if method == "sendMessage":
                self.sent.append(body["text"])
            result = self.take_updates() if method == "getUpdates" else {}
            raw, status = json.dumps({"ok": True, "result": result}).encode(), 200
            length = len(raw)
        handler.send_response(status)
        handler.send_header("Content-Length", str(length))
        handler.end_headers()
        handler.wfile.write(raw)
        handler.close_connection = True

    def push(self, *updates: object) -> None:
        with self.lock:
            self.updates.extend(updates)
        self.nudge.set()

    def take_updates(self) -> list[object]:
        self.nudge.wait(0.2)  # a short long-poll: no busy loop while idle
        with self.lock:
            self.nudge.clear()
            taken, self.updates = self.updates, []
        return taken

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def tg():
    server = BrokenTelegram()
    yield server
    server.stop()


@pytest.mark.parametrize("step", ["drop", "list", "429-text", "200-not-ok"])
def test_a_broken_reply_is_a_scrubbed_send_failed(tg, step):
    """"200-not-ok": mutation audit, an answer `ok: false` taken as sent (its outbox row
    removed, the message lost) left every test passing."""
    api = TelegramApi(base_url=tg.url, token=TOKEN, timeout_s=5)
    tg.script["sendMessage"] = [step]
    with pytest.raises(SendFailed) as failure:
        api.send_message(1, "x")
    assert TOKEN not in str(failure.value)
    assert failure.value.retry_after is None and not failure.value.permanent


def test_sender_and_poller_survive_broken_replies_and_deliver_the_alert(tg, lines):
    tg.script["sendMessage"] = ["drop", "list", "429-text"]
    tg.script["getUpdates"] = ["drop", "list"]
    api = TelegramApi(base_url=tg.url, token=TOKEN, timeout_s=5)
    bot = TelegramBot(api=api, chat_ids=(7,), logger=logger, status_text=lambda: "all fine",
                      pause=lambda by: "", poll_timeout_s=0, retry_initial_s=0.02,
                      retry_max_s=0.05)
    bot.start()
    try:
        bot.broadcast("ESCALATION BTC: stop could not be placed", "escalation")
        wait_until(lambda: tg.sent == ["ESCALATION BTC: stop could not be placed"], timeout=10,
                   message="the escalation delivered after three broken replies")
        # the poller got past both broken replies and still answers commands
        tg.push("not an update", {"update_id": 5, "message": {"chat": {"id": 7},
                                                              "text": "/status"}})
        wait_until(lambda: "all fine" in tg.sent, timeout=15, message="the /status reply")
        assert bot.sender._thread.is_alive() and bot._poller.is_alive()
    finally:
        bot.stop()
    assert any("getUpdates failed" in line for line in lines)
    assert not any(TOKEN in line for line in lines), "the bot token reached a log line"
    assert not any("Traceback" in line for line in lines)


def test_a_failing_command_is_logged_and_the_poller_goes_on(tg, lines):
    calls: list[int] = []

    def status() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("status view broke")
        return "second try fine"

    api = TelegramApi(base_url=tg.url, token=TOKEN, timeout_s=5)
    bot = TelegramBot(api=api, chat_ids=(7,), logger=logger, status_text=status,
                      pause=lambda by: "", poll_timeout_s=0, retry_initial_s=0.02)
    bot.start()
    try:
        tg.push({"update_id": 1, "message": {"chat": {"id": 7}, "text": "/status"}})
        wait_until(lambda: calls, timeout=10, message="first /status handled")
        tg.push({"update_id": 2, "message": {"chat": {"id": 7}, "text": "/status"}})
        wait_until(lambda: "second try fine" in tg.sent, timeout=10, message="second reply")
    finally:
        bot.stop()
    assert any("update skipped (RuntimeError)" in line for line in lines)


def test_a_pause_that_fails_is_answered_as_failed_not_with_silence(tg, lines):
    # found by review: /pause whose control row could not be written (database locked, its
    # writer stopped) was one log line and no reply: the person in the chat, in the middle of
    # trouble, could not tell a failed pause from a slow one
    def pause(by: str) -> str:
        raise RuntimeError("database writer is stopped")

    api = TelegramApi(base_url=tg.url, token=TOKEN, timeout_s=5)
    bot = TelegramBot(api=api, chat_ids=(7,), logger=logger, status_text=lambda: "",
                      pause=pause, poll_timeout_s=0, retry_initial_s=0.02)
    bot.start()
    try:
        tg.push({"update_id": 1, "message": {"chat": {"id": 7}, "text": "/pause"}})
        reply = wait_until(lambda: [t for t in tg.sent if "pause" in t], timeout=10,
                           message="a reply to /pause")
    finally:
        bot.stop()
    assert reply == ["/pause FAILED (RuntimeError: database writer is stopped): entries may "
                     "not be paused; try again or use the dashboard"], reply
    assert any("update skipped (RuntimeError)" in line for line in lines)
