"""Retrying Telegram sends (found by review: a fake answering ``429 retry_after: 0`` for 12 s got
7,325 sendMessage requests and as many WARNING lines). The wait is never below the backoff floor,
``retry_after`` counts only from a 429 and never beyond ``retry_max_s``, and repeated failures
are one log line per interval with a count. Real HTTP servers on 127.0.0.1; rates are counted
as requests the server received in a bounded window."""

from __future__ import annotations

import threading
import time

import pytest
from loguru import logger

from notifications.sender import BackgroundSender, Outgoing
from notifications.telegram import SendFailed, TelegramApi
from tests.notifications.scripted_http import ScriptedHttp
from tests.support.waiting import wait_until

TOKEN = "987654:backoff-test-token-0123456789abcdef"


def _refusing(status: int, retry_after: object):  # noqa: ANN202
    answer = {"ok": False, "description": "Too Many Requests",
              "parameters": {"retry_after": retry_after}}
    return ScriptedHttp(lambda path, body: (status, answer))


def _sender(server: ScriptedHttp, **kw) -> BackgroundSender:  # noqa: ANN003
    api = TelegramApi(base_url=server.url, token=TOKEN, timeout_s=5)
    sender = BackgroundSender(send=api.send_message, logger=logger, **kw)
    sender.start()
    sender.submit(Outgoing(chat_id=7, text="ESCALATION BTC", kind="escalation"))
    return sender


def _window(seconds: float) -> None:
    """The bounded window whose requests a test counts."""
    threading.Event().wait(seconds)


@pytest.mark.parametrize("status", [429, 500])
def test_retry_after_zero_never_makes_the_sender_loop(status, lines):
    server = _refusing(status, 0)
    sender = _sender(server, retry_initial_s=0.25, retry_max_s=0.25)
    try:
        wait_until(lambda: server.count >= 2, timeout=10, message="the sender retrying")
        start = time.monotonic()
        before = server.count
        _window(1.0)
        in_window = server.count - before
        lasted = time.monotonic() - start  # a loaded machine wakes the test late
    finally:
        sender.stop(0.1)
        server.stop()
    most = int(lasted / 0.25) + 1  # requests at least 0.25 s apart: 5 in 1 s
    assert in_window <= most, (f"{in_window} requests in {lasted:.2f} s with a 0.25 s "
                               "backoff floor")
    failures = [line for line in lines if "telegram: sending escalation" in line]
    assert len(failures) == 1, failures  # one line, then one per minute at most
    assert not any(TOKEN in line for line in lines)


def test_a_retry_after_counts_only_from_a_429():
    server = _refusing(500, 7)
    api = TelegramApi(base_url=server.url, token=TOKEN, timeout_s=5)
    try:
        with pytest.raises(SendFailed) as failure:
            api.send_message(7, "x")
        assert failure.value.retry_after is None  # a 5xx's retry_after is no promise
        server.answer = lambda path, body: (429, {"ok": False, "parameters": {"retry_after": 7}})
        with pytest.raises(SendFailed) as failure:
            api.send_message(7, "x")
        assert failure.value.retry_after == 7.0
    finally:
        server.stop()


def test_a_huge_retry_after_is_capped_at_retry_max_s():
    server = _refusing(429, 3600)
    sender = _sender(server, retry_initial_s=0.05, retry_max_s=0.2)
    try:
        wait_until(lambda: server.count >= 3, timeout=10,
                   message="retries within retry_max_s, not after an hour")
    finally:
        sender.stop(0.1)
        server.stop()


def test_a_429_retry_after_above_the_floor_is_honoured():
    server = _refusing(429, 0.8)
    start = time.monotonic()
    sender = _sender(server, retry_initial_s=0.05, retry_max_s=5)
    try:
        wait_until(lambda: server.count >= 1, timeout=10, message="the first attempt")
        _window(1.0)
        in_window = server.count
        lasted = time.monotonic() - start  # a loaded machine wakes the test late
    finally:
        sender.stop(0.1)
        server.stop()
    most = int(lasted / 0.8) + 1  # requests at least 0.8 s apart: 2 in about 1 s
    assert in_window <= most, (f"{in_window} requests in {lasted:.2f} s although the server "
                               "asked for 0.8 s")


class FailingSend:
    def __init__(self) -> None:
        self.failing = True

    def __call__(self, chat_id: int, text: str) -> None:
        if self.failing:
            raise SendFailed(reason="sendMessage: HTTP 502 Bad Gateway")


def test_repeated_failures_are_one_line_per_interval_with_a_count(lines):
    now = [1000.0]
    send = FailingSend()
    sender = BackgroundSender(send=send, logger=logger, retry_initial_s=0.01, retry_max_s=0.01,
                              log_every_s=60, clock=lambda: now[0])
    sender.start()
    try:
        sender.submit(Outgoing(chat_id=7, text="KILL_SWITCH", kind="kill_switch"))
        wait_until(lambda: sender.failed_attempts >= 20, timeout=10, message="20 failures")
        failing = [line for line in lines if "telegram: sending kill_switch" in line]
        assert len(failing) == 1 and "attempt 1" in failing[0]
        now[0] += 61  # a minute later: one more line, with the count
        wait_until(lambda: len([x for x in lines if "telegram: sending kill_switch" in x]) == 2,
                   timeout=10, message="the line of the next minute")
        second = [line for line in lines if "telegram: sending kill_switch" in line][1]
        assert "failed attempts since the last line" in second
        send.failing = False
        # the sender counts the send (`sent`) and then logs "works again": wait for the line
        # itself, a one-shot read after `sent == 1` could run between the two
        wait_until(lambda: sender.sent == 1, timeout=10, message="sent once the server works")
        wait_until(lambda: any("sending works again after" in line for line in lines),
                   timeout=10, message="the line saying sending works again")
    finally:
        sender.stop(0.5)


def test_the_token_is_scrubbed_before_the_reason_is_cut():
    # a long base URL puts the token across the 300th character of the exception text
    # ("unknown url type: '<base>/bot<token>/sendMessage'")
    api = TelegramApi(base_url="x" * 240, token=TOKEN)
    with pytest.raises(SendFailed) as failure:
        api.send_message(7, "x")
    reason = str(failure.value)
    pieces = {TOKEN[i:i + 8] for i in range(len(TOKEN) - 7)}
    assert not any(piece in reason for piece in pieces), reason
    assert len(reason) <= 300


def test_a_sender_never_started_stops_and_says_what_it_did_not_send(lines):
    """A bot whose start failed before its Telegram sender started still stops it (runtime/
    runner.py): stop() joined a thread never started and raised RuntimeError."""
    sender = BackgroundSender(send=FailingSend(), logger=logger)
    sender.submit(Outgoing(chat_id=7, text="ESCALATION X", kind="escalation"))
    sender.stop(timeout_s=0.1)
    assert any("not sent before shutdown" in line and "ESCALATION X" in line for line in lines)


def test_a_group_upgraded_to_a_supergroup_names_its_new_chat_id(lines):
    # found by review: Telegram refuses every message to a group upgraded to a supergroup
    # (400, parameters.migrate_to_chat_id); the line said "group chat was upgraded to a
    # supergroup chat" without the new id, and every alert to that chat was dropped until a
    # person found the id some other way
    server = ScriptedHttp(lambda path, body: (400, {
        "ok": False, "error_code": 400,
        "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": -1001234567890}}))
    sender = _sender(server)
    try:
        sender.submit(Outgoing(chat_id=-4242, text="ESCALATION BTC", kind="escalation"))
        refused = wait_until(lambda: [x for x in lines if "refused, not retried" in x],
                             timeout=10, message="the refusal line")
    finally:
        sender.stop(1)
        server.stop()
    assert "the chat is now -1001234567890: put that id in telegram.chat_ids" in refused[0]
    assert TOKEN not in refused[0]


def test_the_wait_between_failed_attempts_doubles_up_to_retry_max_s():
    """A 502 that lasts: the waits go 0.05, 0.1, 0.2, 0.4, 0.8, 0.8 ... (mutation audit: with
    the doubling dropped, every test here still passed while the sender retried every
    ``retry_initial_s`` for as long as Telegram was down, 60 a minute at the default 1 s)."""
    server = _refusing(502, None)
    start = time.monotonic()
    sender = _sender(server, retry_initial_s=0.05, retry_max_s=0.8)
    try:
        wait_until(lambda: server.count >= 1, timeout=10, message="the first attempt")
        _window(2.5)
        in_window = server.count
        lasted = time.monotonic() - start  # a loaded machine wakes the test late
    finally:
        sender.stop(0.1)
        server.stop()
    waits, total, most = [0.05, 0.1, 0.2, 0.4], 0.0, 1
    while True:  # the attempts a doubling backoff allows in `lasted` seconds
        total += waits.pop(0) if waits else 0.8
        if total > lasted:
            break
        most += 1
    assert in_window <= most, (f"{in_window} requests in {lasted:.2f} s: the waits do not "
                               "double")


def test_the_backoff_starts_afresh_once_a_message_went_through():
    """After an outage the next failure waits ``retry_initial_s`` again, not the ``retry_max_s``
    the outage reached (mutation audit: with the reset in ``_works_again`` dropped, every test
    here still passed, while an alert meeting a single 502 an hour after an outage waited
    ``retry_max_s``, 60 s at the default, before its next attempt)."""
    down = (502, {"ok": False, "description": "Bad Gateway"})
    server = ScriptedHttp()
    server.script = [down] * 6  # waits 0.05 ... 1.6: the backoff reaches retry_max_s (3 s)
    sender = _sender(server, retry_initial_s=0.05, retry_max_s=3)
    try:
        wait_until(lambda: sender.sent == 1, timeout=30, message="the alert sent after the outage")
        server.script = [down]  # one more failure, now
        sender.submit(Outgoing(chat_id=7, text="KILL_SWITCH on", kind="kill_switch"))
        wait_until(lambda: sender.failed_attempts == 7, timeout=10, message="the failed attempt")
        failed_at = time.monotonic()
        wait_until(lambda: sender.sent == 2, timeout=10, message="the alert sent")
        waited = time.monotonic() - failed_at
    finally:
        sender.stop(0.1)
        server.stop()
    # 0.05 s expected, 3 s (retry_max_s) with the outage's backoff kept: 2.5 s tells them
    # apart and leaves a loaded machine's wake-ups room
    assert waited < 2.5, f"{waited:.2f} s before the next attempt: the backoff of the outage"


def test_a_refusal_quoting_the_token_twice_is_logged_without_it(lines):
    """A proxy's error page may quote the request path more than once; every copy of the token
    is scrubbed (mutation audit: with ``scrub`` replacing the first copy only, every test still
    passed while the second copy reached the log line)."""
    server = ScriptedHttp(lambda path, body: (404, {
        "ok": False, "description": f"Not Found: {path} (no route for {path})"}))
    sender = _sender(server)
    try:
        refused = wait_until(lambda: [x for x in lines if "refused, not retried" in x],
                             timeout=10, message="the refusal line")
    finally:
        sender.stop(1)
        server.stop()
    assert refused[0].count("/bot***/sendMessage") == 2, refused[0]
    assert TOKEN not in refused[0]
